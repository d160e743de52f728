"""SQL metacharacters, NUL and control characters, and oversized input in every field of
every operation the OpenAPI description lists (path, query and body), sent by an
administrator and by an evidence role, on SQLite and PostgreSQL: never a 5xx, every
refusal a 4xx with a JSON body naming the problem, and the database intact afterwards.

Schemathesis (test_api_fuzz.py) explores at random; this walks every field on purpose
with the inputs an attacker tries first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import pytest
from api_rig import Scene, bearer, open_scene
from fastapi.testclient import TestClient
from people_rig import DATABASES
from sqlalchemy import select

from bodycam.server.people.models import User
from bodycam.server.recordings.models import Recording

HOSTILE: Final = (
    "'; DROP TABLE users; --",
    "\" OR \"1\"=\"1\" -- %_ \\",
    "nul\x00byte\x1b[31m\r\nX-Injected: 1",
    "x" * 100_000,
    "../../etc/passwd ☃ \u202e",
)


@pytest.fixture(params=DATABASES)
def scene(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scene]:
    yield from open_scene(request, tmp_path)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        node = schema["components"]["schemas"][name]
    return node


def _kinds(schema: dict[str, Any], node: dict[str, Any]) -> set[str]:
    node = _resolve(schema, node)
    if "anyOf" in node:
        return set().union(*(_kinds(schema, n) for n in node["anyOf"]))
    if node.get("type") == "array":
        return {"array:" + k for k in _kinds(schema, node.get("items", {}))}
    return {str(node.get("type", "object"))}


def _plain(kinds: set[str]) -> Any:
    """A harmless value of a field's type (for the fields not under attack)."""
    for kind, value in (("string", "x"), ("integer", 1), ("boolean", False),
                        ("number", 1.0)):
        if kind in kinds:
            return value
    return [] if any(k.startswith("array:") for k in kinds) else {}


def _bodies(schema: dict[str, Any], operation: dict[str, Any]) -> Iterator[Any]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        yield None
        return
    body = _resolve(schema, content["schema"])
    fields = {name: _kinds(schema, prop) for name, prop in body.get("properties", {}).items()}
    plain = {name: _plain(kinds) for name, kinds in fields.items()}
    for name, kinds in fields.items():
        for value in HOSTILE:
            if "string" in kinds:
                yield {**plain, name: value}
            if "array:string" in kinds:
                yield {**plain, name: [value]}


def _in_url(value: str) -> str:
    """The oversized value as long as a URL may be (httpx, like servers, caps URLs)."""
    return value[:5000]


def _requests(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, str], Any]]:
    """(method, url, query, body) with one field hostile at a time."""
    for template, item in schema["paths"].items():
        for method, operation in item.items():
            params = operation.get("parameters", [])
            names = [p["name"] for p in params if p["in"] == "path"]
            plain_path = template
            for name in names:
                plain_path = plain_path.replace("{" + name + "}", "1")
            for name in names:
                for value in HOSTILE:
                    url = template.replace("{" + name + "}",
                                           quote(_in_url(value), safe=""))
                    for other in names:
                        url = url.replace("{" + other + "}", "1")
                    yield method, url, {}, next(_bodies(schema, operation))
            for param in (p for p in params if p["in"] == "query"):
                for value in HOSTILE:
                    yield method, plain_path, {param["name"]: _in_url(value)}, None
            for body in _bodies(schema, operation):
                if body is not None:
                    yield method, plain_path, {}, body


def _walk(client: TestClient, schema: dict[str, Any]) -> list[str]:
    problems = []
    for method, url, query, body in _requests(schema):
        answer = client.request(method.upper(), url, params=query, json=body)
        where = f"{method.upper()} {url[:120]} {str(query)[:80]} {str(body)[:80]}"
        if answer.status_code >= 500:
            problems.append(f"{answer.status_code} {where}: {answer.text[:300]}")
        elif answer.status_code >= 400:
            refusal = answer.json()
            if not (isinstance(refusal.get("error"), str) and refusal.get("message")):
                problems.append(f"{answer.status_code} without error/message {where}: "
                                f"{answer.text[:200]}")
    return problems


def test_hostile_input_in_every_field_is_refused_cleanly(scene: Scene) -> None:
    schema = scene.admin.client.get("/api/v1/openapi.json").json()
    people = scene.custody.people
    before = _standing(scene)
    problems = []
    for person in (scene.admin, scene.custodian):
        problems += _walk(bearer(people, person.token()), schema)
    assert not problems, "\n".join(problems[:40])
    people_after, recordings_after = _standing(scene)
    assert people_after >= before[0] and recordings_after == before[1]  # nothing dropped


def _standing(scene: Scene) -> tuple[set[str], set[str]]:
    """Who and what is there (a hostile password is a valid one: a person may be added,
    nobody and nothing may go)."""
    with scene.custody.people.context.database.transaction() as session:
        return (set(session.scalars(select(User.username))),
                set(session.scalars(select(Recording.id))))

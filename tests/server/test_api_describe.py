"""The JSON API's frame: its OpenAPI description (the people's API only, cameras' offload
endpoints left out), sign-in required by every operation but sign-in and health, and
every refusal JSON naming the problem (unknown path, wrong method with its Allow
header, malformed body, a body too large or of unknown length)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_rig import client_of, sign_in
from people_rig import DATABASES, People, open_people

from bodycam.server.api.describe import BODY_LIMIT

OPEN = {("post", "/api/v1/session"), ("get", "/api/v1/health")}


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def description(people: People) -> dict[str, Any]:
    answer = client_of(people).get("/api/v1/openapi.json")  # no sign-in
    assert answer.status_code == 200
    schema: dict[str, Any] = answer.json()
    return schema


def test_the_description_covers_the_peoples_api_and_leaves_the_cameras_out(
        people: People) -> None:
    schema = description(people)
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    assert not [p for p in paths if p.startswith("/api/v1/offload")]
    for path in ("/api/v1/recordings", "/api/v1/recordings/{recording_id}/custody",
                 "/api/v1/approvals/{approval_id}/approve", "/api/v1/tokens",
                 "/api/v1/users", "/api/v1/audit/events", "/api/v1/session"):
        assert path in paths, path
    schemes = schema["components"]["securitySchemes"]
    assert schemes["token"]["scheme"] == "bearer" and schemes["session"]["in"] == "cookie"
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert "403" in operation["responses"] and "422" in operation["responses"]
            if (method, path) not in OPEN | {("get", "/api/v1/session"),
                                             ("delete", "/api/v1/session"),
                                             ("post", "/api/v1/session/password")}:
                assert operation.get("security"), (method, path)


def _plain_url(path: str) -> str:
    return path.replace("{recording_id}", "BC-0001-20261201T080000Z-0a0a").replace(
        "{name}", "x").replace("{username}", "x").replace("{device_id}", "BC-0001").replace(
        "{token_id}", "0123456789abcdef").replace("{hold_id}", "1").replace(
        "{approval_id}", "1").replace("{assignment_id}", "1")


def test_every_operation_but_sign_in_and_health_needs_a_session_or_token(
        people: People) -> None:
    schema = description(people)
    anonymous = client_of(people)
    for path, item in schema["paths"].items():
        for method in item:
            answer = anonymous.request(method.upper(), _plain_url(path), json={})
            if (method, path) in OPEN:
                assert answer.status_code != 401, (method, path)
                continue
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.json()["error"] == "not_signed_in"
    assert anonymous.get("/api/v1/health").json() == {"status": "ok", "database": "ok"}


def test_refusals_of_the_frame_are_json_naming_the_problem(people: People) -> None:
    alice = sign_in(people, "alice", "administrator")
    client = alice.client
    nowhere = client.get("/api/v1/nowhere")
    assert nowhere.status_code == 404 and nowhere.json()["error"] == "not_found"
    wrong = client.put("/api/v1/devices", headers=alice.changes)
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET, POST"
    malformed = client.post("/api/v1/tokens", headers=alice.changes, json={"name": 5})
    assert malformed.status_code == 422 and malformed.json()["error"] == "invalid_request"
    assert malformed.json()["message"].startswith("body.name: ")
    huge = client.post("/api/v1/tokens", headers=alice.changes,
                       content=b'{"name": "' + b"x" * BODY_LIMIT + b'"}')
    assert huge.status_code == 413 and huge.json()["error"] == "too_large"

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "chunked"}'
    chunked = client.post("/api/v1/tokens", headers=alice.changes, content=chunks())
    assert chunked.status_code == 411 and chunked.json()["error"] == "length_required"
    assert client.get("/api/v1/tokens").json() == []  # none of them made a token

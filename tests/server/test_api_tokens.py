"""API tokens: made from a session and shown once, kept hashed, acting as their person,
revoked, expired, ended by an account change; forged, replayed and malformed tokens
refused 401 and on record; a token never makes another."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_rig import bearer, client_of, sign_in
from people_rig import DATABASES, People, open_people
from sqlalchemy import select

from bodycam.server.access.rules import CONSOLE
from bodycam.server.api.models import ApiToken
from bodycam.server.people.accounts import disable_user


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def test_a_token_is_shown_once_kept_hashed_and_acts_as_its_person(people: People) -> None:
    alice = sign_in(people, "alice", "administrator")
    token = alice.token("nightly export")
    with people.context.database.transaction() as session:
        row = session.scalars(select(ApiToken)).one()
        assert row.secret_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (row.id, row.name, row.secret_sha256)
    listed = alice.client.get("/api/v1/tokens").json()
    assert [(t["id"], t["name"]) for t in listed] == [(row.id, "nightly export")]
    assert "token" not in listed[0]
    script = bearer(people, token)
    assert script.get("/api/v1/tokens").status_code == 200
    created = people.events("api_token_created")
    assert created == [("api_token_created", "alice", None)]


def test_a_change_with_a_token_needs_no_csrf_but_a_token_cannot_make_another(
        people: People) -> None:
    alice = sign_in(people, "alice", "reviewer")
    script = bearer(people, alice.token())
    refused = script.post("/api/v1/tokens", json={"name": "another"})
    assert refused.status_code == 403 and refused.json()["error"] == "token_from_token"
    assert alice.client.post("/api/v1/tokens", json={"name": "x"}).status_code == 403  # csrf


def test_a_revoked_token_signs_nobody_in_and_its_use_is_on_record(people: People) -> None:
    alice = sign_in(people, "alice", "reviewer")
    token = alice.token()
    token_id = token.split("_")[1]
    assert alice.client.delete(f"/api/v1/tokens/{token_id}",
                               headers=alice.changes).status_code == 204
    answer = bearer(people, token).get("/api/v1/tokens")
    assert answer.status_code == 401 and answer.json()["error"] == "token_unknown"
    assert ("api_token_revoked", "alice", None) in people.events()
    assert ("token_refused", "anonymous", "token_unknown") in people.events()


def test_nobody_sees_or_revokes_another_persons_token(people: People) -> None:
    alice = sign_in(people, "alice", "reviewer")
    bob = sign_in(people, "bob", "reviewer")
    token_id = alice.token().split("_")[1]
    assert bob.client.get("/api/v1/tokens").json() == []
    answer = bob.client.delete(f"/api/v1/tokens/{token_id}", headers=bob.changes)
    assert answer.status_code == 404 and answer.json()["error"] == "no_token"
    assert len(alice.client.get("/api/v1/tokens").json()) == 1


def test_a_token_expires(people: People) -> None:
    alice = sign_in(people, "alice", "reviewer")
    token = alice.token(days=1)
    people.clock.now += 86400
    answer = bearer(people, token).get("/api/v1/tokens")
    assert answer.status_code == 401 and answer.json()["error"] == "token_expired"
    assert ("token_refused", "alice", "token_expired") in people.events()


def test_disabling_the_account_ends_its_tokens(people: People) -> None:
    alice = sign_in(people, "alice", "reviewer")
    token = alice.token()
    with people.access.work(CONSOLE, "user.disable") as work:
        disable_user(work, "alice")
    answer = bearer(people, token).get("/api/v1/tokens")
    assert answer.status_code == 401 and answer.json()["error"] == "token_revoked"


@pytest.mark.parametrize("header", [
    "Bearer x", "Bearer bodycam_0123456789abcdef_" + "A" * 43, "Basic YWxpY2U6cHc=",
    "Bearer " + "A" * 5000, "Bearer '; DROP TABLE api_tokens; --"])
def test_forged_or_malformed_tokens_are_refused_401(people: People, header: str) -> None:
    alice = sign_in(people, "alice", "reviewer")
    alice.token()
    client = client_of(people)
    client.headers["Authorization"] = header
    answer = client.get("/api/v1/tokens")
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] in {"token_unknown", "bad_authorization"}
    assert "message" in answer.json()
    with people.context.database.transaction() as session:
        assert len(session.scalars(select(ApiToken)).all()) == 1


def test_a_token_with_a_bad_name_or_lifetime_is_refused_with_the_rule(people: People
                                                                       ) -> None:
    alice = sign_in(people, "alice", "reviewer")
    for body in ({"name": "x", "days": 0}, {"name": "x", "days": 366},
                 {"name": "   "}, {"name": "n" * 101}, {"name": "tab\there"}):
        answer = alice.client.post("/api/v1/tokens", headers=alice.changes, json=body)
        assert answer.status_code == 422, body
        assert answer.json()["error"] in {"invalid_request", "invalid"}
        assert answer.json()["message"]


def test_no_more_than_twenty_live_tokens(people: People) -> None:
    alice = sign_in(people, "alice", "reviewer")
    for n in range(20):
        alice.token(f"t{n}")
    answer = alice.client.post("/api/v1/tokens", headers=alice.changes, json={"name": "one more"})
    assert answer.status_code == 422 and "revoke one" in answer.json()["message"]

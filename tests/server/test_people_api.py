"""/api/v1/session through the real application (in-process ASGI over httpx): cookies,
CSRF, forged and replayed sessions, origins, bad input. Every refusal is a clear 4xx and
on record in the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from people_rig import DATABASES, PASSWORD, People, code, open_people
from sqlalchemy import select

from bodycam.server.app import create_app
from bodycam.server.people.models import User
from bodycam.server.people.web_session import COOKIE, CSRF_HEADER

ORIGIN = "https://127.0.0.1:8443"


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def browser(people: People) -> TestClient:
    return TestClient(create_app(people.context), base_url=ORIGIN)


def signed_in(people: People, username: str = "alice") -> tuple[TestClient, str]:
    """A client signed in as a new reviewer, and its CSRF token."""
    user = people.add(username, "reviewer")
    assert user.totp_secret is not None
    client = browser(people)
    answer = client.post("/api/v1/session", json={
        "username": username, "password": PASSWORD,
        "code": code(user.totp_secret, people.clock.now)})
    assert answer.status_code == 200, answer.text
    return client, answer.json()["csrf_token"]


def test_sign_in_sets_the_session_cookie_and_names_the_person(people: People) -> None:
    client, csrf = signed_in(people)
    assert any(c.name == COOKIE and c.secure for c in client.cookies.jar)
    me = client.get("/api/v1/session").json()
    assert me["username"] == "alice" and "recording.view" in me["permissions"]
    assert me["csrf_token"] == csrf


def test_the_cookie_is_secure_httponly_samesite_strict(people: People) -> None:
    user = people.add("alice", "reviewer")
    assert user.totp_secret is not None
    answer = browser(people).post("/api/v1/session", json={
        "username": "alice", "password": PASSWORD,
        "code": code(user.totp_secret, people.clock.now)})
    set_cookie = answer.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert attribute.lower() in set_cookie.lower()
    assert "domain" not in set_cookie.lower()  # __Host-: this host only


def test_a_change_without_the_csrf_token_is_refused_and_recorded(people: People) -> None:
    client, csrf = signed_in(people)
    refused = client.delete("/api/v1/session")
    assert refused.status_code == 403 and refused.json()["error"] == "csrf"
    assert CSRF_HEADER in refused.json()["message"]
    other = "B" if csrf.endswith("A") else "A"
    wrong = client.delete("/api/v1/session", headers={CSRF_HEADER: csrf[:-1] + other})
    assert wrong.status_code == 403
    assert people.events("request_refused") == [("request_refused", "alice", "csrf")] * 2
    assert client.get("/api/v1/session").status_code == 200  # still signed in
    assert client.delete("/api/v1/session", headers={CSRF_HEADER: csrf}).status_code == 204


def test_a_request_from_another_origin_is_refused_even_with_the_token(people: People) -> None:
    client, csrf = signed_in(people)
    refused = client.delete("/api/v1/session", headers={
        CSRF_HEADER: csrf, "Origin": "https://evil.example"})
    assert refused.status_code == 403 and refused.json()["error"] == "csrf_origin"
    login = browser(people).post("/api/v1/session", headers={"Origin": "https://evil.example"},
                                 json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 403
    assert ("sign_in_failed", "alice", "csrf_origin") in people.events()


def test_a_session_replayed_after_sign_out_signs_nobody_in(people: People) -> None:
    client, csrf = signed_in(people)
    token = client.cookies[COOKIE]
    assert client.delete("/api/v1/session", headers={CSRF_HEADER: csrf}).status_code == 204
    replay = browser(people)
    replay.cookies.set(COOKIE, token)
    answer = replay.get("/api/v1/session")
    assert answer.status_code == 401 and answer.json()["error"] == "session_unknown"
    assert ("session_refused", "anonymous", "session_unknown") in people.events()


def test_forged_cookies_are_refused(people: People) -> None:
    signed_in(people)
    for forged in ("x", "A" * 43, "A" * 5000, "'; DROP TABLE web_sessions; --"):
        client = browser(people)
        client.cookies.set(COOKIE, forged)
        answer = client.get("/api/v1/session")
        assert answer.status_code == 401, forged
    assert browser(people).get("/api/v1/session").json()["error"] == "not_signed_in"
    assert len(people.events("session_refused")) == 4


def test_slowed_down_sign_in_answers_429_with_retry_after(people: People) -> None:
    people.add("alice", "reviewer")
    client = browser(people)
    for _ in range(4):
        wrong = client.post("/api/v1/session", json={"username": "alice",
                                                     "password": "wrong password!!"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "sign_in_failed"
    slowed = client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
    assert slowed.status_code == 429 and slowed.headers["retry-after"] == "1"


@pytest.mark.parametrize("body", [
    {"username": "a" * 201, "password": PASSWORD},
    {"username": "alice", "password": "p" * 1025},
    {"username": "alice", "password": PASSWORD, "code": "1" * 17},
    {"username": "alice"},
    {"username": ["alice"], "password": PASSWORD},
])
def test_malformed_or_oversized_sign_in_is_a_clear_4xx(people: People, body: object) -> None:
    answer = browser(people).post("/api/v1/session", json=body)
    assert answer.status_code == 422 and answer.json()["detail"]


def test_changing_ones_password_asks_the_old_one_and_ends_every_session(
        people: People) -> None:
    client, csrf = signed_in(people)
    other, _ = signed_in_again(people, "alice")
    change = {CSRF_HEADER: csrf}
    wrong = client.post("/api/v1/session/password", headers=change,
                        json={"current": "not my password", "new": "a brand new passphrase"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "wrong_password"
    weak = client.post("/api/v1/session/password", headers=change,
                       json={"current": PASSWORD, "new": "short"})
    assert weak.status_code == 422 and "at least 12" in weak.json()["message"]
    unsigned = client.post("/api/v1/session/password",
                           json={"current": PASSWORD, "new": "a brand new passphrase"})
    assert unsigned.status_code == 403 and unsigned.json()["error"] == "csrf"
    done = client.post("/api/v1/session/password", headers=change,
                       json={"current": PASSWORD, "new": "a brand new passphrase"})
    assert done.status_code == 204
    assert client.get("/api/v1/session").status_code == 401
    assert other.get("/api/v1/session").status_code == 401  # the other browser too
    assert ("password_changed", "alice", None) in people.events()


def test_guessing_the_password_through_a_session_is_slowed_down(people: People) -> None:
    client, csrf = signed_in(people)
    answers = [client.post("/api/v1/session/password", headers={CSRF_HEADER: csrf}, json={
        "current": f"guess number {n}", "new": "a brand new passphrase"}).status_code
        for n in range(5)]
    assert answers == [403, 403, 403, 403, 429]


def signed_in_again(people: People, username: str) -> tuple[TestClient, str]:
    """A second browser of an existing account (the next TOTP step's code)."""
    with people.context.database.transaction() as session:
        sealed = session.scalars(select(User.totp_secret).where(
            User.username == username)).one()
    assert sealed is not None
    secret = people.access.box().open(username, sealed)
    people.clock.now += 30
    client = browser(people)
    answer = client.post("/api/v1/session", json={
        "username": username, "password": PASSWORD, "code": code(secret, people.clock.now)})
    assert answer.status_code == 200, answer.text
    return client, answer.json()["csrf_token"]

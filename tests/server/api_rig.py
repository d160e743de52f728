"""Helpers of the JSON API tests: the real application in-process (httpx ASGI transport
via TestClient) on a real data directory (SQLite or the harness's PostgreSQL), people
signed in by session cookie or by API token."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient
from people_rig import PASSWORD, People, code

from bodycam.server.app import create_app
from bodycam.server.people.web_session import CSRF_HEADER

ORIGIN = "https://127.0.0.1:8443"


def client_of(people: People) -> TestClient:
    return TestClient(create_app(people.context), base_url=ORIGIN)


@dataclass
class Person:
    """A signed-in person's client; `changes` are the headers a change needs."""

    username: str
    client: TestClient
    csrf: str

    @property
    def changes(self) -> dict[str, str]:
        return {CSRF_HEADER: self.csrf}

    def token(self, name: str = "script", days: int = 90) -> str:
        made = self.client.post("/api/v1/tokens", headers=self.changes,
                                json={"name": name, "days": days})
        assert made.status_code == 201, made.text
        token: str = made.json()["token"]
        return token


def sign_in(people: People, username: str, *roles: str) -> Person:
    """A new account holding `roles`, signed in by session cookie."""
    user = people.add(username, *roles)
    assert user.totp_secret is not None
    people.clock.now += 30  # each sign-in its own TOTP step (a code is accepted once)
    client = client_of(people)
    answer = client.post("/api/v1/session", json={
        "username": username, "password": PASSWORD,
        "code": code(user.totp_secret, people.clock.now)})
    assert answer.status_code == 200, answer.text
    return Person(username, client, answer.json()["csrf_token"])


def bearer(people: People, token: str) -> TestClient:
    """A client that sends only the token (no cookie)."""
    client = client_of(people)
    client.headers["Authorization"] = f"Bearer {token}"
    return client

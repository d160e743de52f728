"""Helpers of the JSON API tests: the real application in-process (httpx ASGI transport
via TestClient) on a real data directory (SQLite or the harness's PostgreSQL), people
signed in by session cookie or by API token, and a scene with a worn recording."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from custody_rig import Custody
from fastapi.testclient import TestClient
from people_rig import PASSWORD, People, code, open_people
from sqlalchemy import update

from bodycam.server.app import create_app
from bodycam.server.people.web_session import CSRF_HEADER
from bodycam.server.recordings.models import Recording, RecordingFile

ORIGIN = "https://127.0.0.1:8443"
START, END = "2026-12-01T08:00:00.000Z", "2026-12-01T08:10:00.000Z"  # as cameras write


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


@dataclass
class Scene:
    custody: Custody
    recording: str
    admin: Person
    reviewer: Person
    custodian: Person
    auditor: Person
    walter: Person  # wore the camera; a reviewer too


def open_scene(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scene]:
    """The body of each evidence test module's `scene` fixture (params=DATABASES): a
    camera, one recording worn by walter, and a signed-in person of each role."""
    for people in open_people(request, tmp_path):
        custody = Custody(people, {})
        custody.camera("BC-0001")
        recording = custody.recording("BC-0001", START, END)
        admin = sign_in(people, "carol", "administrator")
        walter = sign_in(people, "walter", "wearer", "reviewer")
        worn = admin.client.post("/api/v1/assignments", headers=admin.changes, json={
            "device_id": "BC-0001", "username": "walter",
            "starts": "2026-12-01T07:00:00+00:00", "ends": "2026-12-01T09:00:00+00:00"})
        assert worn.status_code == 201, worn.text
        yield Scene(custody, recording, admin, sign_in(people, "alice", "reviewer"),
                    sign_in(people, "cindy", "custodian"), sign_in(people, "aud", "auditor"),
                    walter)


def stored(scene: Scene, data: bytes) -> str:
    """Give the recording a real manifest blob and its first file a real blob."""
    context = scene.custody.people.context
    manifest = context.blobs.put_bytes(b"manifest\n")
    segment = context.blobs.put_bytes(data)
    with context.database.transaction() as session:
        session.execute(update(Recording).where(Recording.id == scene.recording)
                        .values(manifest_sha256=manifest))
        session.execute(update(RecordingFile).where(
            RecordingFile.recording_id == scene.recording).values(sha256=segment))
    return segment

"""Helpers of the web interface's in-process tests: a person signed in through the real
sign-in form (password + a TOTP code), who reads pages and posts forms with the CSRF
token the page carries; and recordings put straight into the database (as the offload
would leave them) so the pages have something to show."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from httpx import Response
from people_rig import PASSWORD, People, code

from bodycam.server.access.rules import CONSOLE
from bodycam.server.app import create_app
from bodycam.server.custody.assignments import add_assignment
from bodycam.server.devices.models import Device
from bodycam.server.recordings.models import Recording, RecordingFile

ORIGIN = "https://127.0.0.1:8443"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Person:
    """A browser signed in as one person (follows no redirect by itself)."""

    client: TestClient
    csrf_token: str

    def get(self, path: str, params: dict[str, str] | None = None) -> Response:
        return self.client.get(path, params=params)

    def post(self, path: str, data: dict[str, str | list[str]] | None = None,
             token: str | None = None) -> Response:
        body = {"csrf_token": self.csrf_token if token is None else token, **(data or {})}
        return self.client.post(path, data=body, headers={"Origin": ORIGIN})


def sign_in(people: People, username: str, secret: str | None) -> Person:
    """Signs in through /sign-in; the clock moves a time step first, so the same person
    can sign in again in one test (a TOTP code is never accepted twice)."""
    people.clock.now += 30
    client = stranger(people)
    form = re.search(r'name="form_token" value="([^"]+)"', client.get("/sign-in").text)
    assert form is not None
    answer = client.post("/sign-in", data={
        "username": username, "password": PASSWORD, "form_token": form.group(1),
        "code": code(secret, people.clock.now) if secret else ""},
        headers={"Origin": ORIGIN})
    assert answer.status_code == 303, answer.text
    token = _TOKEN.search(client.get("/").text)
    assert token is not None
    return Person(client, token.group(1))


def person(people: People, username: str, *roles: str) -> Person:
    """A new account holding `roles`, signed in."""
    added = people.add(username, *roles)
    return sign_in(people, username, added.totp_secret)


def text(page: str) -> str:
    """The page's words, as a person reads them (no tags, single spaces)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def add_recording(people: People, recording_id: str, device: str, *,
                  stored: tuple[bool, ...] = (True, True), damaged: str | None = None,
                  start: str = "2026-12-01T08:00:00.000Z") -> None:
    """A recording with one file per `stored` entry (False: half its bytes arrived;
    `damaged` marks the first missing one as having arrived with other bytes)."""
    with people.context.database.transaction() as session:
        if session.get(Device, device) is None:
            session.add(Device(id=device, enrolled_at=datetime.now(UTC), version=0))
            session.flush()
        session.add(Recording(
            id=recording_id, device_id=device, device_key="ab" * 8,
            manifest_sha256="0" * 64, manifest_seq=len(stored), manifest_hash="1" * 64,
            start=start, end=start.replace("08:00", "08:10"), files=len(stored),
            bytes=1000 * len(stored), received_at=datetime.fromtimestamp(people.clock.now,
                                                                        UTC),
            last_activity=people.clock.now - 86400, fork=None, receipt=None))
        session.flush()
        first_missing = True
        for position, whole in enumerate(stored):
            mark = damaged if (not whole and first_missing) else None
            first_missing = first_missing and whole
            session.add(RecordingFile(
                recording_id=recording_id, name=f"seg-{position:05d}.ts.age",
                position=position, size=1000, sha256=f"{position:064x}",
                stored=1000 if whole else 500, complete=whole, damaged=mark, generation=0))


def stranger(people: People) -> TestClient:
    """A browser nobody signed in on."""
    return TestClient(create_app(people.context), base_url=ORIGIN, follow_redirects=False)


def assign(people: People, device: str, username: str,
           starts: str = "2026-12-01T00:00:00Z", ends: str = "2026-12-02T00:00:00Z") -> None:
    """`username` wore `device` then (so its recordings have a wearer on record)."""
    with people.access.work(CONSOLE, "assignment.add") as work:
        add_assignment(work, device, username, starts, ends)

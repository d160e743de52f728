"""Helpers of the custody tests: a real server data directory (SQLite or the harness's
PostgreSQL) with a cast of people in the default roles, made once per test module (a
password hash takes a third of a second); before each test the custody tables, cameras
and recordings are emptied and the clock reset. Cameras and recordings are rows (the
offload that makes them has tests of its own); work is done as a person through the
access gate."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import pytest
from people_rig import DATABASES, START, People, open_people
from sqlalchemy import func, select, text

from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access, Work
from bodycam.server.audit.models import AuditEvent
from bodycam.server.devices.models import Device
from bodycam.server.recordings.models import Recording, RecordingFile

__all__ = ["CAST", "Custody", "custody_fixture", "custody_server", "fresh", "recording_id",
           "server_fixture"]

# Everyone the tests need, in the default roles. walter reviews and also wears cameras
# (the interesting case for the wearer rules); wendy only wears one.
CAST: Final = {
    "admin": "administrator", "adam": "administrator", "rita": "reviewer",
    "rory": "reviewer", "carl": "custodian", "cora": "custodian", "anna": "approver",
    "walter": "reviewer", "wendy": "wearer", "audrey": "auditor"}
# Emptied before each test, children first.
_TABLES: Final = ("recording_retention", "case_recordings", "cases", "legal_holds",
                  "recording_notes", "device_assignments", "file_pieces", "recording_files",
                  "recordings", "devices")


def recording_id(device: str, start: str, tag: str = "0a0a") -> str:
    """The camera's id form: <device>-<yyyymmddThhmmssZ>-<4 hex>."""
    stamp = datetime.fromisoformat(start).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{device}-{stamp}-{tag}"


@dataclass
class Custody:
    people: People
    users: dict[str, int]
    first_event: int = 0  # the audit records of the current test come after this
    secrets: dict[str, str] = field(default_factory=dict)  # TOTP keys, by username

    @property
    def access(self) -> Access:
        return self.people.access

    def person(self, username: str, *roles: str) -> int:
        added = self.people.add(username, *roles)
        self.users[username] = added.user_id
        if added.totp_secret is not None:
            self.secrets[username] = added.totp_secret
        return added.user_id

    def camera(self, device_id: str) -> None:
        with self.people.context.database.transaction() as session:
            session.add(Device(id=device_id, enrolled_at=datetime.now(UTC), version=0))

    def recording(self, device: str, start: str, end: str, *, tag: str = "0a0a",
                  files: tuple[tuple[bool, str | None], ...] = ((True, None),),
                  last_activity: float | None = None) -> str:
        """A recording row; `files` as (complete, damaged) per segment."""
        rid = recording_id(device, start, tag)
        with self.people.context.database.transaction() as session:
            session.add(Recording(
                id=rid, device_id=device, device_key="f" * 16, manifest_sha256="a" * 64,
                manifest_seq=1, manifest_hash="b" * 64, start=start, end=end,
                files=len(files), bytes=100 * len(files), received_at=datetime.now(UTC),
                last_activity=self.people.clock.now if last_activity is None
                else last_activity))
            session.flush()
            for n, (complete, damaged) in enumerate(files):
                session.add(RecordingFile(
                    recording_id=rid, name=f"seg{n:05d}.mp4.age", position=n, size=100,
                    sha256=f"{n:064x}", stored=100 if complete else 10, complete=complete,
                    damaged=damaged, generation=0))
        return rid

    @contextlib.contextmanager
    def work(self, who: str, action: str = "test") -> Iterator[Work]:
        """Work as a person (`console` for the command line's administrator)."""
        with self.access.work(CONSOLE if who == "console" else self.users[who],
                              action) as work:
            yield work

    def records(self, kind: str | None = None) -> list[AuditEvent]:
        """This test's audit records, oldest first."""
        return [e for e in self.access.audit.events(kind) if e.seq > self.first_event]

    def events(self, kind: str | None = None) -> list[tuple[str, str, str | None]]:
        return [(e.kind, e.actor, e.rule) for e in self.records(kind)]

    def details(self, kind: str) -> list[dict[str, Any]]:
        return [json.loads(e.details) for e in self.records(kind)]


def custody_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[Custody]:
    """The body of each custody test module's module-scoped fixture (params=DATABASES)."""
    directory = tmp_path_factory.mktemp("custody")
    for people in open_people(request, directory):
        custody = Custody(people, {})
        for name, role in CAST.items():
            custody.person(name, role)
        yield custody


def fresh(custody: Custody) -> Custody:
    """The module's server as a test starts: no camera, recording, custody record or
    sign-in state."""
    with custody.people.context.database.transaction() as session:
        for table in _TABLES:
            session.execute(text(f"DELETE FROM {table}"))
        # Sign-ins start afresh too: each test may use each person's next code once.
        session.execute(text("UPDATE users SET totp_last_step = NULL"))
        session.execute(text("DELETE FROM sign_in_throttles"))
        session.execute(text("DELETE FROM web_sessions"))
        custody.first_event = session.scalar(select(func.max(AuditEvent.seq))) or 0
    custody.people.clock.now = START
    return custody


@pytest.fixture(scope="module", params=DATABASES, name="server")
def server_fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[Custody]:
    """`server`: the module's server on each database (import it into a test module)."""
    yield from custody_server(request, tmp_path_factory)


@pytest.fixture(name="custody")
def custody_fixture(server: Custody) -> Custody:
    """`custody`: the server afresh, with one camera, BC-0001."""
    fresh(server).camera("BC-0001")
    return server

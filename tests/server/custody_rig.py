"""Helpers of the custody tests: a real server data directory (SQLite or the harness's
PostgreSQL), people with roles, cameras and recordings as rows (the offload that makes
them has tests of its own), and work done as a person through the access gate."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from people_rig import People, open_people

from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access, Work
from bodycam.server.devices.models import Device
from bodycam.server.recordings.models import Recording, RecordingFile

__all__ = ["Custody", "open_custody", "recording_id"]


def recording_id(device: str, start: str, tag: str = "0a0a") -> str:
    """The camera's id form: <device>-<yyyymmddThhmmssZ>-<4 hex>."""
    stamp = datetime.fromisoformat(start).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{device}-{stamp}-{tag}"


@dataclass
class Custody:
    people: People
    users: dict[str, int]

    @property
    def access(self) -> Access:
        return self.people.access

    def person(self, username: str, *roles: str) -> int:
        self.users[username] = self.people.add(username, *roles).user_id
        return self.users[username]

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

    def events(self, kind: str | None = None) -> list[tuple[str, str, str | None]]:
        return self.people.events(kind)


def open_custody(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Custody]:
    """The body of each custody test module's fixture (params=DATABASES)."""
    for people in open_people(request, tmp_path):
        yield Custody(people, {})

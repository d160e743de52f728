"""Helpers of the retention tests: a real server data directory (SQLite, the harness's
PostgreSQL, or SQLite + S3 on moto's emulator), people with roles, and recordings put
straight into the database and the blob store the way the offload leaves them (the
offload itself is tested in test_server_offload.py; one test here goes through it)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from people_rig import START, Clock, People, make_context
from server_fixtures import make_backend
from sqlalchemy import text
from sqlalchemy.orm import Session

from bodycam.server.access.rules import Actor
from bodycam.server.access.service import Access
from bodycam.server.custody.instants import canonical
from bodycam.server.custody.models import DeviceAssignment, LegalHold
from bodycam.server.custody.target import lock_recording
from bodycam.server.database.engine import Database
from bodycam.server.devices.models import Device
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.retention.categories import DAY

BACKENDS = ("sqlite", "postgresql", "s3")
T = TypeVar("T")
DEVICE = "BC-0001"


@dataclass
class Retention(People):
    """People, plus recordings and the blob store."""

    def actor(self, user_id: int) -> Actor:
        with self.context.database.transaction() as session:
            return self.access.actor(session, user_id)

    def recording(self, *segments: bytes, days_ago: float = 1.0, device: str = DEVICE,
                  wearer: int | None = None) -> str:
        """A complete recording of one minute made `days_ago` before now, its blobs
        stored; `wearer` wore the camera that day (an assignment covering it)."""
        made = datetime.fromtimestamp(self.clock.now - days_ago * DAY, UTC)
        start, end = canonical(made), canonical(made + timedelta(minutes=1))
        recording_id = f"{device}-{made:%Y%m%dT%H%M%S}Z-{secrets.token_hex(2)}"
        blobs = self.context.blobs
        manifest = blobs.put_bytes(f"manifest of {recording_id}".encode())
        with self.context.database.transaction() as session:
            if session.get(Device, device) is None:
                session.add(Device(id=device, enrolled_at=made))
                session.flush()
            session.add(Recording(
                id=recording_id, device_id=device, device_key="0" * 16,
                manifest_sha256=manifest, manifest_seq=len(segments) + 1,
                manifest_hash="1" * 64, start=start, end=end,
                files=len(segments), bytes=sum(map(len, segments)), received_at=made,
                last_activity=self.clock.now))
            session.flush()
            for position, data in enumerate(segments):
                session.add(RecordingFile(
                    recording_id=recording_id, name=f"seg-{position:05d}.ts.age",
                    position=position, size=len(data), sha256=blobs.put_bytes(data),
                    stored=len(data), complete=True, generation=1))
            if wearer is not None:
                self.assign(session, wearer, device, made - timedelta(hours=1),
                            made + timedelta(hours=8))
        return recording_id

    def assign(self, session: Session, user_id: int, device: str, starts: datetime,
               ends: datetime) -> None:
        """An assignment as an administrator records it (custody's own tests cover how
        it is made)."""
        session.add(DeviceAssignment(device_id=device, user_id=user_id,
                                     starts=canonical(starts), ends=canonical(ends),
                                     assigned_by="admin", assigned_at=self.clock.now))

    def hold(self, recording_id: str) -> int:
        """A legal hold as a custodian places it (under the recording's lock)."""
        with self.context.database.transaction() as session:
            lock_recording(session, recording_id)
            hold = LegalHold(recording_id=recording_id, reason="investigation",
                             placed_by="carol", placed_at=self.clock.now)
            session.add(hold)
            session.flush()
            return hold.id

    def later(self, days: float) -> None:
        self.clock.now += days * DAY


def _waiting_on_a_lock(database: Database) -> bool:
    """Whether a PostgreSQL session waits for a lock (a race's second party queued)."""
    with database.engine.connect() as connection:
        return bool(connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))
            .scalar())


def racing(rig: Retention, first: Callable[[Session], object], action: Callable[[], T]
           ) -> T | BaseException:
    """Run `action` while another process's transaction has done `first` (taking the
    recording's lock) and not committed yet: `action` starts in a thread and
    (PostgreSQL) queues behind that lock (SQLite: behind the one writer), then the
    other transaction commits. What `action` returned or raised."""
    outcome: list[T | BaseException] = []
    database = Database(rig.context.database.url)  # the other process
    session = database._sessions()
    session.begin()
    try:
        first(session)
        session.flush()

        def run() -> None:
            try:
                outcome.append(action())
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        if not database.is_sqlite:  # wait until the action queues behind the lock
            for _ in range(3000):
                if _waiting_on_a_lock(database) or not thread.is_alive():
                    break
                threading.Event().wait(0.01)
        session.commit()
    finally:
        session.close()
        database.dispose()
    thread.join()
    [result] = outcome
    return result


def racing_a_hold(rig: Retention, recording_id: str, action: Callable[[], T]
                  ) -> T | BaseException:
    """`action` racing a legal hold being placed on the recording (see `racing`)."""
    def hold(session: Session) -> None:
        lock_recording(session, recording_id)  # what placing a hold does first
        session.add(LegalHold(recording_id=recording_id, reason="court order",
                              placed_by="carol", placed_at=rig.clock.now))

    return racing(rig, hold, action)


def open_retention(request: pytest.FixtureRequest, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[Retention]:
    """The body of each test module's `rig` fixture (params: a subset of BACKENDS)."""
    backend = make_backend(request.param, request)
    for name, value in backend.env.items():
        monkeypatch.setenv(name, value)
    clock = Clock(START)
    context = make_context(tmp_path / "server", list(backend.init_args), clock)
    yield Retention(context, clock, Access.of(context))
    context.close()

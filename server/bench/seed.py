"""Seeding the benchmark's evidence straight into the database: many cameras, many
recordings, their files, and the audit records the offload would have written (chained
and signed like every other record), without sending a byte (the blob store stays empty:
the pages measured show metadata, never content).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import insert

from bodycam.server.audit.chain import PendingEvent, seal
from bodycam.server.audit.trail import AuditTrail, camera_actor
from bodycam.server.database.engine import Database
from bodycam.server.devices.models import Device
from bodycam.server.recordings.models import Recording, RecordingFile

__all__ = ["Seeded", "device_ids", "recording_ids", "seed_evidence"]

_CHUNK: Final = 5000
_FIRST: Final = datetime(2026, 1, 1, tzinfo=UTC)
SEGMENT_BYTES: Final = 5_000_000


@dataclass(frozen=True)
class Seeded:
    recordings: int
    cameras: int
    files: int
    audit_records: int
    seconds: float


def device_ids(cameras: int) -> list[str]:
    return [f"BENCH-{n:04d}" for n in range(cameras)]


def _digest(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def recording_ids(recordings: int, cameras: int) -> Iterator[tuple[str, str, datetime]]:
    """(recording id, device id, start): camera n records every cameras-th slot, ten
    minutes apart, so every camera has recordings spread over the whole period."""
    devices = device_ids(cameras)
    for n in range(recordings):
        device = devices[n % cameras]
        start = _FIRST + timedelta(minutes=10 * n)
        yield f"{device}-{start:%Y%m%dT%H%M%SZ}-{n % 65536:04x}", device, start


def _rows(recordings: int, cameras: int, files: int, now: datetime
          ) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    for recording_id, device, start in recording_ids(recordings, cameras):
        end = start + timedelta(minutes=8)
        recording = {
            "id": recording_id, "device_id": device, "device_key": _digest(device)[:16],
            "manifest_sha256": _digest(recording_id, "manifest"), "manifest_seq": files + 1,
            "manifest_hash": _digest(recording_id, "seal"),
            "start": f"{start:%Y-%m-%dT%H:%M:%S}.000Z", "end": f"{end:%Y-%m-%dT%H:%M:%S}.000Z",
            "files": files, "bytes": files * SEGMENT_BYTES, "received_at": now,
            "last_activity": now.timestamp(), "fork": None, "receipt": None}
        segments = [{"recording_id": recording_id, "name": f"{i:05d}.age", "position": i,
                     "size": SEGMENT_BYTES, "sha256": _digest(recording_id, i),
                     "stored": SEGMENT_BYTES, "complete": True, "damaged": None,
                     "generation": 1} for i in range(files)]
        yield recording, segments


def _received(recording: dict[str, Any], at: float) -> PendingEvent:
    details = {"recording": recording["id"], "device": recording["device_id"],
               "manifest_sha256": recording["manifest_sha256"],
               "manifest_seq": recording["manifest_seq"],
               "manifest_hash": recording["manifest_hash"], "files": recording["files"],
               "bytes": recording["bytes"]}
    return PendingEvent(at, "recording_received", camera_actor(recording["device_id"]),
                        "done", None, json.dumps(details, sort_keys=True))


def seed_evidence(database: Database, trail: AuditTrail, *, recordings: int, cameras: int,
                  files: int) -> Seeded:
    """Insert `cameras` devices and `recordings` recordings of `files` segments each,
    with one signed `recording_received` audit record per recording, in chunks."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    with database.transaction() as session:
        session.execute(insert(Device), [{"id": d, "enrolled_at": now, "version": 0}
                                         for d in device_ids(cameras)])
    batch: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []

    def flush() -> None:
        with database.transaction() as session:
            session.execute(insert(Recording), [r for r, _ in batch])
            session.execute(insert(RecordingFile), [f for _, fs in batch for f in fs])
            seal(session, [_received(r, now.timestamp()) for r, _ in batch], trail.signer)
        batch.clear()

    for item in _rows(recordings, cameras, files, now):
        batch.append(item)
        if len(batch) >= _CHUNK:
            flush()
    if batch:
        flush()
    return Seeded(recordings, cameras, recordings * files, recordings,
                  time.perf_counter() - started)

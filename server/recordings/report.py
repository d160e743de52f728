"""`bodycam-server recordings`: every recording and what the server holds of it.

state:
- `complete`: every file the manifest names is stored and verified;
- `damaged`: a file arrived with other bytes than the signed ones (named); it stays so
  until a good copy arrives;
- `receiving`: files are missing, and bytes arrived within the last RECEIVING_S;
- `incomplete`: files are missing (named, with the bytes held of each) and nothing has
  arrived for longer: the camera stopped sending;
- `deleted`: deleted (two-person or by retention): only names and hashes remain, and its
  tombstone is in the audit log.

The listing is the ingest state (ids, cameras, times, byte counts, states): no picture,
no wearer, note, category or case. Whoever looks after the cameras (device.manage: the
console and administrators, who must see that what a camera sent arrived) or searches
recordings (recording.search) may read it, through the access gate and on record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.retention.deletion import GONE
from bodycam.server.retention.models import RecordingRetention

__all__ = ["RECEIVING_S", "RecordingSummary", "as_json", "format_table", "list_recordings",
           "summarise", "summary_of"]

RECEIVING_S: Final = 15 * 60


@dataclass
class RecordingSummary:
    id: str
    device: str
    start: str | None
    end: str | None
    segments_stored: int
    segments_expected: int
    bytes_stored: int
    bytes_expected: int
    state: str
    damaged: list[str] = field(default_factory=list)
    gaps: list[dict[str, int | str]] = field(default_factory=list)
    receipt: bool = False
    fork: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _summary(recording: Recording, files: list[RecordingFile], now: float) -> RecordingSummary:
    stored = [f for f in files if f.complete]
    summary = RecordingSummary(
        id=recording.id, device=recording.device_id, start=recording.start,
        end=recording.end, segments_stored=len(stored), segments_expected=len(files),
        bytes_stored=sum(f.size if f.complete else f.stored for f in files),
        bytes_expected=recording.bytes, state="complete",
        receipt=recording.receipt is not None, fork=recording.fork)
    summary.damaged = [f.name for f in files if f.damaged and not f.complete]
    summary.gaps = [{"name": f.name, "stored": f.stored, "size": f.size}
                    for f in files if not f.complete]
    if summary.damaged:
        summary.state = "damaged"
    elif summary.gaps:
        recent = now - recording.last_activity < RECEIVING_S
        summary.state = "receiving" if recent else "incomplete"
    return summary


def list_recordings(work: Work) -> list[RecordingSummary]:
    """Every recording's ingest state, authorised and on record (see the module text)."""
    has = work.actor.permissions
    work.authorise(Permission.DEVICES if Permission.DEVICES in has
                   and Permission.SEARCH not in has else Permission.SEARCH)
    session = work.session
    recordings = list(session.scalars(select(Recording).order_by(
        Recording.device_id, Recording.start, Recording.id)))
    files: dict[str, list[RecordingFile]] = {r.id: [] for r in recordings}
    for row in session.scalars(select(RecordingFile).order_by(RecordingFile.position)):
        files.setdefault(row.recording_id, []).append(row)
    gone = set(session.scalars(select(RecordingRetention.recording_id).where(
        RecordingRetention.state.in_(GONE))))
    items = [_summary(r, files[r.id], work.now) for r in recordings]
    for item in items:
        if item.id in gone:  # its blobs are gone; its tombstone is in the audit log
            item.state, item.segments_stored, item.bytes_stored = "deleted", 0, 0
    work.record("recordings_listed", count=len(items), via="cli")
    return items


def summarise(session: Session, recordings: Sequence[Recording], now: float
              ) -> list[RecordingSummary]:
    """The summaries of some recordings (a page of a search), in their order."""
    files: dict[str, list[RecordingFile]] = {r.id: [] for r in recordings}
    for row in session.scalars(select(RecordingFile).where(
            RecordingFile.recording_id.in_(list(files))).order_by(RecordingFile.position)):
        files[row.recording_id].append(row)
    return [_summary(r, files[r.id], now) for r in recordings]


def summary_of(session: Session, recording_id: str, now: float) -> RecordingSummary | None:
    """One recording's summary (a recording's page), or None if it is not here."""
    recording = session.get(Recording, recording_id)
    return None if recording is None else summarise(session, [recording], now)[0]


def _detail(summary: RecordingSummary) -> str:
    if summary.state == "damaged":
        return "damaged: " + ", ".join(summary.damaged)
    if summary.gaps:
        return f"{summary.state}: missing " + ", ".join(
            f"{g['name']} ({g['stored']}/{g['size']} bytes)" for g in summary.gaps)
    return summary.state


def format_table(items: list[RecordingSummary]) -> str:
    if not items:
        return "no recordings yet"
    lines = []
    for s in items:
        lines.append(f"{s.id}  device {s.device}  {s.start} .. {s.end}  "
                     f"segments {s.segments_stored}/{s.segments_expected}  "
                     f"{s.bytes_stored}/{s.bytes_expected} bytes  {_detail(s)}  "
                     f"receipt {'issued' if s.receipt else 'not issued'}"
                     + ("  FORK: another manifest was sent (see --json)" if s.fork else ""))
    return "\n".join(lines)


def as_json(items: list[RecordingSummary]) -> str:
    return json.dumps([s.to_json() for s in items], indent=2)

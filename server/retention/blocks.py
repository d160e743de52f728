"""What stops a recording being deleted, by hand or by the retention job: a legal hold,
an open case, an upload still arriving. Checked in the transaction that claims the
recording, after locking the recording's row (custody.target.lock_recording), which
placing a hold or adding to a case takes too: of a deletion and a hold placed at the
same moment, the hold wins (PostgreSQL: the row lock; SQLite: one writer at a time)."""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.custody.blockers import deletion_blockers
from bodycam.server.custody.holds import active_holds
from bodycam.server.custody.models import Case, CaseRecording, LegalHold
from bodycam.server.recordings.models import RecordingFile

__all__ = ["blocked_among", "blockers"]

_FIX: Final = {
    "legal_hold": "nothing deletes it while a hold stands. Fix: lifting the hold needs a "
                  "request and a second person's approval",
    "open_case": "recordings of an open case are not deleted. Fix: close the case, or "
                 "remove the recording from it (case.manage)",
}


def _custody(session: Session, recording_id: str) -> list[tuple[str, str]]:
    """Custody's blockers (holds first), each with the rule it falls under."""
    held = len(active_holds(session, recording_id))
    found = []
    for position, sentence in enumerate(deletion_blockers(session, recording_id)):
        rule = "legal_hold" if position < held else "open_case"
        found.append((rule, f"recording {recording_id}: {sentence}; {_FIX[rule]}"))
    return found


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
    return _custody(session, recording_id) + _incomplete(session, recording_id)


def blocked_among(session: Session, recording_ids: list[str]) -> dict[str, str]:
    """The blocked ones of many recordings, each with its first rule, in three queries
    (the job's expiry pass over a batch). Claiming still asks `blockers` per recording,
    under its lock: this is only the cheap first sieve."""
    held = session.scalars(select(LegalHold.recording_id).where(
        LegalHold.recording_id.in_(recording_ids), LegalHold.lifted_at.is_(None)))
    in_case = session.scalars(select(CaseRecording.recording_id).join(
        Case, Case.id == CaseRecording.case_id).where(
        CaseRecording.recording_id.in_(recording_ids), Case.closed_at.is_(None)))
    arriving = session.scalars(select(RecordingFile.recording_id).where(
        RecordingFile.recording_id.in_(recording_ids), RecordingFile.complete.is_(False)))
    found: dict[str, str] = {}
    for rule, ids in (("legal_hold", held), ("open_case", in_case),
                      ("incomplete", arriving)):
        for recording_id in ids:
            found.setdefault(recording_id, rule)
    return found

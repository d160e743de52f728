"""What stops a recording being deleted, by hand or by the retention job: a legal hold,
an open case, an upload still arriving. Checked in the transaction that claims the
recording, after locking the recording's row (custody.target.lock_recording), which
placing a hold or adding to a case takes too: of a deletion and a hold placed at the
same moment, the hold wins (PostgreSQL: the row lock; SQLite: one writer at a time)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.custody.models import Case, CaseRecording, LegalHold
from bodycam.server.recordings.models import RecordingFile

__all__ = ["blockers"]


def _held(session: Session, recording_id: str) -> list[tuple[str, str]]:
    hold = session.scalar(select(LegalHold).where(
        LegalHold.recording_id == recording_id, LegalHold.lifted_at.is_(None))
        .order_by(LegalHold.id).limit(1))
    if hold is None:
        return []
    return [("legal_hold", f"recording {recording_id} is under legal hold {hold.id} (placed "
             f"by {hold.placed_by}: {hold.reason[:200]}); nothing deletes it while the hold "
             "stands. Fix: lifting the hold needs a request and a second person's approval")]


def _in_open_case(session: Session, recording_id: str) -> list[tuple[str, str]]:
    case = session.scalar(select(Case).join(CaseRecording, CaseRecording.case_id == Case.id)
                          .where(CaseRecording.recording_id == recording_id,
                                 Case.closed_at.is_(None)).order_by(Case.id).limit(1))
    if case is None:
        return []
    return [("open_case", f"recording {recording_id} is in open case {case.reference}; "
             "recordings of an open case are not deleted. Fix: close the case, or remove "
             "the recording from it (case.manage)")]


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
    return (_held(session, recording_id) + _in_open_case(session, recording_id)
            + _incomplete(session, recording_id))

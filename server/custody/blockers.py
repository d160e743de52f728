"""What stops a recording's deletion now, whatever else says it may go: a legal hold in
force, or an open case. The retention job and the deletion step ask this after
`lock_recording`, in the same transaction as the deletion, so a hold or case added a
moment earlier is seen."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.custody.holds import active_holds
from bodycam.server.custody.models import Case, CaseRecording

__all__ = ["deletion_blockers"]


def deletion_blockers(session: Session, recording_id: str) -> list[str]:
    """One sentence per blocker (empty: nothing blocks)."""
    found = [f"legal hold {hold.id} placed by {hold.placed_by}: {hold.reason[:200]}"
             for hold in active_holds(session, recording_id)]
    found += [f"open case {reference}" for reference in session.scalars(
        select(Case.reference).join(CaseRecording, CaseRecording.case_id == Case.id).where(
            CaseRecording.recording_id == recording_id, Case.closed_at.is_(None))
        .order_by(Case.reference))]
    return found

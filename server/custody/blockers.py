"""What stops a recording's deletion now, whatever else says it may go: a legal hold in
force, or an open case. The retention job and the deletion step ask this after
`lock_recordings`, in the same transaction as the deletion, so a hold or case added a
moment earlier is seen. Asked for many recordings at once (the job claims a batch), in
two queries whatever their number."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.custody.models import Case, CaseRecording, LegalHold

__all__ = ["Blockers", "deletion_blockers", "deletion_blockers_among"]


@dataclass
class Blockers:
    """One sentence per blocker of a recording: its holds in force (oldest first), then
    its open cases (by reference)."""

    holds: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)


def deletion_blockers_among(session: Session, recording_ids: Collection[str]
                            ) -> dict[str, Blockers]:
    """The blocked ones of `recording_ids` (absent: nothing blocks it)."""
    found: dict[str, Blockers] = {}
    ids = sorted(set(recording_ids))
    for hold in session.scalars(select(LegalHold).where(
            LegalHold.recording_id.in_(ids), LegalHold.lifted_at.is_(None))
            .order_by(LegalHold.id)):
        found.setdefault(hold.recording_id, Blockers()).holds.append(
            f"legal hold {hold.id} placed by {hold.placed_by}: {hold.reason[:200]}")
    for recording_id, reference in session.execute(
            select(CaseRecording.recording_id, Case.reference)
            .join(Case, Case.id == CaseRecording.case_id).where(
                CaseRecording.recording_id.in_(ids), Case.closed_at.is_(None))
            .order_by(Case.reference)):
        found.setdefault(recording_id, Blockers()).cases.append(f"open case {reference}")
    return found


def deletion_blockers(session: Session, recording_id: str) -> list[str]:
    """deletion_blockers_among of one recording, holds then cases (empty: nothing)."""
    found = deletion_blockers_among(session, [recording_id]).get(recording_id)
    return [] if found is None else found.holds + found.cases

"""Legal holds (hold.manage): placed on a recording with a reason, and while any is in
force the recording is not deleted, whatever its category, case or approvals say.

Lifting is never done directly: it needs the same two-person approval as a deletion.
The retention module's approvals call `lift_hold` once a second person approved; the
`LiftApproval` it passes names both people, and one person in both places is refused.
Placing a hold locks the recording's row, as deletion does, so a hold placed while a
deletion is being approved is either seen by the deletion or placed after it failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError, Target
from bodycam.server.access.service import Work
from bodycam.server.custody.errors import CustodyError
from bodycam.server.custody.models import LegalHold
from bodycam.server.custody.target import (
    lock_live_recording,
    lock_recording,
    recording_target,
)
from bodycam.server.custody.text import checked_text

__all__ = ["MAX_REASON", "HoldView", "LiftApproval", "active_holds", "direct_lift_refused",
           "holds_of", "lift_hold", "place_hold"]

MAX_REASON: Final = 2_000


@dataclass(frozen=True)
class HoldView:
    id: int
    recording_id: str
    reason: str
    placed_by: str
    placed_at: float
    lifted_by: str | None = None
    lifted_at: float | None = None


@dataclass(frozen=True)
class LiftApproval:
    """A granted two-person approval to lift a hold (from the approvals table)."""

    approval_id: int
    requested_by: int
    approved_by: int


def _view(row: LegalHold) -> HoldView:
    return HoldView(row.id, row.recording_id, row.reason, row.placed_by, row.placed_at,
                    row.lifted_by, row.lifted_at)


def active_holds(session: Session, recording_id: str) -> list[HoldView]:
    """Holds in force on the recording, oldest first (no authorisation: for the
    services that decide deletion and for pages already authorised)."""
    return [_view(row) for row in session.scalars(select(LegalHold).where(
        LegalHold.recording_id == recording_id, LegalHold.lifted_at.is_(None))
        .order_by(LegalHold.id))]


def holds_of(work: Work, recording_id: str) -> list[HoldView]:
    """Every hold on the recording, lifted ones too, oldest first (recording.search)."""
    work.authorise(Permission.SEARCH, recording_target(work.session, recording_id))
    rows = work.session.scalars(select(LegalHold).where(
        LegalHold.recording_id == recording_id).order_by(LegalHold.id))
    work.record("holds_read", recording=recording_id)
    return [_view(row) for row in rows]


def place_hold(work: Work, recording_id: str, reason: str) -> HoldView:
    work.authorise(Permission.HOLD, recording_target(work.session, recording_id))
    reason = checked_text(reason, "reason for the hold", MAX_REASON)
    lock_live_recording(work.session, recording_id)
    row = LegalHold(recording_id=recording_id, reason=reason, placed_by=work.actor.name,
                    placed_at=work.now)
    work.session.add(row)
    work.session.flush()
    work.record("hold_placed", recording=recording_id, hold=row.id, reason=reason)
    return _view(row)


def direct_lift_refused(work: Work, hold_id: int) -> NoReturn:
    """What every entry point offering "lift" without an approval calls: always an
    AccessError (so the attempt is on record with its rule)."""
    row = work.session.get(LegalHold, hold_id)
    raise AccessError("two_person_lift", f"{work.actor.name} cannot lift legal hold "
                      f"{hold_id} alone: lifting a hold needs a request with a reason and "
                      "the approval of a different person, as a deletion does. Fix: request "
                      "the lift as a two-person approval",
                      Target(recording_id=row.recording_id if row is not None else None))


def lift_hold(work: Work, hold_id: int, approval: LiftApproval) -> HoldView:
    """Lift a hold after its two-person approval (call it from the approvals module
    only, once it has authorised both people). Refused if one person requested and
    approved, or the hold is not in force."""
    session = work.session
    row = session.get(LegalHold, hold_id)
    if row is None:
        raise CustodyError(f"there is no legal hold {hold_id}")
    target = recording_target(session, row.recording_id, requested_by=approval.requested_by)
    if approval.requested_by == approval.approved_by:
        raise AccessError("four_eyes", f"approval {approval.approval_id} was requested and "
                          "approved by the same person; a different person must approve "
                          "lifting a legal hold", target)
    lock_recording(session, row.recording_id)
    session.refresh(row)
    if row.lifted_at is not None:
        raise CustodyError(f"legal hold {hold_id} was lifted already ({row.lifted_by})")
    row.lifted_at, row.lifted_by, row.lift_approval = (work.now, work.actor.name,
                                                       approval.approval_id)
    work.record("hold_lifted", recording=row.recording_id, hold=row.id,
                approval=approval.approval_id, requested_by=approval.requested_by,
                approved_by=approval.approved_by)
    return _view(row)

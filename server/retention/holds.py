"""Lifting a legal hold: the approvals' side of custody's holds.

A hold is placed by one custodian (custody/holds.py) but lifted only after a request
and a different person's approval, like a deletion: lifting it is what lets the
recording be deleted. Lifting deletes nothing; the retention job decides afterwards,
with a fresh pending window.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.orm import Session

from bodycam.server.access.rules import Target
from bodycam.server.access.service import Work
from bodycam.server.custody.holds import LiftApproval, lift_hold
from bodycam.server.custody.models import LegalHold
from bodycam.server.custody.target import recording_target

__all__ = ["HOLD_LIFT", "find_hold", "hold_target", "lift"]

HOLD_LIFT: Final = "hold_lift"


def find_hold(session: Session, hold_id: str, *, lock: bool = False) -> LegalHold:
    """The hold `hold_id` (a number), or ValueError naming the fix."""
    hold = (session.get(LegalHold, int(hold_id), with_for_update=lock)
            if hold_id.isdigit() and len(hold_id) < 10 else None)
    if hold is None:
        raise ValueError(f"no legal hold {hold_id[:40]!r}; a recording's page or "
                         "`bodycam-server hold list` shows its holds")
    return hold


def hold_target(session: Session, hold_id: str) -> Target:
    """The held recording, as the rules judge it (its wearers never lift its hold; one
    whose wearers are not on record can still have its hold lifted: lifting deletes
    nothing, and deleting it afterwards is refused by wearer_unknown)."""
    target = recording_target(session, find_hold(session, hold_id).recording_id)
    return Target(recording_id=target.recording_id, wearers=target.wearers or frozenset())


def lift(work: Work, hold_id: str, approval_id: int, requested_by: int) -> None:
    """Lift a hold whose lift was approved (approvals.py, inside the approval)."""
    assert work.actor.user_id is not None
    lift_hold(work, find_hold(work.session, hold_id, lock=True).id,
              LiftApproval(approval_id, requested_by, work.actor.user_id))

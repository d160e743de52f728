"""Two-person approvals, one table for every kind: deleting a recording, changing a
category's retention period, lifting a legal hold.

One person requests with a reason; a different person holding deletion.approve
approves or rejects. The hard rules in access/rules.py decide (four_eyes,
wearer_never_deletes, wearer_unknown, administrator_no_evidence): a request is a Target
with `requested_by`, so the same `decide` judges every kind. An approval takes effect in
its own transaction, with the blockers checked under locks (a legal hold placed at the
same moment wins); a deletion's blobs are then removed after the commit (deletion.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError, Actor, Target
from bodycam.server.access.service import Access, Work
from bodycam.server.custody.target import recording_target
from bodycam.server.retention import deletion
from bodycam.server.retention.categories import apply_period, check_period, retention_of
from bodycam.server.retention.holds import HOLD_LIFT, hold_target, lift
from bodycam.server.retention.models import Approval, RetentionCategory
from bodycam.server.storage.blobs import BlobStore

__all__ = [
    "CATEGORY_PERIOD",
    "DELETION",
    "HOLD_LIFT",
    "KINDS",
    "ApprovalView",
    "Decision",
    "decide",
    "list_approvals",
    "request_deletion",
    "request_hold_lift",
    "request_period_change",
]

DELETION: Final = "deletion"
CATEGORY_PERIOD: Final = "category_period"
KINDS: Final = (DELETION, CATEGORY_PERIOD, HOLD_LIFT)
_MAX_REASON: Final = 2000


@dataclass(frozen=True)
class ApprovalView:
    id: int
    kind: str
    subject: str
    value: str | None
    reason: str
    requested_by: str
    requested_at: float
    state: str
    decided_by: str | None
    decided_at: float | None
    note: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Decision:
    """What a decision did. `deleted`: blobs removed now; `pending_blobs`: the blob store
    failed after the approval (the retention job finishes it; the error is named)."""

    approval: ApprovalView
    deleted: deletion.Deleted | None = None
    pending_blobs: str | None = None


def _view(row: Approval) -> ApprovalView:
    return ApprovalView(row.id, row.kind, row.subject, row.value, row.reason,
                        row.requested_by_name, row.requested_at, row.state,
                        row.decided_by_name, row.decided_at, row.decision_note)


def _reason(text: str) -> str:
    reason = text.strip()
    if not reason:
        raise ValueError("a reason is required: say why (it goes into the audit log and "
                         "the recording's chain-of-custody report)")
    if len(reason) > _MAX_REASON:
        raise ValueError(f"the reason is {len(reason)} characters; at most {_MAX_REASON}")
    return reason


def _requester(work: Work) -> int:
    if work.actor.user_id is None:
        raise AccessError("signed_in_person", "a two-person request is made by a signed-in "
                          "person, not the server console. Fix: sign in (web, API) or use "
                          "--as USER with your second factor")
    return work.actor.user_id


def _open_request(session: Session, kind: str, subject: str) -> Approval | None:
    return session.scalar(select(Approval).where(
        Approval.kind == kind, Approval.subject == subject, Approval.state == "pending"))


def _add(work: Work, kind: str, subject: str, reason: str, value: str | None = None
         ) -> ApprovalView:
    requester = _requester(work)
    existing = _open_request(work.session, kind, subject)
    if existing is not None:
        raise ValueError(f"request {existing.id} ({kind} of {subject}) is already waiting "
                         "for a decision; approve or reject that one")
    row = Approval(kind=kind, subject=subject, value=value, reason=reason,
                   requested_by=requester, requested_by_name=work.actor.name,
                   requested_at=work.now, state="pending")
    work.session.add(row)
    work.session.flush()
    work.record(f"{kind}_requested", request=row.id, subject=subject, value=value,
                reason=reason, recording=subject if kind == DELETION else None)
    return _view(row)


def request_deletion(work: Work, recording_id: str, reason: str) -> ApprovalView:
    """deletion.request; refused at once if the rules or a blocker already forbid it."""
    target = recording_target(work.session, recording_id)
    work.authorise(Permission.REQUEST_DELETION, target)
    text = _reason(reason)
    if retention_of(work.session, recording_id).state in deletion.GONE:
        raise AccessError("deleted", f"recording {recording_id} is deleted already", target)
    deletion.refuse_if_blocked(work.session, target)
    return _add(work, DELETION, recording_id, text)


def request_period_change(work: Work, category: str, period_days: int, reason: str
                          ) -> ApprovalView:
    """retention.manage; the period is checked now (and again when it is applied)."""
    work.authorise(Permission.RETENTION)
    text = _reason(reason)
    check_period(period_days, category)
    if work.session.get(RetentionCategory, category) is None:
        raise ValueError(f"no retention category {category!r}")
    return _add(work, CATEGORY_PERIOD, category, text, str(period_days))


def request_hold_lift(work: Work, hold_id: str, reason: str) -> ApprovalView:
    """hold.manage; the hold stays until a different person approves."""
    work.authorise(Permission.HOLD, hold_target(work.session, hold_id))
    return _add(work, HOLD_LIFT, hold_id, _reason(reason))


def list_approvals(session: Session, state: str | None = "pending",
                   kind: str | None = None, limit: int = 200) -> list[ApprovalView]:
    query = select(Approval).order_by(Approval.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Approval.state == state)
    if kind is not None:
        query = query.where(Approval.kind == kind)
    return [_view(row) for row in session.scalars(query)]


def _target(session: Session, row: Approval) -> Target:
    """What the rules judge: the recording (with its wearers) or the hold's recordings;
    a period change touches no one recording (no wearer, nobody to exclude but the
    requester)."""
    if row.kind == DELETION:
        base = recording_target(session, row.subject, lock=True)
    elif row.kind == HOLD_LIFT:
        base = hold_target(session, row.subject)
    else:
        base = Target(wearers=frozenset())
    return replace(base, requested_by=row.requested_by)


def _pending(session: Session, approval_id: int) -> Approval:
    row = session.get(Approval, approval_id, with_for_update=True)
    if row is None:
        raise ValueError(f"no request {approval_id}; `bodycam-server approval list` shows "
                         "the waiting ones")
    if row.state != "pending":
        raise ValueError(f"request {approval_id} was {row.state} already by "
                         f"{row.decided_by_name}; nothing to decide")
    return row


def _carry_out(work: Work, row: Approval, target: Target) -> None:
    if row.kind == DELETION:
        deletion.claim(work.session, target, {
            "actor": work.actor.name, "how": "two-person deletion", "request": row.id,
            "requested_by": row.requested_by_name, "approved_by": work.actor.name,
            "reason": row.reason, "requested_at": row.requested_at,
            "approved_at": work.now})
    elif row.kind == CATEGORY_PERIOD:
        assert row.value is not None
        changed = apply_period(work.session, row.subject, int(row.value), work.now)
        work.record("category_period_changed", category=row.subject,
                    period_days=int(row.value), request=row.id, recordings=changed,
                    requested_by=row.requested_by_name)
    else:
        lift(work, row.subject, row.id, row.requested_by)


def _decide(work: Work, approval_id: int, approve: bool, note: str) -> tuple[str, str]:
    row = _pending(work.session, approval_id)
    target = _target(work.session, row)
    work.authorise(Permission.APPROVE_DELETION, target)
    if approve:
        _carry_out(work, row, target)
    row.state = "approved" if approve else "rejected"
    row.decided_by, row.decided_by_name = work.actor.user_id, work.actor.name
    row.decided_at, row.decision_note = work.now, note.strip()[:_MAX_REASON] or None
    work.record(f"{row.kind}_{row.state}", request=row.id, subject=row.subject,
                requested_by=row.requested_by_name, note=row.decision_note,
                recording=target.recording_id)
    return row.kind, row.subject


def decide(access: Access, blobs: BlobStore, actor: Actor | int, approval_id: int, *,
           approve: bool, note: str = "") -> Decision:
    """Approve or reject (deletion.approve, a different person, never the wearer); an
    approved deletion's blobs are removed at once, after the approval is committed."""
    action = "approval.approve" if approve else "approval.reject"
    with access.work(actor, action) as work:
        kind, subject = _decide(work, approval_id, approve, note)
    with access.database.transaction() as session:
        view = _view(session.get_one(Approval, approval_id))
    if not approve or kind != DELETION:
        return Decision(view)
    done, failed = deletion.finish(access.database, blobs, access.audit, [subject],
                                   access.clock)
    if subject in failed:
        return Decision(view, pending_blobs=f"{failed[subject]}; the recording is marked "
                        "for deletion and the retention job removes its blobs on its next "
                        "run")
    return Decision(view, deleted=done[0] if done else None)

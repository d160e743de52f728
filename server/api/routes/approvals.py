"""Two-person approvals: one person requests with a reason (a recording's deletion,
a category's new period, a legal hold's lift), a different person with deletion.approve
approves or rejects; neither may be the recording's wearer. The hard rules decide and
every step is on record; an approved deletion removes the recording's blobs and leaves
a tombstone in the audit log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError, Target
from bodycam.server.access.service import Work
from bodycam.server.api.auth import CallerDep
from bodycam.server.api.routes.common import RecordingId
from bodycam.server.api.routes.holds import HoldId
from bodycam.server.api.routes.retention import CategoryName
from bodycam.server.api.work import ERRORS, access_of, perform, refusals
from bodycam.server.devices.auth import context_of
from bodycam.server.retention.approvals import (
    CATEGORY_PERIOD,
    ApprovalView,
    decide,
    list_approvals,
    request_deletion,
    request_hold_lift,
    request_period_change,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["approvals"], responses=ERRORS)
ApprovalId = Annotated[int, Path(ge=1, le=2**62)]
_REASON = Field(min_length=1, max_length=2000, description="why (on record)")


class DecisionOut(BaseModel):
    approval: ApprovalView
    deleted_blobs: int | None = Field(default=None, description="blobs an approved "
                                      "deletion removed now")
    pending_blobs: str | None = Field(default=None, description="the blob store failed "
                                      "after the approval: the retention job finishes it")


class RequestIn(BaseModel):
    reason: str = _REASON


class PeriodIn(RequestIn):
    period_days: int = Field(description="the new period in days")


class NoteIn(BaseModel):
    note: str = Field(default="", max_length=2000)


class ApprovalsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["pending", "approved", "rejected", "all"] = "pending"
    kind: Literal["deletion", "category_period", "hold_lift"] | None = None


def _approvals(work: Work, query: ApprovalsQuery) -> list[ApprovalView]:
    """Those who decide or request see every kind; an administrator (retention.manage)
    only the period changes, which name no recording."""
    kind = query.kind
    listing = Target(wearers=frozenset())  # the list, not one recording: no wearer to judge
    try:
        work.authorise(Permission.APPROVE_DELETION, listing)
    except AccessError:
        try:
            work.authorise(Permission.REQUEST_DELETION, listing)
        except AccessError:
            work.authorise(Permission.RETENTION)
            if kind not in (None, CATEGORY_PERIOD):
                raise
            kind = CATEGORY_PERIOD
    state = None if query.state == "all" else query.state
    return list_approvals(work.session, state, kind)


@router.get("/approvals")
def approvals(query: Annotated[ApprovalsQuery, Query()], request: Request,
              caller: CallerDep) -> list[ApprovalView]:
    """Newest first."""
    return perform(request, caller, "approval.list", lambda work: _approvals(work, query))


@router.post("/recordings/{recording_id}/deletion-requests", status_code=201)
def ask_deletion(recording_id: RecordingId, body: RequestIn, request: Request,
                 caller: CallerDep) -> ApprovalView:
    """Refused at once if the rules (the wearer never asks) or a blocker (hold, open
    case) already forbid the deletion."""
    return perform(request, caller, "deletion.request", lambda work: request_deletion(
        work, recording_id, body.reason))


@router.post("/retention/categories/{name}/period-requests", status_code=201)
def ask_period(name: CategoryName, body: PeriodIn, request: Request, caller: CallerDep
               ) -> ApprovalView:
    """A new period takes effect when a different person approves; nothing is deleted
    at once (expiry dates are recomputed, the retention job does the rest)."""
    return perform(request, caller, "category.period.request", lambda work: request_period_change(
        work, name, body.period_days, body.reason))


@router.post("/holds/{hold_id}/lift-requests", status_code=201)
def ask_lift(hold_id: HoldId, body: RequestIn,
             request: Request, caller: CallerDep) -> ApprovalView:
    return perform(request, caller, "hold.lift.request", lambda work: request_hold_lift(
        work, str(hold_id), body.reason))


def _decide(request: Request, caller: CallerDep, approval_id: int, note: str,
            approve: bool) -> DecisionOut:
    with refusals():
        made = decide(access_of(request), context_of(request).blobs, caller.user_id,
                      approval_id, approve=approve, note=note)
    return DecisionOut(approval=made.approval, pending_blobs=made.pending_blobs,
                       deleted_blobs=None if made.deleted is None else made.deleted.removed)


@router.post("/approvals/{approval_id}/approve")
def approve(approval_id: ApprovalId, body: NoteIn, request: Request, caller: CallerDep
            ) -> DecisionOut:
    """Carry the request out (a different person than the requester; never the wearer;
    a legal hold placed meanwhile wins)."""
    return _decide(request, caller, approval_id, body.note, approve=True)


@router.post("/approvals/{approval_id}/reject")
def reject(approval_id: ApprovalId, body: NoteIn, request: Request, caller: CallerDep
           ) -> DecisionOut:
    return _decide(request, caller, approval_id, body.note, approve=False)

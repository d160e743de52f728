"""Two-person requests: deletions of recordings, changes of a category's period and
lifts of a legal hold, waiting for a different person to approve or reject them, and
the latest decided. Deciding calls retention's `decide`: the hard rules (four eyes, the
wearer never deletes) and a legal hold placed meanwhile decide; an approved deletion
removes the recording's blobs and leaves its tombstone in the audit log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError
from bodycam.server.access.service import Work
from bodycam.server.devices.auth import context_of
from bodycam.server.retention.approvals import decide, list_approvals
from bodycam.server.web.frame import Visitor, poster, visitor

__all__ = ["router"]

router = APIRouter(prefix="/deletions", include_in_schema=False)
_DECIDED_SHOWN = 50


def _read(work: Work) -> dict[str, Any]:
    decided = [a for a in list_approvals(work.session, None, limit=_DECIDED_SHOWN + 200)
               if a.state != "pending"][:_DECIDED_SHOWN]
    return {"pending": list_approvals(work.session, "pending"), "decided": decided}


def _listing(person: Visitor, **outcome: Any) -> HTMLResponse:
    needs = (Permission.APPROVE_DELETION if person.can(Permission.APPROVE_DELETION)
             else Permission.REQUEST_DELETION)
    return person.listing(needs, "deletions.html", _read,
                          may_decide=person.can(Permission.APPROVE_DELETION), **outcome)


@router.get("")
def deletions(person: Annotated[Visitor, Depends(visitor)]) -> HTMLResponse:
    return _listing(person)


@router.post("/{approval_id}/{verdict}")
def decide_request(request: Request, person: Annotated[Visitor, Depends(poster)],
                   approval_id: int, verdict: Literal["approve", "reject"],
                   note: Annotated[str, Form(max_length=2000)] = "") -> HTMLResponse:
    """Approve or reject as the signed-in person (never their own request)."""
    try:
        done = decide(person.access, context_of(request).blobs, person.actor, approval_id,
                      approve=verdict == "approve", note=note)
    except AccessError as exc:
        return _listing(person, error=exc.message, rule=exc.rule)
    except ValueError as exc:
        return _listing(person, error=str(exc))
    notice = f"Request {approval_id} is {done.approval.state}."
    if done.deleted is not None:
        notice += (f" Recording {done.approval.subject} is deleted; its tombstone is in "
                   "the audit log.")
    if done.pending_blobs:
        notice += f" {done.pending_blobs}."
    return _listing(person, notice=notice)

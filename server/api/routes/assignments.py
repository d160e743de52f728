"""/api/v1/assignments: who wore which camera when (device.assign): every recording's
wearers come from these. Overlaps are refused; an end never takes a received
recording's wearer away."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from bodycam.server.api.auth import CallerDep
from bodycam.server.api.work import ERRORS, perform
from bodycam.server.custody.assignments import (
    AssignmentView,
    add_assignment,
    check_in,
    check_out,
    end_assignment,
    list_assignments,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["assignments"], responses=ERRORS)
DeviceId = Annotated[str, Path(min_length=1, max_length=32)]
_TIME = Field(min_length=1, max_length=64, description="ISO 8601 with a zone")


class AssignmentIn(BaseModel):
    device_id: str = Field(min_length=1, max_length=32)
    username: str = Field(min_length=1, max_length=64)
    starts: str = _TIME
    ends: str | None = Field(default=None, min_length=1, max_length=64,
                             description="ISO 8601 with a zone; none: still wears it")


class EndIn(BaseModel):
    ends: str = _TIME


class CheckOutIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)


@router.get("/assignments")
def assignments(request: Request, caller: CallerDep,
                device: Annotated[str | None, Query(max_length=32)] = None,
                username: Annotated[str | None, Query(max_length=64)] = None
                ) -> list[AssignmentView]:
    """Newest first."""
    return perform(request, caller, "assignment.list",
                   lambda work: list_assignments(work, device, username))


@router.post("/assignments", status_code=201)
def add(body: AssignmentIn, request: Request, caller: CallerDep) -> AssignmentView:
    return perform(request, caller, "assignment.add", lambda work: add_assignment(
        work, body.device_id, body.username, body.starts, body.ends))


@router.post("/assignments/{assignment_id}/end")
def end(assignment_id: Annotated[int, Path(ge=1, le=2**62)], body: EndIn,
        request: Request, caller: CallerDep) -> AssignmentView:
    return perform(request, caller, "assignment.end",
                   lambda work: end_assignment(work, assignment_id, body.ends))


@router.post("/devices/{device_id}/check-out", status_code=201)
def take(device_id: DeviceId, body: CheckOutIn, request: Request, caller: CallerDep
         ) -> AssignmentView:
    """The camera leaves the rack with this person now."""
    return perform(request, caller, "assignment.check-out",
                   lambda work: check_out(work, device_id, body.username))


@router.post("/devices/{device_id}/check-in")
def give_back(device_id: DeviceId, request: Request, caller: CallerDep) -> AssignmentView:
    """The camera is back in the rack now."""
    return perform(request, caller, "assignment.check-in",
                   lambda work: check_in(work, device_id))

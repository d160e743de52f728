"""Legal holds (hold.manage): placed on a recording with a reason; a hold blocks its
deletion whatever else says. Lifting one is a two-person approval (/api/v1/approvals);
the direct lift answers 403 naming that rule, and the attempt is on record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from bodycam.server.api.auth import CallerDep
from bodycam.server.api.routes.common import RecordingId
from bodycam.server.api.work import ERRORS, perform
from bodycam.server.custody.holds import MAX_REASON, HoldView, direct_lift_refused, place_hold

__all__ = ["HoldId", "router"]

router = APIRouter(prefix="/api/v1", tags=["holds"], responses=ERRORS)
HoldId = Annotated[int, Path(ge=1, le=999_999_999, description="the hold's number")]


class HoldIn(BaseModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON)


@router.post("/recordings/{recording_id}/holds", status_code=201)
def place(recording_id: RecordingId, body: HoldIn, request: Request, caller: CallerDep
          ) -> HoldView:
    return perform(request, caller, "hold.place",
                   lambda work: place_hold(work, recording_id, body.reason))


@router.post("/holds/{hold_id}/lift", status_code=204)
def lift(hold_id: HoldId, request: Request,
         caller: CallerDep) -> None:
    """Always refused (two_person_lift): request the lift as an approval instead."""
    perform(request, caller, "hold.lift", lambda work: direct_lift_refused(work, hold_id))

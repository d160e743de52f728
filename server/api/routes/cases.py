"""/api/v1/cases: cases (case.manage to change, recording.search to read). A case's
reference is the agency's case number, which may hold '/', so it travels in the body or
the query, never in the path."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from bodycam.server.api.auth import CallerDep
from bodycam.server.api.work import ERRORS, perform
from bodycam.server.custody.cases import (
    CaseView,
    add_to_case,
    case_detail,
    close_case,
    list_cases,
    open_case,
    remove_from_case,
    reopen_case,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses=ERRORS)
_REFERENCE: Final = Field(min_length=1, max_length=64, description="the case number")
_REASON: Final = Field(min_length=1, max_length=2000)


class CaseIn(BaseModel):
    reference: str = _REFERENCE
    title: str = Field(min_length=1, max_length=200)


class CaseRecordingIn(BaseModel):
    reference: str = _REFERENCE
    recording_id: str = Field(min_length=1, max_length=80)


class CaseRecordingRemoval(CaseRecordingIn):
    reason: str = _REASON


class CaseChangeIn(BaseModel):
    reference: str = _REFERENCE
    reason: str = _REASON


@router.get("")
def cases(request: Request, caller: CallerDep, open_only: bool = False) -> list[CaseView]:
    """Newest first."""
    return perform(request, caller, "case.list", lambda work: list_cases(work, open_only=open_only))


@router.get("/detail")
def detail(reference: Annotated[str, Query(min_length=1, max_length=64)],
           request: Request, caller: CallerDep) -> CaseView:
    return perform(request, caller, "case.read",
                   lambda work: case_detail(work, reference))


@router.post("", status_code=201)
def open_new(body: CaseIn, request: Request, caller: CallerDep) -> CaseView:
    return perform(request, caller, "case.open",
                   lambda work: open_case(work, body.reference, body.title))


@router.post("/recordings")
def add(body: CaseRecordingIn, request: Request, caller: CallerDep) -> CaseView:
    """Put a recording in an open case (it is not deleted while the case is open)."""
    return perform(request, caller, "case.add", lambda work: add_to_case(
        work, body.reference, body.recording_id))


@router.post("/recordings/remove")
def remove(body: CaseRecordingRemoval, request: Request, caller: CallerDep) -> CaseView:
    """Take a recording out of an open case, with a reason."""
    return perform(request, caller, "case.remove", lambda work: remove_from_case(
        work, body.reference, body.recording_id, body.reason))


@router.post("/close")
def close(body: CaseChangeIn, request: Request, caller: CallerDep) -> CaseView:
    return perform(request, caller, "case.close",
                   lambda work: close_case(work, body.reference, body.reason))


@router.post("/reopen")
def reopen(body: CaseChangeIn, request: Request, caller: CallerDep) -> CaseView:
    return perform(request, caller, "case.reopen",
                   lambda work: reopen_case(work, body.reference, body.reason))

"""Cases: the list (open first), opening one, a case's page with its recordings, closing
and reopening with a reason, taking a recording out with a reason. (A recording is put
into a case from its own page.) An open case blocks the deletion of its recordings.
Every step is custody's service for it, through the access gate."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError
from bodycam.server.access.service import Work
from bodycam.server.custody.cases import (
    case_detail,
    close_case,
    list_cases,
    open_case,
    remove_from_case,
    reopen_case,
)
from bodycam.server.web.frame import Visitor, poster, visitor

__all__ = ["router"]

router = APIRouter(prefix="/cases", include_in_schema=False)
_Short = Annotated[str, Form(max_length=200)]
_Reason = Annotated[str, Form(max_length=20_000)]


def _listing(person: Visitor, **outcome: Any) -> HTMLResponse:
    def read(work: Work) -> dict[str, Any]:
        found = list_cases(work)
        return {"cases": sorted(found, key=lambda c: not c.open)}
    return person.listing(Permission.SEARCH, "cases.html", read, P=Permission,
                          can=person.can, **outcome)


@router.get("")
def cases(person: Annotated[Visitor, Depends(visitor)]) -> HTMLResponse:
    return _listing(person)


@router.post("")
def new_case(person: Annotated[Visitor, Depends(poster)], reference: _Short,
             title: _Short) -> HTMLResponse:
    def change(work: Work) -> dict[str, Any]:
        opened = open_case(work, reference, title)
        return {"notice": f"Case {opened.reference} is open."}
    return person.attempt("case.open", change, lambda **o: _listing(person, **o))


def _case(person: Visitor, reference: str, **outcome: Any) -> HTMLResponse:
    status = 403 if outcome.get("rule") else 400 if outcome.get("error") else 200
    try:
        with person.work("case.read") as work:
            case = case_detail(work, reference)
    except AccessError as exc:
        return person.refused(exc, back="/cases")
    except ValueError as exc:
        return person.page("missing.html", 404, what=str(exc), back="/cases")
    return person.page("case.html", status, case=case, may_manage=person.can(
        Permission.CASES), **outcome)


@router.get("/{reference:path}")
def case_page(person: Annotated[Visitor, Depends(visitor)], reference: str
              ) -> HTMLResponse:
    return _case(person, reference)


@router.post("/change")
def change_case(person: Annotated[Visitor, Depends(poster)], reference: _Short,
                step: Annotated[Literal["close", "reopen", "remove"], Form()],
                reason: _Reason, recording: _Short = "") -> HTMLResponse:
    """Close or reopen a case, or take a recording out of it; each with a reason."""
    def change(work: Work) -> dict[str, Any]:
        if step == "close":
            close_case(work, reference, reason)
            return {"notice": "The case is closed; its recordings may now expire."}
        if step == "reopen":
            reopen_case(work, reference, reason)
            return {"notice": "The case is open again."}
        remove_from_case(work, reference, recording, reason)
        return {"notice": f"Recording {recording} is no longer part of the case."}
    return person.attempt(f"case.{step}", change,
                          lambda **o: _case(person, reference, **o))

"""Who wore which camera when, on the administrator's devices page: record an
assignment (a time range, or open: checked out now), check a camera out or back in,
end an open assignment at a given time (earlier than now, too).
Custody's assignment services decide (overlaps refused, an end never takes a received
recording's wearer) through the access gate (device.assign)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Path
from fastapi.responses import HTMLResponse

from bodycam.server.access.service import Work
from bodycam.server.custody.assignments import (
    add_assignment,
    check_in,
    check_out,
    end_assignment,
)
from bodycam.server.custody.instants import now_instant
from bodycam.server.web.devices import listing
from bodycam.server.web.frame import Visitor, poster

__all__ = ["router"]

router = APIRouter(prefix="/admin/assignments", include_in_schema=False)
_Short = Annotated[str, Form(max_length=64)]


def _utc(text: str) -> str | None:
    """A datetime-local field's value (no zone) is UTC, as every time on these pages."""
    text = text.strip()
    if not text:
        return None
    return text + "Z" if text[-1].isdigit() and "+" not in text[10:] else text


@router.post("")
def assign(person: Annotated[Visitor, Depends(poster)], device: _Short, username: _Short,
           starts: _Short, ends: _Short = "") -> HTMLResponse:
    """`username` wore `device` from `starts` until `ends` (empty: still wears it)."""
    def change(work: Work) -> dict[str, Any]:
        done = add_assignment(work, device.strip(), username, _utc(starts) or "",
                              _utc(ends))
        return {"notice": f"{done.username} wears {done.device_id} from {done.starts} "
                f"until {done.ends or 'checked in'}."}
    return person.attempt("assignment.add", change, lambda **o: listing(person, **o))


@router.post("/{assignment_id}/end")
def end(person: Annotated[Visitor, Depends(poster)],
        assignment_id: Annotated[int, Path(ge=1, le=2**62)],
        ends: _Short = "") -> HTMLResponse:
    """End an open assignment at a time (UTC, in the past too: the camera came back
    earlier than anyone recorded), or now when none is given (the API's end)."""
    def change(work: Work) -> dict[str, Any]:
        done = end_assignment(work, assignment_id, _utc(ends) or now_instant(work.now))
        return {"notice": f"{done.username} wore {done.device_id} until {done.ends}."}
    return person.attempt("assignment.end", change, lambda **o: listing(person, **o))


@router.post("/{step}")
def rack(person: Annotated[Visitor, Depends(poster)], step: Literal["out", "in"],
         device: _Short, username: _Short = "") -> HTMLResponse:
    """Check a camera out to a person now, or back in now."""
    def change(work: Work) -> dict[str, Any]:
        if step == "out":
            done = check_out(work, device.strip(), username)
            return {"notice": f"{done.device_id} is checked out to {done.username}."}
        done = check_in(work, device.strip())
        return {"notice": f"{done.device_id} is checked in (worn by {done.username} "
                f"until {done.ends})."}
    return person.attempt(f"assignment.check-{step}", change,
                          lambda **o: listing(person, **o))

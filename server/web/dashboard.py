"""The start page: what needs the signed-in person's attention, by what they may do.
Administrators see cameras that have not offloaded for N days; people who may search
recordings see those damaged or incomplete, those whose retention ends within N days,
and those nobody has categorised. Each list is read through the access gate."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from bodycam.server.access.permissions import Permission
from bodycam.server.retention.queries import expiring
from bodycam.server.web.attention import (
    SHOWN,
    stale_cameras,
    uncategorised,
    unwhole_recordings,
)
from bodycam.server.web.frame import Visitor, visitor

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
STALE_DAYS: Final = 7


def _attention(person: Visitor, days: int) -> dict[str, Any]:
    values: dict[str, Any] = {"days": days, "shown": SHOWN}
    with person.work("dashboard") as work:
        if person.can(Permission.DEVICES):
            work.authorise(Permission.DEVICES)
            values["stale"] = stale_cameras(work.session, work.now, days)
        if person.can(Permission.SEARCH):
            work.authorise(Permission.SEARCH)
            values["unwhole_total"], values["unwhole"] = unwhole_recordings(work.session,
                                                                            work.now)
            values["expiring"] = expiring(work.session, work.now, days, limit=SHOWN)
            values["uncategorised_total"], values["uncategorised"] = uncategorised(
                work.session)
        values["now"] = work.now
    return values


@router.get("/")
def dashboard(person: Annotated[Visitor, Depends(visitor)],
              days: Annotated[int, Query(ge=1, le=3650)] = STALE_DAYS) -> HTMLResponse:
    return person.page("dashboard.html", permissions=sorted(
        p.value for p in person.actor.permissions), **_attention(person, days))

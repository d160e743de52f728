"""The recordings pages: the list with search and filters, and one recording's page
(segments, verification state, gaps or damage). Both are read through the access gate;
opening a recording's page is put in the audit log (who looked at what, when)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError, Target
from bodycam.server.recordings.models import Recording
from bodycam.server.recordings.report import summarise
from bodycam.server.recordings.service import RECORDING_ID, files_of
from bodycam.server.web.frame import Visitor, visitor

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE: Final = 50


def _search(person: Visitor, device: str, page: int) -> dict[str, Any]:
    with person.work("recording.search") as work:
        work.authorise(Permission.VIEW)
        query = select(Recording)
        if device:
            query = query.where(Recording.device_id == device)
        total = work.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list(work.session.scalars(query.order_by(Recording.start.desc(), Recording.id)
                                         .offset((page - 1) * PAGE).limit(PAGE)))
        return {"recordings": summarise(work.session, rows, work.now), "total": total,
                "page": page, "pages": max(1, -(-total // PAGE)), "device": device}


@router.get("/recordings")
def recordings(person: Annotated[Visitor, Depends(visitor)],
               device: Annotated[str, Query(max_length=32)] = "",
               page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    try:
        values = _search(person, device.strip(), page)
    except AccessError as exc:
        return person.refused(exc)
    return person.page("recordings.html", **values)


def _recording(person: Visitor, recording_id: str) -> dict[str, Any] | None:
    with person.work("recording.open") as work:
        recording = work.session.get(Recording, recording_id)
        if recording is None:
            return None
        work.authorise(Permission.VIEW, Target(recording_id=recording_id))
        work.record("recording_opened", recording=recording_id, address=person.address)
        summary = summarise(work.session, [recording], work.now)[0]
        return {"recording": recording, "summary": summary,
                "files": files_of(work.session, recording_id)}


@router.get("/recordings/{recording_id}")
def recording_page(person: Annotated[Visitor, Depends(visitor)],
                   recording_id: str) -> HTMLResponse:
    if not RECORDING_ID.fullmatch(recording_id):
        return person.page("missing.html", 404, what=f"{recording_id[:100]!r} is not a "
                           "recording id", back="/recordings")
    try:
        values = _recording(person, recording_id)
    except AccessError as exc:
        return person.refused(exc, back="/recordings")
    if values is None:
        return person.page("missing.html", 404, what=f"recording {recording_id} is not "
                           "on this server", back="/recordings")
    return person.page("recording.html", **values)

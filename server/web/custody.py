"""A recording's chain-of-custody report for the browser: the printable page A's
audit module draws (its own styles, nothing to click) and the same report as JSON.
Reading it needs audit.read, or the right to view the recording (read_custody_report
decides, with the recording's wearers from custody's recording_target); on record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bodycam.server.access.rules import AccessError
from bodycam.server.audit.custody import (
    CustodyReport,
    NoSuchRecordingError,
    read_custody_report,
)
from bodycam.server.audit.custody_page import render_custody_html
from bodycam.server.custody.target import UnknownRecordingError, recording_target
from bodycam.server.web.frame import Visitor, visitor
from bodycam.server.web.pages import HEADERS

__all__ = ["router"]

router = APIRouter(prefix="/recordings/{recording_id}", include_in_schema=False)
# The report page carries its own <style> (it is printed and filed as it is).
_REPORT_HEADERS = {**HEADERS, "Content-Security-Policy": "default-src 'none'; style-src "
                   "'unsafe-inline'; frame-ancestors 'none'; form-action 'none'; "
                   "base-uri 'none'"}


def _report(person: Visitor, recording_id: str) -> CustodyReport | Response:
    try:
        with person.work("custody.report") as work:
            try:
                target = recording_target(work.session, recording_id)
            except UnknownRecordingError:  # deleted: its audit records remain
                target = None
            return read_custody_report(work, recording_id, target)
    except AccessError as exc:
        return person.refused(exc, back=f"/recordings/{recording_id}")
    except (NoSuchRecordingError, UnknownRecordingError) as exc:
        return person.page("missing.html", 404, what=str(exc), back="/recordings")


@router.get("/custody")
def custody_page(person: Annotated[Visitor, Depends(visitor)],
                 recording_id: str) -> Response:
    report = _report(person, recording_id)
    if isinstance(report, Response):
        return report
    return HTMLResponse(render_custody_html(report), headers=_REPORT_HEADERS)


@router.get("/custody.json")
def custody_json(person: Annotated[Visitor, Depends(visitor)],
                 recording_id: str) -> Response:
    report = _report(person, recording_id)
    if isinstance(report, Response):
        return report
    return JSONResponse(report.to_json(), headers={"Cache-Control": "no-store"})

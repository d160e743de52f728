"""One recording's page: what the server holds (segments, verification state, gaps or
damage), its wearers, category and expiry, notes, cases, legal holds and deletion
requests, with the forms a person's roles allow, and the link to its chain-of-custody
report. Opening it needs recording.search and is on record; each form calls the one
service for it (custody, retention), which decides through the access gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError
from bodycam.server.access.service import Work
from bodycam.server.custody.cases import add_to_case, list_cases
from bodycam.server.custody.holds import active_holds, place_hold
from bodycam.server.custody.models import Case, CaseRecording
from bodycam.server.custody.notes import add_note, read_notes
from bodycam.server.custody.target import UnknownRecordingError, recording_target
from bodycam.server.people.models import User
from bodycam.server.recordings.models import Recording
from bodycam.server.recordings.report import summarise
from bodycam.server.recordings.service import files_of
from bodycam.server.retention.approvals import (
    DELETION,
    request_deletion,
    request_hold_lift,
)
from bodycam.server.retention.categories import (
    DAY,
    CategoryView,
    categories,
    categorise,
    recorded_at,
    restore,
)
from bodycam.server.retention.models import Approval
from bodycam.server.retention.queries import retention_view
from bodycam.server.web.frame import Visitor, poster, visitor

__all__ = ["router"]

router = APIRouter(prefix="/recordings/{recording_id}", include_in_schema=False)
_Reason = Annotated[str, Form(max_length=20_000)]


def _facts(work: Work, recording_id: str) -> dict[str, Any]:
    session = work.session
    target = recording_target(session, recording_id)
    work.authorise(Permission.SEARCH, target)
    work.record("recording_opened", recording=recording_id)
    recording = session.get_one(Recording, recording_id)
    wearers = sorted(session.scalars(select(User.username).where(
        User.id.in_(target.wearers)))) if target.wearers else []
    cases = list(session.execute(select(Case.reference, Case.closed_at).join(
        CaseRecording, CaseRecording.case_id == Case.id).where(
        CaseRecording.recording_id == recording_id).order_by(Case.reference)))
    listed = categories(session)
    requests = list(session.scalars(select(Approval).where(
        Approval.kind == DELETION, Approval.subject == recording_id).order_by(
        Approval.id.desc())))
    return {"recording": recording, "summary": summarise(session, [recording], work.now)[0],
            "files": files_of(session, recording_id), "wearers": wearers,
            "wearers_known": target.wearers is not None,
            "wearers_complete": target.wearers_complete,
            "notes": read_notes(work, recording_id), "cases": cases,
            "holds": active_holds(session, recording_id), "requests": requests,
            "retention": retention_view(session, recording_id),
            "categories": listed, "keeps": _first_that_keeps(recording, listed, work.now),
            "open_cases": (list_cases(work, open_only=True)
                           if Permission.CASES in work.actor.permissions else [])}


def _first_that_keeps(recording: Recording, listed: list[CategoryView],
                      now: float) -> str | None:
    """Restore's preselected category: the first whose period keeps the recording beyond
    now (any other is refused as still expired); None if none does."""
    start = recorded_at(recording)
    return next((c.name for c in listed if start + c.period_days * DAY > now), None)


def _page(person: Visitor, recording_id: str, **outcome: Any) -> HTMLResponse:
    status = 403 if outcome.get("rule") else 400 if outcome.get("error") else 200
    try:
        with person.work("recording.open") as work:
            facts = _facts(work, recording_id)
    except UnknownRecordingError as exc:
        return person.page("missing.html", 404, what=str(exc), back="/recordings")
    except AccessError as exc:
        return person.refused(exc, back="/recordings")
    return person.page("recording.html", status, P=Permission, can=person.can,
                       **facts, **outcome)


@router.get("")
def recording_page(person: Annotated[Visitor, Depends(visitor)],
                   recording_id: str) -> HTMLResponse:
    return _page(person, recording_id)


def _act(person: Visitor, recording_id: str, action: str,
         change: Callable[[Work], str]) -> HTMLResponse:
    return person.attempt(action, lambda work: {"notice": change(work)},
                          lambda **outcome: _page(person, recording_id, **outcome))


@router.post("/notes")
def note(person: Annotated[Visitor, Depends(poster)], recording_id: str,
         text: _Reason) -> HTMLResponse:
    def change(work: Work) -> str:
        add_note(work, recording_id, text)
        return "Your note is added."
    return _act(person, recording_id, "note.add", change)


@router.post("/category")
def category(person: Annotated[Visitor, Depends(poster)], recording_id: str,
             name: Annotated[str, Form(max_length=64)]) -> HTMLResponse:
    def change(work: Work) -> str:
        categorise(work, recording_target(work.session, recording_id), name)
        return f"The recording is now in category {name}."
    return _act(person, recording_id, "recording.categorise", change)


@router.post("/restore")
def bring_back(person: Annotated[Visitor, Depends(poster)], recording_id: str,
               name: Annotated[str, Form(max_length=64)], reason: _Reason) -> HTMLResponse:
    """A recording in its pending-deletion window is kept again (the API's restore)."""
    def change(work: Work) -> str:
        restore(work, recording_target(work.session, recording_id), name, reason)
        return (f"The recording is restored into category {name}: it is kept, and the "
                "retention job no longer deletes it.")
    return _act(person, recording_id, "recording.restore", change)


@router.post("/cases")
def case(person: Annotated[Visitor, Depends(poster)], recording_id: str,
         reference: Annotated[str, Form(max_length=200)]) -> HTMLResponse:
    def change(work: Work) -> str:
        add_to_case(work, reference, recording_id)
        return f"The recording is now part of case {reference.strip()}."
    return _act(person, recording_id, "case.add", change)


@router.post("/holds")
def hold(person: Annotated[Visitor, Depends(poster)], recording_id: str,
         reason: _Reason) -> HTMLResponse:
    def change(work: Work) -> str:
        placed = place_hold(work, recording_id, reason)
        return f"Legal hold {placed.id} is placed: nothing deletes this recording now."
    return _act(person, recording_id, "hold.place", change)


@router.post("/holds/{hold_id}/lift")
def lift(person: Annotated[Visitor, Depends(poster)], recording_id: str, hold_id: int,
         reason: _Reason) -> HTMLResponse:
    def change(work: Work) -> str:
        asked = request_hold_lift(work, str(hold_id), reason)
        return (f"Lifting hold {hold_id} is requested (request {asked.id}); a different "
                "person must approve it.")
    return _act(person, recording_id, "hold.lift-request", change)


@router.post("/deletion")
def deletion(person: Annotated[Visitor, Depends(poster)], recording_id: str,
             reason: _Reason) -> HTMLResponse:
    def change(work: Work) -> str:
        asked = request_deletion(work, recording_id, reason)
        return (f"Deletion is requested (request {asked.id}); a different person with the "
                "approver role must approve it.")
    return _act(person, recording_id, "deletion.request", change)

"""/api/v1/recordings/{id}/notes: notes on a recording (recording.note to add,
recording.search to read); never edited or removed, a correction is a new note."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from bodycam.server.api.auth import CallerDep
from bodycam.server.api.routes.common import RecordingId
from bodycam.server.api.work import ERRORS, perform
from bodycam.server.custody.notes import MAX_NOTE, NoteView, add_note, read_notes

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/recordings/{recording_id}/notes", tags=["notes"],
                   responses=ERRORS)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_NOTE)


@router.get("")
def notes(recording_id: RecordingId, request: Request, caller: CallerDep
          ) -> list[NoteView]:
    """Oldest first."""
    return perform(request, caller, "note.read", lambda work: read_notes(work, recording_id))


@router.post("", status_code=201)
def add(recording_id: RecordingId, body: NoteIn, request: Request, caller: CallerDep
        ) -> NoteView:
    return perform(request, caller, "note.add",
                   lambda work: add_note(work, recording_id, body.text))

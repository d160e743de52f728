"""Notes on a recording (recording.note): added, never edited or removed; a correction
is a new note. Each is recorded in the audit log with its text's SHA-256, so the log
shows a note was not changed afterwards without repeating what it says."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select

from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.custody.errors import CustodyError
from bodycam.server.custody.models import RecordingNote
from bodycam.server.custody.target import recording_target
from bodycam.server.custody.text import checked_text

__all__ = ["MAX_NOTE", "NoteView", "add_note", "read_notes"]

MAX_NOTE: Final = 10_000


@dataclass(frozen=True)
class NoteView:
    id: int
    recording_id: str
    author: str
    at: float
    text: str


def _view(row: RecordingNote) -> NoteView:
    return NoteView(row.id, row.recording_id, row.author, row.at, row.text)


def add_note(work: Work, recording_id: str, text: str) -> NoteView:
    target = recording_target(work.session, recording_id)
    work.authorise(Permission.NOTE, target)
    text = checked_text(text, "note", MAX_NOTE)
    if work.actor.user_id is None:  # the console holds no evidence permission anyway
        raise CustodyError("a note has a person as its author. Fix: sign in (--as USER)")
    row = RecordingNote(recording_id=recording_id, author_id=work.actor.user_id,
                        author=work.actor.name, at=work.now, text=text)
    work.session.add(row)
    work.session.flush()
    work.record("note_added", recording=recording_id, note=row.id,
                sha256=hashlib.sha256(text.encode()).hexdigest(), characters=len(text))
    return _view(row)


def read_notes(work: Work, recording_id: str) -> list[NoteView]:
    """Oldest first; reading them needs recording.search and is recorded."""
    target = recording_target(work.session, recording_id)
    work.authorise(Permission.SEARCH, target)
    rows = list(work.session.scalars(select(RecordingNote).where(
        RecordingNote.recording_id == recording_id).order_by(RecordingNote.id)))
    work.record("notes_read", recording=recording_id, notes=len(rows))
    return [_view(row) for row in rows]

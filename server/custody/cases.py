"""Cases (case.manage): the agency's case number and title, the recordings in it; open
until closed, and while open no recording in it is deleted (blockers.py). Every change
is recorded with the recordings it touches; a closed case keeps its recordings and
cannot change them until it is reopened."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.custody.errors import CustodyError
from bodycam.server.custody.models import Case, CaseRecording
from bodycam.server.custody.target import (
    lock_live_recording,
    lock_recording,
    recording_target,
)
from bodycam.server.custody.text import checked_text

__all__ = ["CaseView", "add_to_case", "case_detail", "close_case", "list_cases",
           "open_case", "remove_from_case", "reopen_case"]

_REFERENCE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/:#-]{0,63}")
_REASON: Final = 2_000


@dataclass(frozen=True)
class CaseView:
    reference: str
    title: str
    open: bool
    opened_by: str
    opened_at: float
    closed_by: str | None
    closed_at: float | None
    recordings: list[str] = field(default_factory=list)


def _reference(text: str) -> str:
    text = text.strip()
    if not _REFERENCE.fullmatch(text):
        raise CustodyError(f"case reference {text[:70]!r}: use 1 to 64 letters, digits, "
                           "spaces or . _ / : # -, starting with a letter or digit (the "
                           "agency's case number, e.g. 2026-0042)")
    return text


def _find(session: Session, reference: str, *, lock: bool = True) -> Case:
    """The case, locked for the change (two custodians closing and adding at once
    queue up on PostgreSQL as SQLite's single writer already makes them)."""
    query = select(Case).where(Case.reference == _reference(reference))
    case = session.scalars(query.with_for_update() if lock else query).first()
    if case is None:
        raise CustodyError(f"there is no case {reference.strip()[:64]!r}. Fix: see "
                           "`bodycam-server case list`, or open it first")
    return case


def _view(session: Session, case: Case) -> CaseView:
    recordings = list(session.scalars(select(CaseRecording.recording_id).where(
        CaseRecording.case_id == case.id).order_by(CaseRecording.recording_id)))
    return CaseView(case.reference, case.title, case.closed_at is None, case.opened_by,
                    case.opened_at, case.closed_by, case.closed_at, recordings)


def _must_be_open(case: Case) -> None:
    if case.closed_at is not None:
        raise CustodyError(f"case {case.reference} is closed; its recordings do not change. "
                           "Fix: reopen it first")


def open_case(work: Work, reference: str, title: str) -> CaseView:
    work.authorise(Permission.CASES)
    reference = _reference(reference)
    title = checked_text(title, "case title", 200, lines=False)
    if work.session.scalars(select(Case.id).where(Case.reference == reference)).first():
        raise CustodyError(f"case {reference} exists already. Fix: choose another "
                           "reference, or add recordings to that case")
    case = Case(reference=reference, title=title, opened_by=work.actor.name,
                opened_at=work.now)
    work.session.add(case)
    work.session.flush()
    work.record("case_opened", case=reference, title=title)
    return _view(work.session, case)


def add_to_case(work: Work, reference: str, recording_id: str) -> CaseView:
    session = work.session
    work.authorise(Permission.CASES, recording_target(session, recording_id))
    case = _find(session, reference)
    _must_be_open(case)
    lock_live_recording(session, recording_id)
    if session.get(CaseRecording, (case.id, recording_id)) is None:
        session.add(CaseRecording(case_id=case.id, recording_id=recording_id,
                                  added_by=work.actor.name, added_at=work.now))
        session.flush()
        work.record("case_recording_added", case=case.reference, recording=recording_id)
    return _view(session, case)


def remove_from_case(work: Work, reference: str, recording_id: str, reason: str
                     ) -> CaseView:
    """Takes the recording out (with a reason: it may become deletable)."""
    session = work.session
    work.authorise(Permission.CASES, recording_target(session, recording_id))
    case = _find(session, reference)
    _must_be_open(case)
    reason = checked_text(reason, "reason", _REASON)
    lock_recording(session, recording_id)
    row = session.get(CaseRecording, (case.id, recording_id))
    if row is None:
        raise CustodyError(f"recording {recording_id} is not in case {case.reference}")
    session.delete(row)
    session.flush()
    work.record("case_recording_removed", case=case.reference, recording=recording_id,
                reason=reason)
    return _view(session, case)


def close_case(work: Work, reference: str, reason: str) -> CaseView:
    work.authorise(Permission.CASES)
    case = _find(work.session, reference)
    _must_be_open(case)
    reason = checked_text(reason, "reason", _REASON)
    case.closed_at, case.closed_by = work.now, work.actor.name
    view = _view(work.session, case)
    work.record("case_closed", case=case.reference, reason=reason,
                recordings=view.recordings)
    return view


def reopen_case(work: Work, reference: str, reason: str) -> CaseView:
    work.authorise(Permission.CASES)
    case = _find(work.session, reference)
    if case.closed_at is None:
        raise CustodyError(f"case {case.reference} is open already")
    reason = checked_text(reason, "reason", _REASON)
    case.closed_at, case.closed_by = None, None
    view = _view(work.session, case)
    work.record("case_reopened", case=case.reference, reason=reason,
                recordings=view.recordings)
    return view


def case_detail(work: Work, reference: str) -> CaseView:
    """A case and its recordings (recording.search: it lists recordings)."""
    work.authorise(Permission.SEARCH)
    case = _find(work.session, reference, lock=False)
    work.record("case_read", case=case.reference)
    return _view(work.session, case)


def list_cases(work: Work, *, open_only: bool = False) -> list[CaseView]:
    work.authorise(Permission.SEARCH)
    query = select(Case).order_by(Case.opened_at.desc(), Case.id.desc())
    if open_only:
        query = query.where(Case.closed_at.is_(None))
    return [_view(work.session, case) for case in work.session.scalars(query)]

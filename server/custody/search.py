"""Finding recordings (recording.search): by camera, wearer, time, state, case, hold;
newest first, a page at a time, every search recorded.

Each filter is one indexed condition on `recordings` (ix_recordings_start,
ix_recordings_device_start from migration 0004; the assignments' own indexes for the
wearer), so a page stays fast with 100,000 recordings. A recording matches a time range
when it overlaps it. The states are the ones `bodycam-server recordings` reports
(recordings/report.py), computed in SQL so they can be filtered on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.custody.errors import CustodyError
from bodycam.server.custody.instants import instant
from bodycam.server.custody.models import Case, CaseRecording, DeviceAssignment, LegalHold
from bodycam.server.custody.wearers import resolve_wearers
from bodycam.server.people.accounts import find_user
from bodycam.server.people.models import User
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.recordings.report import RECEIVING_S
from bodycam.server.retention.queries import category_of

__all__ = ["MAX_PAGE_SIZE", "STATES", "Page", "RecordingRow", "SearchFilters",
           "SearchResult", "search_recordings"]

STATES: Final = ("complete", "damaged", "receiving", "incomplete")
MAX_PAGE_SIZE: Final = 200


@dataclass(frozen=True)
class SearchFilters:
    """Every field optional; times are ISO 8601 with a zone."""

    device: str | None = None
    wearer: str | None = None  # a username
    since: str | None = None  # recordings still running at or after this time
    until: str | None = None  # recordings started at or before this time
    state: str | None = None  # one of STATES
    case: str | None = None  # a case reference
    on_hold: bool | None = None
    category: str | None = None  # a retention category (uncategorised: none given yet)

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Page:
    number: int = 1
    size: int = 50


@dataclass
class RecordingRow:
    id: str
    device: str
    start: str | None
    end: str | None
    state: str
    segments: int
    bytes: int
    wearers: list[str] = field(default_factory=list)
    wearers_complete: bool = False
    cases: list[str] = field(default_factory=list)
    on_hold: bool = False


@dataclass
class SearchResult:
    rows: list[RecordingRow]
    total: int
    page: Page

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page.size))


def _state(now: float) -> ColumnElement[str]:
    missing = exists().where(RecordingFile.recording_id == Recording.id,
                             not_(RecordingFile.complete))
    damaged = exists().where(RecordingFile.recording_id == Recording.id,
                             not_(RecordingFile.complete), RecordingFile.damaged.is_not(None))
    return case((damaged, "damaged"), (not_(missing), "complete"),
                (Recording.last_activity >= now - RECEIVING_S, "receiving"),
                else_="incomplete")


def _worn_by(user_id: int) -> ColumnElement[bool]:
    a = DeviceAssignment
    return and_(
        Recording.device_id.in_(select(a.device_id).where(a.user_id == user_id)),
        exists().where(a.user_id == user_id, a.device_id == Recording.device_id,
                       a.starts <= Recording.end,
                       or_(a.ends.is_(None), a.ends >= Recording.start)))


def _held() -> ColumnElement[bool]:
    return exists().where(LegalHold.recording_id == Recording.id,
                          LegalHold.lifted_at.is_(None))


def _case_id(session: Session, reference: str) -> int:
    found = session.scalars(select(Case.id).where(Case.reference == reference.strip()))
    case_id = found.first()
    if case_id is None:
        raise CustodyError(f"there is no case {reference.strip()[:64]!r}. Fix: see the "
                           "case list")
    return case_id


def _filtered(session: Session, filters: SearchFilters, now: float) -> Select[Any]:
    query = select(Recording.id)
    if filters.device is not None:
        query = query.where(Recording.device_id == filters.device.strip()[:64])
    if filters.wearer is not None:
        query = query.where(_worn_by(find_user(session, filters.wearer).id))
    since = instant(filters.since, "since") if filters.since is not None else None
    until = instant(filters.until, "until") if filters.until is not None else None
    if since is not None and until is not None and until < since:
        raise CustodyError(f"the time range ends ({until}) before it begins ({since}). "
                           "Fix: swap the two times")
    if since is not None:
        query = query.where(Recording.end >= since)
    if until is not None:
        query = query.where(Recording.start <= until)
    if filters.state is not None:
        if filters.state not in STATES:
            raise CustodyError(f"state {filters.state[:40]!r} is none of "
                               f"{', '.join(STATES)}. Fix: choose one of them")
        query = query.where(_state(now) == filters.state)
    if filters.case is not None:
        query = query.where(Recording.id.in_(select(CaseRecording.recording_id).where(
            CaseRecording.case_id == _case_id(session, filters.case))))
    if filters.on_hold is not None:
        query = query.where(_held() if filters.on_hold else not_(_held()))
    if filters.category is not None:
        query = query.where(category_of() == filters.category.strip()[:64])
    return query


def _check_page(page: Page) -> None:
    if page.number < 1:
        raise CustodyError(f"page {page.number}: pages count from 1")
    if not 1 <= page.size <= MAX_PAGE_SIZE:
        raise CustodyError(f"page size {page.size}: choose 1 to {MAX_PAGE_SIZE}")


def _rows(session: Session, ids: list[str], now: float) -> list[RecordingRow]:
    if not ids:
        return []
    found = session.execute(select(Recording, _state(now)).where(Recording.id.in_(ids))).all()
    by_id = {recording.id: (recording, state) for recording, state in found}
    cases: dict[str, list[str]] = {}
    for recording_id, reference in session.execute(
            select(CaseRecording.recording_id, Case.reference).join(
                Case, Case.id == CaseRecording.case_id)
            .where(CaseRecording.recording_id.in_(ids)).order_by(Case.reference)):
        cases.setdefault(recording_id, []).append(reference)
    held = set(session.scalars(select(LegalHold.recording_id).where(
        LegalHold.recording_id.in_(ids), LegalHold.lifted_at.is_(None))))
    rows = []
    for recording_id in ids:
        recording, state = by_id[recording_id]
        wearers = resolve_wearers(session, recording.device_id, recording.start,
                                  recording.end)
        names = sorted(session.scalars(select(User.username).where(
            User.id.in_(wearers.user_ids)))) if wearers.user_ids else []
        rows.append(RecordingRow(
            recording.id, recording.device_id, recording.start, recording.end, state,
            recording.files, recording.bytes, names, wearers.complete,
            cases.get(recording_id, []), recording_id in held))
    return rows


def search_recordings(work: Work, filters: SearchFilters, page: Page | None = None
                      ) -> SearchResult:
    """One page of the recordings matching every filter given, newest first."""
    page = page or Page()
    work.authorise(Permission.SEARCH)
    _check_page(page)
    session = work.session
    matching = _filtered(session, filters, work.now)
    total = session.scalar(select(func.count()).select_from(matching.subquery())) or 0
    ids = list(session.scalars(matching.order_by(Recording.start.desc(), Recording.id.desc())
                               .limit(page.size).offset((page.number - 1) * page.size)))
    work.record("recordings_searched", filters=filters.given(), page=page.number,
                size=page.size, total=total)
    return SearchResult(_rows(session, ids, work.now), total, page)

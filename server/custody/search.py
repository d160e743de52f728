"""Finding recordings (recording.search): by camera, wearer, time, state, case, hold,
retention category; newest first, a page at a time, every search recorded.

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
from sqlalchemy.orm import Session, aliased

from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.custody.errors import CustodyError
from bodycam.server.custody.instants import CANONICAL, instant
from bodycam.server.custody.models import Case, CaseRecording, DeviceAssignment, LegalHold
from bodycam.server.custody.wearers import Wearers, wearers_among
from bodycam.server.people.accounts import find_user
from bodycam.server.people.models import User
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.recordings.report import RECEIVING_S
from bodycam.server.retention.categories import UNCATEGORISED
from bodycam.server.retention.models import RecordingRetention

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
    """A recording's state, for the rows of one page (two EXISTS per row)."""
    missing = exists().where(RecordingFile.recording_id == Recording.id,
                             not_(RecordingFile.complete))
    damaged = exists().where(RecordingFile.recording_id == Recording.id,
                             not_(RecordingFile.complete), RecordingFile.damaged.is_not(None))
    return case((damaged, "damaged"), (not_(missing), "complete"),
                (Recording.last_activity >= now - RECEIVING_S, "receiving"),
                else_="incomplete")


def _in_state(state: str, now: float) -> ColumnElement[bool]:
    """The same states as a filter over every recording: the few files not complete
    (ix_recording_files_incomplete) decide, instead of a test per recording."""
    missing = Recording.id.in_(select(RecordingFile.recording_id).where(
        not_(RecordingFile.complete)))
    damaged = Recording.id.in_(select(RecordingFile.recording_id).where(
        not_(RecordingFile.complete), RecordingFile.damaged.is_not(None)))
    if state == "complete":
        return not_(missing)
    if state == "damaged":
        return damaged
    recent = Recording.last_activity >= now - RECEIVING_S
    return and_(missing, not_(damaged), recent if state == "receiving" else not_(recent))


def _worn_by(user_id: int) -> ColumnElement[bool]:
    """Recordings a person's assignments cover, found from the assignments (a few
    hundred) rather than by testing every recording: those that started during one
    (ix_recordings_device_start), and the one running when it began (a camera makes one
    recording at a time: the last that started before it). The rules themselves never
    use this; they resolve each recording's wearers exactly (wearers.py)."""
    a = DeviceAssignment
    started = select(Recording.id).join(a, and_(
        a.device_id == Recording.device_id, Recording.start >= a.starts,
        or_(a.ends.is_(None), Recording.start <= a.ends))).where(a.user_id == user_id)
    earlier = aliased(Recording)
    last_before = (select(earlier.id).where(earlier.device_id == a.device_id,
                                            earlier.start < a.starts)
                   .order_by(earlier.start.desc()).limit(1).scalar_subquery())
    began = select(a.starts.label("starts"), last_before.label("recording_id")).where(
        a.user_id == user_id).subquery()
    running = select(Recording.id).join(began, Recording.id == began.c.recording_id).where(
        Recording.end >= began.c.starts)
    return or_(Recording.id.in_(started), Recording.id.in_(running))


def _held() -> ColumnElement[bool]:
    return Recording.id.in_(select(LegalHold.recording_id).where(
        LegalHold.lifted_at.is_(None)))


def _in_category(name: str) -> ColumnElement[bool]:
    """Retention's category (retention/queries.py: no row yet counts as uncategorised),
    as a set of recordings found by the category's index, not a test per recording."""
    kept = RecordingRetention
    if name == UNCATEGORISED:
        return Recording.id.not_in(select(kept.recording_id).where(
            kept.category != UNCATEGORISED))
    return Recording.id.in_(select(kept.recording_id).where(kept.category == name))


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
        query = query.where(_in_state(filters.state, now))
    if filters.case is not None:
        query = query.where(Recording.id.in_(select(CaseRecording.recording_id).where(
            CaseRecording.case_id == _case_id(session, filters.case))))
    if filters.on_hold is not None:
        query = query.where(_held() if filters.on_hold else not_(_held()))
    if filters.category is not None:
        query = query.where(_in_category(filters.category.strip()[:64]))
    return query


def _check_page(page: Page) -> None:
    if page.number < 1:
        raise CustodyError(f"page {page.number}: pages count from 1")
    if not 1 <= page.size <= MAX_PAGE_SIZE:
        raise CustodyError(f"page size {page.size}: choose 1 to {MAX_PAGE_SIZE}")


def _wearers(session: Session, recordings: list[Recording]) -> dict[str, Wearers]:
    """Each recording's wearers, from one query for the whole page."""
    spans = [r for r in recordings if r.start and r.end and CANONICAL.fullmatch(r.start)
             and CANONICAL.fullmatch(r.end)]
    nearby: list[DeviceAssignment] = []
    if spans:
        a = DeviceAssignment
        nearby = list(session.scalars(select(a).where(or_(*(
            and_(a.device_id == r.device_id, a.starts <= r.end,
                 or_(a.ends.is_(None), a.ends >= r.start)) for r in spans)))
            .order_by(a.starts)))
    return {r.id: wearers_among(nearby, r.device_id, r.start, r.end) for r in recordings}


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
    wearers = _wearers(session, [recording for recording, _ in by_id.values()])
    people = {w for found_wearers in wearers.values() for w in found_wearers.user_ids}
    names = {row.id: row.username for row in session.execute(
        select(User.id, User.username).where(User.id.in_(people)))} if people else {}
    rows = []
    for recording_id in ids:
        recording, state = by_id[recording_id]
        worn = wearers[recording_id]
        rows.append(RecordingRow(
            recording.id, recording.device_id, recording.start, recording.end, state,
            recording.files, recording.bytes, sorted(names[u] for u in worn.user_ids),
            worn.complete, cases.get(recording_id, []), recording_id in held))
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

"""Reading retention for pages, the API and the search, without writing anything.

A recording that arrived since the job last ran has no retention row yet: it counts as
`uncategorised`, `kept`, expiring its uncategorised period after it was recorded (what
the job will register). These are the expressions and look-ups the recordings search,
the dashboard and a recording's page use, so they all say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, literal, or_, select
from sqlalchemy.orm import Session

from bodycam.server.recordings.models import Recording
from bodycam.server.retention.categories import DAY, UNCATEGORISED, recorded_at
from bodycam.server.retention.models import RecordingRetention, RetentionCategory
from bodycam.server.retention.window import pending_days

__all__ = ["RetentionView", "category_of", "expiring", "retention_state_of",
           "retention_view", "uncategorised_count"]


def category_of() -> ColumnElement[str]:
    """A recording's category, for a query over `Recording` (search filter, column)."""
    return func.coalesce(select(RecordingRetention.category).where(
        RecordingRetention.recording_id == Recording.id).scalar_subquery(),
        literal(UNCATEGORISED))


def retention_state_of() -> ColumnElement[str]:
    """kept, pending, deleting or deleted, for a query over `Recording`."""
    return func.coalesce(select(RecordingRetention.state).where(
        RecordingRetention.recording_id == Recording.id).scalar_subquery(), literal("kept"))


@dataclass(frozen=True)
class RetentionView:
    recording_id: str
    category: str
    state: str
    expires_at: float
    delete_after: float | None  # pending: when the job deletes it unless restored
    categorised_by: str | None
    deleted_at: float | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _view(row: RecordingRetention, window: float) -> RetentionView:
    delete_after = (row.pending_since or 0.0) + window if row.state == "pending" else None
    return RetentionView(row.recording_id, row.category, row.state, row.expires_at,
                         delete_after, row.categorised_by, row.deleted_at)


def retention_view(session: Session, recording_id: str) -> RetentionView | None:
    """Where the recording stands (None if there is no such recording)."""
    row = session.get(RecordingRetention, recording_id)
    if row is not None:
        return _view(row, pending_days(session) * DAY)
    recording = session.get(Recording, recording_id)
    category = session.get(RetentionCategory, UNCATEGORISED)
    if recording is None or category is None:
        return None
    return RetentionView(recording_id, UNCATEGORISED, "kept",
                         recorded_at(recording) + category.period_days * DAY, None, None,
                         None)


def expiring(session: Session, now: float, within_days: float, limit: int = 100
             ) -> list[RetentionView]:
    """Pending recordings and those whose period ends within `within_days`, soonest
    first (for the dashboard). Unregistered recordings appear once the job ran."""
    window = pending_days(session) * DAY
    rows = session.scalars(select(RecordingRetention).where(or_(
        RecordingRetention.state == "pending",
        (RecordingRetention.state == "kept")
        & (RecordingRetention.expires_at <= now + within_days * DAY)))
        .order_by(RecordingRetention.expires_at).limit(limit))
    return [_view(row, window) for row in rows]


def uncategorised_count(session: Session) -> int:
    """Recordings (not deleted) nobody categorised yet, registered or not."""
    registered = select(RecordingRetention.recording_id)
    unregistered = session.scalar(select(func.count()).select_from(Recording).where(
        Recording.id.not_in(registered))) or 0
    waiting = session.scalar(select(func.count()).select_from(RecordingRetention).where(
        RecordingRetention.category == UNCATEGORISED,
        RecordingRetention.state.in_(("kept", "pending")))) or 0
    return int(unregistered) + int(waiting)

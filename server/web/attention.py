"""What needs someone's attention, for the dashboard: cameras that have not offloaded
for a while, recordings the server does not hold whole (damaged or incomplete), about
to expire, or not categorised yet.
Bounded queries: the dashboard stays fast with 100,000 recordings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from bodycam.server.devices.models import Device
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.recordings.report import RecordingSummary, summarise
from bodycam.server.retention.categories import UNCATEGORISED
from bodycam.server.retention.models import RecordingRetention
from bodycam.server.retention.queries import uncategorised_count

__all__ = ["SHOWN", "StaleCamera", "stale_cameras", "uncategorised", "unwhole_recordings"]

SHOWN: Final = 20  # rows a dashboard list shows; the count says how many more there are
_DAY_S: Final = 86400


@dataclass(frozen=True)
class StaleCamera:
    device: str
    last_offload: datetime | None  # None: nothing received ever

    def days(self, now: float) -> int | None:
        if self.last_offload is None:
            return None
        return int((now - self.last_offload.timestamp()) // _DAY_S)


def stale_cameras(session: Session, now: float, days: int) -> list[StaleCamera]:
    """Enrolled cameras whose newest recording arrived more than `days` ago, or never;
    those silent longest first."""
    newest = func.max(Recording.received_at)
    rows = session.execute(select(Device.id, newest).outerjoin(
        Recording, Recording.device_id == Device.id).group_by(Device.id))
    cutoff = datetime.fromtimestamp(now - days * _DAY_S, UTC)
    stale = [StaleCamera(device, _aware(last)) for device, last in rows
             if last is None or _aware(last) < cutoff]  # type: ignore[operator]
    return sorted(stale, key=lambda c: c.last_offload.timestamp() if c.last_offload else 0)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def unwhole_recordings(session: Session, now: float) -> tuple[int, list[RecordingSummary]]:
    """(how many recordings miss or have damaged files, the first SHOWN of them)."""
    ids = select(RecordingFile.recording_id).where(
        RecordingFile.complete.is_(False)).distinct()
    total, recordings = _count_and_first(session, select(Recording).where(
        Recording.id.in_(ids)), Recording.received_at.desc())
    return total, summarise(session, recordings, now)


def _count_and_first(session: Session, query: Select[Recording],
                     order: Any) -> tuple[int, list[Recording]]:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return total, list(session.scalars(query.order_by(order).limit(SHOWN)))


def uncategorised(session: Session) -> tuple[int, list[Recording]]:
    """(how many, the oldest SHOWN) recordings nobody has categorised, those the
    retention job has not registered yet included (retention.queries counts them)."""
    settled = select(RecordingRetention.recording_id).where(or_(
        RecordingRetention.category != UNCATEGORISED,
        RecordingRetention.state.in_(("deleting", "deleted"))))
    first = session.scalars(select(Recording).where(Recording.id.not_in(settled))
                            .order_by(Recording.received_at).limit(SHOWN))
    return uncategorised_count(session), list(first)

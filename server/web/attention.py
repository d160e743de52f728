"""What needs someone's attention, for the dashboard: cameras that have not offloaded
for a while, and recordings the server does not hold whole (damaged or incomplete).
Bounded queries: the dashboard stays fast with 100,000 recordings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bodycam.server.devices.models import Device
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.recordings.report import RecordingSummary, summarise

__all__ = ["SHOWN", "StaleCamera", "stale_cameras", "unwhole_recordings"]

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
    total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    recordings = list(session.scalars(select(Recording).where(Recording.id.in_(ids))
                                      .order_by(Recording.received_at.desc()).limit(SHOWN)))
    return total, summarise(session, recordings, now)

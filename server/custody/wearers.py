"""Who wore the camera during a recording: the assignments covering its start..end.

Bounds count inclusively (a hand-over at the very second a recording starts makes both
people its wearers): naming one person too many only restricts them (no deletion, no
view of their own), naming one too few could let a wearer delete their own recording.
A stretch of the recording no assignment covers leaves the wearers incomplete: someone
not on record may have worn it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bodycam.server.custody.instants import CANONICAL
from bodycam.server.custody.models import DeviceAssignment

__all__ = ["Wearers", "covering", "resolve_wearers", "wearers_among"]


@dataclass(frozen=True)
class Wearers:
    """`user_ids` empty: nobody on record; `complete` False: a stretch is not covered."""

    user_ids: frozenset[int]
    complete: bool

    @property
    def known(self) -> bool:
        return bool(self.user_ids)


def covering(session: Session, device_id: str, start: str, end: str
             ) -> list[DeviceAssignment]:
    """Assignments of the camera touching [start, end], oldest first."""
    return list(session.scalars(select(DeviceAssignment).where(
        DeviceAssignment.device_id == device_id, DeviceAssignment.starts <= end,
        or_(DeviceAssignment.ends.is_(None), DeviceAssignment.ends >= start),
    ).order_by(DeviceAssignment.starts)))


def _complete(spans: list[DeviceAssignment], start: str, end: str) -> bool:
    reached = start
    for span in spans:
        if span.starts > reached:
            return False  # a stretch before this assignment nobody is on record for
        if span.ends is None:
            return True
        reached = max(reached, span.ends)
    return reached >= end


def _placeable(start: str | None, end: str | None) -> bool:
    return (start is not None and end is not None and CANONICAL.fullmatch(start) is not None
            and CANONICAL.fullmatch(end) is not None and start <= end)


def wearers_among(assignments: list[DeviceAssignment], device_id: str, start: str | None,
                  end: str | None) -> Wearers:
    """The wearers of a recording, from assignments already loaded (oldest first; any
    superset of the camera's covering ones will do)."""
    if not _placeable(start, end):
        return Wearers(frozenset(), complete=False)
    assert start is not None and end is not None
    spans = [a for a in assignments if a.device_id == device_id and a.starts <= end
             and (a.ends is None or a.ends >= start)]
    return Wearers(frozenset(s.user_id for s in spans), _complete(spans, start, end))


def resolve_wearers(session: Session, device_id: str, start: str | None, end: str | None
                    ) -> Wearers:
    """The wearers of a recording of `device_id` made from `start` to `end` (the
    camera's canonical text; anything else cannot be placed in time: nobody on record)."""
    if not _placeable(start, end):
        return Wearers(frozenset(), complete=False)
    assert start is not None and end is not None
    return wearers_among(covering(session, device_id, start, end), device_id, start, end)

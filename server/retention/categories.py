"""Retention categories and a recording's place in one.

A recording is kept for its category's period, counted from when it was recorded (the
seal time of its manifest; the arrival time if that is unreadable). A recording nobody
categorised is in `uncategorised`, with a short period. Creating a category is one
administrator's work (it deletes nothing); changing a period takes two people
(approvals.py) and never deletes at once: expiry dates are recomputed and the retention
job does the rest, after its pending window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError, Target
from bodycam.server.access.service import Work
from bodycam.server.custody.target import lock_recording
from bodycam.server.recordings.models import Recording
from bodycam.server.retention.models import RecordingRetention, RetentionCategory

__all__ = ["DAY", "DEFAULT_CATEGORIES", "MAX_PERIOD_DAYS", "UNCATEGORISED", "CategoryView",
           "apply_period", "categories", "categorise", "check_period", "create_category",
           "ensure_retention", "restore", "retention_of"]

DAY: Final = 86_400.0
UNCATEGORISED: Final = "uncategorised"
MAX_PERIOD_DAYS: Final = 36_525  # a century: anything longer is a typo, not a policy
_NAME: Final = re.compile(r"[a-z][a-z0-9_-]{0,63}")

# The default set (the agency changes periods with two people, adds its own). Periods:
# UK College of Policing guidance keeps non-evidential body-worn video 31 days (German
# practice: 7 days to 2 months); evidential material at least 2 years (limitation and
# complaint periods); material sent to the prosecutor 6 years (UK CPIA practice for
# most convictions; a longer need is a legal hold).
DEFAULT_CATEGORIES: Final[dict[str, tuple[int, str]]] = {
    UNCATEGORISED: (31, "nobody has categorised it yet: kept briefly"),
    "not_evidential": (31, "reviewed: not evidence; kept briefly, then deleted"),
    "evidential": (730, "evidence of an incident; kept two years"),
    "prosecution": (2190, "sent to the prosecutor; kept six years"),
}


@dataclass(frozen=True)
class CategoryView:
    name: str
    period_days: int
    description: str
    recordings: int


def check_period(days: int, category: str) -> None:
    """AccessError `retention_period` unless 1 <= days <= MAX_PERIOD_DAYS."""
    if not 1 <= days <= MAX_PERIOD_DAYS:
        raise AccessError("retention_period", f"category {category}: a retention period of "
                          f"{days} days is refused; it must be 1 to {MAX_PERIOD_DAYS} days "
                          "(a zero or negative period would delete recordings at once). "
                          "Fix: give the number of whole days the agency's rules keep "
                          "such recordings; a legal hold keeps one longer")


def _category(session: Session, name: str) -> RetentionCategory:
    found = session.get(RetentionCategory, name)
    if found is None:
        known = ", ".join(session.scalars(select(RetentionCategory.name)
                                          .order_by(RetentionCategory.name)))
        raise ValueError(f"no retention category {name!r}; the categories are: {known}")
    return found


def categories(session: Session) -> list[CategoryView]:
    """Every category with how many recordings (not deleted) are in it."""
    counts: dict[str, int] = {
        category: count for category, count in session.execute(
            select(RecordingRetention.category, func.count()).where(
                RecordingRetention.state != "deleted").group_by(RecordingRetention.category))}
    rows = session.scalars(select(RetentionCategory).order_by(RetentionCategory.name))
    return [CategoryView(row.name, row.period_days, row.description, counts.get(row.name, 0))
            for row in rows]


def create_category(work: Work, name: str, period_days: int, description: str) -> None:
    work.authorise(Permission.RETENTION)
    if not _NAME.fullmatch(name):
        raise ValueError(f"category name {name[:80]!r}: use 1 to 64 lower-case letters, "
                         "digits, '-' or '_', starting with a letter")
    check_period(period_days, name)
    if work.session.get(RetentionCategory, name) is not None:
        raise ValueError(f"category {name} exists already; its period changes only with "
                         "two people: `bodycam-server retention change-period`")
    work.session.add(RetentionCategory(name=name, period_days=period_days,
                                       description=description[:500],
                                       created_by=work.actor.name, created_at=work.now))
    work.record("category_created", category=name, period_days=period_days)


def recorded_at(recording: Recording) -> float:
    """When the recording was made: its seal time, else when it arrived."""
    for text in (recording.end, recording.start):
        if text:
            try:
                return datetime.fromisoformat(text).timestamp()
            except ValueError:
                continue
    return recording.received_at.timestamp()


def ensure_retention(session: Session, recording_id: str | None = None) -> int:
    """Give recordings without a retention row one in `uncategorised` (all of them, or
    one); how many were added. Recordings arrive through the offload, which knows
    nothing of retention; the job and every retention action call this first."""
    period = _category(session, UNCATEGORISED).period_days
    query = select(Recording).where(~exists().where(
        RecordingRetention.recording_id == Recording.id))
    if recording_id is not None:
        query = query.where(Recording.id == recording_id)
    added = 0
    for recording in session.scalars(query):
        made = recorded_at(recording)
        session.add(RecordingRetention(recording_id=recording.id, category=UNCATEGORISED,
                                       recorded_at=made, expires_at=made + period * DAY,
                                       state="kept"))
        added += 1
    session.flush()
    return added


def retention_of(session: Session, recording_id: str) -> RecordingRetention:
    """The recording's retention row (made if missing); ValueError if no such recording."""
    if session.get(Recording, recording_id) is None:
        raise ValueError(f"no recording {recording_id[:100]!r}; `bodycam-server recordings` "
                         "lists them")
    ensure_retention(session, recording_id)
    row = session.get(RecordingRetention, recording_id)
    assert row is not None
    return row


def _locked(session: Session, recording_id: str) -> RecordingRetention:
    """retention_of, read afresh after locking the recording as deletion and holds do:
    a deletion claimed meanwhile is seen, never overwritten with `kept` (its blobs are
    going), and one about to be claimed waits for this change."""
    lock_recording(session, recording_id)
    row = retention_of(session, recording_id)
    session.refresh(row)
    return row


def categorise(work: Work, target: Target, category: str) -> RecordingRetention:
    """Put a recording in a category (recording.categorise). Its expiry follows the new
    period; a pending recording whose new expiry is in the future is restored."""
    assert target.recording_id is not None
    work.authorise(Permission.CATEGORISE, target)
    row = _locked(work.session, target.recording_id)
    period = _category(work.session, category).period_days
    if row.state in ("deleting", "deleted"):
        raise AccessError("deleted", f"recording {row.recording_id} is deleted; there is "
                          "nothing left to categorise", target)
    before, was = row.category, row.state
    row.category, row.categorised_by, row.categorised_at = category, work.actor.name, work.now
    row.expires_at = row.recorded_at + period * DAY
    if row.state == "pending" and row.expires_at > work.now:
        row.state, row.pending_since = "kept", None
    work.record("recording_categorised", recording=row.recording_id, category=category,
                previous=before, expires_at=row.expires_at,
                restored=was == "pending" and row.state == "kept")
    return row


def restore(work: Work, target: Target, category: str, reason: str) -> RecordingRetention:
    """Bring a pending recording back (recording.categorise, one person: keeping
    evidence needs no second one; audited with the reason). It goes into `category`,
    whose period must keep it beyond now, or a legal hold must keep it."""
    assert target.recording_id is not None
    work.authorise(Permission.CATEGORISE, target)
    if not reason.strip():
        raise ValueError("a reason is required to restore a recording: say why it is kept")
    if _locked(work.session, target.recording_id).state != "pending":
        raise ValueError(f"recording {target.recording_id} is not waiting for deletion; "
                         "only a pending recording is restored")
    row = categorise(work, target, category)
    if row.state == "pending":
        raise AccessError("still_expired", f"in category {category} recording "
                          f"{row.recording_id} is still past its retention period, so it "
                          "would be deleted all the same. Fix: choose a category with a "
                          "longer period, or place a legal hold", target)
    work.record("recording_restored", recording=row.recording_id, category=category,
                reason=reason.strip()[:2000])
    return row


def apply_period(session: Session, category: str, period_days: int, now: float) -> int:
    """Set a category's period and recompute its recordings' expiry (approved already);
    pending recordings that no longer expired are kept again. Deletes nothing."""
    check_period(period_days, category)
    _category(session, category).period_days = period_days
    if category == UNCATEGORISED:
        ensure_retention(session)
    result = session.execute(update(RecordingRetention).where(
        RecordingRetention.category == category,
        RecordingRetention.state.in_(("kept", "pending"))).values(
        expires_at=RecordingRetention.recorded_at + period_days * DAY))
    session.execute(update(RecordingRetention).where(
        RecordingRetention.category == category, RecordingRetention.state == "pending",
        RecordingRetention.expires_at > now).values(state="kept", pending_since=None))
    return int(getattr(result, "rowcount", 0) or 0)

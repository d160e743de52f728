"""The pending window: how long an expired recording waits, restorable, before the
retention job deletes it. Kept in the database so every `serve` process uses the same
value and a change is authorised and audited like any other retention setting."""

from __future__ import annotations

from typing import Final

from sqlalchemy.orm import Session

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError
from bodycam.server.access.service import Work
from bodycam.server.retention.models import RetentionSetting

__all__ = ["DEFAULT_PENDING_DAYS", "MAX_PENDING_DAYS", "pending_days", "set_pending_days"]

PENDING_DAYS: Final = "pending_days"
DEFAULT_PENDING_DAYS: Final = 7
MAX_PENDING_DAYS: Final = 90


def pending_days(session: Session) -> int:
    row = session.get(RetentionSetting, PENDING_DAYS)
    return int(row.value) if row is not None else DEFAULT_PENDING_DAYS


def set_pending_days(work: Work, days: int) -> None:
    """retention.manage; 1 to MAX_PENDING_DAYS (at least a day to notice a mistake)."""
    work.authorise(Permission.RETENTION)
    if not 1 <= days <= MAX_PENDING_DAYS:
        raise AccessError("pending_window", f"a pending window of {days} days is refused: "
                          f"give 1 to {MAX_PENDING_DAYS} days (the time in which an expired "
                          "recording can still be restored before it is deleted)")
    before = pending_days(work.session)
    row = work.session.get(RetentionSetting, PENDING_DAYS)
    if row is None:
        work.session.add(RetentionSetting(name=PENDING_DAYS, value=str(days)))
    else:
        row.value = str(days)
    work.record("pending_window_changed", days=days, previous=before)

"""Points in time as custody keeps them: the camera's canonical UTC text.

`recordings.start`/`end` are the camera's `utc_iso` text from the signed manifest
(`2026-12-06T07:00:00.000Z`). Assignment bounds and search bounds are brought to the
same fixed-width form, so comparing text compares time, in Python and in SQL alike.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from bodycam.firmware.evidence.signed_log import utc_iso

__all__ = ["CANONICAL", "CANONICAL_LIKE", "canonical", "instant", "now_instant"]

CANONICAL: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
# The same shape for SQL LIKE: a manifest's odd time ("None") is never compared as one.
CANONICAL_LIKE: Final = "____-__-__T__:__:__.___Z"


def instant(text: str, what: str = "time") -> str:
    """Any ISO 8601 time with a zone, as canonical UTC text; ValueError naming the fix."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} {text[:40]!r} is not an ISO 8601 time. Fix: write it "
                         "like 2026-12-06T07:00:00Z or 2026-12-06T08:00:00+01:00") from None
    if moment.tzinfo is None:
        raise ValueError(f"{what} {text[:40]!r} has no time zone, so it could be any of "
                         "24 hours. Fix: add Z (UTC) or an offset such as +01:00")
    return canonical(moment)


def canonical(moment: datetime) -> str:
    return utc_iso(moment.astimezone(UTC))


def now_instant(seconds: float) -> str:
    """The server clock's seconds (Work.now) as canonical text."""
    return canonical(datetime.fromtimestamp(seconds, UTC))

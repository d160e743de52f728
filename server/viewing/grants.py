"""Which segments a person may fetch now: those of a grant of theirs that has not
expired. The grants are the `view_granted` records in the audit trail (issue_grant
writes one with every grant it signs), so every server process sees the same answer
and no table or in-memory state of our own is needed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.audit.models import AuditEvent
from bodycam.server.audit.trail import DONE

__all__ = ["ActiveGrant", "active_grant"]

GRANTED: Final = "view_granted"
# Grants last minutes; a person asks for a handful at most in that time. Older records
# cannot hold a live grant, so the look-back is bounded whatever the trail's size.
_LOOK_BACK: Final = 50


@dataclass(frozen=True)
class ActiveGrant:
    nonce: str
    segments: frozenset[str]
    expires: float  # server clock seconds


def _parse(details: str) -> ActiveGrant | None:
    try:
        data = json.loads(details)
        return ActiveGrant(str(data["nonce"]), frozenset(str(s) for s in data["segments"]),
                           datetime.fromisoformat(str(data["expires"])).timestamp())
    except (ValueError, KeyError, TypeError):
        return None


def active_grant(session: Session, username: str, recording_id: str, now: float,
                 segment: str | None = None) -> ActiveGrant | None:
    """The newest unexpired grant of `username` for the recording (covering `segment`
    when given), or None."""
    rows = session.scalars(
        select(AuditEvent.details).where(
            AuditEvent.kind == GRANTED, AuditEvent.recording_id == recording_id,
            AuditEvent.actor == username, AuditEvent.outcome == DONE)
        .order_by(AuditEvent.seq.desc()).limit(_LOOK_BACK))
    for details in rows:
        grant = _parse(details)
        if grant is None or grant.expires <= now:
            continue
        if segment is None or segment in grant.segments:
            return grant
    return None

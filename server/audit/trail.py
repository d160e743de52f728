"""Writing the server's event records.

Each record is written in a transaction of its own, so a refusal is on record even
though the refused operation's own transaction rolls back. This is the plain event
table; the hash chain and server signature of issue 11's audit log build on these rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.audit.models import AuditEvent
from bodycam.server.database.engine import Database

__all__ = ["DONE", "FAILED", "REFUSED", "AuditTrail"]

DONE: Final = "done"
REFUSED: Final = "refused"
FAILED: Final = "failed"


class AuditTrail:
    def __init__(self, database: Database, clock: Callable[[], float]) -> None:
        self._database = database
        self._clock = clock

    def add(self, session: Session, kind: str, actor: str, outcome: str = DONE,
            rule: str | None = None, **details: Any) -> None:
        """A record committed with the caller's transaction (the work it describes)."""
        session.add(AuditEvent(at=self._clock(), kind=kind, actor=actor, outcome=outcome,
                               rule=rule, details=json.dumps(details, sort_keys=True)))

    def record(self, kind: str, actor: str, outcome: str = DONE, rule: str | None = None,
               **details: Any) -> None:
        """A record in a transaction of its own (never call it inside another one)."""
        with self._database.transaction() as session:
            self.add(session, kind, actor, outcome, rule, **details)

    def events(self, kind: str | None = None) -> list[AuditEvent]:
        """Oldest first; for reports and tests."""
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if kind is not None:
            query = query.where(AuditEvent.kind == kind)
        with self._database.transaction() as session:
            return list(session.scalars(query))

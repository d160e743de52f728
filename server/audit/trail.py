"""Writing the server's audit records.

`add` records with the caller's transaction (the work it describes: committed together
or not at all); `record` in a transaction of its own, so a refusal is on record even
though the refused operation's own transaction rolls back. Either way the record joins
the signed hash chain (chain.py) when its transaction commits: numbered, chained and
signed under the head lock, so several `serve` processes never fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bodycam.server.audit.chain import MAX_RECORDING_ID, PendingEvent, ServerSigner, seal
from bodycam.server.audit.models import AuditEvent
from bodycam.server.context import ServerContext
from bodycam.server.database.engine import Database

__all__ = ["DONE", "FAILED", "REFUSED", "AuditTrail", "camera_actor"]

DONE: Final = "done"
REFUSED: Final = "refused"
FAILED: Final = "failed"
_PENDING: Final = "bodycam.audit.pending"
MAX_DETAILS: Final = 768 * 1024


def _bounded(text: str, details: dict[str, Any]) -> str:
    """Details over MAX_DETAILS are kept as their size and SHA-256, so no record outgrows
    what the log's verifier reads (1 MiB a line) or fills the database for whoever sends
    junk to be refused (an "id" of megabytes). The limit is far above any honest record:
    a deletion's tombstone naming each of 4,000 segments (11 hours) is ~400 KiB."""
    if len(text) <= MAX_DETAILS:
        return text
    data = text.encode("utf-8")
    recording = details.get("recording")
    short = {"recording": recording} if isinstance(recording, str) and \
        len(recording) <= MAX_RECORDING_ID else {}
    return json.dumps({**short, "oversized_details": {
        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "keys": sorted(details)[:50]}}, sort_keys=True)


def camera_actor(device_id: str) -> str:
    """How a docked camera is named as an actor (never a username: those have no space)."""
    return f"camera {device_id}"[:64]


def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)


class AuditTrail:
    def __init__(self, database: Database, clock: Callable[[], float],
                 signing_key: Ed25519PrivateKey) -> None:
        self._database = database
        self._clock = clock
        self.signer = ServerSigner(signing_key)

    @classmethod
    def of(cls, context: ServerContext) -> AuditTrail:
        return cls(context.database, context.clock, context.signing_key)

    def add(self, session: Session, kind: str, actor: str, outcome: str = DONE,
            rule: str | None = None, **details: Any) -> None:
        """A record committed with the caller's transaction (the work it describes).
        ValueError/TypeError now if `details` is not plain JSON (no NaN)."""
        text = _bounded(json.dumps(details, sort_keys=True, allow_nan=False), details)
        pending: list[PendingEvent] | None = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = []
            event.listen(session, "before_commit", self._seal)
            event.listen(session, "after_rollback", _forget)
        at = round(self._clock(), 3)
        pending.append(PendingEvent(at, kind[:64], actor[:64], outcome, rule, text))

    def _seal(self, session: Session) -> None:
        pending = session.info.pop(_PENDING, None)
        if pending:
            seal(session, pending, self.signer)

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

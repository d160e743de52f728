"""The server's audit records as lines of a signed log in the camera's format.

A row of audit_events is one line of docs/formats.md's signed logs: canonical JSON with
`seq`, `prev` (SHA-256 of the line before), `time`, `event` (the row's kind), the row's
`actor`, `outcome`, `rule` and `details`, and `sig`: Ed25519 by the server's signing key
over the rest. The first line, and the first after a change of key, carries `signer`: a
certificate in the camera's form in which the server key certifies itself (key and
device key are the same; key store "server"). So an export of the table is a file
`bodycam-evidence verify --device-key SERVER_KEY` checks like a camera's audit log.

Lines are made from the columns alone, so the table is the log: editing any column of a
row breaks its signature and the next row's `prev`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.firmware.evidence.public_keys import fingerprint_of
from bodycam.firmware.evidence.session_key import CERTIFICATE_CONTEXT
from bodycam.firmware.evidence.signed_log import (
    SIGNER_FIELD,
    canonical_json,
    line_hash,
    signed_bytes,
    utc_iso,
)
from bodycam.server.audit.models import HEAD_ID, AuditEvent, AuditHead

__all__ = ["KEY_STORE", "MAX_RECORDING_ID", "PendingEvent", "ServerSigner", "line_of",
           "record_of", "recording_column", "seal", "time_of"]

KEY_STORE: Final = "server"
MAX_RECORDING_ID: Final = 80  # the column's width; longer "ids" are junk a refusal quotes
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def time_of(at: float) -> str:
    """`at` as the log's time: UTC ISO 8601, milliseconds, `Z` (exact, never rounded
    differently on another machine: whole milliseconds from the epoch)."""
    return utc_iso(_EPOCH + timedelta(milliseconds=round(at * 1000)))


def recording_column(details: Mapping[str, Any]) -> str | None:
    """The recording a record is about, as the index column holds it."""
    value = details.get("recording")
    return value if isinstance(value, str) and len(value) <= MAX_RECORDING_ID else None


@dataclass(frozen=True)
class PendingEvent:
    """A record added in a transaction, chained when that transaction commits."""

    at: float
    kind: str
    actor: str
    outcome: str
    rule: str | None
    details: str  # JSON


class ServerSigner:
    """The server key as the signer of its audit log."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        raw = key.public_key().public_bytes_raw()
        self.public_b64 = base64.b64encode(raw).decode("ascii")
        self.fingerprint = fingerprint_of(raw)

    def certificate(self, issued: str) -> dict[str, Any]:
        """The camera's certificate form, the server key vouching for itself: what a
        verifier pins is the server key (--device-key), as it pins a camera's."""
        body: dict[str, Any] = {
            "key": self.public_b64, "alg": "ed25519", "device_key": self.public_b64,
            "device_key_alg": "ed25519", "key_store": KEY_STORE, "counter": None,
            "issued": issued}
        signature = self._key.sign(CERTIFICATE_CONTEXT + canonical_json(body))
        return {**body, "cert_sig": base64.b64encode(signature).decode("ascii")}

    def sign(self, record: Mapping[str, Any]) -> str:
        return base64.b64encode(self._key.sign(signed_bytes(record))).decode("ascii")


def _unsigned(row: AuditEvent) -> dict[str, Any]:
    record: dict[str, Any] = {
        "seq": row.seq, "prev": row.prev, "time": time_of(row.at), "event": row.kind,
        "actor": row.actor, "outcome": row.outcome, "rule": row.rule,
        "details": json.loads(row.details)}
    if row.signer is not None:
        record[SIGNER_FIELD] = json.loads(row.signer)
    return record


def record_of(row: AuditEvent) -> dict[str, Any]:
    """The signed record a row is (ValueError if its details are not JSON)."""
    return {**_unsigned(row), "sig": row.sig}


def line_of(row: AuditEvent) -> bytes:
    """The row as a line of the log (without the newline)."""
    return canonical_json(record_of(row))


def _chain(row: AuditEvent, head: AuditHead, signer: ServerSigner) -> None:
    """Make `row` the next line after `head`, and move the head to it."""
    row.seq = head.seq + 1
    row.prev = head.hash
    if head.signer_key != signer.fingerprint:
        row.signer = json.dumps(signer.certificate(time_of(row.at)), sort_keys=True)
    row.sig = signer.sign(_unsigned(row))
    row.hash = line_hash(line_of(row))
    head.seq, head.hash, head.signer_key = row.seq, row.hash, signer.fingerprint


def _adopt_unchained(session: Session, head: AuditHead, signer: ServerSigner) -> None:
    """Rows written before the chain existed (migration 0003 numbered them 0..n-1) are
    chained and signed now, in their order, before anything new."""
    for row in session.scalars(select(AuditEvent).where(AuditEvent.hash.is_(None))
                               .order_by(AuditEvent.seq)):
        _chain(row, head, signer)


def seal(session: Session, pending: list[PendingEvent], signer: ServerSigner) -> None:
    """Append `pending` to the chain, in the committing transaction.

    Called last in the transaction: its own changes are flushed first, then the head row
    is locked (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the
    database), so the lock is held only for this append and its commit, and every
    writer takes it last (no deadlock with the work's own row locks)."""
    session.flush()
    head = session.execute(select(AuditHead).where(AuditHead.id == HEAD_ID)
                           .with_for_update()).scalar_one()
    if head.seq < 0:
        _adopt_unchained(session, head, signer)
    for item in pending:
        details = json.loads(item.details)
        row = AuditEvent(at=item.at, kind=item.kind, actor=item.actor,
                         outcome=item.outcome, rule=item.rule, details=item.details,
                         recording_id=recording_column(details))
        _chain(row, head, signer)
        session.add(row)
    session.flush()


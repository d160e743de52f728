"""Bringing the key holder's log into the server's audit trail, checked line by line.

Each pull asks for the last line the audit trail holds (it must be unchanged: a log
rolled back or rewritten is caught even when it grew back to the same length) and the
lines after it, and checks them as `bodycam-evidence verify` would, incrementally: seq
without gaps, `prev` chained to
the last pulled hash, canonical form, a `signer` certificate made by the pinned log key,
and each line's signature under the session key in force. A line that fails stops the
pull (nothing of that batch is recorded) with an error naming the line: a key holder
log rolled back, rewritten or signed by another key never enters the trail quietly.

Each line becomes one `keyholder_record` audit event (refusals with outcome "refused"
and their rule), with its seq, hash and session key, which the next pull continues from.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.session_key import check_certificate
from bodycam.firmware.evidence.signed_log import (
    GENESIS_PREV,
    SIGNER_FIELD,
    canonical_json,
    line_hash,
)
from bodycam.firmware.evidence.verify_chain import signature_ok
from bodycam.server.access.service import Access
from bodycam.server.audit.models import AuditEvent
from bodycam.server.audit.trail import DONE, REFUSED
from bodycam.server.keyholder.client import KeyholderClient
from bodycam.server.keyholder.log import MAX_PULL

__all__ = ["ACTOR", "PULLED", "PullError", "pull_log"]

PULLED: Final = "keyholder_record"
ACTOR: Final = "keyholder"
_PULL_LOCK: Final = 0x6B68_7075_6C6C  # "khpull": the advisory lock of the pull


class PullError(ValueError):
    """The key holder's log does not continue the lines the server holds."""


@dataclass
class _Position:
    seq: int = -1
    hash: str = GENESIS_PREV
    session: str | None = None


def _last(session: Session) -> AuditEvent | None:
    return session.scalars(select(AuditEvent).where(AuditEvent.kind == PULLED)
                           .order_by(AuditEvent.seq.desc()).limit(1)).first()


def _position(access: Access) -> _Position:
    with access.database.transaction() as session:
        last = _last(session)
    if last is None:
        return _Position()
    details = json.loads(last.details)
    return _Position(details["keyholder_seq"], details["keyholder_hash"],
                     details["keyholder_session"])


def _check(line: str, at: _Position, log_key: DevicePublicKey) -> dict[str, Any]:
    """The record on `line`, if it continues `at` (which it then advances)."""
    where = f"key holder log line seq {at.seq + 1}"
    try:
        record = json.loads(line)
        canonical = canonical_json(record) == line.encode("utf-8")
    except (ValueError, RecursionError):
        record, canonical = None, False
    if not isinstance(record, dict) or not canonical:
        raise PullError(f"{where} is not a canonical JSON record (altered)")
    if record.get("seq") != at.seq + 1 or record.get("prev") != at.hash:
        raise PullError(f"{where} does not continue the lines already pulled (seq "
                        f"{record.get('seq')!r}): the key holder's log was rolled back, cut or "
                        "rewritten. Fix: compare it with `bodycam-evidence verify`; the "
                        "server's audit trail keeps what it pulled before")
    if SIGNER_FIELD in record:
        try:
            device, session_key, _counter = check_certificate(record[SIGNER_FIELD])
        except ValueError as exc:
            raise PullError(f"{where}: its signer certificate is invalid ({exc})") from None
        if device != log_key:
            raise PullError(f"{where} is certified by key {device.fingerprint}, not the "
                            f"pinned key holder log key {log_key.fingerprint}")
        at.session = session_key.b64
    if at.session is None or not signature_ok(
            DevicePublicKey.from_raw(base64.b64decode(at.session)), record):
        raise PullError(f"{where}: the signature does not verify (forged or altered)")
    at.seq, at.hash = record["seq"], line_hash(line.encode("utf-8"))
    return record


def pull_log(access: Access, source: KeyholderClient | Callable[[int], list[str]],
             log_key: DevicePublicKey) -> int:
    """Record every new line of the key holder's log in the audit trail; how many.
    `source`: the key holder's socket, or (offline) a function giving the lines after a
    seq from a carried copy of its log. KeyholderUnavailableError when it cannot be reached,
    PullError when a line fails."""
    lines_after = source.lines_after if isinstance(source, KeyholderClient) else source
    pulled = 0
    while True:
        at = _position(access)
        start = at.seq
        lines = lines_after(max(-1, at.seq - 1))  # the last line pulled, to see it unchanged
        full = len(lines) >= MAX_PULL
        if at.seq >= 0:
            if not lines or line_hash(lines[0].encode("utf-8")) != at.hash:
                raise PullError(f"the last key holder log line pulled (seq {at.seq}) is no "
                                "longer in its log as it was: the log was rolled back or "
                                "rewritten. Fix: compare it with `bodycam-evidence verify`; "
                                "the server's audit trail keeps what it pulled before")
            lines = lines[1:]
        checked = [(_check(line, at, log_key), at.seq, at.hash, at.session) for line in lines]
        with access.database.transaction() as session:
            # Another server process may have pulled these a moment ago: the position is
            # read again under a lock all pullers take (SQLite: BEGIN IMMEDIATE already
            # serialises writers; PostgreSQL: a transaction-scoped advisory lock, which
            # also covers the first pull, when there is no row to lock yet).
            if not access.database.is_sqlite:
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                {"key": _PULL_LOCK})
            last = _last(session)
            if (json.loads(last.details)["keyholder_seq"] if last else -1) != start:
                continue
            for record, seq, digest, session_key in checked:
                refused = record.get("event") == "refused"
                access.audit.add(session, PULLED, ACTOR, REFUSED if refused else DONE,
                                 record.get("rule") if refused else None,
                                 keyholder_seq=seq, keyholder_hash=digest,
                                 keyholder_session=session_key, record=record)
        pulled += len(checked)
        if not full:
            return pulled

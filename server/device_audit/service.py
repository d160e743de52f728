"""A camera's audit log, received incrementally; the outside anchor of the threat model.

The camera sends the lines after the head the server holds (`Audit-After: seq:hash`).
What it sends must continue that head: a line the server holds under the same seq with
other bytes is a `fork`; a log that ends before the server's head is a `rollback` (cut
back on the card). Either way the server keeps what it had, flags the device and says
so. New lines are checked as `bodycam-evidence verify` checks a log (check_chain under
the enrolled keys), over the stored lines and the new ones together, so a session key
certified in an earlier upload still vouches for the lines after it. Lines the server
already holds are accepted again without effect (the same upload twice is stored once).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select, update

from bodycam.firmware.evidence.receipts import AUDIT_RECEIPT_FORMAT, sign_statement
from bodycam.firmware.evidence.signed_log import utc_iso
from bodycam.firmware.evidence.verify_chain import ChainResult, check_chain
from bodycam.firmware.offload.signature import SignedRequest
from bodycam.server.context import ServerContext
from bodycam.server.database.engine import compare_and_set
from bodycam.server.device_audit.models import AuditChunk
from bodycam.server.devices.models import Device
from bodycam.server.devices.service import enrolled_keys
from bodycam.server.errors import ApiError, storage_refusal
from bodycam.server.storage.blobs import StorageError

__all__ = ["MAX_AUDIT_BYTES", "append_audit", "audit_head", "stored_log"]

MAX_AUDIT_BYTES: Final = 64 * 1024 * 1024
_AFTER: Final = re.compile(r"(\d{1,12}):([0-9a-f]{64})")


@dataclass(frozen=True)
class _Stored:
    device: Device
    data: bytes  # every line held, in order
    hashes: list[str]  # chain hash of line seq i at index i


def audit_head(context: ServerContext, signed: SignedRequest) -> dict[str, Any]:
    with context.database.transaction() as session:
        device = session.get(Device, signed.device_id)
    if device is None or device.audit_seq is None:
        return {"seq": None}
    return {"seq": device.audit_seq, "hash": device.audit_hash}


def stored_log(context: ServerContext, device_id: str) -> bytes:
    """Every line of the camera's audit log the server holds (checked on arrival), in
    order; StorageError when a chunk cannot be read back."""
    with context.database.transaction() as session:
        chunks = list(session.scalars(select(AuditChunk).where(
            AuditChunk.device_id == device_id).order_by(AuditChunk.first_seq)))
    return b"".join(context.blobs.read_all(chunk.blob) for chunk in chunks)


def _stored(context: ServerContext, device_id: str) -> _Stored:
    with context.database.transaction() as session:
        device = session.get(Device, device_id)
    assert device is not None  # signed by an enrolled key of it
    try:
        data = stored_log(context, device_id)
    except StorageError as exc:
        raise storage_refusal(exc) from None
    hashes = [hashlib.sha256(line).hexdigest() for line in data.splitlines()]
    return _Stored(device, data, hashes)


def _parse_after(text: str | None) -> tuple[int, str] | None:
    if text is None or text == "none":
        return None
    match = _AFTER.fullmatch(text)
    if match is None:
        raise ApiError(400, "bad_audit_after", "Audit-After must be <seq>:<hash> of the last "
                       "line the server holds (GET /api/v1/offload/audit), or none")
    return int(match.group(1)), match.group(2)


def _flag(context: ServerContext, device_id: str, why: str) -> None:
    note = f"{utc_iso(datetime.now(UTC))}: {why}"
    with context.database.transaction() as session:
        device = session.get(Device, device_id)
        assert device is not None
        device.flag = f"{device.flag}\n{note}" if device.flag else note


def _refuse(context: ServerContext, device_id: str, code: str, why: str) -> ApiError:
    _flag(context, device_id, f"audit log {code}: {why}")
    return ApiError(409, code, f"{why}; the server keeps what it had and flags the device "
                    "for the administrator")


def _new_lines(context: ServerContext, signed: SignedRequest, stored: _Stored,
               after: tuple[int, str] | None, body: bytes) -> list[bytes]:
    """The lines of `body` the server does not hold yet (fork / rollback refused)."""
    if body and not body.endswith(b"\n"):
        raise ApiError(422, "invalid", "the body must be whole lines, each ending in a "
                       "newline (a torn last line is repaired on the camera first)")
    lines = body.splitlines()
    first = 0 if after is None else after[0] + 1
    if after is not None:
        if after[0] >= len(stored.hashes):
            raise ApiError(409, "head_moved", f"the server holds {len(stored.hashes)} lines, "
                           f"not up to seq {after[0]}: GET /api/v1/offload/audit and send "
                           "the lines after its head", **_head_fields(stored))
        if stored.hashes[after[0]] != after[1]:
            raise _refuse(context, signed.device_id, "fork",
                          f"the camera's line {after[0]} differs from the one the server "
                          "holds")
    for index, line in enumerate(lines):
        seq = first + index
        if seq < len(stored.hashes) and hashlib.sha256(line).hexdigest() != stored.hashes[seq]:
            raise _refuse(context, signed.device_id, "fork",
                          f"the camera's line {seq} differs from the one the server holds")
    end = first + len(lines) - 1
    if end < len(stored.hashes) - 1:
        raise _refuse(context, signed.device_id, "rollback",
                      f"the camera's audit log ends at seq {end}, but the server holds "
                      f"up to {len(stored.hashes) - 1} (cut back on the card)")
    return lines[max(0, len(stored.hashes) - first):]


def _head_fields(stored: _Stored) -> dict[str, Any]:
    if not stored.hashes:
        return {"seq": None}
    return {"seq": len(stored.hashes) - 1, "hash": stored.hashes[-1]}


def _check(context: ServerContext, signed: SignedRequest, stored: _Stored,
           new: list[bytes]) -> ChainResult:
    with context.database.transaction() as session:
        keys = enrolled_keys(session, signed.device_id)
    data = stored.data + b"".join(line + b"\n" for line in new)
    chain = check_chain(Path("audit.jsonl"), keys, data=data)
    problems = [p for p in chain.problems if p.line is None or p.line > len(stored.hashes)]
    if problems:
        raise ApiError(422, "invalid", f"the audit lines do not verify: {problems[0]}",
                       problems=[{"file": "audit.jsonl", "line": p.line, "message": p.message}
                                 for p in problems])
    return chain


def _receipt(context: ServerContext, device_id: str, seq: int | None, digest: str | None,
             counter: int | None) -> dict[str, Any]:
    return sign_statement(context.signing_key, AUDIT_RECEIPT_FORMAT, {
        "device_id": device_id, "seq": seq, "hash": digest, "counter": counter,
        "received_at": utc_iso(datetime.now(UTC))})


def append_audit(context: ServerContext, signed: SignedRequest, after_header: str | None,
                 body: bytes) -> dict[str, Any]:
    after = _parse_after(after_header)
    stored = _stored(context, signed.device_id)
    new = _new_lines(context, signed, stored, after, body)
    device = stored.device
    if not new:
        return _receipt(context, device.id, device.audit_seq, device.audit_hash,
                        device.audit_counter)
    chain = _check(context, signed, stored, new)
    counter = chain.counters[-1].value if chain.counters else None
    seq, digest = len(stored.hashes) + len(new) - 1, hashlib.sha256(new[-1]).hexdigest()
    try:
        blob = context.blobs.put_bytes(b"".join(line + b"\n" for line in new))
    except StorageError as exc:
        raise storage_refusal(exc) from None
    with context.database.transaction() as session:
        won = compare_and_set(session, update(Device).where(
            Device.id == device.id, Device.version == device.version).values(
            audit_seq=seq, audit_hash=digest, audit_counter=counter,
            version=Device.version + 1))
        if won:
            session.add(AuditChunk(device_id=device.id, first_seq=len(stored.hashes),
                                   last_seq=seq, blob=blob, received_at=datetime.now(UTC)))
    if not won:  # another process appended meanwhile: check again against the new head
        return append_audit(context, signed, after_header, body)
    return _receipt(context, device.id, seq, digest, counter)

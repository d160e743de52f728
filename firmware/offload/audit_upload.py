"""Send the audit log's new lines to the server, and check its audit receipt.

The server holds a head (seq and chain hash of the last line it stored); the camera
finds that very line in its own log and sends what follows, in batches of whole lines.
A head the camera's log does not hold (the log was set aside as damaged, or rewritten)
is not papered over: the camera reports it and sends nothing, and the server, which
keeps what it had, is the outside anchor that shows it (docs/threat-model.md).

Each batch's receipt must be signed by the pinned server key and name the last line
sent (seq and hash); the camera audits it as `offload_audit`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bodycam.firmware.evidence.receipts import (
    AUDIT_RECEIPT_FORMAT,
    StatementError,
    verify_statement,
)
from bodycam.firmware.evidence.signed_log import is_record, line_hash
from bodycam.firmware.evidence.verify_chain import open_regular
from bodycam.firmware.offload.connection import OffloadError, RefusedError, WrongServerError
from bodycam.firmware.offload.protocol import OffloadClient
from bodycam.firmware.offload.removal import Audit

__all__ = ["AuditForkedError", "AuditSent", "upload_audit_log"]

BATCH_BYTES: Final = 1024 * 1024
_HEAD_ATTEMPTS: Final = 3
_MAX_LINE: Final = 1024 * 1024


class AuditForkedError(OffloadError):
    """The server's head is not a line of this camera's audit log."""

    code = "audit_fork"


@dataclass(frozen=True)
class AuditSent:
    lines: int
    head: tuple[int, str] | None  # the server's head after the upload


def upload_audit_log(client: OffloadClient, path: Path, server_key: str,
                     audit: Audit) -> AuditSent:
    """Bring the server's copy of the audit log up to the lines on the card now. When
    the server's head moved meanwhile (409 head_moved: another upload of this camera's
    log got there first), ask again and go on from there."""
    for attempt in range(_HEAD_ATTEMPTS):
        try:
            return _upload_from_head(client, path, server_key, audit)
        except RefusedError as refusal:
            if refusal.code != "head_moved" or attempt == _HEAD_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _upload_from_head(client: OffloadClient, path: Path, server_key: str,
                      audit: Audit) -> AuditSent:
    head = client.audit_head()
    sent = 0
    batch: list[bytes] = []
    size = 0
    after = head
    for line, record in _lines_after(path, head):
        batch.append(line)
        size += len(line)
        if size >= BATCH_BYTES:
            after = _send(client, after, batch, record, server_key=server_key, audit=audit)
            sent += len(batch)
            batch, size = [], 0
    if batch:
        last = is_record(batch[-1])
        assert last is not None
        after = _send(client, after, batch, last, server_key=server_key, audit=audit)
        sent += len(batch)
    return AuditSent(sent, after)


def _send(client: OffloadClient, after: tuple[int, str] | None, batch: list[bytes],
          last: dict[str, object], *, server_key: str, audit: Audit) -> tuple[int, str]:
    seq, digest = int(str(last["seq"])), line_hash(batch[-1])
    raw = client.patch_audit(after, b"".join(batch))
    try:
        receipt = verify_statement(raw, AUDIT_RECEIPT_FORMAT, server_key)
    except StatementError as exc:
        raise WrongServerError(f"the audit receipt: {exc}") from None
    if receipt.get("seq") != seq or receipt.get("hash") != digest:
        raise WrongServerError(f"the audit receipt names line {receipt.get('seq')!r} "
                          f"({receipt.get('hash')!r}), not the last line sent ({seq}, {digest})")
    audit.record("offload_audit", audit_seq=seq, audit_hash=digest, lines=len(batch),
                 receipt_sha256=hashlib.sha256(raw).hexdigest())
    return seq, digest


def _lines_after(path: Path, head: tuple[int, str] | None
                 ) -> Iterator[tuple[bytes, dict[str, object]]]:
    """The whole lines after the server's head (all of them without one); AuditForkedError
    when the head is not a line of this log."""
    found = head is None
    with open_regular(path) as stream:
        end = stream.seek(0, 2)
        stream.seek(0)
        read = 0
        while read < end:
            line = stream.readline(_MAX_LINE)
            read += len(line)
            record = is_record(line)
            if record is None:
                return  # a torn or damaged line: the camera repairs it at its next start
            if not found:
                assert head is not None
                if record["seq"] == head[0]:
                    if line_hash(line) != head[1]:
                        raise AuditForkedError(_forked(head, "holds another line at that seq"))
                    found = True
                continue
            yield line, record
    if not found:
        raise AuditForkedError(_forked(head, "ends before it"))


def _forked(head: tuple[int, str] | None, what: str) -> str:
    return (f"the server holds this camera's audit log up to line {head[0] if head else '?'}, "
            f"but the log on the card {what} (set aside as damaged, or rewritten): nothing "
            "was sent; the custodian compares the two")

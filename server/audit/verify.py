"""Checking the audit log where it lives, and exporting it for anyone to check.

The rows are turned back into the lines they are (chain.py) and checked by the camera
log's own verifier (firmware/evidence/verify_chain.check_chain: signatures, certificates,
`prev` chain, seq continuity, canonical form), with the server key pinned, so a row
edited, deleted, inserted or renumbered in the database is named by its seq. On top: the
head row must name the last row (rows cut off the end), each row's stored hash and
recording index must match the row. Rows are read in pages in short transactions (a
SQLite reader holds the writers off): the log only grows, and what is checked ends at the
head read first.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from sqlalchemy import select

from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.signed_log import GENESIS_PREV, line_hash
from bodycam.firmware.evidence.verify_chain import check_chain
from bodycam.server.audit.chain import line_of, recording_column
from bodycam.server.audit.models import HEAD_ID, AuditEvent, AuditHead
from bodycam.server.database.engine import Database

__all__ = ["ChainCheck", "export_log", "verify_log"]

_PAGE: Final = 5000
LOG_NAME: Final = "server-audit.jsonl"


@dataclass
class ChainCheck:
    """What `verify_log` found: `problems` name the row (audit_events seq N) and what is
    wrong; empty means every record from 0 to the head verifies under the pinned keys."""

    records: int = 0
    head_seq: int = -1
    head_hash: str = GENESIS_PREV
    keys: list[str] = field(default_factory=list)  # fingerprints that signed, in order
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        state = "VERIFIED" if self.ok else "INTEGRITY FAILURE"
        lines = [f"server audit log: {state}",
                 f"  {self.records} records, head seq {self.head_seq} hash {self.head_hash}",
                 f"  signed by server key {', '.join(self.keys) or '-'} (pinned)"]
        return "\n".join(lines + [f"  PROBLEM: {p}" for p in self.problems])


def _head(database: Database) -> tuple[int, str]:
    with database.transaction() as session:
        head = session.get(AuditHead, HEAD_ID)
        if head is None:
            raise ValueError("the database has no audit head row (schema older than 0003?). "
                             "Fix: bodycam-server migrate")
        return head.seq, head.hash


def _rows(database: Database, last: int) -> Iterator[AuditEvent]:
    """Rows up to seq `last` in seq order, a page per transaction."""
    after = -1
    while True:
        with database.transaction() as session:
            page = list(session.scalars(
                select(AuditEvent).where(AuditEvent.seq > after, AuditEvent.seq <= last)
                .order_by(AuditEvent.seq).limit(_PAGE)))
        if not page:
            return
        yield from page
        after = page[-1].seq


def _write_lines(database: Database, last: int, out: IO[bytes], check: ChainCheck
                 ) -> tuple[int, int, str | None]:
    """Writes each row as a line; returns (rows, last seq, hash of the last line)."""
    count, seq, digest = 0, -1, None
    for row in _rows(database, last):
        where = f"audit_events seq {row.seq}"
        if row.hash is None:
            check.problems.append(f"{where}: not chained or signed (written around the "
                                  "chain, or its chain columns were cleared)")
        try:
            line = line_of(row)
        except (ValueError, TypeError) as exc:
            check.problems.append(f"{where}: its columns do not make a record ({exc})")
            line = b"{}"
        digest = line_hash(line)
        if row.hash is not None and row.hash != digest:
            check.problems.append(f"{where}: the row was changed after it was written (its "
                                  "stored hash is not the hash of its columns)")
        if row.recording_id != _recording(row):
            check.problems.append(f"{where}: its recording index column "
                                  f"({row.recording_id!r}) is not the recording its signed "
                                  "details name")
        out.write(line + b"\n")
        count, seq = count + 1, row.seq
    return count, seq, digest


def _recording(row: AuditEvent) -> str | None:
    try:
        details = json.loads(row.details)
    except ValueError:
        return None
    return recording_column(details) if isinstance(details, dict) else None


def verify_log(database: Database, pinned: Sequence[DevicePublicKey]) -> ChainCheck:
    """Check the chain in the database under the `pinned` server key(s)."""
    if not pinned:
        raise ValueError("no server key to check the audit log against")
    check = ChainCheck()
    check.head_seq, check.head_hash = _head(database)
    with tempfile.TemporaryDirectory(prefix="bodycam-audit-") as scratch:
        path = Path(scratch) / LOG_NAME
        with open(path, "xb") as out:
            _, last, digest = _write_lines(database, check.head_seq, out, check)
        result = check_chain(path, pinned)
    check.records = result.length
    check.keys = [key.fingerprint for key in result.device_keys]
    check.problems += [f"audit_events seq {p.seq if p.seq is not None else '?'}: {p.message}"
                       for p in result.problems]
    if last < check.head_seq:
        check.problems.append(
            f"the chain's head is seq {check.head_seq}, but the rows end at seq {last}: "
            f"{check.head_seq - last} record(s) at the end were deleted")
    elif digest is not None and digest != check.head_hash:
        check.problems.append(f"audit_events seq {last}: not the record the head names "
                              "(the last record was replaced)")
    return check


def export_log(database: Database, out: Path) -> ChainCheck:
    """Write the log (seq 0 to the head) to `out`, a new file; returns what was written
    (problems found on the way included: the export still holds every row as it is)."""
    check = ChainCheck()
    check.head_seq, check.head_hash = _head(database)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
    with os.fdopen(descriptor, "wb") as stream:
        check.records, _, _ = _write_lines(database, check.head_seq, stream, check)
        stream.flush()
        os.fsync(stream.fileno())
    return check

"""Append-only, hash-chained, Ed25519-signed JSON-lines logs (manifests and the audit log).

Every line is the canonical JSON of one record (keys sorted, no spaces, UTF-8) with
``seq`` (0, 1, ...), ``prev`` (hex SHA-256 of the previous line's bytes without its
newline; 64 zeros for the first), ``time`` (UTC, ISO 8601 with ``Z``), ``event``, the
payload fields, and ``sig``: base64 Ed25519 over the canonical JSON of the record
without ``sig``, made by the boot's session key. The first record a session appends to
a log carries ``signer``: the session key's certificate from the device key (see
session_key.py), so a log can be checked on its own; the custodian pins the device key
to rule out re-signing. (Logs written before session keys existed name the device key
in their first record, ``device_public_key``, and every line is signed by it directly;
the verifier still reads them.)

Each line is written with one ``write`` and fsync'd before ``append`` returns: evidence
must survive a power cut at any instant. A cut mid-write leaves a torn last line; the
next ``open`` moves those bytes into a side file (never deleting them), truncates the log
to its last whole line and appends a signed ``torn_tail`` record naming the side file,
the byte count and the SHA-256, so the chain continues and the repair is itself on record.
See docs/formats.md.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol

from bodycam.firmware.evidence.durable import fsync_directory, write_all, write_new_file
from bodycam.hal.interfaces import Clock

__all__ = [
    "FILE_MODE",
    "GENESIS_PREV",
    "KEY_FIELD",
    "LOOK_BACK_BYTES",
    "RESERVED_FIELDS",
    "SIGNER_FIELD",
    "TORN_TAIL_EVENT",
    "DamagedLogError",
    "SignedLog",
    "SignedRecord",
    "Signer",
    "canonical_json",
    "is_record",
    "last_device_key",
    "line_hash",
    "read_records",
    "signed_bytes",
    "utc_iso",
]

GENESIS_PREV: Final = "0" * 64
SIGNER_FIELD: Final = "signer"
RESERVED_FIELDS: Final = frozenset({"seq", "prev", "time", "event", "sig", SIGNER_FIELD})
TORN_TAIL_EVENT: Final = "torn_tail"
# Names the device key: in a recording header, and in the first record of a log written
# before session keys (where that key signed every line itself).
KEY_FIELD: Final = "device_public_key"
# Owner writes, group (the offload service) reads, nobody else: no secrets inside,
# but no reason to expose evidence metadata either.
FILE_MODE: Final = 0o640
_TAIL_WINDOW = 64 * 1024
_MAX_TAIL_SEARCH = 16 * 1024 * 1024
# How far back `last_record` looks: far more than one boot writes to the audit log.
LOOK_BACK_BYTES: Final = _MAX_TAIL_SEARCH
_MAX_CANDIDATES = 64


@dataclass(frozen=True)
class SignedRecord:
    """A record found in a log, with the record that introduced the key that signed it:
    the latest with a ``signer`` certificate at or before it, or a legacy log's first."""

    record: dict[str, Any]
    introducer: dict[str, Any]


class DamagedLogError(OSError):
    """The log's end cannot be found: not a torn line but a damaged or foreign file."""


class Signer(Protocol):
    """What a log needs from the boot's session key (SessionKey satisfies it)."""

    @property
    def public_key_b64(self) -> str: ...

    @property
    def certificate(self) -> Mapping[str, Any]: ...

    def sign(self, data: bytes) -> bytes: ...


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """The one byte form of a record: sorted keys, compact, UTF-8, no NaN/Infinity."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def signed_bytes(record: Mapping[str, Any]) -> bytes:
    """What ``sig`` signs: the canonical JSON of the record without ``sig``."""
    return canonical_json({k: v for k, v in record.items() if k != "sig"})


def line_hash(line: bytes) -> str:
    """Chain hash of a line (its bytes without the trailing newline)."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def utc_iso(moment: datetime) -> str:
    """UTC ISO 8601 with millisecond precision and a ``Z`` suffix."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: evidence times must be timezone-aware (UTC)")
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def is_record(line: bytes) -> dict[str, Any] | None:
    """The parsed record if `line` is a whole, well-formed log line, else None."""
    if not line.endswith(b"\n"):
        return None
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None  # deep nesting is damage (or an attack), never a crash
    if (isinstance(value, dict) and isinstance(value.get("seq"), int)
            and isinstance(value.get("sig"), str)):
        return value
    return None


def read_records(path: Path) -> list[dict[str, Any]]:
    """The well-formed records of a log, in file order (torn or garbled lines skipped)."""
    lines = path.read_bytes().splitlines(keepends=True)
    return [record for line in lines if (record := is_record(line)) is not None]


class SignedLog:
    """One open log file. Thread-safe: the audit log is appended from several threads."""

    def __init__(self, path: Path, fd: int, key: Signer, clock: Clock, *, next_seq: int,
                 prev: str, introduce: bool = True) -> None:
        """Use `SignedLog.open`; this only binds already-validated state. `introduce`:
        the next record must carry the signer's certificate (the log's last lines were
        signed by another key, or there are none)."""
        self._path = path
        self._introduce = introduce
        self._fd: int | None = fd
        self._key = key
        self._clock = clock
        self._next_seq = next_seq
        self._prev = prev
        self._lock = threading.Lock()
        self._torn_tails: list[dict[str, Any]] = []
        self._broken = False
        # Base64 device key that certified the log's last lines before this open (None:
        # new log): the camera compares it with its own to notice a re-key.
        self.previous_device_key: str | None = None
        self.created = False  # this open made the file

    @classmethod
    def open(cls, path: Path, key: Signer, clock: Clock) -> SignedLog:
        """Open or create the log; continues the chain and repairs a torn last line."""
        created = not os.path.lexists(path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
                         | os.O_NOFOLLOW | os.O_NONBLOCK, FILE_MODE)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
                raise DamagedLogError(f"{path} is not a regular file (a link, directory or "
                                      "device where the log belongs)") from None
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise DamagedLogError(f"{path} is not a regular file (a FIFO or device where "
                                      "the log belongs)")
            if created:
                fsync_directory(path.parent)
            try:
                end, last_line = _find_last_whole_line(fd)
            except DamagedLogError as exc:
                raise DamagedLogError(f"{path}: {exc}") from None
            size = os.fstat(fd).st_size
            record = is_record(last_line) if last_line else None
            signer = _last_signer(fd, end)
            log = cls(path, fd, key, clock,
                      next_seq=record["seq"] + 1 if record else 0,
                      prev=line_hash(last_line) if last_line else GENESIS_PREV,
                      introduce=signer is None or signer[0] != key.public_key_b64)
            log.previous_device_key = signer[1] if signer else None
            log.created = created
            log._repair(end, size)
        except BaseException:
            os.close(fd)
            raise
        return log

    @property
    def path(self) -> Path:
        return self._path

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def head(self) -> tuple[int, str] | None:
        """(seq, hash) of the last line: what another chain names to anchor this one."""
        with self._lock:
            return (self._next_seq - 1, self._prev) if self._next_seq else None

    def last_record(self, event: str, accept: Callable[[SignedRecord], bool],
                    within: int = LOOK_BACK_BYTES) -> dict[str, Any] | None:
        """The last `event` record that `accept` takes, reading back from the end over
        at most `within` bytes (not the whole log). Read-only.

        The card holder can append lines but not sign them, and can copy old lines: so
        `accept` sees each candidate with the record that introduced its signer (to check
        the signature), and only a record tied to the log's end by an unbroken hash chain,
        from the line before its session on, is returned. None when the chain breaks or
        the window ends first, or when more than a few dozen candidates wait for their
        signer (a pile of look-alikes): the caller then knows nothing, which it must never
        take for "the same as before". A log cut back to an earlier record is a consistent
        chain, and only `verify` can tell (security audit H2).
        """
        with self._lock:
            if self._fd is None:
                raise ValueError(f"{self._path}: the log is closed")
            end = os.fstat(self._fd).st_size
            return _last_accepted(self._fd, end, max(0, end - within), event, accept)

    @property
    def torn_tail(self) -> dict[str, Any] | None:
        """The last ``torn_tail`` record `open` appended, if it had to repair the log."""
        return self._torn_tails[-1] if self._torn_tails else None

    @property
    def torn_tails(self) -> tuple[dict[str, Any], ...]:
        """Every ``torn_tail`` record `open` appended (more than one only after a power
        cut during an earlier repair)."""
        return tuple(self._torn_tails)

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Sign, write and fsync one record; returns it as written (with seq/prev/sig)."""
        clash = RESERVED_FIELDS & fields.keys()
        if clash:
            raise ValueError(f"fields {sorted(clash)} are set by the log itself; rename them")
        with self._lock:
            if self._fd is None:
                raise ValueError(f"{self._path}: the log is closed")
            if self._broken:
                raise OSError(f"{self._path}: an earlier write failed, so the end of the log "
                              "is unknown; restart the device to repair it (the torn line is "
                              "kept and recorded)")
            record: dict[str, Any] = {
                **fields,
                "seq": self._next_seq,
                "prev": self._prev,
                "time": utc_iso(self._clock.wall()),
                "event": event,
            }
            if self._introduce:
                record[SIGNER_FIELD] = dict(self._key.certificate)
            record["sig"] = base64.b64encode(self._key.sign(signed_bytes(record))).decode()
            line = canonical_json(record)
            try:
                write_all(self._fd, line + b"\n")
                os.fsync(self._fd)
            except BaseException:
                self._broken = True
                raise
            self._prev = line_hash(line)
            self._next_seq += 1
            self._introduce = False
            return record

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> SignedLog:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _repair(self, end: int, size: int) -> None:
        """Move bytes [end, size) to a side file, cut them off the log, record every side
        file of this position.

        Order matters for a cut during the repair itself: the side copy is durable
        before the log is truncated, so the bytes always exist somewhere. A cut after
        the truncation, or while the ``torn_tail`` record was being written, leaves
        side files named for this seq without a record; they are recorded now, since
        the verifier rightly refuses any file the log does not name.
        """
        assert self._fd is not None
        sides = _existing_side_files(self._path, self._next_seq)
        if size > end:
            torn = os.pread(self._fd, size - end, end)
            side = _keep_side_copy(self._path, self._next_seq, torn)
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
            sides = [s for s in sides if s != side] + [side]
        for side in sides:
            data = side.read_bytes()
            self._torn_tails.append(self.append(
                TORN_TAIL_EVENT, file=side.name, bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(), offset=end))


_MAX_SIDE_FILES = 1000


def _side_file(log_path: Path, seq: int, n: int) -> Path:
    return log_path.with_name(f"{log_path.name}.torn-{seq}" + (f".{n}" if n else ""))


def _existing_side_files(log_path: Path, seq: int) -> list[Path]:
    """Side files of torn bytes at `seq`, oldest first (left by interrupted repairs).

    `_keep_side_copy` takes the numbers in order, so the first free one ends the list.
    """
    found: list[Path] = []
    for n in range(_MAX_SIDE_FILES):
        side = _side_file(log_path, seq, n)
        if not side.exists():
            break
        found.append(side)
    return found


def _keep_side_copy(log_path: Path, seq: int, data: bytes) -> Path:
    """Durable copy of torn bytes; reuses an identical copy left by an interrupted repair."""
    for n in range(_MAX_SIDE_FILES):
        side = _side_file(log_path, seq, n)
        try:
            write_new_file(side, data, FILE_MODE)
        except FileExistsError:
            if side.read_bytes() == data:
                return side
            continue
        return side
    raise OSError(f"{log_path}: too many torn-tail side files; inspect the directory")


def last_device_key(path: Path) -> str | None:
    """The device key (base64) that certified the last lines of the log at `path`, read
    without changing it (and without following a link or waiting on a FIFO): what a
    start compares its key with before it signs anything. None when unknown."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        end, _line = _find_last_whole_line(fd)
        signer = _last_signer(fd, end)
    except OSError:
        return None
    finally:
        os.close(fd)
    return signer[1] if signer else None


def _last_signer(fd: int, end: int) -> tuple[str, str] | None:
    """(session key, device key), base64, that signed the log's last lines (None for an
    empty log)."""
    introducer = _introducer(fd, end)
    if introducer is None:
        return None
    signer = introducer.get(SIGNER_FIELD)
    if isinstance(signer, dict):
        return str(signer.get("key")), str(signer.get("device_key"))
    legacy = str(introducer.get(KEY_FIELD))
    return legacy, legacy


def _introducer(fd: int, end: int) -> dict[str, Any] | None:
    """The record that introduced the key signing the lines before `end`, scanning back
    at most _MAX_TAIL_SEARCH bytes (a hostile tail of signer-less lines must not be read
    whole at every start); None when there is none within reach."""
    for _line, record in _records_backwards(fd, end, max(0, end - _MAX_TAIL_SEARCH)):
        if _introduces(record):
            return record
    return None


def _introduces(record: dict[str, Any]) -> bool:
    """Whether the lines from `record` on are signed by a key it names: it carries a
    ``signer`` certificate, or it is a legacy log's first record (whose device key then
    signed every line)."""
    return isinstance(record.get(SIGNER_FIELD), dict) or record["seq"] == 0


def _last_accepted(fd: int, end: int, floor: int, event: str,
                   accept: Callable[[SignedRecord], bool]) -> dict[str, Any] | None:
    """SignedLog.last_record over the bytes [floor, end).

    Every link from the end back to the line before the found record's introducer must
    hold: so a session's lines copied to the end, which no longer follow the line before
    them, are not taken for the latest.
    """
    pending: list[dict[str, Any]] = []  # candidates, latest first, awaiting their signer
    found: dict[str, Any] | None = None
    later: dict[str, Any] | None = None
    for line, record in _records_backwards(fd, end, floor):
        if later is not None and (later.get("prev") != line_hash(line)
                                  or later.get("seq") != record["seq"] + 1):
            return None  # what lies before is not tied to the end: removed, moved or copied
        if found is not None:
            return found  # its introducer follows this line: tied
        later = record
        if record.get("event") == event:
            if len(pending) == _MAX_CANDIDATES:
                return None
            pending.append(record)
        if _introduces(record):
            found = next((c for c in pending if accept(SignedRecord(c, record))), None)
            pending.clear()
    at_start = later is not None and later["seq"] == 0 and later.get("prev") == GENESIS_PREV
    return found if at_start else None


def _records_backwards(fd: int, end: int, floor: int) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """(line, record) of each well-formed record line in the bytes [floor, end), last
    first; garbled lines, the bytes after the last newline and a line that begins before
    `floor` are passed over. Reads back a window at a time, so finding something near
    the end of a long log costs only the end."""
    pos, head = end, b""  # head: bytes from pos on up to the first newline, not yet seen
    while pos > floor:
        start = max(floor, pos - _TAIL_WINDOW)
        buf = os.pread(fd, pos - start, start) + head
        pos = start
        first = 0 if start == 0 else buf.find(b"\n") + 1  # that line may begin earlier
        if start > 0 and first == 0:
            head = buf  # no newline yet: all of it belongs to a line that began earlier
            continue
        head = buf[:first]
        pieces = buf[first:].split(b"\n")
        for piece in reversed(pieces[:-1]):  # the last piece follows the last newline
            line = piece + b"\n"
            record = is_record(line)
            if record is not None:
                yield line, record


def _find_last_whole_line(fd: int) -> tuple[int, bytes]:
    """(offset just past the last well-formed record line, that line) scanning backwards.

    Reads only the file's tail (growing the window if needed) so opening a long audit
    log stays cheap. Anything after that line (a torn write, or zero-filled blocks some
    file systems leave after a cut) is the torn tail.
    """
    size = os.fstat(fd).st_size
    window = _TAIL_WINDOW
    while True:
        start = max(0, size - window)
        data = os.pread(fd, size - start, start)
        line_end = data.rfind(b"\n") + 1
        while line_end > 0:
            newline = data.rfind(b"\n", 0, line_end - 1)
            if newline < 0 and start > 0:
                break  # this line may begin before the window: widen it
            line_start = newline + 1
            if is_record(data[line_start:line_end]):
                return start + line_end, data[line_start:line_end]
            line_end = line_start
        if start == 0:
            return 0, b""
        if window >= _MAX_TAIL_SEARCH:
            raise DamagedLogError(
                f"no whole record in the last {window // (1024 * 1024)} MiB; a power cut "
                "tears at most one line, so the file was damaged or overwritten")
        window *= 4

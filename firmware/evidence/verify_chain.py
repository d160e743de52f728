"""One signed log's chain: lines, hashes, seq, canonical form, signers and counters.

Shared by every check of a manifest or an audit log (verify.py) and by power-loss
recovery, which must prove a recording's chain is its own before it adds to it.

Which key signs a line: the session key named by the latest ``signer`` certificate
(session_key.py), which must be certified by a trusted device key, that is one of the
pinned keys or, without a pin, the first device key the log names. A log written before
session keys (no certificate in its first line) is signed line by line by the Ed25519
device key its first record names.

Files are opened without following links and without blocking (a FIFO planted where a
log belongs is reported, not waited on), and read a line at a time with a cap on the
line length, so a hostile file costs neither a hang nor its size in memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.session_key import check_certificate
from bodycam.firmware.evidence.signed_log import (
    GENESIS_PREV,
    KEY_FIELD,
    SIGNER_FIELD,
    canonical_json,
    signed_bytes,
)

__all__ = [
    "COUNTER_EVENTS",
    "MAX_LINE_BYTES",
    "ChainResult",
    "CounterValue",
    "Line",
    "NotARegularFileError",
    "Problem",
    "check_chain",
    "open_regular",
    "signature_ok",
]

# Manifests of the firmware before session keys; audit logs of that time have no format.
LEGACY_FORMAT: Final = "bodycam-manifest/1"
# Far above any record the camera writes (a header with eight recipients is ~2 KiB).
MAX_LINE_BYTES: Final = 1024 * 1024
# Records that take a counter value besides a session certificate: a manifest's seal, and
# the audit records of a seal and of a recovery.
COUNTER_EVENTS: Final = frozenset({"seal", "recording_sealed", "recovery"})
_READ_BLOCK: Final = 64 * 1024


@dataclass(frozen=True)
class Problem:
    """One integrity failure, located as precisely as the data allows."""

    file: str
    message: str
    line: int | None = None
    seq: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.seq is not None:
            where += f" (seq {self.seq})"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Line:
    """A well-formed record and where it is: line number (1-based) and chain hash."""

    number: int
    record: dict[str, Any]
    hash: str

    @property
    def event(self) -> str | None:
        """The record type; None when it is not a string (a damaged or hostile line,
        which must never be used as a key or set member: that would crash the check)."""
        event = self.record.get("event")
        return event if isinstance(event, str) else None

    @property
    def index(self) -> int | None:
        """A segment record's index; None unless it is a whole number."""
        index = self.record.get("index")
        return index if type(index) is int else None


@dataclass(frozen=True)
class CounterValue:
    line: int
    value: int
    event: str  # "certificate" or the record's event


@dataclass
class ChainResult:
    lines: list[Line] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    device_keys: list[DevicePublicKey] = field(default_factory=list)  # in order of use
    key_stores: list[str] = field(default_factory=list)
    counters: list[CounterValue] = field(default_factory=list)
    torn_bytes: int = 0
    # (seq -> chain hash) of every line, also unparseable ones: anchors name lines by it
    hashes: dict[int, str] = field(default_factory=dict)
    length: int = 0  # lines read, whole ones


class NotARegularFileError(OSError):
    """A symbolic link, FIFO, device or directory where a file is expected."""


def open_regular(path: Path) -> BinaryIO:
    """Open for reading without following a final symlink or blocking on a FIFO, and
    refuse anything but a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if os.path.islink(path):
            raise NotARegularFileError(f"{path.name} is a symbolic link (it may point anywhere); "
                                  "evidence files must be the files themselves") from exc
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotARegularFileError(f"{path.name} is not a regular file (a FIFO, device or "
                              "directory where a file belongs)")
    return os.fdopen(fd, "rb")


def _raw_lines(stream: BinaryIO) -> Iterator[tuple[bytes | None, str, int, bool]]:
    """(bytes or None when over the cap, SHA-256 hex, length, ends with newline)."""
    pending = b""
    digest = hashlib.sha256()
    length = 0
    oversized = False
    while block := stream.read(_READ_BLOCK):
        start = 0
        while (end := block.find(b"\n", start)) >= 0:
            piece = block[start:end]
            digest.update(piece)
            length += len(piece)
            if not oversized:
                pending += piece
            yield (None if oversized else pending), digest.hexdigest(), length, True
            pending, digest, length, oversized = b"", hashlib.sha256(), 0, False
            start = end + 1
        piece = block[start:]
        digest.update(piece)
        length += len(piece)
        if not oversized:
            pending += piece
            if len(pending) > MAX_LINE_BYTES:
                oversized, pending = True, b""
    if length:
        yield (None if oversized else pending), digest.hexdigest(), length, False


def _parse(raw: bytes) -> dict[str, Any] | None:
    """The record on a line, or None; hostile input (deep nesting) must not crash us."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _is_canonical(record: dict[str, Any], raw: bytes) -> bool:
    """Python's parser accepts NaN/Infinity, which canonical JSON cannot hold."""
    try:
        return canonical_json(record) == raw
    except (ValueError, RecursionError):
        return False


class _Signers:
    """Which device keys are trusted and which key signs the current line."""

    def __init__(self, name: str, pinned: Sequence[DevicePublicKey],
                 result: ChainResult) -> None:
        self._name = name
        self._pinned = tuple(pinned)
        self._result = result
        self.device: DevicePublicKey | None = None
        self.line_key: DevicePublicKey | None = None

    def certificate(self, number: int, seq: int | None, cert: object) -> None:
        try:
            device, session, counter = check_certificate(cert)
        except ValueError as exc:
            self._fail(number, seq, f"the signer certificate is invalid: {exc}")
            self.line_key = None
            return
        self.line_key = session
        if counter is not None:
            self._result.counters.append(CounterValue(number, counter, "certificate"))
        if isinstance(cert, dict):
            self._result.key_stores.append(str(cert.get("key_store")))
        self._use_device(number, seq, device)

    def legacy_first_line(self, number: int, seq: int | None, record: dict[str, Any]) -> None:
        """A log written before session keys: the Ed25519 device key (the only kind that
        firmware had) signs every line itself. Nothing newer may take this form, or a
        log could shed its counters and links by posing as an old one."""
        try:
            device = DevicePublicKey.from_raw(
                base64.b64decode(str(record.get(KEY_FIELD, "")), validate=True))
        except (binascii.Error, ValueError):
            self._fail(number, seq, f"the first record carries neither a signer "
                       f"certificate nor a valid '{KEY_FIELD}'")
            return
        if device.algorithm != "ed25519" or record.get("format") not in (None, LEGACY_FORMAT):
            self._fail(number, seq, "the first record has no signer certificate, which only "
                       f"logs of the old format ({LEGACY_FORMAT}, Ed25519 device keys) may "
                       "lack: a newer log posing as an old one")
            return
        self.line_key = device
        self._use_device(number, seq, device)

    def _use_device(self, number: int, seq: int | None, device: DevicePublicKey) -> None:
        previous = self.device
        if previous == device:
            return
        self.device = device
        self._result.device_keys.append(device)
        if previous is not None and previous.algorithm == "ecdsa-p256" and \
                device.algorithm != "ecdsa-p256":
            self._fail(number, seq, f"the device key changes from the TPM key "
                       f"{previous.fingerprint} to a key outside a TPM "
                       f"({device.fingerprint}): a downgrade; lines from here on lack the "
                       "TPM's word (a TPM that did not answer, or forged)")
        if self._pinned:
            if device not in self._pinned:
                pins = ", ".join(k.fingerprint for k in self._pinned)
                self._fail(number, seq, f"signed under device key {device.fingerprint}, not "
                           f"the pinned key {pins} (re-signed with another key, another "
                           "device, or a re-key the custodian has not registered)")
            elif previous is not None:
                self._result.notes.append(
                    f"{self._name} line {number}: the device key changed from "
                    f"{previous.fingerprint} to {device.fingerprint} (both pinned)")
        elif previous is not None:
            self._fail(number, seq, f"the device key changes from {previous.fingerprint} to "
                       f"{device.fingerprint} here (a re-key, or lines from another device); "
                       "the new key is not vouched for by the old one: verify with both "
                       "keys pinned if the custodian registered both")

    def _fail(self, number: int, seq: int | None, message: str) -> None:
        self._result.problems.append(Problem(self._name, message, number, seq))


def check_chain(path: Path, pinned: Sequence[DevicePublicKey] = (),
                on_line: Callable[[Line], None] | None = None, *,
                data: bytes | None = None) -> ChainResult:
    """Check every line of the log at `path`; raises OSError/NotARegularFileError only when the
    file cannot be opened at all (the caller reports that as a problem).

    `data`: the file's bytes as the caller already read them, checked instead of a second
    read that a writer could answer with other bytes (`path` then only names the file).
    """
    name = path.name
    result = ChainResult()
    signers = _Signers(name, pinned, result)
    prev, expected_seq = GENESIS_PREV, 0
    with io.BytesIO(data) if data is not None else open_regular(path) as stream:
        for number, (raw, digest, length, whole) in enumerate(_raw_lines(stream), start=1):
            if not whole:
                result.torn_bytes = length
                result.notes.append(f"{name}: the last line ({number}) is incomplete, "
                                    f"{length} bytes (power cut; repaired on the device's "
                                    "next start)")
                break
            result.length = number
            record = _parse(raw) if raw is not None else None
            if record is None:
                what = (f"{length} bytes long, more than any record the camera writes"
                        if raw is None else "not a JSON record")
                result.problems.append(Problem(name, f"{what} (altered or inserted bytes)",
                                               number))
                result.hashes[expected_seq] = digest
                prev, expected_seq = digest, expected_seq + 1
                continue
            assert raw is not None
            seq = record.get("seq")
            iseq = seq if type(seq) is int else None

            def fail(message: str, number: int = number, iseq: int | None = iseq) -> None:
                result.problems.append(Problem(name, message, number, iseq))

            if seq != expected_seq:
                fail(f"seq {seq} where {expected_seq} was expected (a line was dropped, "
                     "inserted or moved)")
            if record.get("prev") != prev:
                fail("hash chain broken: 'prev' is not the SHA-256 of the line before (a "
                     "line before it was altered, dropped, inserted or moved)")
            if not _is_canonical(record, raw):
                fail("not in canonical JSON form (the line was re-written)")
            if SIGNER_FIELD in record:
                signers.certificate(number, iseq, record[SIGNER_FIELD])
            elif number == 1:
                signers.legacy_first_line(number, iseq, record)
            if signers.line_key is None or not signature_ok(signers.line_key, record):
                fail("signature does not verify (the line was altered after signing, or "
                     "signed with another key)")
            _note_counter(result, name, number, record)
            line = Line(number, record, digest)
            result.lines.append(line)
            result.hashes[iseq if iseq is not None else expected_seq] = digest
            if on_line is not None:
                on_line(line)
            prev = digest
            expected_seq = (iseq if iseq is not None else expected_seq) + 1
    _check_counters_rise(name, result)
    return result


def signature_ok(key: DevicePublicKey, record: dict[str, Any]) -> bool:
    """Whether `key` signed `record` (its ``sig`` over the rest); never raises."""
    try:
        signature = base64.b64decode(str(record.get("sig", "")), validate=True)
        payload = signed_bytes(record)
    except (ValueError, RecursionError):
        return False
    return key.verify(signature, payload)


def _note_counter(result: ChainResult, name: str, number: int,
                  record: dict[str, Any]) -> None:
    event = record.get("event")
    if isinstance(event, str) and event in COUNTER_EVENTS and "counter" in record:
        value = record["counter"]
        if type(value) is int and value >= 0:
            result.counters.append(CounterValue(number, value, str(event)))
        elif value is not None:
            result.problems.append(Problem(name, f"counter {value!r} is not a whole number",
                                           number))


def _check_counters_rise(name: str, result: ChainResult) -> None:
    """Every value a counter hands out is larger than the one before: one going back means
    lines from another time (or another device) were put in."""
    last: CounterValue | None = None
    for value in result.counters:
        if last is not None and value.value <= last.value:
            result.problems.append(Problem(
                name, f"the key store's counter goes back from {last.value} (line "
                f"{last.line}) to {value.value}: lines from another time or device were "
                "put in, or the TPM's counter was reset", value.line))
        last = value

"""Verify a recording directory or a signed log, as the custodian (and export) needs it.

The checks run without any private key: signatures, the hash chain, seq continuity,
canonical form, record order, and every file the manifest names (existence, size,
SHA-256), plus files the manifest does *not* name. A report, not an exception, comes
back so the caller can show every problem with its file and line at once.

Without a pinned device key the key in the log's first record is trusted: that proves
the log is internally consistent, but someone who rewrites the whole log with their own
key is only caught when the custodian pins the key registered for the device.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bodycam.firmware.evidence.device_key import (
    fingerprint,
    parse_public_key,
    public_key_b64,
    verify_signature,
)
from bodycam.firmware.evidence.recovery import RECOVERED_REASON
from bodycam.firmware.evidence.salvage import sha256_file
from bodycam.firmware.evidence.segment_file import PARTIAL_SUFFIX
from bodycam.firmware.evidence.signed_log import (
    GENESIS_PREV,
    KEY_FIELD,
    TORN_TAIL_EVENT,
    canonical_json,
    line_hash,
    signed_bytes,
)
from bodycam.firmware.evidence.store import MANIFEST_NAME, RECORDING_ID_PATTERN, Event

__all__ = [
    "EXIT_FAILED",
    "EXIT_UNSEALED",
    "EXIT_USAGE",
    "EXIT_VERIFIED",
    "Problem",
    "VerifyReport",
    "verify_log",
    "verify_recording",
]

EXIT_VERIFIED: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_UNSEALED: Final = 3

Status = Literal["verified", "unsealed", "failed"]
GAP_SOURCES: Final = ("camera", "microphone")
_UNSEALED_NOTE: Final = (
    "the recording is not sealed, so it may be incomplete: a power cut before the device "
    "restarted looks exactly like an end that was cut off (the device's recovery seals it "
    "on its next start)")


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


@dataclass
class VerifyReport:
    path: Path
    kind: Literal["recording", "log"]
    key_pinned: bool
    key_fingerprint: str | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records: int = 0
    segments: int = 0
    sealed: bool = False
    seal_reason: str | None = None
    recording_id: str | None = None  # as signed in the header
    recovered: bool = False
    torn_bytes: int = 0  # after the last newline: a power cut, not yet repaired

    @property
    def torn(self) -> bool:
        """The last line is incomplete."""
        return self.torn_bytes > 0

    @property
    def status(self) -> Status:
        if self.problems:
            return "failed"
        if (self.kind == "recording" and not self.sealed) or self.torn:
            return "unsealed"
        return "verified"

    @property
    def exit_code(self) -> int:
        return {"verified": EXIT_VERIFIED, "unsealed": EXIT_UNSEALED,
                "failed": EXIT_FAILED}[self.status]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "kind": self.kind, "status": self.status,
            "exit_code": self.exit_code, "sealed": self.sealed,
            "seal_reason": self.seal_reason, "recovered": self.recovered,
            "recording_id": self.recording_id,
            "key_pinned": self.key_pinned, "device_key_fingerprint": self.key_fingerprint,
            "records": self.records, "segments": self.segments,
            "problems": [{"file": p.file, "line": p.line, "seq": p.seq, "message": p.message}
                         for p in self.problems],
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """Human-readable report, one fact per line."""
        state = {"verified": "VERIFIED", "unsealed": "NOT SEALED (no tampering found)",
                 "failed": "INTEGRITY FAILURE"}[self.status]
        lines = [f"{self.kind} {self.path}: {state}"]
        if self.recording_id is not None:
            lines.append(f"  recording id {self.recording_id} (signed)")
        if self.sealed:
            lines.append(f"  sealed: {self.seal_reason}"
                         + (" (with salvaged segments, see the recovery records)"
                            if self.recovered and self.seal_reason != RECOVERED_REASON
                            else ""))
        lines.append(f"  {self.records} records" + (f", {self.segments} segments"
                                                     if self.kind == "recording" else ""))
        if self.key_pinned:
            lines.append(f"  device key {self.key_fingerprint}: pinned")
        else:
            lines.append(f"  device key {self.key_fingerprint}: NOT pinned; the key in the "
                         "log itself was trusted, so a log re-signed with another key is "
                         "only detected with --device-key")
        lines += [f"  note: {note}" for note in self.notes]
        lines += [f"  PROBLEM: {problem}" for problem in self.problems]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Line:
    number: int
    record: dict[str, Any]

    @property
    def event(self) -> Any:
        return self.record.get("event")


def _new_report(path: Path, kind: Literal["recording", "log"],
                pinned: Ed25519PublicKey | None) -> VerifyReport:
    """A pinned key is named in the report even when no record could be read."""
    report = VerifyReport(path=path, kind=kind, key_pinned=pinned is not None)
    if pinned is not None:
        report.key_fingerprint = fingerprint(pinned)
    return report


def verify_log(path: Path, pinned_key: Ed25519PublicKey | None = None) -> VerifyReport:
    """Verify one signed log file, or every ``*.jsonl`` in a directory (each its own chain)."""
    report = _new_report(path, "log", pinned_key)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        report.problems.append(Problem(path.name, "no *.jsonl log file in this directory"))
    for log_file in files:
        report.records += len(_check_chain(log_file, pinned_key, report))
    return report


def verify_recording(path: Path, pinned_key: Ed25519PublicKey | None = None) -> VerifyReport:
    """Verify `evidence/<recording-id>/`: manifest chain, record order, every file."""
    directory = path.parent if path.name == MANIFEST_NAME else path
    report = _new_report(directory, "recording", pinned_key)
    manifest = directory / MANIFEST_NAME
    if not manifest.is_file():
        report.problems.append(Problem(MANIFEST_NAME, "missing: the recording cannot be "
                                       "verified without its signed manifest"))
        return report
    lines = _check_chain(manifest, pinned_key, report)
    report.records = len(lines)
    expected = _check_order(lines, directory, report)
    _check_files(directory, lines, expected, report)
    if report.sealed and report.torn:
        # Nothing is ever written after a seal, so these bytes cannot be a power cut.
        report.problems.append(Problem(MANIFEST_NAME, f"{report.torn_bytes} bytes after the "
                                       "seal (appended after the recording was sealed)"))
    elif not report.sealed and lines:
        report.notes.append(_UNSEALED_NOTE)
    return report


# ------------------------------------------------------------------------------ the chain


def _check_chain(path: Path, pinned: Ed25519PublicKey | None,
                 report: VerifyReport) -> list[_Line]:
    """Signatures, prev hashes, seq continuity and canonical form of every line."""
    name = path.name
    pieces = path.read_bytes().split(b"\n")
    if pieces[-1]:
        report.torn_bytes += len(pieces[-1])
        report.notes.append(f"{name}: the last line ({len(pieces)}) is incomplete, "
                            f"{len(pieces[-1])} bytes (power cut; repaired on the device's "
                            "next start)")
    key = pinned
    prev, expected_seq = GENESIS_PREV, 0
    lines: list[_Line] = []
    for number, raw in enumerate(pieces[:-1], start=1):
        record = _parse(raw)
        if record is None:
            report.problems.append(Problem(name, "not a JSON record (altered or inserted "
                                           "bytes)", number))
            prev = line_hash(raw)
            continue
        seq = record.get("seq")

        def fail(message: str, number: int = number, seq: Any = seq) -> None:
            report.problems.append(Problem(name, message, number,
                                           seq if isinstance(seq, int) else None))

        if seq != expected_seq:
            fail(f"seq {seq} where {expected_seq} was expected (a line was dropped, inserted "
                 "or moved)")
        if record.get("prev") != prev:
            fail("hash chain broken: 'prev' is not the SHA-256 of the line before (a line "
                 "before it was altered, dropped, inserted or moved)")
        if not _is_canonical(record, raw):
            fail("not in canonical JSON form (the line was re-written)")
        if number == 1:
            key = _chain_key(record, pinned, report, fail)
        if key is not None and not _signature_ok(key, record):
            fail("signature does not verify (the line was altered after signing, or signed "
                 "with another key)")
        if record.get("event") == TORN_TAIL_EVENT:
            _check_side_file(path.parent, _Line(number, record), report, name)
        prev = line_hash(raw)
        expected_seq = (seq if isinstance(seq, int) else expected_seq) + 1
        lines.append(_Line(number, record))
    return lines


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
    except ValueError:
        return False


def _chain_key(first: dict[str, Any], pinned: Ed25519PublicKey | None, report: VerifyReport,
               fail: Callable[[str], None]) -> Ed25519PublicKey | None:
    """The key to check signatures with: the pinned one, else the one the log names."""
    named: Ed25519PublicKey | None = None
    try:
        named = parse_public_key(str(first.get(KEY_FIELD, "")))
    except ValueError:
        fail(f"the first record carries no valid '{KEY_FIELD}'")
    if pinned is not None:
        report.key_fingerprint = fingerprint(pinned)
        if named is not None and public_key_b64(named) != public_key_b64(pinned):
            fail(f"the log names device key {fingerprint(named)}, not the pinned key "
                 f"{fingerprint(pinned)} (re-signed with another key, or another device)")
        return pinned
    report.key_fingerprint = fingerprint(named) if named else None
    return named


def _signature_ok(key: Ed25519PublicKey, record: dict[str, Any]) -> bool:
    try:
        signature = base64.b64decode(str(record.get("sig", "")), validate=True)
        payload = signed_bytes(record)
    except ValueError:
        return False
    return verify_signature(key, signature, payload)


# ------------------------------------------------------------------------------ order


_Fail = Callable[[_Line, str], None]


@dataclass(frozen=True)
class _Expected:
    file: str
    size: int
    sha256: str
    line: _Line


def _check_order(lines: list[_Line], directory: Path,
                 report: VerifyReport) -> dict[str, _Expected]:
    """Header first, seal last, segments 0..n-1 opened and closed in order."""

    def fail(line: _Line, message: str) -> None:
        report.problems.append(Problem(MANIFEST_NAME, message, line.number,
                                       line.record.get("seq")))

    expected: dict[str, _Expected] = {}
    if not lines or lines[0].event != Event.HEADER:
        if lines:
            fail(lines[0], f"the first record is {lines[0].event!r}, not the header")
        else:
            report.problems.append(Problem(MANIFEST_NAME, "the manifest holds no record"))
    else:
        _check_recording_id(lines[0], directory, report)
    opened: dict[int, _Line] = {}
    open_now: int | None = None
    last_start: int | None = None
    for line in lines:
        record, event = line.record, line.event
        if report.sealed:
            fail(line, "record after the seal (the recording was sealed)")
        if event == Event.HEADER and line is not lines[0]:
            fail(line, "a second header")
        elif event == Event.SEGMENT_OPEN:
            index = record.get("index")
            if not isinstance(index, int):
                fail(line, "segment_open record without an index")
                continue
            if open_now is not None:
                fail(line, f"segment {index} opened while segment {open_now} is still open")
            if index != len(opened):
                fail(line, f"segment {index} opened where segment {len(opened)} was expected "
                     "(segments reordered or missing)")
            start = record.get("media_start_us")
            if isinstance(start, int) and last_start is not None and start < last_start:
                fail(line, f"media time goes backwards ({start} µs after {last_start} µs)")
            last_start = start if isinstance(start, int) else last_start
            opened[index] = line
            open_now = index
        elif event == Event.MARKER:
            _check_marker(line, fail)
        elif event == Event.GAP:
            _check_gap(line, fail)
        elif event == Event.SEGMENT:
            _check_segment(line, opened, open_now, fail)
            open_now = None
            report.segments += 1
            _expect(expected, line, fail)
        elif event == Event.RECOVERY:
            report.recovered = True
            if record.get("index") == open_now:
                open_now = None
                if record.get("file"):
                    report.segments += 1  # the open segment, salvaged by recovery
            if record.get("file"):
                _expect(expected, line, fail)
        elif event == Event.SEAL:
            report.sealed = True
            report.seal_reason = str(record.get("reason"))
            if open_now is not None:
                fail(line, f"sealed while segment {open_now} was open and never closed")
            if record.get("segments") != len(opened):
                fail(line, f"the seal counts {record.get('segments')} segments but "
                     f"{len(opened)} were opened")
    report.recovered = report.recovered or report.seal_reason == RECOVERED_REASON
    if open_now is not None and not report.sealed:
        report.notes.append(f"segment {open_now} is open (being recorded, or power was lost "
                            "and the device has not restarted yet)")
    return expected


def _check_recording_id(header: _Line, directory: Path, report: VerifyReport) -> None:
    """The directory must hold the recording it is named after.

    Another recording of the same device verifies on its own (same key), so putting it
    in the place of the wanted one is caught only here. A name that is not a recording
    id (a custodian's case folder) is allowed, with a note.
    """
    signed = header.record.get("recording_id")
    report.recording_id = str(signed)
    if signed == directory.name:
        return
    if RECORDING_ID_PATTERN.fullmatch(directory.name):
        report.problems.append(Problem(
            MANIFEST_NAME, f"the manifest is signed for recording {signed}, but the "
            f"directory is {directory.name} (another recording put in its place?)",
            header.number, header.record.get("seq")))
    else:
        report.notes.append(f"directory name {directory.name!r} is not the recording id "
                            f"{signed!r} (renamed copy?)")


def _is_media_time(value: Any) -> bool:
    return type(value) is int and value >= 0


def _check_marker(line: _Line, fail: _Fail) -> None:
    media_us = line.record.get("media_us")
    if not _is_media_time(media_us):
        fail(line, f"marker at {media_us!r} µs is not a media time (a whole number of "
             "microseconds from the recording's start)")


def _check_gap(line: _Line, fail: _Fail) -> None:
    record = line.record
    source, start, end = record.get("source"), record.get("start_us"), record.get("end_us")
    if source not in GAP_SOURCES:
        fail(line, f"gap source {source!r} is not one of {', '.join(GAP_SOURCES)}")
    if not _is_media_time(start) or not (end is None or _is_media_time(end)):
        fail(line, f"gap from {start!r} µs to {end!r} µs: not media times")
    elif end is not None and end < start:
        fail(line, f"gap from {start} µs to {end} µs ends before it starts")


def _check_segment(line: _Line, opened: dict[int, _Line], open_now: int | None,
                   fail: _Fail) -> None:
    record = line.record
    index = record.get("index")
    if index != open_now or index not in opened:
        fail(line, f"segment {index} closed but segment {open_now} is the open one "
             "(segments reordered, or a record was dropped)")
        return
    start_record = opened[index].record
    for key in ("file", "media_start_us"):
        if record.get(key) != start_record.get(key):
            fail(line, f"{key} {record.get(key)!r} differs from its opening record "
                 f"({start_record.get(key)!r})")
    start, end = record.get("media_start_us"), record.get("media_end_us")
    if not (isinstance(start, int) and isinstance(end, int) and end >= start):
        fail(line, f"media end {end} µs is before the start {start} µs")


def _expect(expected: dict[str, _Expected], line: _Line, fail: _Fail) -> None:
    record = line.record
    name, size, digest = record.get("file"), record.get("size"), record.get("sha256")
    if not (isinstance(name, str) and isinstance(size, int) and isinstance(digest, str)):
        fail(line, "the record lacks file, size or sha256")
        return
    if name in expected or "/" in name or name in ("", ".", ".."):
        fail(line, f"file name {name!r} is invalid or listed twice")
        return
    expected[name] = _Expected(name, size, digest, line)


# ------------------------------------------------------------------------------ files


def _check_files(directory: Path, lines: list[_Line], expected: dict[str, _Expected],
                 report: VerifyReport) -> None:
    for item in expected.values():
        _check_file(directory, item, report, MANIFEST_NAME)
    side_files = {str(line.record.get("file")) for line in lines
                  if line.event == TORN_TAIL_EVENT}
    # Opened but neither closed nor recovered: the segment being written, as .partial,
    # or already renamed when power was lost before its record was written (the device
    # renames first, so a final name never means an incomplete file).
    unclosed = {str(line.record.get("file")) for line in lines
                if line.event == Event.SEGMENT_OPEN} - set(expected)
    for path in sorted(directory.iterdir()):
        name = path.name
        if name == MANIFEST_NAME or name in expected or name in side_files:
            continue
        if not report.sealed and name.removesuffix(PARTIAL_SUFFIX) in unclosed:
            report.notes.append(
                f"{name}: the open segment (not verifiable until closed)"
                if name.endswith(PARTIAL_SUFFIX) else
                f"{name}: the open segment, complete and renamed, but power was lost before "
                "its record was written (not verifiable until the device's next start "
                "records it)")
            continue
        report.problems.append(Problem(name, "not listed in the manifest (inserted, or its "
                                       "manifest record was removed)"))


def _check_side_file(directory: Path, line: _Line, report: VerifyReport, log_name: str) -> None:
    record = line.record
    name, size, digest = record.get("file"), record.get("bytes"), record.get("sha256")
    if isinstance(name, str) and isinstance(size, int) and isinstance(digest, str) \
            and "/" not in name:
        report.notes.append(f"{log_name} line {line.number}: a power cut tore a line; its "
                            f"{size} bytes are kept in {name}")
        _check_file(directory, _Expected(name, size, digest, line), report, log_name)
    else:
        report.problems.append(Problem(log_name, "torn-tail record lacks file, bytes or sha256",
                                       line.number, record.get("seq")))


def _check_file(directory: Path, item: _Expected, report: VerifyReport, log_name: str) -> None:
    path = directory / item.file
    listed = f"listed at {log_name} line {item.line.number}"
    if not path.is_file():
        report.problems.append(Problem(item.file, f"missing ({listed})"))
        return
    size = path.stat().st_size
    if size != item.size:
        report.problems.append(Problem(item.file, f"{size} bytes, but {item.size} are "
                                       f"{listed} (truncated or extended)"))
        return
    if sha256_file(path) != item.sha256:
        report.problems.append(Problem(item.file, f"SHA-256 differs from the one {listed} "
                                       "(content altered, or files swapped)"))


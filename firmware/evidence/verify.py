"""Verify a recording directory or a signed log, as the custodian (and export) needs it.

The checks run without any private key: signatures and certificates, the hash chain, seq
continuity, canonical form and counters (verify_chain.py), record order, and every file
the manifest names (existence, size, SHA-256), plus files the manifest does *not* name.
A report, not an exception, comes back so the caller can show every problem with its
file and line at once. Checking an audit log together with the recordings it names is
verify_links.py.

Without a pinned device key the key in the log's first record is trusted: that proves
the log is internally consistent, but someone who rewrites the whole log with their own
key is only caught when the custodian pins the key registered for the device.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.salvage import TRUNCATED_SUFFIX, preamble_sha256, segment_index
from bodycam.firmware.evidence.segment_file import PARTIAL_SUFFIX
from bodycam.firmware.evidence.signed_log import TORN_TAIL_EVENT
from bodycam.firmware.evidence.store import (
    MANIFEST_NAME,
    RECORDING_ID_PATTERN,
    RECOVERED_REASON,
    Event,
)
from bodycam.firmware.evidence.verify_chain import (
    ChainResult,
    CounterValue,
    Line,
    NotARegularFileError,
    Problem,
    check_chain,
    open_regular,
)
from bodycam.firmware.evidence.verify_offloaded import RECEIPT_NAME, offloaded_files

__all__ = [
    "EXIT_FAILED",
    "EXIT_UNSEALED",
    "EXIT_USAGE",
    "EXIT_VERIFIED",
    "UNSEALED_NOTE",
    "CounterGap",
    "ManifestFile",
    "Problem",
    "VerifyReport",
    "verify_log",
    "verify_manifest",
    "verify_recording",
]

EXIT_VERIFIED: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_UNSEALED: Final = 3

Status = Literal["verified", "unsealed", "failed"]
GAP_SOURCES: Final = ("camera", "microphone")
UNSEALED_NOTE: Final = (
    "the recording is not sealed, so it may be incomplete: a power cut before the device "
    "restarted looks exactly like an end that was cut off (the device's recovery seals it "
    "on its next start)")
_HASH_BLOCK: Final = 1024 * 1024


@dataclass(frozen=True)
class CounterGap:
    """Counter values missing between two records of an audit log (see verify_log)."""

    line: int
    after: int
    next: int
    problem: Problem

    @property
    def missing(self) -> range:
        return range(self.after + 1, self.next)


Kind = Literal["recording", "log", "links"]


@dataclass
class VerifyReport:
    path: Path
    kind: Kind
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
    offloaded: bool = False  # segments removed after a matching receipt (verify_offloaded)
    torn_bytes: int = 0  # after the last newline: a power cut, not yet repaired
    device_keys: list[str] = field(default_factory=list)  # fingerprints, in order of use
    key_stores: list[str] = field(default_factory=list)  # "software"/"tpm" per certificate
    counters: list[CounterValue] = field(default_factory=list)
    counter_gaps: list[CounterGap] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)  # fingerprints, from the header
    directory_name: str | None = None  # a recording's directory name, as the user knows it
    # The records and chain hashes (seq -> hash per file), for checks across logs
    # (verify_links.py, anchor.py). An audit directory can hold a live log and logs set
    # aside as damaged: each is its own chain.
    lines: list[Line] = field(default_factory=list, repr=False)
    chains: dict[str, dict[int, str]] = field(default_factory=dict, repr=False)

    @property
    def hashes(self) -> dict[int, str]:
        """The chain of the live log (audit.jsonl, a manifest, or the only one)."""
        for name in ("audit.jsonl", MANIFEST_NAME):
            if name in self.chains:
                return self.chains[name]
        return next(iter(self.chains.values()), {})

    def holds(self, seq: int, digest: str) -> bool:
        """Some chain of this report has line `seq` with this hash."""
        return any(chain.get(seq) == digest for chain in self.chains.values())

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
            "offloaded": self.offloaded,
            "recording_id": self.recording_id,
            "key_pinned": self.key_pinned, "device_key_fingerprint": self.key_fingerprint,
            "device_keys": list(self.device_keys), "key_stores": sorted(set(self.key_stores)),
            "last_counter": self.counters[-1].value if self.counters else None,
            "records": self.records, "segments": self.segments,
            "recipients": list(self.recipients),
            "problems": [{"file": p.file, "line": p.line, "seq": p.seq, "message": p.message}
                         for p in self.problems],
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """Human-readable report, one fact per line."""
        state = {"verified": "VERIFIED", "unsealed": "NOT SEALED (no tampering found)",
                 "failed": "INTEGRITY FAILURE"}[self.status]
        label = "audit log and recordings, each against the other:" if self.kind == "links" \
            else f"{self.kind} {self.path}:"
        lines = [f"{label} {state}"]
        if self.recording_id is not None:
            lines.append(f"  recording id {self.recording_id} (signed)")
        if self.sealed:
            lines.append(f"  sealed: {self.seal_reason}"
                         + (" (with salvaged segments, see the recovery records)"
                            if self.recovered and self.seal_reason != RECOVERED_REASON
                            else ""))
        if self.kind == "links":
            lines.append(f"  audit log ({self.records} records) checked against "
                         f"{self.segments} recording(s)")
        else:
            lines.append(f"  {self.records} records" + (f", {self.segments} segments"
                                                         if self.kind == "recording" else ""))
        if self.recipients:
            lines.append(f"  encrypted to recipients {', '.join(self.recipients)} (signed in "
                         "the header; check with --expect-recipient)")
        keys = ", ".join(self.device_keys) or self.key_fingerprint
        stores = sorted(set(self.key_stores))
        # the evidence server's audit log export: signed by the server key (server/audit)
        whose = "server key" if stores == ["server"] else "device key"
        if self.key_pinned:
            lines.append(f"  {whose} {keys}: pinned")
        else:
            lines.append(f"  {whose} {keys}: NOT pinned; the key in the "
                         "log itself was trusted, so a log re-signed with another key is "
                         "only detected with --device-key")
        if stores and whose == "device key":
            lines.append(f"  key store: {', '.join(stores)}"
                         + ("" if "tpm" in stores else " (no hardware counter: a log cut "
                            "back on the card is caught only against an outside anchor)"))
        lines += [f"  note: {note}" for note in self.notes]
        lines += [f"  PROBLEM: {problem}" for problem in self.problems]
        return "\n".join(lines)

    def absorb(self, chain: ChainResult, name: str) -> None:
        """Take over what the chain check of the file `name` found."""
        self.problems += chain.problems
        self.notes += chain.notes
        self.torn_bytes += chain.torn_bytes
        self.counters += chain.counters
        self.key_stores += chain.key_stores
        for key in chain.device_keys:
            if key.fingerprint not in self.device_keys:
                self.device_keys.append(key.fingerprint)
        if self.key_fingerprint is None and self.device_keys:
            self.key_fingerprint = self.device_keys[0]
        self.lines += chain.lines
        self.chains[name] = chain.hashes


def _new_report(path: Path, kind: Kind,
                pinned: Sequence[DevicePublicKey]) -> VerifyReport:
    """A pinned key is named in the report even when no record could be read."""
    report = VerifyReport(path=path, kind=kind, key_pinned=bool(pinned))
    if pinned:
        report.key_fingerprint = pinned[0].fingerprint
    return report


def _chain(path: Path, pinned: Sequence[DevicePublicKey], report: VerifyReport,
           data: bytes | None = None) -> ChainResult:
    """The chain check, with a file that cannot be read reported as the problem it is."""
    try:
        chain = check_chain(path, pinned, data=data)
    except OSError as exc:
        why = str(exc) if isinstance(exc, NotARegularFileError) else \
            f"cannot be read ({exc.strerror or exc})"
        report.problems.append(Problem(path.name, why))
        return ChainResult()
    report.absorb(chain, path.name)
    return chain


def verify_log(path: Path, pinned: Sequence[DevicePublicKey] = ()) -> VerifyReport:
    """Verify one signed log file, or every ``*.jsonl`` in a directory (each its own chain).

    An audit log's counter values must follow each other without a gap (each boot and
    each seal takes the next one); a gap is a problem here, which the check together with
    the recordings (verify_links.py) can explain by a seal whose audit record a power cut
    lost.
    """
    report = _new_report(path, "log", pinned)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        report.problems.append(Problem(path.name, "no *.jsonl log file in this directory"))
    for log_file in files:
        chain = _chain(log_file, pinned, report)
        report.records += len(chain.lines)
        for line in chain.lines:
            if line.event == TORN_TAIL_EVENT:
                _check_side_file(log_file.parent, line, report, log_file.name)
        _find_counter_gaps(log_file.name, chain, report)
    return report


def _find_counter_gaps(name: str, chain: ChainResult, report: VerifyReport) -> None:
    for before, after in zip(chain.counters, chain.counters[1:], strict=False):
        if after.value > before.value + 1:
            missing = after.value - before.value - 1
            problem = Problem(name, f"the key store's counter jumps from {before.value} (line "
                              f"{before.line}) to {after.value}: {missing} boot(s) or seal(s) "
                              "are not in this log: records removed or the log rolled back, "
                              "or (rarely) power lost in the instant between taking a value "
                              "and writing its record; verify together with the recordings "
                              "to find seals that explain it", after.line)
            report.problems.append(problem)
            report.counter_gaps.append(CounterGap(after.line, before.value, after.value,
                                                  problem))


def verify_recording(path: Path, pinned: Sequence[DevicePublicKey] = (), *,
                     name: str | None = None,
                     manifest_bytes: bytes | None = None,
                     server_key: str | None = None) -> VerifyReport:
    """Verify `evidence/<recording-id>/`: manifest chain, record order, every file.

    `name`: the directory's name when `path` reaches it another way (export passes
    /proc/self/fd/N, the directory it holds open, so what is verified is what it reads).
    `manifest_bytes`: the manifest as the caller (export) read it, verified instead of
    the file, which a writer could change between the caller's read and verify's.
    `server_key`: the evidence server's key (base64) a receipt.json must be signed by
    (verify_offloaded.py); None trusts the key the receipt names.
    """
    directory = path.parent if path.name == MANIFEST_NAME else path
    report = _new_report(directory, "recording", pinned)
    report.directory_name = name or directory.name
    manifest = directory / MANIFEST_NAME
    if manifest_bytes is None and not os.path.lexists(manifest):
        report.problems.append(Problem(MANIFEST_NAME, "missing: the recording cannot be "
                                       "verified without its signed manifest"))
        return report
    chain = _chain(manifest, pinned, report, manifest_bytes)
    lines = chain.lines
    report.records = len(lines)
    expected = _check_order(lines, report)
    offloaded = offloaded_files(directory, lines, report, server_key)
    _check_files(directory, lines, expected, report, offloaded)
    _check_end(lines, report)
    return report


@dataclass(frozen=True)
class ManifestFile:
    """A file a manifest names, with the size and SHA-256 it signed."""

    name: str
    size: int
    sha256: str


def verify_manifest(manifest_bytes: bytes, pinned: Sequence[DevicePublicKey], *,
                    recording_id: str) -> tuple[VerifyReport, list[ManifestFile]]:
    """Verify a manifest's bytes alone, before any of its files exist (the evidence
    server, when a camera sends it): chain, signatures under `pinned`, record order, the
    signed recording id against `recording_id`. Returns the report and every file the
    manifest names (segments, salvaged segments, torn-line side files) as signed; the
    caller checks each file against these when it arrives."""
    directory = Path(recording_id)
    report = _new_report(directory, "recording", pinned)
    report.directory_name = recording_id
    lines = _chain(directory / MANIFEST_NAME, pinned, report, manifest_bytes).lines
    report.records = len(lines)
    named = list(_check_order(lines, report).values())
    named += [item for line in lines if line.event == TORN_TAIL_EVENT
              if (item := _side_file(line, report, MANIFEST_NAME)) is not None]
    _check_end(lines, report)
    return report, [ManifestFile(item.file, item.size, item.sha256) for item in named]


def _check_end(lines: list[Line], report: VerifyReport) -> None:
    if report.sealed and report.torn:
        # Nothing is ever written after a seal, so these bytes cannot be a power cut.
        report.problems.append(Problem(MANIFEST_NAME, f"{report.torn_bytes} bytes after the "
                                       "seal (appended after the recording was sealed)"))
    elif not report.sealed and lines:
        report.notes.append(UNSEALED_NOTE)


# ------------------------------------------------------------------------------ order


@dataclass(frozen=True)
class _Expected:
    file: str
    size: int
    sha256: str
    line: Line


class _Order:
    """Header first, seal last, segments 0..n-1 opened and closed in order."""

    def __init__(self, report: VerifyReport) -> None:
        self.report = report
        self.expected: dict[str, _Expected] = {}
        self.opened: dict[int, Line] = {}
        self.open_now: int | None = None
        self.last_start: int | None = None

    def fail(self, line: Line, message: str) -> None:
        seq = line.record.get("seq")
        self.report.problems.append(Problem(MANIFEST_NAME, message, line.number,
                                            seq if type(seq) is int else None))

    def segment_open(self, line: Line) -> None:
        record = line.record
        index = record.get("index")
        if type(index) is not int:
            self.fail(line, "segment_open record without an index")
            return
        if self.open_now is not None:
            self.fail(line, f"segment {index} opened while segment {self.open_now} is still "
                      "open")
        if index != len(self.opened):
            self.fail(line, f"segment {index} opened where segment {len(self.opened)} was "
                      "expected (segments reordered or missing)")
        start = record.get("media_start_us")
        if isinstance(start, int) and self.last_start is not None and start < self.last_start:
            self.fail(line, f"media time goes backwards ({start} µs after {self.last_start} µs)")
        self.last_start = start if isinstance(start, int) else self.last_start
        self.opened[index] = line
        self.open_now = index

    def segment(self, line: Line) -> None:
        record = line.record
        index = record.get("index")
        if index != self.open_now or index not in self.opened:
            self.fail(line, f"segment {index} closed but segment {self.open_now} is the open "
                      "one (segments reordered, or a record was dropped)")
        else:
            start_record = self.opened[index].record
            for key in ("file", "media_start_us"):
                if record.get(key) != start_record.get(key):
                    self.fail(line, f"{key} {record.get(key)!r} differs from its opening "
                              f"record ({start_record.get(key)!r})")
            start, end = record.get("media_start_us"), record.get("media_end_us")
            if not (isinstance(start, int) and isinstance(end, int) and end >= start):
                self.fail(line, f"media end {end} µs is before the start {start} µs")
        self.open_now = None
        self.report.segments += 1
        self.expect(line)

    def recovery(self, line: Line) -> None:
        """A salvaged segment: only ever one the manifest opened (H1: a file recovery
        "found" for an index nobody opened was put there from elsewhere)."""
        record = line.record
        self.report.recovered = True
        index = record.get("index")
        if type(index) is not int or index not in self.opened:
            self.fail(line, f"recovery record for segment {index!r}, which was never opened "
                      "(a file from elsewhere spliced in?)")
        if index == self.open_now:
            self.open_now = None
            if record.get("file"):
                self.report.segments += 1  # the open segment, salvaged by recovery
        if record.get("file"):
            self.expect(line)

    def seal(self, line: Line) -> None:
        record = line.record
        self.report.sealed = True
        self.report.seal_reason = str(record.get("reason"))
        if self.open_now is not None:
            self.fail(line, f"sealed while segment {self.open_now} was open and never closed")
        if record.get("segments") != len(self.opened):
            self.fail(line, f"the seal counts {record.get('segments')} segments but "
                      f"{len(self.opened)} were opened")

    def expect(self, line: Line) -> None:
        record = line.record
        name, size, digest = record.get("file"), record.get("size"), record.get("sha256")
        if not (isinstance(name, str) and isinstance(size, int) and isinstance(digest, str)):
            self.fail(line, "the record lacks file, size or sha256")
            return
        if name in self.expected or "/" in name or name in ("", ".", ".."):
            self.fail(line, f"file name {name!r} is invalid or listed twice")
            return
        self.expected[name] = _Expected(name, size, digest, line)


def _check_order(lines: list[Line], report: VerifyReport) -> dict[str, _Expected]:
    order = _Order(report)
    if not lines or lines[0].event != Event.HEADER:
        if lines:
            order.fail(lines[0], f"the first record is {lines[0].event!r}, not the header")
        else:
            report.problems.append(Problem(MANIFEST_NAME, "the manifest holds no record"))
    else:
        _check_recording_id(lines[0], report)
    for line in lines:
        event = line.event
        if report.sealed:
            order.fail(line, "record after the seal (the recording was sealed)")
        if event == Event.HEADER and line is not lines[0]:
            order.fail(line, "a second header")
        elif event == Event.SEGMENT_OPEN:
            order.segment_open(line)
        elif event == Event.MARKER:
            _check_marker(line, order)
        elif event == Event.GAP:
            _check_gap(line, order)
        elif event == Event.SEGMENT:
            order.segment(line)
        elif event == Event.RECOVERY:
            order.recovery(line)
        elif event == Event.SEAL:
            order.seal(line)
    report.recovered = report.recovered or report.seal_reason == RECOVERED_REASON
    if order.open_now is not None and not report.sealed:
        report.notes.append(f"segment {order.open_now} is open (being recorded, or power was "
                            "lost and the device has not restarted yet)")
    return order.expected


def _check_recording_id(header: Line, report: VerifyReport) -> None:
    """The directory must hold the recording it is named after.

    Another recording of the same device verifies on its own (same key), so putting it
    in the place of the wanted one is caught only here. A name that is not a recording
    id (a custodian's case folder) is allowed, with a note.
    """
    signed = header.record.get("recording_id")
    report.recording_id = str(signed)
    name = report.directory_name or report.path.name
    recipients = header.record.get("recipients")
    if isinstance(recipients, list):
        report.recipients = [str(r) for r in recipients]
    if signed == name:
        return
    if RECORDING_ID_PATTERN.fullmatch(name):
        report.problems.append(Problem(
            MANIFEST_NAME, f"the manifest is signed for recording {signed}, but the "
            f"directory is {name} (another recording put in its place?)",
            header.number, header.record.get("seq")))
    else:
        report.notes.append(f"directory name {name!r} is not the recording id "
                            f"{signed!r} (renamed copy?)")


def _is_media_time(value: Any) -> bool:
    return type(value) is int and value >= 0


def _check_marker(line: Line, order: _Order) -> None:
    media_us = line.record.get("media_us")
    if not _is_media_time(media_us):
        order.fail(line, f"marker at {media_us!r} µs is not a media time (a whole number of "
                   "microseconds from the recording's start)")


def _check_gap(line: Line, order: _Order) -> None:
    record = line.record
    source, start, end = record.get("source"), record.get("start_us"), record.get("end_us")
    if source not in GAP_SOURCES:
        order.fail(line, f"gap source {source!r} is not one of {', '.join(GAP_SOURCES)}")
    if not _is_media_time(start) or not (end is None or _is_media_time(end)):
        order.fail(line, f"gap from {start!r} µs to {end!r} µs: not media times")
    elif end is not None and end < start:
        order.fail(line, f"gap from {start} µs to {end} µs ends before it starts")


# ------------------------------------------------------------------------------ files


def _check_files(directory: Path, lines: list[Line], expected: dict[str, _Expected],
                 report: VerifyReport, offloaded: frozenset[str] = frozenset()) -> None:
    """`offloaded`: segment files a matching receipt covers (verify_offloaded.py): their
    absence is no problem; a copy still there is checked like any other."""
    preambles = {line.index: line.record.get("preamble_sha256")
                 for line in lines if line.event == Event.SEGMENT_OPEN}
    for item in expected.values():
        if item.file in offloaded and not os.path.lexists(directory / item.file):
            continue
        _check_file(directory, item, report, MANIFEST_NAME)
        if item.line.event == Event.RECOVERY:  # salvaged: is it the file that was opened?
            _check_preamble(directory / item.file, preambles.get(item.line.index), report)
    side_files = {str(line.record.get("file")) for line in lines
                  if line.event == TORN_TAIL_EVENT}
    for line in lines:
        if line.event == TORN_TAIL_EVENT:
            _check_side_file(directory, line, report, MANIFEST_NAME)
    # Opened but neither closed nor recovered: the segment being written, as .partial,
    # already renamed when power was lost before its record was written (the device
    # renames first, so a final name never means an incomplete file), or renamed
    # .truncated.age by a recovery that power cut short.
    done = {line.index for line in lines if line.event in (Event.SEGMENT, Event.RECOVERY)}
    opened = {line.index for line in lines if line.event == Event.SEGMENT_OPEN}
    unclosed = opened - done
    for path in sorted(directory.iterdir()):
        name = path.name
        if name == MANIFEST_NAME or name in expected or name in side_files or \
                (report.sealed and name == RECEIPT_NAME):  # judged by verify_offloaded
            continue
        if not report.sealed and _is_pending_side_file(name, len(lines)) and _is_regular(path):
            report.notes.append(f"{name}: bytes of a torn line a repair kept aside before "
                                "power was lost again (recorded at the device's next start)")
            continue
        if not report.sealed and segment_index(name) in unclosed and _is_regular(path):
            _check_preamble(path, preambles.get(segment_index(name)), report)
            report.notes.append(
                f"{name}: the open segment (not verifiable until closed)"
                if name.endswith(PARTIAL_SUFFIX) else
                f"{name}: the open segment, cut short by a power cut; a recovery that was "
                "itself interrupted renamed it (recorded at the device's next start)"
                if name.endswith(TRUNCATED_SUFFIX) else
                f"{name}: the open segment, complete and renamed, but power was lost before "
                "its record was written (not verifiable until the device's next start "
                "records it)")
            continue
        index = segment_index(name)
        if index is not None and index not in opened:
            report.problems.append(Problem(name, f"a segment file for index {index}, which "
                                           "the manifest never opened (spliced in from "
                                           "elsewhere?)"))
            continue
        report.problems.append(Problem(name, "not listed in the manifest (inserted, or its "
                                       "manifest record was removed)"))


def _check_preamble(path: Path, signed: object, report: VerifyReport) -> None:
    """A segment the camera did not close (salvaged, or still open) has no signed hash of
    its own; its first bytes must still be the age header and nonce the camera signed
    when it opened it, or the file was put there in its place (docs/formats.md)."""
    if not isinstance(signed, str):
        return  # made before segment_open signed the preamble
    try:
        with open_regular(path) as stream:
            found = preamble_sha256(stream)
    except OSError:
        return  # reported with the file's other checks
    if found is None:  # a power cut inside the header: nothing of the file decrypts
        report.notes.append(f"{path.name}: not even its age header reached the card; "
                            "nothing of it decrypts")
    elif found != signed:
        report.problems.append(Problem(path.name, "its age header is not the one the camera "
                                       "signed when it opened this segment (a file put in "
                                       "the segment's place)"))


def _is_pending_side_file(name: str, next_seq: int) -> bool:
    """A torn-tail side file for the manifest's next line (signed_log.py names them),
    left by a repair a power cut interrupted before its record."""
    return re.fullmatch(rf"{re.escape(MANIFEST_NAME)}\.torn-{next_seq}(\.\d+)?", name) is not None


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _side_file(line: Line, report: VerifyReport, log_name: str) -> _Expected | None:
    """The side file a torn-tail record names, or None (reported) when it names none."""
    record = line.record
    name, size, digest = record.get("file"), record.get("bytes"), record.get("sha256")
    if isinstance(name, str) and isinstance(size, int) and isinstance(digest, str) \
            and "/" not in name and name not in ("", ".", ".."):
        return _Expected(name, size, digest, line)
    report.problems.append(Problem(log_name, "torn-tail record lacks file, bytes or sha256",
                                   line.number, record.get("seq")))
    return None


def _check_side_file(directory: Path, line: Line, report: VerifyReport, log_name: str) -> None:
    item = _side_file(line, report, log_name)
    if item is not None:
        report.notes.append(f"{log_name} line {line.number}: a power cut tore a line; its "
                            f"{item.size} bytes are kept in {item.file}")
        _check_file(directory, item, report, log_name)


def _check_file(directory: Path, item: _Expected, report: VerifyReport, log_name: str) -> None:
    listed = f"listed at {log_name} line {item.line.number}"
    try:
        stream = open_regular(directory / item.file)
    except FileNotFoundError:
        report.problems.append(Problem(item.file, f"missing ({listed})"))
        return
    except OSError as exc:
        report.problems.append(Problem(item.file, f"{exc} ({listed})"))
        return
    with stream:
        size = os.fstat(stream.fileno()).st_size
        if size != item.size:
            report.problems.append(Problem(item.file, f"{size} bytes, but {item.size} are "
                                           f"{listed} (truncated or extended)"))
            return
        digest = hashlib.sha256()
        while block := stream.read(_HASH_BLOCK):
            digest.update(block)
    if digest.hexdigest() != item.sha256:
        report.problems.append(Problem(item.file, f"SHA-256 differs from the one {listed} "
                                       "(content altered, or files swapped)"))

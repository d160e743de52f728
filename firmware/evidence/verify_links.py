"""Check an audit log and the recordings together: what one chain says of the other.

Each chain verifies on its own, so whoever holds the card could drop a whole recording,
or cut a sealed recording back and the audit log with it, and every file left would
still verify. The chains name each other, which is what this checks:

- every recording the audit log names must be there (it was deleted otherwise);
- every seal the audit log records (manifest seq and line hash) must be in that
  recording's manifest (the manifest was cut back or replaced otherwise);
- every recording's header names the audit log's head when it began (seq and hash):
  the audit log must hold that very line (it was cut back or rewritten otherwise);
- a recording the audit log does not name at all came from elsewhere;
- the key store's counter (TPM): a value missing from the audit log is explained only
  by a manifest's seal that holds it (a power cut lost its audit record); else a boot or
  seal was removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from bodycam.firmware.evidence.store import Event
from bodycam.firmware.evidence.verify import VerifyReport
from bodycam.firmware.evidence.verify_chain import Line, Problem

__all__ = ["audit_file", "check_links", "check_recipients"]

# Audit events that name a recording, and the ones after which it need not exist.
_GONE_ON_PURPOSE: Final = frozenset({"recording_abandoned", "recovery_refused"})


def check_links(audit: VerifyReport, recordings: Sequence[VerifyReport]) -> VerifyReport:
    """A report of kind "links" on what the audit log and the recordings say of each other."""
    report = VerifyReport(path=audit.path, kind="links", key_pinned=audit.key_pinned,
                          key_fingerprint=audit.key_fingerprint)
    name = audit.path.name
    given = {r.recording_id: r for r in recordings if r.recording_id is not None}
    named = _named_recordings(audit.lines)
    for recording_id, lines in named.items():
        if recording_id in given:
            continue
        events = {line.event for line in lines}
        if events <= _GONE_ON_PURPOSE:
            what = "was quarantined by recovery" if "recovery_refused" in events else \
                "never got past its start (power cut)"
            report.notes.append(f"{recording_id} {what} (audit line {lines[0].number})")
            continue
        report.problems.append(Problem(name, f"recording {recording_id} is named here but "
                                       "is not among the recordings given (deleted?)",
                                       lines[0].number))
    for recording_id, recording in given.items():
        _check_seals(name, named.get(recording_id, []), recording, report)
        _check_anchor(name, audit, recording, report)
        if recording_id not in named:
            report.problems.append(Problem(
                recording.path.name, f"recording {recording_id} is not named in the audit "
                "log (made by another device, or its audit records were removed)"))
    _explain_counter_gaps(audit, recordings, report)
    report.records = len(audit.lines)
    report.segments = len(given)
    return report


def _named_recordings(lines: Sequence[Line]) -> dict[str, list[Line]]:
    named: dict[str, list[Line]] = {}
    for line in lines:
        recording_id = line.record.get("recording_id")
        if isinstance(recording_id, str) and line.event != "alarm":
            named.setdefault(recording_id, []).append(line)
    return named


def _check_seals(name: str, lines: Sequence[Line], recording: VerifyReport,
                 report: VerifyReport) -> None:
    for line in lines:
        record = line.record
        sealed = (line.event == "recording_sealed" and record.get("sealed", True)) or \
            line.event == "recovery"
        seq, digest = record.get("manifest_seq"), record.get("manifest_hash")
        if not sealed or type(seq) is not int or not isinstance(digest, str):
            continue
        found = recording.hashes.get(seq)
        if found == digest:
            continue
        what = "lacks that line (cut back)" if found is None else \
            "has another line there (rewritten or replaced)"
        report.problems.append(Problem(
            name, f"the audit log knows the seal of {recording.recording_id} as manifest "
            f"seq {seq} ({digest[:16]}...), but the manifest {what}", line.number))


def _check_anchor(name: str, audit: VerifyReport, recording: VerifyReport,
                  report: VerifyReport) -> None:
    header = _header(recording)
    anchor = header.get("audit_head") if header else None
    if not isinstance(anchor, dict):
        if header is not None and "audit_head" not in header:
            report.notes.append(f"{recording.recording_id}: made before recordings named the "
                                "audit log's head; only the audit log's own records link it")
        return
    seq, digest = anchor.get("seq"), anchor.get("hash")
    if type(seq) is not int or not isinstance(digest, str):
        report.problems.append(Problem(recording.path.name, "the header's audit_head is not "
                                       "a seq and a hash"))
        return
    if audit.holds(seq, digest):
        return
    last = max(audit.hashes, default=-1)
    if seq > last:
        report.problems.append(Problem(
            name, f"recording {recording.recording_id} began when the audit log had reached "
            f"seq {seq}, but this audit log ends at seq {last}: it was cut back (rolled "
            "back) after that"))
    else:
        report.problems.append(Problem(
            name, f"the audit log's line at seq {seq} is not the one recording "
            f"{recording.recording_id} recorded when it began: the audit log was rewritten "
            "or replaced", seq=seq))


def _header(recording: VerifyReport) -> dict[str, Any] | None:
    if recording.lines and recording.lines[0].event == Event.HEADER:
        return recording.lines[0].record
    return None


def _explain_counter_gaps(audit: VerifyReport, recordings: Sequence[VerifyReport],
                          report: VerifyReport) -> None:
    """A counter value missing from the audit log that a manifest's seal holds is a seal
    whose audit record a power cut lost; the audit report drops that problem."""
    sealed_by = {value.value: r.recording_id for r in recordings for value in r.counters
                 if value.event == Event.SEAL}
    for gap in list(audit.counter_gaps):
        unexplained = [v for v in gap.missing if v not in sealed_by]
        if unexplained:
            continue
        audit.problems.remove(gap.problem)
        audit.counter_gaps.remove(gap)
        report.notes.append(
            f"counter value(s) {', '.join(map(str, gap.missing))} before audit line "
            f"{gap.line}: taken by the seal of "
            f"{', '.join(sorted({str(sealed_by[v]) for v in gap.missing}))}, whose audit "
            "record a power cut lost")


def check_recipients(recording: VerifyReport, expected: Sequence[str]) -> None:
    """`--expect-recipient`: the header's recipient fingerprints must be exactly these
    (a recipient added or swapped on the camera is caught here)."""
    header = _header(recording)
    if header is None:
        return
    named = header.get("recipients")
    if not isinstance(named, list) or sorted(map(str, named)) != sorted(expected):
        recording.problems.append(Problem(
            "manifest.jsonl", f"the recording is encrypted to recipients {named!r}, not to "
            f"the expected {sorted(expected)!r} (a recipient was added or swapped on the "
            "camera)", 1, 0))


def audit_file(path: Path) -> Path:
    """The audit log to cross-check: the file, or audit.jsonl in a directory."""
    return path / "audit.jsonl" if path.is_dir() else path

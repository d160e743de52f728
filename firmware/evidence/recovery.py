"""Power-loss recovery: finish every recording a power cut left unsealed, and nothing else.

Runs at start, before any new recording, and needs no private key: the device cannot
decrypt, it can only count (see salvage.py). A recovered recording gets a signed
``recovery`` record per salvaged segment and a seal with the reason ``recovered after
power loss``, which says the device vouches for it. So recovery first proves it may:

- the manifest's chain verifies under this device's own key (nothing altered, inserted
  or re-signed, no damaged record);
- every segment file belongs to a segment the manifest opened (a file "found" for an
  index nobody opened came from elsewhere);
- the audit log does not record the recording as sealed already (an unsealed manifest
  of a sealed recording was cut back).

A recording that fails any of these is never sealed: it is moved whole into
``<data-dir>/quarantine/`` for the custodian, and the camera program audits and alarms;
it keeps booting and can record. Running recovery again after a cut during recovery is
safe: files already named in a record are not recorded twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bodycam.firmware.evidence.api import SealRecord
from bodycam.firmware.evidence.durable import ensure_real_directory, set_aside
from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.salvage import (
    SalvagedSegment,
    missing_segment,
    recovery_fields,
    salvage_file,
    segment_files,
)
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.signed_log import SignedLog, is_record
from bodycam.firmware.evidence.store import (
    DIR_MODE,
    EVIDENCE_DIR,
    MANIFEST_NAME,
    RECOVERED_REASON,
    STAGING_SUFFIX,
    Event,
)
from bodycam.firmware.evidence.verify import verify_recording
from bodycam.firmware.evidence.verify_chain import open_regular
from bodycam.hal.interfaces import Clock

__all__ = [
    "QUARANTINE_DIR",
    "RECOVERED_REASON",
    "RecoveryReport",
    "recover_unfinished",
    "sealed_in_audit_log",
]

QUARANTINE_DIR: Final = "quarantine"
_log = logging.getLogger(__name__)
# The audit log's word on which recordings are sealed: recording id -> audit line number.
SealedIndex = Callable[[], dict[str, int]]


@dataclass(frozen=True)
class RecoveryReport:
    recording_id: str
    directory: Path  # where the recording is now (inside quarantine/ when refused)
    salvaged: tuple[SalvagedSegment, ...]
    torn_manifest_bytes: int  # bytes of a torn manifest line moved into a side file
    abandoned_start: bool = False  # power cut while creating the directory: nothing recorded
    refused: tuple[str, ...] = ()  # why recovery would not vouch for it (quarantined)
    seal: SealRecord | None = None  # the seal recovery wrote


def recover_unfinished(data_dir: Path, signer: SessionKey, clock: Clock,
                       sealed_index: SealedIndex = dict,
                       trusted: Sequence[DevicePublicKey] = ()) -> list[RecoveryReport]:
    """Seal (or quarantine) every unsealed recording under `data_dir`; call before
    recording starts. `sealed_index` is asked only when there is something to recover.
    `trusted`: device keys besides this boot's whose recordings recovery may finish (the
    key before a re-key this boot made)."""
    parent = data_dir / EVIDENCE_DIR
    if not parent.is_dir():
        return []
    known = _LazySealed(sealed_index)
    keys = (signer.device_key, *trusted)
    reports: list[RecoveryReport] = []
    for directory in sorted(parent.iterdir()):
        try:
            report = _look_at(data_dir, directory, signer, clock, sealed=known, keys=keys)
        except Exception as exc:  # one damaged recording must never keep the camera down
            _log.exception("%s: recovery failed; left as it is", directory)
            report = RecoveryReport(directory.name, directory, (), 0, refused=(
                f"recovery failed ({type(exc).__name__}: {exc}); left in place",))
        if report is not None:
            reports.append(report)
    return reports


class _LazySealed:
    """The audit log's sealed recordings, read once and only if something needs it."""

    def __init__(self, read: SealedIndex) -> None:
        self._read = read
        self._found: dict[str, int] | None = None

    def get(self) -> dict[str, int]:
        if self._found is None:
            self._found = self._read()
        return self._found


def _look_at(data_dir: Path, directory: Path, signer: SessionKey, clock: Clock, *,
             sealed: _LazySealed, keys: Sequence[DevicePublicKey]) -> RecoveryReport | None:
    """What recovery does with one entry of evidence/ (None: nothing, it is sealed)."""
    if directory.is_symlink() or not directory.is_dir():
        return _quarantine(data_dir, directory, directory.name, (
            "not a recording directory (a link or a file where recordings belong)",))
    if directory.name.startswith(".") and directory.name.endswith(STAGING_SUFFIX):
        _log.warning("%s: power was lost while creating this recording; it holds no "
                     "segments and is left as it is", directory)
        recording_id = directory.name[1:-len(STAGING_SUFFIX)]
        return RecoveryReport(recording_id, directory, (), 0, abandoned_start=True)
    if _last_event(directory / MANIFEST_NAME) == Event.SEAL:
        return None
    reasons = _reasons_to_refuse(directory, keys, sealed.get())
    if reasons:
        return _quarantine(data_dir, directory, directory.name, reasons)
    return _recover(directory, signer, clock)


def _last_event(manifest: Path) -> str | None:
    """The event of the manifest's last whole record (None: none, or not readable)."""
    try:
        with open_regular(manifest) as stream:
            size = os.fstat(stream.fileno()).st_size
            stream.seek(max(0, size - 64 * 1024))
            tail = stream.read()
    except OSError:
        return None
    for raw in reversed(tail.split(b"\n")[1 if size > 64 * 1024 else 0:]):
        record = is_record(raw + b"\n") if raw else None
        if record is not None:
            return str(record.get("event"))
    return None


def _reasons_to_refuse(directory: Path, keys: Sequence[DevicePublicKey],
                       sealed: dict[str, int]) -> tuple[str, ...]:
    """Everything that stops recovery from vouching for this recording."""
    reasons: list[str] = []
    if directory.name in sealed:
        reasons.append(f"the audit log records it as sealed (audit line "
                       f"{sealed[directory.name]}), yet its manifest is not: cut back")
    report = verify_recording(directory, keys)  # names unopened files too
    reasons += [str(problem) for problem in report.problems]
    return tuple(reasons)


def _quarantine(data_dir: Path, directory: Path, recording_id: str,
                reasons: Iterable[str]) -> RecoveryReport:
    """Move the recording whole out of the evidence tree; never change a byte of it."""
    reasons = tuple(reasons)
    target_parent = data_dir / QUARANTINE_DIR
    ensure_real_directory(target_parent, DIR_MODE)
    target = set_aside(directory, lambda n: recording_id + (f".{n}" if n else ""),
                       into=target_parent)
    _log.error("%s: NOT recovered, moved to %s: %s", recording_id, target, "; ".join(reasons))
    return RecoveryReport(recording_id, target, (), 0, refused=reasons)


def _recover(directory: Path, signer: SessionKey, clock: Clock) -> RecoveryReport:
    records = _records(directory / MANIFEST_NAME)
    opened = {r["index"]: r for r in records if r.get("event") == Event.SEGMENT_OPEN}
    accounted = {r.get("file") for r in records if r.get("event") in (Event.SEGMENT,
                                                                       Event.RECOVERY)}
    handled = {r.get("index") for r in records
               if r.get("event") in (Event.SEGMENT, Event.RECOVERY)}
    with SignedLog.open(directory / MANIFEST_NAME, signer, clock) as log:
        torn = sum(record["bytes"] for record in log.torn_tails)
        salvaged = [salvage_file(directory, index, name)
                    for index, name in segment_files(directory)
                    if name not in accounted and index in opened]
        seen = {s.index for s in salvaged}
        salvaged += [missing_segment(index) for index in sorted(opened)
                     if index not in handled and index not in seen]
        for item in salvaged:
            log.append(Event.RECOVERY, **recovery_fields(item, opened.get(item.index, {})))
        sealed = log.append(Event.SEAL, reason=RECOVERED_REASON, segments=len(opened),
                            counter=signer.next_counter())
        head = log.head()
    assert head is not None
    seal = SealRecord(head[0], head[1], sealed["counter"])
    recording_id = str(records[0].get("recording_id", directory.name)) if records \
        else directory.name
    _log.warning("%s: recovered after power loss (%d segment(s) salvaged, %d torn manifest "
                 "bytes kept aside)", recording_id, len(salvaged), torn)
    return RecoveryReport(recording_id, directory, tuple(salvaged), torn, seal=seal)


def _records(manifest: Path) -> list[dict[str, Any]]:
    with open_regular(manifest) as stream:
        return [record for line in stream if (record := is_record(line)) is not None]


def sealed_in_audit_log(audit_log: Path) -> dict[str, int]:
    """Recording ids the audit log records as sealed (by the device or by recovery),
    with the line that says so. Read line by line; damaged lines are skipped (a forged
    "sealed" line can only make recovery refuse, which keeps every byte anyway)."""
    found: dict[str, int] = {}
    try:
        stream = open_regular(audit_log)
    except OSError:
        return found
    with stream:
        for number, line in enumerate(stream, start=1):
            record = is_record(line)
            if record is None:
                continue
            event, recording_id = record.get("event"), record.get("recording_id")
            if not isinstance(recording_id, str):
                continue
            if (event == "recording_sealed" and record.get("sealed", True)) \
                    or event == "recovery":
                found.setdefault(recording_id, number)
    return found

"""Power-loss recovery: finish every recording a power cut left unsealed.

Runs at start, before any new recording, and needs no private key: the device cannot
decrypt, it can only count (see salvage.py). Every segment file the manifest does not
account for is salvaged and gets a signed ``recovery`` record with its size, SHA-256 and
whole-chunk count; then the recording is sealed with the reason ``recovered after power
loss``. Running it again after a cut during recovery is safe: files already named in a
record are not recorded twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bodycam.firmware.evidence.salvage import (
    SalvagedSegment,
    missing_segment,
    recovery_fields,
    salvage_file,
    segment_files,
)
from bodycam.firmware.evidence.signed_log import SignedLog, Signer, read_records
from bodycam.firmware.evidence.store import EVIDENCE_DIR, MANIFEST_NAME, STAGING_SUFFIX, Event
from bodycam.hal.interfaces import Clock

__all__ = ["RECOVERED_REASON", "RecoveryReport", "recover_unfinished"]

RECOVERED_REASON: Final = "recovered after power loss"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecoveryReport:
    recording_id: str
    directory: Path
    salvaged: tuple[SalvagedSegment, ...]
    torn_manifest_bytes: int  # bytes of a torn manifest line moved into a side file
    abandoned_start: bool = False  # power cut while creating the directory: nothing recorded


def recover_unfinished(data_dir: Path, key: Signer, clock: Clock) -> list[RecoveryReport]:
    """Seal every unsealed recording under `data_dir`; call before recording starts."""
    parent = data_dir / EVIDENCE_DIR
    if not parent.is_dir():
        return []
    reports: list[RecoveryReport] = []
    for directory in sorted(p for p in parent.iterdir() if p.is_dir()):
        if directory.name.startswith(".") and directory.name.endswith(STAGING_SUFFIX):
            _log.warning("%s: power was lost while creating this recording; it holds no "
                         "segments and is left as it is", directory)
            recording_id = directory.name[1:-len(STAGING_SUFFIX)]
            reports.append(RecoveryReport(recording_id, directory, (), 0, abandoned_start=True))
            continue
        manifest = directory / MANIFEST_NAME
        if not manifest.is_file():
            _log.error("%s has no %s; left untouched for the custodian", directory,
                       MANIFEST_NAME)
            continue
        records = read_records(manifest)
        if records and records[-1].get("event") == Event.SEAL:
            continue
        reports.append(_recover(directory, records, key, clock))
    return reports


def _recover(directory: Path, records: list[dict[str, Any]], key: Signer,
             clock: Clock) -> RecoveryReport:
    opened = {r["index"]: r for r in records if r.get("event") == Event.SEGMENT_OPEN}
    accounted = {r.get("file") for r in records if r.get("event") in (Event.SEGMENT,
                                                                       Event.RECOVERY)}
    handled = {r["index"] for r in records
               if r.get("event") in (Event.SEGMENT, Event.RECOVERY)}
    with SignedLog.open(directory / MANIFEST_NAME, key, clock) as log:
        torn = sum(record["bytes"] for record in log.torn_tails)
        salvaged = [salvage_file(directory, index, name)
                    for index, name in segment_files(directory) if name not in accounted]
        seen = {s.index for s in salvaged}
        salvaged += [missing_segment(index) for index in sorted(opened)
                     if index not in handled and index not in seen]
        for item in salvaged:
            log.append(Event.RECOVERY, **recovery_fields(item, opened.get(item.index, {})))
        log.append(Event.SEAL, reason=RECOVERED_REASON, segments=len(opened))
    recording_id = str(records[0].get("recording_id", directory.name)) if records \
        else directory.name
    _log.warning("%s: recovered after power loss (%d segment(s) salvaged, %d torn manifest "
                 "bytes kept aside)", recording_id, len(salvaged), torn)
    return RecoveryReport(recording_id, directory, tuple(salvaged), torn)

"""Helpers shared by the export tests: record with the real Recorder, run the export
as the custodian runs it (the `bodycam-evidence` entry point), read its report."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from media_fixtures import record_with_recorder
from test_evidence_support import AgeIdentity

from bodycam.firmware.evidence.store import FileEvidenceStore
from bodycam.firmware.media.events import RecordingStarted
from bodycam.hal.clocks import ManualClock
from bodycam.tools.custody.cli import main


def recorded(store: FileEvidenceStore, clock: ManualClock, items: list[object],
             segment_seconds: float) -> Path:
    """The directory of a recording of `items` made by the real Recorder into `store`."""
    events = record_with_recorder(store, clock, items,  # type: ignore[arg-type]
                                  segment_seconds=segment_seconds)
    started = next(e for e in events if isinstance(e, RecordingStarted))
    return store.evidence_dir / started.recording_id


def export(recording: Path, identity: AgeIdentity, out: Path, *extra: str) -> int:
    return main(["export", str(recording), "-i", str(identity.identity_file),
                 "-o", str(out), *extra])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def report_of(out: Path) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(out.with_suffix(".report.json").read_text())
    return parsed

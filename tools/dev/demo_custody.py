"""The demo's custodian and card steps: what came off the camera, as people check it.

The custodian never takes the card: they fetch each recording from the evidence server
(`bodycam-server fetch`, byte for byte as the camera wrote it), verify it and export it
to one MP4. The card check is the data-protection promise: after the dock, the card
holds no segment, only each recording's manifest and the server's signed receipt.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av

from bodycam.firmware.evidence.offloaded import RECEIPT_NAME
from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.firmware.evidence.verify import verify_recording
from bodycam.firmware.offload.card import sealed_recordings
from bodycam.tools.custody.cli import main as evidence_main

__all__ = ["CardCheck", "card_check", "export_fetched", "probe_summary"]


@dataclass(frozen=True)
class CardCheck:
    """What the camera's card still holds below its evidence folder."""

    recordings: list[str]  # ids of the sealed recordings, oldest first
    left: list[str]  # every other file than a manifest or a receipt (segments, ...)
    receipts: int

    @property
    def empty(self) -> bool:
        return bool(self.recordings) and not self.left \
            and self.receipts == len(self.recordings)

    def summary(self) -> str:
        return (f"{len(self.recordings)} recording(s) on the card: {len(self.left)} "
                f"segment file(s) left, {self.receipts} signed receipt(s) kept "
                f"({RECEIPT_NAME} beside each {MANIFEST_NAME})")


def card_check(evidence_dir: Path) -> CardCheck:
    """Counts every file, not only the sealed recordings' segments: an unsealed or
    quarantined recording left on the card is also something the dock did not take."""
    recordings = sealed_recordings(evidence_dir)
    left = sorted(str(path.relative_to(evidence_dir)) for path in evidence_dir.rglob("*")
                  if path.is_file() and path.name not in (MANIFEST_NAME, RECEIPT_NAME))
    return CardCheck([r.recording_id for r in recordings], left,
                     sum(r.receipt_path.exists() for r in recordings))


def export_fetched(recording: Path, identity: Path, mp4: Path) -> bool:
    """Verify a fetched recording and export it; True when both succeeded."""
    report = verify_recording(recording)
    print(f"verify {recording}: {report.status}")
    if evidence_main(["export", str(recording), "-i", str(identity), "-o", str(mp4)]) != 0:
        return False
    print(f"  report: {mp4.with_suffix('.report.json')}")
    print("  " + probe_summary(mp4))
    return report.status == "verified"


def probe_summary(mp4: Path) -> str:
    """One line per stream from ffprobe (the custodian's everyday tool), else PyAV."""
    if shutil.which("ffprobe") is None:
        with av.open(str(mp4)) as container:
            streams = ", ".join(f"{s.type} {s.codec_context.name}" for s in container.streams)
            duration = (container.duration or 0) / av.time_base
        return f"{streams}; duration {duration:.1f} s (PyAV; install ffmpeg for ffprobe)"
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries",
         "stream=codec_type,codec_name,width,height,sample_rate:format=duration",
         "-of", "json", str(mp4)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return f"ffprobe failed: {result.stderr.strip()}"
    info = json.loads(result.stdout)
    streams = ", ".join(
        f"{s['codec_type']} {s['codec_name']}"
        + (f" {s['width']}x{s['height']}" if "width" in s else f" {s.get('sample_rate')} Hz")
        for s in info["streams"])
    return f"{streams}; duration {float(info['format']['duration']):.1f} s"

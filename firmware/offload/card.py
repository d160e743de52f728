"""What the camera's card holds for the offload: its sealed recordings, oldest first.

Only a sealed recording is offloaded (its manifest ends with the seal: it can never
change again). A recording still being written, one recovery left unsealed, a start a
power cut interrupted (hidden `.creating` directory) and everything recovery moved to
`quarantine/` are left alone: a quarantined recording stays on the card for the
custodian, who takes the card.

The manifest is read once, here, and these very bytes are uploaded and later compared
with the server's receipt: what is removed is decided on what was sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bodycam.firmware.evidence.offloaded import RECEIPT_NAME, SealedManifest, read_sealed_manifest
from bodycam.firmware.evidence.signed_log import is_record
from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.firmware.evidence.verify_chain import MAX_LINE_BYTES, open_regular

__all__ = ["CardRecording", "sealed_recordings"]

# A manifest is a few KiB per hour of video; this bounds what a hostile file costs.
MAX_MANIFEST_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True)
class CardRecording:
    """One sealed recording on the card, as it will be offloaded."""

    directory: Path
    manifest_bytes: bytes
    manifest: SealedManifest
    order: tuple[int, str]  # (audit seq when it began, recording id): oldest first

    @property
    def recording_id(self) -> str:
        return self.manifest.recording_id

    @property
    def receipt_path(self) -> Path:
        return self.directory / RECEIPT_NAME

    def present_media(self) -> list[str]:
        """Names of the segment files still on the card."""
        return [f.name for f in self.manifest.media
                if os.path.lexists(self.directory / f.name)]


def sealed_recordings(evidence_dir: Path) -> list[CardRecording]:
    """Every sealed recording below `evidence_dir`, oldest first.

    Oldest by the audit log's head each header names (the order the camera began them,
    whatever its wall clock said then), then by id. Unreadable or unsealed ones are
    skipped: the offload never judges them, verify and recovery do."""
    found = [recording for directory in _directories(evidence_dir)
             if (recording := read_recording(directory)) is not None]
    return sorted(found, key=lambda r: r.order)


def read_recording(directory: Path) -> CardRecording | None:
    """The sealed recording in `directory`, or None (unsealed, unreadable, not one)."""
    try:
        with open_regular(directory / MANIFEST_NAME) as stream:
            data = stream.read(MAX_MANIFEST_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_MANIFEST_BYTES:
        return None
    manifest = read_sealed_manifest(data)
    if manifest is None or manifest.recording_id != directory.name:
        return None
    return CardRecording(directory, data, manifest, (_began_at(data), manifest.recording_id))


def _began_at(data: bytes) -> int:
    first = data.split(b"\n", 1)[0][:MAX_LINE_BYTES] + b"\n"
    header = is_record(first) or {}
    head = header.get("audit_head")
    seq = head.get("seq") if isinstance(head, dict) else None
    return seq if type(seq) is int else -1


def _directories(evidence_dir: Path) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(evidence_dir), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
            yield Path(entry.path)

"""After a valid receipt: keep it beside the manifest, then remove the segment files.

The one place on the camera that removes evidence, and only in this order, each step
durable before the next: `receipt.json` written and fsync'd, `offload_receipt` audited
(with the receipt's SHA-256), the segment files unlinked and the directory fsync'd,
`offload_removed` audited. A power cut anywhere leaves a state the next dock finishes:
the receipt on the card is checked again (pinned key, this manifest) before the rest is
removed. The manifest, torn-line side files and the receipt stay: the audit log still
names the recording, and `bodycam-evidence verify` accepts it as offloaded.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Protocol

from bodycam.firmware.evidence.durable import fsync_directory, write_new_file
from bodycam.firmware.offload.card import CardRecording

__all__ = ["Audit", "keep_receipt", "remove_segments"]

RECEIPT_MODE = 0o640  # like the manifest: the offload group may read it


class Audit(Protocol):
    """The audit log as the offload writes to it (AuditLog.record)."""

    def record(self, event: str, **fields: object) -> dict[str, Any]: ...


def keep_receipt(recording: CardRecording, receipt: bytes, audit: Audit, *, sent: int = 0,
                 held: int = 0) -> None:
    """Write `receipt.json` (a checked receipt) and audit it, with the bytes this upload
    sent and those the server held already (a resumed upload). An identical file from an
    interrupted earlier run is kept as it is; a different one is never replaced."""
    path = recording.receipt_path
    try:
        write_new_file(path, receipt, RECEIPT_MODE)
    except FileExistsError:
        if path.read_bytes() != receipt:
            raise
    manifest = recording.manifest
    audit.record("offload_receipt", recording_id=recording.recording_id,
                 receipt_sha256=hashlib.sha256(receipt).hexdigest(),
                 manifest_seq=manifest.seal_seq, manifest_hash=manifest.seal_hash,
                 files=len(manifest.files), bytes=manifest.bytes, sent=sent, held=held)


def remove_segments(recording: CardRecording, receipt: bytes, audit: Audit) -> list[str]:
    """Unlink the segment files the manifest names (those still there), make it durable,
    audit `offload_removed`. Returns the names removed."""
    removed: list[str] = []
    for name in recording.present_media():
        os.unlink(recording.directory / name)
        removed.append(name)
    fsync_directory(recording.directory)
    media = recording.manifest.media
    audit.record("offload_removed", recording_id=recording.recording_id,
                 receipt_sha256=hashlib.sha256(receipt).hexdigest(),
                 segments=len(media), bytes=sum(f.size for f in media),
                 removed_now=len(removed))
    return removed

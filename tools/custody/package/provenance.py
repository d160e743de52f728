"""The `org.bodycam.provenance` assertion: what ties an exported MP4 to the camera.

Computed from the camera's signed manifest (and the server's receipt, when there is
one) when the package is built, and computed again by `verify PACKAGE` from the copies
in the package: the two must be equal, and the manifest itself must verify (device
signatures, chain, segment hashes), so the MP4's C2PA signature vouches for a camera
recording anyone can re-check.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from bodycam.firmware.evidence.signed_log import is_record, line_hash

FORMAT: Final = "bodycam-provenance/1"


class ProvenanceError(Exception):
    """The camera manifest has no whole record to anchor provenance on."""


def provenance(manifest: bytes, receipt: bytes | None, device_keys: list[str]
               ) -> dict[str, Any]:
    """The assertion's data for a recording with this manifest (and receipt)."""
    lines = manifest.splitlines(keepends=True)
    records = [(line, r) for line in lines if (r := is_record(line)) is not None]
    if not records:
        raise ProvenanceError("the camera manifest holds no signed record")
    head_line, head = records[-1]
    header = next((r for _, r in records if r.get("event") == "header"), {})
    return {
        "format": FORMAT,
        "recording_id": header.get("recording_id"),
        "device_id": header.get("device_id"),
        "device_keys": device_keys,
        "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
        # the seal hash: SHA-256 of the last line, and the device's signature on it
        "manifest_head": {"seq": head.get("seq"), "event": head.get("event"),
                          "sha256": line_hash(head_line), "sig": head.get("sig")},
        "receipt_sha256": hashlib.sha256(receipt).hexdigest() if receipt else None,
    }

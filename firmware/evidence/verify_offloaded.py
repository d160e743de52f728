"""Verify a recording the camera offloaded: its segments are gone, its receipt stays.

After the evidence server's signed receipt the camera removes a recording's segment
files and keeps `manifest.jsonl` and `receipt.json` (docs/offload-protocol.md). Such a
recording verifies as *offloaded* (a note, not a problem) when the receipt names this
manifest's seal line (seq and chain hash), its device key, files and bytes, and is
signed by the server: the key pinned with `--server-key`, or else the key the receipt
names (said in the note: anyone can make a key). A receipt that does not match is a
problem, and then every missing segment is one too. Segment files still present are
checked as always: the receipt never excuses a file that is there but altered.

The check itself is firmware/evidence/offloaded.py, the one the camera made before it
removed anything.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bodycam.firmware.evidence.offloaded import (
    RECEIPT_NAME,
    ReceiptError,
    check_receipt,
    read_receipt,
    sealed_manifest,
)
from bodycam.firmware.evidence.public_keys import fingerprint_of
from bodycam.firmware.evidence.verify_chain import Line, Problem

if TYPE_CHECKING:
    from bodycam.firmware.evidence.verify import VerifyReport

__all__ = ["RECEIPT_NAME", "offloaded_files"]


def offloaded_files(directory: Path, lines: Sequence[Line], report: VerifyReport,
                    server_key: str | None) -> frozenset[str]:
    """The segment files a valid `receipt.json` covers (each may be absent); its note or
    problem goes into `report`. Empty without a receipt, or when it does not match."""
    path = directory / RECEIPT_NAME
    if not report.sealed or not os.path.lexists(path):
        return frozenset()
    try:
        data = read_receipt(path)
    except ReceiptError as exc:
        report.problems.append(Problem(RECEIPT_NAME, str(exc)))
        return frozenset()
    manifest = sealed_manifest([line.record for line in lines], lines[-1].hash)
    if manifest is None:
        return frozenset()
    try:
        receipt = check_receipt(data, manifest, server_key)
    except ReceiptError as exc:
        report.problems.append(Problem(RECEIPT_NAME, f"not a receipt for this recording, so "
                                       f"it covers no missing segment: {exc}"))
        return frozenset()
    gone = [f.name for f in manifest.media if not os.path.lexists(directory / f.name)]
    key = str(receipt["server_key"])
    signer = (f"the pinned server key {_fingerprint(key)}" if server_key is not None else
              f"server key {_fingerprint(key)}, named by the receipt itself (NOT pinned: "
              "check it with --server-key)")
    if server_key is None and gone:
        # Anyone can sign a receipt with a key of their own: without the pin it excuses
        # nothing, or whoever holds the card deletes segments and plants one.
        report.problems.append(Problem(RECEIPT_NAME, (
            f"{len(gone)} segment file(s) are gone and only a receipt signed by a key it "
            f"names itself ({_fingerprint(key)}) says they reached the evidence server; "
            "anyone can sign such a receipt. Fix: verify with --server-key (the server's "
            "camera-offload.toml)")))
    report.offloaded = True
    report.notes.append(
        f"offloaded: the evidence server's receipt ({signer}) covers this manifest up to its "
        f"seal (seq {manifest.seal_seq}), {len(manifest.files)} file(s), "
        f"{manifest.bytes} bytes, stored {receipt.get('stored_at')}; {len(gone)} of "
        f"{len(manifest.media)} segment file(s) were removed from the card after it")
    return frozenset(f.name for f in manifest.media)


def _fingerprint(key_b64: str) -> str:
    return fingerprint_of(base64.b64decode(key_b64))

"""The package's inputs fetched from the evidence server, for every recording of a case.

Per recording: the ciphertext and manifest as stored (download_recording), an "export"
grant for the custodian's own key (the MP4 is made with it; the server and the key
holder record it), a "disclose" grant for the prosecutor's key (recorded as a
disclosure with the recipient), the receipt the server gave the camera, and the
chain-of-custody report. Both grants go through the server's one gate:
a wearer or an administrator gets none. Nothing here is trusted for the evidence: the
export verifies every byte against the camera's signatures.
"""

from __future__ import annotations

import json
from pathlib import Path

from bodycam.firmware.evidence.age.keys import Identity, format_recipient
from bodycam.tools.custody.package.build import Disclosure, PackageError, RecordingInput
from bodycam.tools.custody.server_client import (
    EvidenceServer,
    check_recording_id,
    download_recording,
)


def _receipt(directory: Path, custody: bytes) -> bytes | None:
    """The receipt as the server signed it (downloaded beside the manifest), else as the
    custody report carries it."""
    if (directory / "receipt.json").is_file():
        return (directory / "receipt.json").read_bytes()
    receipt = json.loads(custody).get("receipt")
    return json.dumps(receipt, sort_keys=True).encode() if receipt else None


def case_inputs(server: EvidenceServer, case: str, *, prosecutor: str, reason: str,
                identities: list[Identity], scratch: Path) -> list[RecordingInput]:
    found = server.case(case)
    recordings = [str(r) for r in found.get("recordings", [])]
    if not recordings:
        raise PackageError(f"case {case} holds no recording; add them first (web page or "
                           "POST /api/v1/cases/recordings)")
    custodian = format_recipient(identities[0].public_key())
    items = []
    for rid in recordings:
        check_recording_id(rid)
        export = server.grant(rid, custodian, reason, "export")
        disclose = server.grant(rid, prosecutor, reason, "disclose")
        directory = download_recording(server, rid, scratch)
        custody = server.custody(rid)
        items.append(RecordingInput(
            directory, Disclosure(disclose.recipient, disclose.headers, disclose.nonce),
            custody, _receipt(directory, custody), export_headers=export.headers))
    return items

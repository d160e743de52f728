"""What a recording's signed manifest says about its segments, as the key holder checks it.

The key holder does not take the server's word for which segments belong to a recording
or which header a segment has: the camera signed both. The manifest's chain and
signatures must verify (verify_chain.check_chain, the custodian's own check), its header
must name the grant's recording, every segment of the grant must be named in it with the
same SHA-256, and each preamble sent must hash to the `preamble_sha256` the camera
signed when it opened that segment. So a server that is wrong (or lying) about a segment
cannot get a key for another recording's file through a grant for this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bodycam.firmware.evidence.verify_chain import Line, check_chain
from bodycam.server.keyholder.errors import RefusedError

__all__ = ["SignedManifest", "SignedSegment", "read_manifest"]


@dataclass(frozen=True)
class SignedSegment:
    file: str
    sha256: str
    preamble_sha256: str | None


@dataclass(frozen=True)
class SignedManifest:
    recording_id: str
    device_id: str
    device_key: str  # fingerprint of the key that certified the manifest's lines
    segments: dict[str, SignedSegment]


def _segments(lines: list[Line]) -> dict[str, SignedSegment]:
    preambles = {line.index: line.record.get("preamble_sha256") for line in lines
                 if line.event == "segment_open" and line.index is not None}
    found: dict[str, SignedSegment] = {}
    for line in lines:
        record = line.record
        if line.event not in ("segment", "recovery") or not isinstance(record.get("file"), str):
            continue
        preamble = preambles.get(line.index) if line.index is not None else None
        found[record["file"]] = SignedSegment(
            record["file"], str(record.get("sha256")),
            preamble if isinstance(preamble, str) else None)
    return found


def read_manifest(data: bytes, recording_id: str) -> SignedManifest:
    """The manifest's segments; RefusedError("not_in_recording") when it does not verify or is
    another recording's."""
    result = check_chain(Path("manifest.jsonl"), data=data)
    if result.problems or not result.lines or not result.device_keys:
        first = result.problems[0] if result.problems else "it holds no signed line"
        raise RefusedError("not_in_recording", f"the recording's manifest does not verify "
                           f"({first}); no segment of it can be tied to the recording. Fix: "
                           "`bodycam-evidence verify` the stored recording")
    header = result.lines[0].record
    if header.get("event") != "header" or header.get("recording_id") != recording_id:
        raise RefusedError("not_in_recording", f"the manifest sent is of recording "
                           f"{str(header.get('recording_id'))[:80]!r}, not of {recording_id}, "
                           "the recording the grant names")
    return SignedManifest(recording_id, str(header.get("device_id")),
                          result.device_keys[0].fingerprint, _segments(result.lines))

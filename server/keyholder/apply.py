"""`bodycam-keyholder apply`: on the viewer's workstation, the key holder's headers put
on the stored ciphertext (as `bodycam-server fetch` wrote it), giving age files the
viewer opens with their own identity (`bodycam-evidence decrypt`, `age -d`). Nothing
secret is needed or written: the output is ciphertext. Each segment is checked against
the SHA-256 the grant named before its header is put on: a segment altered on the
server is refused, by name, before anything is decrypted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bodycam.firmware.evidence.durable import write_new_file
from bodycam.server.keyholder.request import UnwrapResponse, apply_header

__all__ = ["ApplyError", "apply_headers"]


class ApplyError(ValueError):
    """A segment does not match the grant, or a file is missing; the message names it."""


def apply_headers(headers: Path, recording: Path, out: Path) -> list[Path]:
    """Write `out/<segment>` for each segment the headers cover; the files written."""
    try:
        response = UnwrapResponse.from_json(json.loads(headers.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ApplyError(f"{headers}: {exc}") from None
    if recording.name != response.recording_id:
        raise ApplyError(f"{recording} is not recording {response.recording_id}, the one the "
                         "headers are for. Fix: give the directory `bodycam-server fetch` "
                         "wrote for it")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for segment in response.segments:
        try:
            data = (recording / segment.file).read_bytes()
        except OSError as exc:
            raise ApplyError(f"{segment.file}: {exc}") from None
        if hashlib.sha256(data).hexdigest() != segment.sha256:
            raise ApplyError(f"{segment.file} is not the segment the grant names (its SHA-256 "
                             "differs: altered or damaged in storage); it was not opened. Fix: "
                             "`bodycam-evidence verify` the recording and fetch it again")
        target = out / segment.file
        write_new_file(target, apply_header(segment, data), 0o600)
        written.append(target)
    return written

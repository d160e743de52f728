"""Looking recordings up for a camera, and what the server holds of each."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.firmware.offload.signature import SignedRequest
from bodycam.server.errors import ApiError
from bodycam.server.recordings.models import Recording, RecordingFile

__all__ = ["RECORDING_ID", "FileState", "file_state", "files_of", "own_recording"]

# make_recording_id's form, with the device id's characters: safe in a path and a key.
RECORDING_ID: Final = re.compile(r"[A-Za-z0-9-]{1,32}-\d{8}T\d{6}Z-[0-9a-f]{4}")


@dataclass(frozen=True)
class FileState:
    name: str
    size: int
    sha256: str
    stored: int
    complete: bool
    generation: int
    damaged: str | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256,
                "offset": self.stored, "complete": self.complete}


def _state(row: RecordingFile) -> FileState:
    return FileState(row.name, row.size, row.sha256, row.stored, row.complete,
                     row.generation, row.damaged)


def own_recording(session: Session, signed: SignedRequest, recording_id: str) -> Recording:
    """The signer's recording, or 404 (no such recording: send the manifest first) /
    403 (another camera's)."""
    if not RECORDING_ID.fullmatch(recording_id):
        raise ApiError(404, "no_recording", f"{recording_id[:100]!r} is not a recording id")
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise ApiError(404, "no_manifest", f"recording {recording_id} is not known here: "
                       "PUT its manifest first")
    if recording.device_id != signed.device_id:
        raise ApiError(403, "not_yours", f"recording {recording_id} belongs to device "
                       f"{recording.device_id}, not {signed.device_id}")
    return recording


def files_of(session: Session, recording_id: str) -> list[FileState]:
    rows = session.scalars(select(RecordingFile).where(
        RecordingFile.recording_id == recording_id).order_by(RecordingFile.position))
    return [_state(row) for row in rows]


def file_state(session: Session, recording_id: str, name: str) -> FileState:
    row = session.get(RecordingFile, (recording_id, name))
    if row is None:
        raise ApiError(404, "no_file", f"recording {recording_id}'s manifest names no file "
                       f"{name[:100]!r}")
    return _state(row)

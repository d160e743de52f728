"""`bodycam-server fetch`: a stored recording, byte for byte as the camera wrote it.

The result is a recording directory (`OUT/<recording-id>/manifest.jsonl` and the files
it names), so `bodycam-evidence verify` and `export` work on it unchanged. Every blob is
hashed as it is copied out: what the store hands back must be what was signed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.server.context import ServerContext
from bodycam.server.recordings.models import Recording
from bodycam.server.recordings.service import RECORDING_ID, files_of
from bodycam.server.retention.deletion import GONE
from bodycam.server.retention.models import RecordingRetention

__all__ = ["FetchError", "FetchResult", "fetch_recording"]


class FetchError(RuntimeError):
    """Nothing can be fetched; the message names the fix."""


@dataclass
class FetchResult:
    directory: Path
    written: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)


def _copy(context: ServerContext, sha256: str, target: Path) -> bool:
    """Copy a blob out; False (and the file removed) if its bytes are not its name."""
    digest = hashlib.sha256()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "wb") as stream:
        for block in context.blobs.read(sha256):
            digest.update(block)
            stream.write(block)
        stream.flush()
        os.fsync(stream.fileno())
    if digest.hexdigest() != sha256:
        target.unlink()
        return False
    return True


def fetch_recording(context: ServerContext, recording_id: str, out: Path) -> FetchResult:
    if not RECORDING_ID.fullmatch(recording_id):
        raise FetchError(f"{recording_id!r} is not a recording id (see `bodycam-server "
                         "recordings`)")
    with context.database.transaction() as session:
        recording = session.get(Recording, recording_id)
        files = files_of(session, recording_id)
        retention = session.get(RecordingRetention, recording_id)
    if recording is None:
        raise FetchError(f"recording {recording_id} is not on this server (see "
                         "`bodycam-server recordings`)")
    if retention is not None and retention.state in GONE:
        raise FetchError(f"recording {recording_id} was deleted (its tombstone, with who, "
                         "why and every hash, is in the audit log); nothing is left to fetch")
    directory = out / recording_id
    try:
        directory.mkdir(parents=True, mode=0o750)
    except FileExistsError:
        raise FetchError(f"{directory} exists: fetch never writes over files. Fix: choose "
                         "another --out or remove it") from None
    result = FetchResult(directory)
    if _copy(context, recording.manifest_sha256, directory / MANIFEST_NAME):
        result.written.append(MANIFEST_NAME)
    else:
        result.corrupt.append(MANIFEST_NAME)
    for item in files:
        if not item.complete:
            result.missing.append(item.name)
        elif _copy(context, item.sha256, directory / item.name):
            result.written.append(item.name)
        else:
            result.corrupt.append(item.name)
    return result

"""`bodycam-server fetch`: a stored recording, byte for byte as the camera wrote it.

The result is a recording directory (`OUT/<recording-id>/manifest.jsonl` and the files
it names), so `bodycam-evidence verify` and `export` work on it unchanged. Every blob is
hashed as it is copied out: what the store hands back must be what was signed.

Ciphertext only, but taking a copy of a recording is evidence handling: a person signs
in for it (`--as`), the access gate decides as for the API's file download
(recording.export: never the wearer, never an administrator, not an auditor), and the
fetch is on record under their name before a byte is written (no record, no copy).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.custody.target import recording_target
from bodycam.server.recordings.models import Recording
from bodycam.server.recordings.service import RECORDING_ID, files_of
from bodycam.server.retention.deletion import GONE
from bodycam.server.retention.models import RecordingRetention
from bodycam.server.storage.blobs import BlobStore

__all__ = ["FetchError", "FetchPlan", "FetchResult", "plan_fetch", "write_out"]


class FetchError(RuntimeError):
    """Nothing can be fetched; the message names the fix."""


@dataclass(frozen=True)
class FetchPlan:
    """What an authorised fetch writes: (name, sha256) of each stored file, and the
    names the camera has not finished sending."""

    recording_id: str
    directory: Path
    files: list[tuple[str, str]]
    missing: list[str]


@dataclass
class FetchResult:
    directory: Path
    written: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)


def _copy(blobs: BlobStore, sha256: str, target: Path) -> bool:
    """Copy a blob out; False (and the file removed) if its bytes are not its name."""
    digest = hashlib.sha256()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "wb") as stream:
        for block in blobs.read(sha256):
            digest.update(block)
            stream.write(block)
        stream.flush()
        os.fsync(stream.fileno())
    if digest.hexdigest() != sha256:
        target.unlink()
        return False
    return True


def plan_fetch(work: Work, recording_id: str, out: Path) -> FetchPlan:
    """Authorised for the signed-in person and on record with the work (committed
    together or not at all); FetchError naming the fix when there is nothing to fetch."""
    if not RECORDING_ID.fullmatch(recording_id):
        raise FetchError(f"{recording_id[:100]!r} is not a recording id (see "
                         "`bodycam-server recordings`)")
    session = work.session
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise FetchError(f"recording {recording_id} is not on this server (see "
                         "`bodycam-server recordings`)")
    work.authorise(Permission.EXPORT, recording_target(session, recording_id))
    retention = session.get(RecordingRetention, recording_id)
    if retention is not None and retention.state in GONE:
        raise FetchError(f"recording {recording_id} was deleted (its tombstone, with who, "
                         "why and every hash, is in the audit log); nothing is left to fetch")
    directory = out / recording_id
    if directory.exists():
        raise FetchError(f"{directory} exists: fetch never writes over files. Fix: choose "
                         "another --out or remove it")
    stored = files_of(session, recording_id)
    plan = FetchPlan(recording_id, directory,
                     [(MANIFEST_NAME, recording.manifest_sha256)]
                     + [(f.name, f.sha256) for f in stored if f.complete],
                     [f.name for f in stored if not f.complete])
    work.record("recording_fetched", recording=recording_id, out=str(directory),
                files=len(plan.files), missing=len(plan.missing), via="cli")
    return plan


def write_out(blobs: BlobStore, plan: FetchPlan) -> FetchResult:
    """The planned files, each checked against its hash as it is written."""
    try:
        plan.directory.mkdir(parents=True, mode=0o750)
    except FileExistsError:
        raise FetchError(f"{plan.directory} exists: fetch never writes over files. Fix: "
                         "choose another --out or remove it") from None
    result = FetchResult(plan.directory, missing=list(plan.missing))
    for name, sha256 in plan.files:
        if _copy(blobs, sha256, plan.directory / name):
            result.written.append(name)
        else:
            result.corrupt.append(name)
    return result

"""Deleting a recording for good: claim it, remove its blobs, leave a tombstone.

Three steps, each safe to repeat, so a crash anywhere leaves a state the retention job
finishes (a recording `deleting` is always completed, never half-kept):

1. claim (inside the deciding transaction: the approval, or the job's): the blockers
   are checked under locks a legal hold or a case change must wait for, and the
   recording becomes `deleting` with what its tombstone will say;
2. its ciphertext and manifests leave the blob store: every blob it names that no other
   recording (not being deleted) names too; the store is content-addressed, so the same
   bytes may belong to two recordings;
3. it becomes `deleted`, and the tombstone goes into the audit log in the same
   transaction: recording, device, manifest hashes, every segment's hash, who
   requested, who approved, why, when.

The database keeps the recording's rows (names and hashes, no content): the custody
report still shows what existed and what became of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bodycam.server.access.rules import AccessError, Target
from bodycam.server.audit.trail import AuditTrail
from bodycam.server.custody.target import lock_recording
from bodycam.server.database.engine import Database
from bodycam.server.device_audit.models import AuditChunk
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.retention.blocks import blockers
from bodycam.server.retention.categories import retention_of
from bodycam.server.retention.models import RecordingRetention
from bodycam.server.storage.blobs import BlobStore, StorageError

__all__ = ["GONE", "Deleted", "blobs_of", "claim", "finish", "refuse_if_blocked"]

GONE: Final = ("deleting", "deleted")
_FORK_BLOB: Final = re.compile(r"blob ([0-9a-f]{64})")


@dataclass(frozen=True)
class Deleted:
    recording_id: str
    removed: int  # blobs removed from the store
    shared: int  # blobs kept because another recording names the same bytes


def refuse_if_blocked(session: Session, target: Target) -> None:
    """AccessError naming the first blocker (legal hold, open case, still arriving)."""
    assert target.recording_id is not None
    found = blockers(session, target.recording_id)
    if found:
        rule, message = found[0]
        raise AccessError(rule, message, target)


def claim(session: Session, target: Target, tombstone: dict[str, Any]) -> None:
    """Step 1, inside the caller's transaction: refused (AccessError) if a hold, an
    open case or an incomplete upload blocks it, or if it is gone already."""
    assert target.recording_id is not None
    lock_recording(session, target.recording_id)
    row = retention_of(session, target.recording_id)
    session.refresh(row, with_for_update=True)
    if row.state in GONE:
        raise AccessError("deleted", f"recording {row.recording_id} is deleted already "
                          "(or being deleted)", target)
    refuse_if_blocked(session, target)
    row.state = "deleting"
    row.deletion = json.dumps(tombstone, sort_keys=True)


def blobs_of(session: Session, recording_id: str) -> tuple[dict[str, Any], set[str]]:
    """What the tombstone records of a recording's content, and the blobs it names."""
    recording = session.get(Recording, recording_id)
    assert recording is not None
    files = list(session.scalars(select(RecordingFile).where(
        RecordingFile.recording_id == recording_id).order_by(RecordingFile.position)))
    forks = sorted(set(_FORK_BLOB.findall(recording.fork or "")))
    facts = {"recording": recording_id, "device": recording.device_id,
             "manifest_sha256": recording.manifest_sha256,
             "manifest_hash": recording.manifest_hash, "fork_manifests": forks,
             "start": recording.start, "end": recording.end,
             "segments": [{"name": f.name, "sha256": f.sha256, "size": f.size}
                          for f in files]}
    names = {recording.manifest_sha256, *forks, *(f.sha256 for f in files if f.complete)}
    return facts, names


def _still_named(session: Session, recording_id: str, blobs: set[str],
                 manifests: set[str]) -> set[str]:
    """The blobs another recording (not itself going) or a camera audit chunk names.
    Looked up by the blob-name indexes (migration 0005), so the cost does not grow
    with the number of recordings; only manifests can be named in a fork note."""
    if not blobs:
        return set()
    alive = or_(RecordingRetention.state.is_(None), RecordingRetention.state.not_in(GONE))
    named = set(session.scalars(select(Recording.manifest_sha256).outerjoin(
        RecordingRetention, RecordingRetention.recording_id == Recording.id).where(
        Recording.manifest_sha256.in_(blobs), Recording.id != recording_id, alive)))
    named |= set(session.scalars(select(RecordingFile.sha256).outerjoin(
        RecordingRetention, RecordingRetention.recording_id == RecordingFile.recording_id)
        .where(RecordingFile.sha256.in_(blobs), RecordingFile.recording_id != recording_id,
               alive)))
    named |= set(session.scalars(select(AuditChunk.blob).where(AuditChunk.blob.in_(blobs))))
    for sha in manifests - named:  # another recording's fork note (rare; text search)
        if session.scalar(select(Recording.id).outerjoin(
                RecordingRetention, RecordingRetention.recording_id == Recording.id).where(
                Recording.fork.is_not(None), Recording.fork.contains(sha),
                Recording.id != recording_id, alive).limit(1)):
            named.add(sha)
    return named


@dataclass
class _Going:
    recording_id: str
    facts: dict[str, Any]
    remove: set[str]
    shared: set[str]


def finish(database: Database, blobs: BlobStore, audit: AuditTrail,
           recording_ids: list[str], now: Callable[[], float]
           ) -> tuple[list[Deleted], dict[str, str]]:
    """Steps 2 and 3 for claimed recordings (those not `deleting` are passed over), in
    two transactions for the lot. A storage failure leaves that recording `deleting`
    (the next run tries again) and is returned by recording id."""
    going: list[_Going] = []
    with database.transaction() as session:
        for recording_id in recording_ids:
            row = session.get(RecordingRetention, recording_id)
            if row is None or row.state != "deleting":
                continue
            facts, names = blobs_of(session, recording_id)
            manifests = {facts["manifest_sha256"], *facts["fork_manifests"]}
            shared = _still_named(session, recording_id, names, manifests)
            going.append(_Going(recording_id, facts, names - shared, shared))
    failed: dict[str, str] = {}
    for item in going:
        try:
            for sha in sorted(item.remove):
                blobs.delete(sha)
        except StorageError as exc:
            failed[item.recording_id] = str(exc)
    done: list[Deleted] = []
    with database.transaction() as session:
        for item in going:
            row = session.get(RecordingRetention, item.recording_id, with_for_update=True)
            if item.recording_id in failed or row is None or row.state != "deleting":
                continue  # failed (tried again next run), or another process finished it
            row.state, row.deleted_at = "deleted", now()
            tombstone = json.loads(row.deletion or "{}")
            actor = str(tombstone.pop("actor", "retention"))
            audit.add(session, "recording_deleted", actor, **item.facts, **tombstone,
                      blobs_removed=len(item.remove), blobs_shared=sorted(item.shared))
            done.append(Deleted(item.recording_id, len(item.remove), len(item.shared)))
    return done, failed

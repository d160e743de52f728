"""Deleting recordings for good: claim them, remove their blobs, leave tombstones.

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

Every step takes a list: the job passes a batch of hundreds, a two-person deletion a
list of one, and each step costs the same few SQL statements whatever the list's length
(the blobs' names are looked up in chunks of _CHUNK, so only very long recordings add
one). The database keeps the recording's rows (names and hashes, no content): the
custody report still shows what existed and what became of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bodycam.server.access.rules import AccessError, Target
from bodycam.server.audit.trail import AuditTrail
from bodycam.server.custody.target import lock_recordings
from bodycam.server.database.engine import Database
from bodycam.server.device_audit.models import AuditChunk
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.retention.blocks import blockers, blockers_among
from bodycam.server.retention.categories import ensure_retention
from bodycam.server.retention.models import RecordingRetention
from bodycam.server.storage.blobs import BlobStore, StorageError

__all__ = ["GONE", "Claim", "Deleted", "blobs_of", "claim", "claim_all", "finish",
           "refuse_if_blocked"]

GONE: Final = ("deleting", "deleted")
_FORK_BLOB: Final = re.compile(r"blob ([0-9a-f]{64})")
_CHUNK: Final = 2000  # blob names per IN list (far below every database's limit)
_REMOVERS: Final = 8  # blobs removed at once


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


@dataclass(frozen=True)
class Claim:
    """What claim_all did: `claimed` are `deleting` now; `refused` by id: (rule,
    message naming it and the fix)."""

    claimed: list[str]
    refused: dict[str, tuple[str, str]]


def _retention_rows(session: Session, recording_ids: list[str]
                    ) -> dict[str, RecordingRetention]:
    """The recordings' retention rows, locked and read afresh (a row made by
    ensure_retention for one the job has not registered yet)."""
    def locked(ids: list[str]) -> dict[str, RecordingRetention]:
        return {row.recording_id: row for row in session.scalars(
            select(RecordingRetention).where(RecordingRetention.recording_id.in_(ids))
            .order_by(RecordingRetention.recording_id).with_for_update()
            .execution_options(populate_existing=True))}

    rows = locked(recording_ids)
    missing = [r for r in recording_ids if r not in rows]
    for recording_id in missing:
        ensure_retention(session, recording_id)
    return {**rows, **(locked(missing) if missing else {})}


def claim_all(session: Session, recording_ids: list[str],
              tombstone: Callable[[RecordingRetention], dict[str, Any]], *,
              only: str | None = None) -> Claim:
    """Step 1 for many recordings, inside the caller's transaction: their rows locked
    (recording, then retention: the order every deleter and hold takes), then the
    blockers of all; one a hold, an open case or an incomplete upload blocks, or that is
    gone already, is refused; the others become `deleting` with `tombstone(row)`.
    `only`: claim just the recordings in that state and pass over the rest (the job:
    `pending`; one restored meanwhile is kept). UnknownRecordingError for an id that is
    not a recording here."""
    ids = list(dict.fromkeys(recording_ids))
    lock_recordings(session, ids)
    rows = _retention_rows(session, ids)
    refused: dict[str, tuple[str, str]] = {}
    candidates: list[RecordingRetention] = []
    for recording_id in ids:
        row = rows[recording_id]
        if only is not None and row.state != only:
            continue
        if row.state in GONE:
            refused[recording_id] = ("deleted", f"recording {recording_id} is deleted "
                                     "already (or being deleted)")
        else:
            candidates.append(row)
    blocked = blockers_among(session, [row.recording_id for row in candidates])
    claimed: list[str] = []
    for row in candidates:
        if row.recording_id in blocked:
            refused[row.recording_id] = blocked[row.recording_id][0]
            continue
        row.state = "deleting"
        row.deletion = json.dumps(tombstone(row), sort_keys=True)
        claimed.append(row.recording_id)
    session.flush()
    return Claim(claimed, refused)


def claim(session: Session, target: Target, tombstone: dict[str, Any]) -> None:
    """Step 1 for one recording (claim_all of one): AccessError if a hold, an open case
    or an incomplete upload blocks it, or if it is gone already."""
    assert target.recording_id is not None
    done = claim_all(session, [target.recording_id], lambda _row: tombstone)
    for rule, message in done.refused.values():
        raise AccessError(rule, message, target)


def _chunks(names: Collection[str]) -> Iterator[list[str]]:
    """Sorted, in lists short enough for one statement's parameters on every database."""
    ordered = sorted(names)
    for first in range(0, len(ordered), _CHUNK):
        yield ordered[first:first + _CHUNK]


def blobs_of(session: Session, recording_ids: list[str]
             ) -> dict[str, tuple[dict[str, Any], set[str]]]:
    """By recording: what its tombstone records of its content, and the blobs it
    names (two queries for the lot)."""
    recordings = {r.id: r for r in session.scalars(
        select(Recording).where(Recording.id.in_(recording_ids)))}
    files: dict[str, list[RecordingFile]] = {r: [] for r in recordings}
    for row in session.scalars(select(RecordingFile).where(
            RecordingFile.recording_id.in_(recording_ids))
            .order_by(RecordingFile.recording_id, RecordingFile.position)):
        files[row.recording_id].append(row)
    found: dict[str, tuple[dict[str, Any], set[str]]] = {}
    for recording_id, recording in recordings.items():
        forks = sorted(set(_FORK_BLOB.findall(recording.fork or "")))
        facts = {"recording": recording_id, "device": recording.device_id,
                 "manifest_sha256": recording.manifest_sha256,
                 "manifest_hash": recording.manifest_hash, "fork_manifests": forks,
                 "start": recording.start, "end": recording.end,
                 "segments": [{"name": f.name, "sha256": f.sha256, "size": f.size}
                              for f in files[recording_id]]}
        found[recording_id] = facts, {recording.manifest_sha256, *forks, *(
            f.sha256 for f in files[recording_id] if f.complete)}
    return found


def _still_named(session: Session, blobs: set[str], manifests: set[str]) -> set[str]:
    """The blobs a recording still alive (not `deleting` or `deleted`: so none of those
    being finished) or a camera audit chunk names. Looked up by the blob-name indexes
    (migration 0005), so the cost does not grow with the number of recordings; only
    manifests can be named in a fork note (a text search, for the lot at once)."""
    alive = or_(RecordingRetention.state.is_(None), RecordingRetention.state.not_in(GONE))
    named: set[str] = set()
    for chunk in _chunks(blobs):
        named.update(session.scalars(select(Recording.manifest_sha256).outerjoin(
            RecordingRetention, RecordingRetention.recording_id == Recording.id).where(
            Recording.manifest_sha256.in_(chunk), alive)))
        named.update(session.scalars(select(RecordingFile.sha256).outerjoin(
            RecordingRetention,
            RecordingRetention.recording_id == RecordingFile.recording_id).where(
            RecordingFile.sha256.in_(chunk), alive)))
        named.update(session.scalars(select(AuditChunk.blob).where(
            AuditChunk.blob.in_(chunk))))
    for chunk in _chunks(manifests - named):  # another recording's fork note (rare)
        for note in session.scalars(select(Recording.fork).outerjoin(
                RecordingRetention, RecordingRetention.recording_id == Recording.id).where(
                Recording.fork.is_not(None), alive,
                or_(*(Recording.fork.contains(sha) for sha in chunk)))):
            named.update(sha for sha in chunk if sha in (note or ""))
    return named


@dataclass
class _Going:
    recording_id: str
    facts: dict[str, Any]
    remove: set[str]
    shared: set[str]


def _going(session: Session, recording_ids: list[str]) -> list[_Going]:
    """The claimed ones of `recording_ids` (`deleting`), each with the blobs to remove
    and those another recording or chunk still names."""
    deleting = set(session.scalars(select(RecordingRetention.recording_id).where(
        RecordingRetention.recording_id.in_(recording_ids),
        RecordingRetention.state == "deleting")))
    ids = [r for r in dict.fromkeys(recording_ids) if r in deleting]
    if not ids:
        return []
    content = blobs_of(session, ids)
    every = {sha for _, names in content.values() for sha in names}
    manifests = {sha for facts, _ in content.values()
                 for sha in (facts["manifest_sha256"], *facts["fork_manifests"])}
    named = _still_named(session, every, manifests)
    return [_Going(r, content[r][0], content[r][1] - named, content[r][1] & named)
            for r in ids]


def _remove(blobs: BlobStore, going: list[_Going]) -> dict[str, str]:
    """Step 2: every blob of the lot once (two recordings of it may name one), _REMOVERS
    at a time (a folder's directory fsyncs and S3's round trips wait in parallel). A
    storage error by recording id: each recording naming that blob stays `deleting`."""
    errors: dict[str, str] = {}

    def remove(sha: str) -> None:
        try:
            blobs.delete(sha)
        except StorageError as exc:
            errors[sha] = str(exc)

    with ThreadPoolExecutor(max_workers=_REMOVERS, thread_name_prefix="deletion") as pool:
        list(pool.map(remove, sorted({sha for item in going for sha in item.remove})))
    failed: dict[str, str] = {}
    for item in going:
        for sha in sorted(item.remove & errors.keys()):
            failed.setdefault(item.recording_id, errors[sha])
    return failed


def finish(database: Database, blobs: BlobStore, audit: AuditTrail,
           recording_ids: list[str], now: Callable[[], float]
           ) -> tuple[list[Deleted], dict[str, str]]:
    """Steps 2 and 3 for claimed recordings (those not `deleting` are passed over), in
    two transactions for the lot. A storage failure leaves that recording `deleting`
    (the next run tries again) and is returned by recording id."""
    with database.transaction() as session:
        going = _going(session, recording_ids)
    failed = _remove(blobs, going)
    done: list[Deleted] = []
    with database.transaction() as session:
        rows = {row.recording_id: row for row in session.scalars(
            select(RecordingRetention).where(RecordingRetention.recording_id.in_(
                [g.recording_id for g in going if g.recording_id not in failed]))
            .order_by(RecordingRetention.recording_id).with_for_update()
            .execution_options(populate_existing=True))}
        for item in going:
            row = rows.get(item.recording_id)
            if row is None or row.state != "deleting":
                continue  # failed (tried again next run), or another process finished it
            row.state, row.deleted_at = "deleted", now()
            tombstone = json.loads(row.deletion or "{}")
            actor = str(tombstone.pop("actor", "retention"))
            audit.add(session, "recording_deleted", actor, **item.facts, **tombstone,
                      blobs_removed=len(item.remove), blobs_shared=sorted(item.shared))
            done.append(Deleted(item.recording_id, len(item.remove), len(item.shared)))
    return done, failed

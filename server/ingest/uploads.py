"""HEAD/PATCH .../files/{name}: resumable at the byte, in the manner of tus 1.0.

Each PATCH body is spooled to a local file, hashed as it arrives, made a durable piece in
the blob store, and only then claimed in the database with a compare-and-set on the
file's (offset, generation): of two requests racing for the same offset exactly one wins,
the other's piece is dropped and it is told the new offset. No lock is held while bytes
travel, and nothing lives in one process's memory, so any process can take over an
upload another one started, or one that was killed with SIGKILL (a piece that no row
names is an orphan, never a gap).

When the offset reaches the signed size the pieces are hashed and compared with the
manifest: equal, they become one content-addressed blob (durable) and the file is
complete; different, the copy is discarded, the file starts again at 0 and the recording
shows `damaged` naming it until a good copy arrives.

A body cut off (the camera's connection closed, or silent for `body_idle_seconds`: a
pulled cable never says so) is kept up to its last byte, so the camera resumes there.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Final

from fastapi import Request
from sqlalchemy import delete, select, update
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from bodycam.firmware.offload.signature import SignedRequest
from bodycam.server.audit.trail import AuditTrail
from bodycam.server.context import ServerContext
from bodycam.server.database.engine import compare_and_set
from bodycam.server.errors import ApiError, storage_refusal
from bodycam.server.recordings.models import FilePiece, Recording, RecordingFile
from bodycam.server.recordings.service import FileState, file_state, own_recording
from bodycam.server.storage.blobs import Spool, StorageError

__all__ = ["OFFSET_TYPE", "FileKey", "file_for_head", "finish_file", "patch_file"]

OFFSET_TYPE: Final = "application/offset+octet-stream"


@dataclass(frozen=True)
class FileKey:
    """A file of a recording, as the database names it."""

    recording_id: str
    name: str


def _lookup(context: ServerContext, signed: SignedRequest, key: FileKey) -> FileState:
    with context.database.transaction() as session:
        own_recording(session, signed, key.recording_id)
        return file_state(session, key.recording_id, key.name)


def _drop_pieces(context: ServerContext, keys: list[str]) -> None:
    """Pieces no row names any more; a failure only leaves an orphan behind."""
    for piece in keys:
        with contextlib.suppress(StorageError, OSError):
            context.blobs.delete_piece(piece)


def finish_file(context: ServerContext, key: FileKey) -> FileState:
    """Check and keep a file whose bytes have all arrived (idempotent, any process).
    Raises ApiError 422 `damaged` if they are not the signed bytes."""
    with context.database.transaction() as session:
        row = file_state(session, key.recording_id, key.name)
        pieces = list(session.scalars(select(FilePiece).where(
            FilePiece.recording_id == key.recording_id, FilePiece.name == key.name)
            .order_by(FilePiece.offset)))
    if row.complete or row.stored != row.size:
        return row
    keys = [piece.key for piece in pieces]
    try:
        # A single piece was hashed as it was written; several are read back.
        found = pieces[0].sha256 if len(pieces) == 1 else context.blobs.hash_pieces(keys)
        good = found == row.sha256
        if good:
            context.blobs.promote(keys, row.sha256)
    except StorageError as exc:
        raise storage_refusal(exc) from None
    where = (RecordingFile.recording_id == key.recording_id, RecordingFile.name == key.name,
             RecordingFile.generation == row.generation)
    damage = None if good else (f"received bytes hashing to {found}, not the signed "
                                f"{row.sha256}; discarded")
    values = ({"complete": True, "damaged": None} if good
              else {"stored": 0, "damaged": damage})
    with context.database.transaction() as session:
        won = compare_and_set(session, update(RecordingFile).where(*where).values(
            generation=RecordingFile.generation + 1, **values))
        if won and not good:
            AuditTrail.of(context).add(
                session, "file_damaged", "server", recording=key.recording_id,
                file=key.name, expected_sha256=row.sha256, received_sha256=found)
        if won:
            session.execute(delete(FilePiece).where(FilePiece.recording_id == key.recording_id,
                                                    FilePiece.name == key.name))
    if won:
        _drop_pieces(context, keys)
    if won and not good:
        raise ApiError(422, "damaged", f"{key.name} of {key.recording_id} is damaged: the "
                       f"bytes received hash to {found}, the manifest signed {row.sha256}. "
                       "The copy was discarded and the recording is marked damaged; keep "
                       "the camera's copy (a good copy sent later clears it)",
                       file=key.name, expected_sha256=row.sha256, received_sha256=found)
    with context.database.transaction() as session:
        return file_state(session, key.recording_id, key.name)


def file_for_head(context: ServerContext, signed: SignedRequest, recording_id: str,
                  name: str) -> FileState:
    """The file's offset for HEAD, finishing one whose bytes all arrived before a crash."""
    key = FileKey(recording_id, name)
    state = _lookup(context, signed, key)
    if not state.complete and state.stored == state.size:
        with contextlib.suppress(ApiError):
            finish_file(context, key)
        state = _lookup(context, signed, key)
    return state


def _claim(context: ServerContext, key: FileKey, state: FileState, spool: Spool) -> bool:
    """Make the spooled bytes a piece at `state.stored` if nobody moved the file since."""
    try:
        spool.finish()
        piece = context.blobs.add_piece(spool)
    except StorageError as exc:
        spool.discard()
        raise storage_refusal(exc) from None
    except OSError:
        spool.discard()
        raise
    with context.database.transaction() as session:
        won = compare_and_set(session, update(RecordingFile).where(
            RecordingFile.recording_id == key.recording_id, RecordingFile.name == key.name,
            RecordingFile.stored == state.stored,
            RecordingFile.generation == state.generation,
            RecordingFile.complete.is_(False)).values(
            stored=state.stored + spool.length,
            generation=RecordingFile.generation + 1))
        if won:
            session.add(FilePiece(recording_id=key.recording_id, name=key.name,
                                  offset=state.stored, length=spool.length, key=piece,
                                  sha256=spool.sha256))
            session.execute(update(Recording).where(Recording.id == key.recording_id)
                            .values(last_activity=context.clock()))
    if not won:
        _drop_pieces(context, [piece])
    return won


def _after_claim(context: ServerContext, signed: SignedRequest, key: FileKey, won: bool,
                 offset: int) -> FileState:
    state = _lookup(context, signed, key)
    if not won and not state.complete:
        raise ApiError(409, "offset_mismatch", f"{key.name} is at {state.stored} bytes now, "
                       f"not {offset} (another upload of it moved on): continue from there",
                       offset=state.stored)
    if not state.complete and state.stored == state.size:
        return finish_file(context, key)
    return state


def _offset(request: Request) -> int:
    text = request.headers.get("upload-offset", "")
    if not text.isdigit():
        raise ApiError(400, "bad_offset", "Upload-Offset must be the byte offset to continue "
                       "at (HEAD tells it)")
    if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_TYPE:
        raise ApiError(415, "bad_content_type", f"a PATCH body is {OFFSET_TYPE}")
    return int(text)


async def patch_file(context: ServerContext, signed: SignedRequest, request: Request,
                     recording_id: str, name: str) -> FileState:
    key = FileKey(recording_id, name)
    offset = _offset(request)
    state = await run_in_threadpool(_lookup, context, signed, key)
    if state.complete:
        return state  # sent twice, stored once
    if offset != state.stored:
        raise ApiError(409, "offset_mismatch", f"{name} has {state.stored} bytes stored, not "
                       f"{offset}: continue from there", offset=state.stored)
    room = state.size - offset
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > room:
        raise ApiError(413, "past_length", f"{name} is {state.size} bytes as signed; "
                       f"{declared} bytes at {offset} would go past it")
    spool = await _receive(context, request, room, name, state.size)
    if spool is None:
        return state
    if not spool.cut and spool.file.sha256 != (signed.content_sha256 or b"").hex():
        spool.file.discard()
        raise ApiError(400, "digest_mismatch", "the body does not match its signed "
                       "Content-Digest (altered on the way); nothing of it was kept: send "
                       "it again")
    won = await run_in_threadpool(_claim, context, key, state, spool.file)
    return await run_in_threadpool(_after_claim, context, signed, key, won, offset)


@dataclass
class _Received:
    file: Spool
    cut: bool  # the link broke before the body ended: kept, but its digest is unchecked


async def _receive(context: ServerContext, request: Request, room: int, name: str,
                   size: int) -> _Received | None:
    try:
        spool = context.blobs.spool()
    except StorageError as exc:
        raise storage_refusal(exc) from None
    cut = False
    body = request.stream()
    try:
        while True:
            try:  # a pulled cable sends no FIN: a silent body counts as cut off
                chunk = await asyncio.wait_for(anext(body),
                                               context.settings.body_idle_seconds)
            except StopAsyncIteration:
                break
            if spool.length + len(chunk) > room:
                raise ApiError(413, "past_length", f"{name} is {size} bytes as signed; the "
                               "body goes past it")
            spool.write(chunk)
    except (ClientDisconnect, TimeoutError):
        cut = True
    except StorageError as exc:
        spool.discard()
        raise storage_refusal(exc) from None
    except BaseException:
        spool.discard()
        raise
    if spool.length == 0:
        spool.discard()
        return None
    return _Received(spool, cut)

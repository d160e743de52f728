"""POST .../receipt: the server's signed word that it holds the whole recording.

Storage is what signs: a receipt is issued only when every file the manifest names is
complete in the database, which happens only after its blob was durable, and each blob
is looked up in the store once more right before signing. The first receipt is kept and
handed out again (a camera that lost the answer asks again and gets the same bytes).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from bodycam.firmware.evidence.receipts import RECEIPT_FORMAT, sign_statement
from bodycam.firmware.evidence.signed_log import utc_iso
from bodycam.firmware.offload.signature import SignedRequest
from bodycam.server.audit.trail import AuditTrail, camera_actor
from bodycam.server.context import ServerContext
from bodycam.server.database.engine import compare_and_set
from bodycam.server.errors import ApiError, storage_refusal
from bodycam.server.ingest.uploads import FileKey, finish_file
from bodycam.server.recordings.models import Recording
from bodycam.server.recordings.service import FileState, files_of, own_recording
from bodycam.server.storage.blobs import StorageError

__all__ = ["issue_receipt"]


def _missing(files: list[FileState]) -> list[dict[str, Any]]:
    return [{"name": f.name, "offset": f.stored, "size": f.size,
             **({"damaged": f.damaged} if f.damaged else {})}
            for f in files if not f.complete]


def issue_receipt(context: ServerContext, signed: SignedRequest,
                  recording_id: str) -> dict[str, Any]:
    with context.database.transaction() as session:
        recording = own_recording(session, signed, recording_id)
        files = files_of(session, recording_id)
    if recording.receipt is not None:
        stored: dict[str, Any] = json.loads(recording.receipt)
        return stored
    for item in files:
        if not item.complete and item.stored == item.size:
            try:
                finish_file(context, FileKey(recording_id, item.name))
            except ApiError as exc:
                if exc.code != "damaged":
                    raise
    with context.database.transaction() as session:
        files = files_of(session, recording_id)
    missing = _missing(files)
    try:
        absent = [f.name for f in files if f.complete and not context.blobs.has(f.sha256)]
    except StorageError as exc:
        raise storage_refusal(exc) from None
    if absent:  # the database says stored, the store does not have it: never sign that
        raise ApiError(500, "storage_lost", f"the blob store lacks {', '.join(absent)} of "
                       f"{recording_id} although it was stored; no receipt. Fix: the "
                       "administrator checks the blob store; the camera keeps its copy")
    if missing:
        raise ApiError(409, "incomplete", f"{len(missing)} of {len(files)} files of "
                       f"{recording_id} are not stored yet: "
                       + ", ".join(f"{m['name']} at {m['offset']}/{m['size']}"
                                   for m in missing), missing=missing)
    receipt = sign_statement(context.signing_key, RECEIPT_FORMAT, {
        "device_id": recording.device_id, "recording_id": recording_id,
        "device_key": recording.device_key, "manifest_seq": recording.manifest_seq,
        "manifest_hash": recording.manifest_hash, "files": recording.files,
        "bytes": recording.bytes, "sealed": True, "stored_at": utc_iso(datetime.now(UTC)),
    })
    with context.database.transaction() as session:
        first = compare_and_set(session, update(Recording).where(
            Recording.id == recording_id, Recording.receipt.is_(None)).values(
            receipt=json.dumps(receipt, sort_keys=True)))
        if first:
            AuditTrail.of(context).add(
                session, "receipt_issued", camera_actor(signed.device_id),
                recording=recording_id, manifest_hash=recording.manifest_hash,
                files=recording.files, bytes=recording.bytes,
                stored_at=receipt["stored_at"], receipt_sig=receipt.get("sig"))
        else:  # another process signed one a moment ago: that one stands
            row = session.get(Recording, recording_id)
            assert row is not None and row.receipt is not None
            receipt = json.loads(row.receipt)
    return receipt

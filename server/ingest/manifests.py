"""PUT .../manifest: verify a recording's signed manifest and start receiving its files.

The manifest is verified with the project's own verification code (verify_manifest: the
same checks as `bodycam-evidence verify`, without the files) under the keys enrolled for
the signing camera. Its bytes are stored (durably, content-addressed) before the
database names them. A second, different manifest under the same recording id is never
stored in the first one's place: the recording is flagged and the camera told `fork`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.exc import IntegrityError

from bodycam.firmware.evidence.signed_log import utc_iso
from bodycam.firmware.evidence.verify import ManifestFile, VerifyReport, verify_manifest
from bodycam.firmware.offload.signature import SignedRequest
from bodycam.server.audit.trail import AuditTrail, camera_actor
from bodycam.server.context import ServerContext
from bodycam.server.devices.service import enrolled_keys
from bodycam.server.errors import ApiError
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.recordings.service import RECORDING_ID, files_of

__all__ = ["MAX_MANIFEST_BYTES", "ManifestAnswer", "put_manifest"]

MAX_MANIFEST_BYTES: Final = 64 * 1024 * 1024  # ~100 days of 10 s segments


@dataclass(frozen=True)
class ManifestAnswer:
    status: int  # 201 stored now, 200 stored before
    body: dict[str, Any]


def _answer(context: ServerContext, recording_id: str, status: int) -> ManifestAnswer:
    with context.database.transaction() as session:
        files = files_of(session, recording_id)
    return ManifestAnswer(status, {"files": [f.to_json() for f in files]})


def _verified(context: ServerContext, signed: SignedRequest, recording_id: str,
              data: bytes) -> tuple[VerifyReport, list[ManifestFile]]:
    with context.database.transaction() as session:
        keys = enrolled_keys(session, signed.device_id)
    report, files = verify_manifest(data, keys, recording_id=recording_id)
    header = report.lines[0].record if report.lines else {}
    problems = [{"file": p.file, "line": p.line, "message": p.message}
                for p in report.problems]
    if report.lines and header.get("device_id") != signed.device_id:
        problems.append({"file": "manifest.jsonl", "line": 1, "message":
                         f"the header names device {header.get('device_id')!r}, but "
                         f"{signed.device_id} sent it"})
    if problems:
        raise ApiError(422, "invalid", f"the manifest of {recording_id} does not verify: "
                       f"{problems[0]['message']}" + (f" (and {len(problems) - 1} more)"
                                                      if len(problems) > 1 else ""),
                       problems=problems)
    if not report.sealed:
        raise ApiError(409, "unsealed", f"recording {recording_id} is not sealed: offload "
                       "only sealed recordings (it goes up once the camera seals it)")
    return report, files


def _fork(context: ServerContext, signed: SignedRequest, recording: Recording,
          data: bytes) -> ApiError:
    """Keep the other manifest as evidence and flag the recording; replace nothing."""
    sha = context.blobs.put_bytes(data)
    note = (f"{utc_iso(datetime.now(UTC))}: another signed manifest (blob {sha}) was sent "
            f"for this recording by {signed.device_id}; the first one ("
            f"{recording.manifest_sha256}) is kept")
    with context.database.transaction() as session:
        row = session.get(Recording, recording.id)
        assert row is not None
        if sha not in (row.fork or ""):
            row.fork = f"{row.fork}\n{note}" if row.fork else note
    return ApiError(409, "fork", f"another manifest is stored for recording {recording.id}; "
                    "nothing was replaced and the recording is flagged for the "
                    "administrator", stored_sha256=recording.manifest_sha256,
                    sent_sha256=sha)


def _existing(context: ServerContext, signed: SignedRequest, recording: Recording,
              data: bytes) -> ManifestAnswer:
    if recording.device_id != signed.device_id:
        raise ApiError(403, "not_yours", f"recording {recording.id} belongs to device "
                       f"{recording.device_id}")
    if recording.manifest_sha256 == hashlib.sha256(data).hexdigest():
        return _answer(context, recording.id, 200)
    _verified(context, signed, recording.id, data)  # an unsigned mess is not a fork
    raise _fork(context, signed, recording, data)


def put_manifest(context: ServerContext, signed: SignedRequest, recording_id: str,
                 data: bytes) -> ManifestAnswer:
    if not RECORDING_ID.fullmatch(recording_id):
        raise ApiError(400, "bad_recording_id", f"{recording_id[:100]!r} is not a recording "
                       "id (<device>-<yyyymmddThhmmssZ>-<4 hex>)")
    with context.database.transaction() as session:
        existing = session.get(Recording, recording_id)
    if existing is not None:
        return _existing(context, signed, existing, data)
    report, files = _verified(context, signed, recording_id, data)
    sha = context.blobs.put_bytes(data)  # durable before the database names it
    empty = context.blobs.put_bytes(b"") if any(f.size == 0 for f in files) else None
    seal = report.lines[-1]
    now = datetime.now(UTC)
    try:
        with context.database.transaction() as session:
            session.add(Recording(
                id=recording_id, device_id=signed.device_id,
                device_key=report.device_keys[-1], manifest_sha256=sha,
                manifest_seq=int(seal.record["seq"]), manifest_hash=seal.hash,
                start=str(report.lines[0].record.get("start")),
                end=str(seal.record.get("time")), files=len(files),
                bytes=sum(f.size for f in files), received_at=now,
                last_activity=context.clock()))
            session.flush()
            AuditTrail.of(context).add(
                session, "recording_received", camera_actor(signed.device_id),
                recording=recording_id, device=signed.device_id, manifest_sha256=sha,
                manifest_seq=int(seal.record["seq"]), manifest_hash=seal.hash,
                files=len(files), bytes=sum(f.size for f in files))
            for position, item in enumerate(files):
                session.add(RecordingFile(
                    recording_id=recording_id, name=item.name, position=position,
                    size=item.size, sha256=item.sha256, stored=0,
                    complete=item.size == 0 and item.sha256 == empty,
                    generation=0))
    except IntegrityError:  # another process stored it a moment ago
        with context.database.transaction() as session:
            existing = session.get(Recording, recording_id)
        assert existing is not None
        return _existing(context, signed, existing, data)
    return _answer(context, recording_id, 201)

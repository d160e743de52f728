"""The chain-of-custody report of one recording: what a court asks for.

Everything the server holds about the recording (its signed manifest's hashes, every
file the manifest names with its SHA-256 and whether it is stored, the receipt given to
the camera) and every audit record that touched it (received, stored, fetched, viewed,
categorised, noted, put in a case or on hold, deletion steps, refusals), each with its
chain hash and the hash before it, so anyone can check the records against an export
of the signed audit log. A recording deleted since keeps its report: the audit records
(with the tombstone) outlive the recording's rows.

`custody_report` only reads; `read_custody_report` is what entry points call: through
the access gate (audit.read, or the recording's view permission) and itself on record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.firmware.evidence.signed_log import utc_iso
from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError, Target
from bodycam.server.access.service import Work
from bodycam.server.audit.camera_records import CameraRecord, camera_records
from bodycam.server.audit.chain import time_of
from bodycam.server.audit.models import HEAD_ID, AuditEvent, AuditHead
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.storage.blobs import BlobStore

__all__ = ["CustodyEvent", "CustodyFile", "CustodyReport", "NoSuchRecordingError",
           "custody_report", "read_custody_report"]


class NoSuchRecordingError(LookupError):
    """Neither the recording nor any audit record of it is known here."""


@dataclass(frozen=True)
class CustodyFile:
    name: str
    size: int
    sha256: str
    stored: bool
    damaged: str | None


@dataclass(frozen=True)
class CustodyEvent:
    """One audit record: its chain position and hashes, and what it says."""

    seq: int
    time: str
    kind: str
    actor: str
    outcome: str
    rule: str | None
    details: dict[str, Any]
    hash: str | None
    prev: str | None


@dataclass(frozen=True)
class CustodyReport:
    recording_id: str
    generated: str
    server_key: str  # fingerprint of the key the audit records are signed with
    audit_head: dict[str, Any]  # {"seq", "hash"} of the whole log when the report was made
    held: bool  # the recording's rows are here (False: deleted, or never fully received)
    device_id: str | None = None
    device_key: str | None = None
    start: str | None = None
    end: str | None = None
    received: str | None = None
    manifest_sha256: str | None = None
    manifest_seq: int | None = None
    manifest_hash: str | None = None
    receipt: dict[str, Any] | None = None
    files: list[CustodyFile] = field(default_factory=list)
    events: list[CustodyEvent] = field(default_factory=list)
    camera_records: list[CameraRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _event(row: AuditEvent) -> CustodyEvent:
    return CustodyEvent(row.seq, time_of(row.at), row.kind, row.actor, row.outcome, row.rule,
                        json.loads(row.details), row.hash, row.prev)


def _utc(moment: datetime) -> str:
    """SQLite hands the time back without its zone; it was written in UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return utc_iso(moment)


def custody_report(session: Session, recording_id: str, *, server_key: str, now: float,
                   blobs: BlobStore | None = None) -> CustodyReport:
    """The report as the database holds it now (NoSuchRecordingError if nothing does).
    `blobs`: where the camera's audit log is, for the camera's own records of it."""
    recording = session.get(Recording, recording_id)
    events = [_event(row) for row in session.scalars(
        select(AuditEvent).where(AuditEvent.recording_id == recording_id)
        .order_by(AuditEvent.seq))]
    if recording is None and not events:
        raise NoSuchRecordingError(f"no recording {recording_id[:100]!r} here, and no audit "
                                   "record names it. Fix: check the id (`bodycam-server "
                                   "recordings` lists them)")
    head = session.get(AuditHead, HEAD_ID)
    report = CustodyReport(
        recording_id=recording_id, generated=time_of(now), server_key=server_key,
        audit_head={"seq": head.seq if head else -1, "hash": head.hash if head else None},
        held=recording is not None, events=events)
    if recording is None:
        return report
    cameras: list[CameraRecord] = []
    notes: list[str] = []
    if blobs is not None:
        cameras, notes = camera_records(session, blobs, recording.device_id, recording_id,
                                        recording.received_at)
    files = session.scalars(select(RecordingFile).where(
        RecordingFile.recording_id == recording_id).order_by(RecordingFile.position))
    return replace(
        report, device_id=recording.device_id, device_key=recording.device_key,
        start=recording.start, end=recording.end, received=_utc(recording.received_at),
        manifest_sha256=recording.manifest_sha256, manifest_seq=recording.manifest_seq,
        manifest_hash=recording.manifest_hash,
        receipt=json.loads(recording.receipt) if recording.receipt else None,
        files=[CustodyFile(f.name, f.size, f.sha256, f.complete, f.damaged) for f in files],
        camera_records=cameras, notes=notes)


def read_custody_report(work: Work, recording_id: str, target: Target | None = None,
                        blobs: BlobStore | None = None) -> CustodyReport:
    """The report for `work`'s actor: an auditor (audit.read), or whoever may view the
    recording (recording.view, with the wearer and administrator rules). `target`: the
    recording's target with its wearers (server/custody's recording_target) when the
    caller has it; without, the wearers are unknown to the rules. On record either way."""
    target = target or Target(recording_id=recording_id)
    try:
        work.authorise(Permission.AUDIT, target)
        because = Permission.AUDIT
    except AccessError:
        work.authorise(Permission.VIEW, target)  # its refusal is the one reported
        because = Permission.VIEW
    report = custody_report(work.session, recording_id,
                            server_key=work.access.audit.signer.fingerprint, now=work.now,
                            blobs=blobs)
    work.record("custody_report_read", recording=recording_id, permission=because.value)
    return report

"""The camera's own audit records of one recording, for its chain-of-custody report.

The camera's audit log (held by the server as chunks of whole lines, device_audit/)
says what happened on the camera: recording started and sealed, the receipt checked,
the copy removed. Each record comes with its seq and line hash in that log, so it can be
checked against the camera's log (`bodycam-evidence verify`). Only chunks received within
WINDOW of the recording's arrival are read: its records are written while it is made
and when it is offloaded, and go up at that dock or the next; reading a camera's whole
log for every report would not scale.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.device_audit.models import AuditChunk
from bodycam.server.storage.blobs import BlobStore, StorageError

__all__ = ["WINDOW", "CameraRecord", "camera_records"]

WINDOW: Final = timedelta(days=30)
_CHAIN_FIELDS: Final = frozenset({"seq", "prev", "sig", "signer", "time", "event",
                                  "recording_id"})


@dataclass(frozen=True)
class CameraRecord:
    """One line of the camera's audit log that names the recording."""

    seq: int
    hash: str  # SHA-256 of the line, as the camera's chain links it
    time: str | None  # the camera's clock
    event: str | None
    details: dict[str, Any]


def _records(data: bytes, first_seq: int, recording_id: str) -> list[CameraRecord]:
    found = []
    for offset, line in enumerate(data.split(b"\n")[:-1]):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the chain was checked on arrival; nothing here is unparsable
        if isinstance(record, dict) and record.get("recording_id") == recording_id:
            found.append(CameraRecord(
                first_seq + offset, hashlib.sha256(line).hexdigest(),
                record.get("time"), record.get("event"),
                {k: v for k, v in record.items() if k not in _CHAIN_FIELDS}))
    return found


def camera_records(session: Session, blobs: BlobStore, device_id: str, recording_id: str,
                   received: datetime) -> tuple[list[CameraRecord], list[str]]:
    """(the camera's records naming the recording, notes on what could not be read)."""
    chunks = session.scalars(select(AuditChunk).where(
        AuditChunk.device_id == device_id, AuditChunk.received_at >= received - WINDOW,
        AuditChunk.received_at <= received + WINDOW).order_by(AuditChunk.first_seq))
    records: list[CameraRecord] = []
    notes: list[str] = []
    for chunk in chunks:
        try:
            data = blobs.read_all(chunk.blob)
        except (StorageError, OSError) as exc:
            notes.append(f"lines {chunk.first_seq}-{chunk.last_seq} of {device_id}'s audit "
                         f"log cannot be read from the blob store: {exc}")
            continue
        records += _records(data, chunk.first_seq, recording_id)
    return records, notes

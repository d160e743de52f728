"""Evidence store on the device: `<data_dir>/evidence/<recording-id>/`.

A recording directory holds ``manifest.jsonl`` (a SignedLog: header, segment_open /
segment, marker, gap, seal records) and the segment files ``NNNNN.age``. The directory
appears atomically: it is built under a hidden staging name with its signed header and
then renamed, so a power cut never leaves a recording directory without a header.
Manifests hold only what verification and offload need: ids, key fingerprints, sizes,
hashes, times. No location, no content, no names.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from bodycam.firmware.evidence.age.keys import (
    Recipient,
    parse_recipient,
    recipient_fingerprint,
    refuse_mixed_recipients,
)
from bodycam.firmware.evidence.api import (
    EvidenceError,
    GapKind,
    NoRecipientError,
    SealRecord,
    SegmentInfo,
    SegmentWriter,
    StorageFullError,
    StorageWriteError,
)
from bodycam.firmware.evidence.durable import fsync_directory, make_dirs
from bodycam.firmware.evidence.salvage import (
    missing_segment,
    recovery_fields,
    salvage_file,
    segment_files,
)
from bodycam.firmware.evidence.segment_file import (
    EncryptedSegment,
    segment_file_name,
)
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.signed_log import SignedLog, utc_iso
from bodycam.firmware.evidence.storage_space import FreeSpace, SpaceGuard, statvfs_free_bytes
from bodycam.hal.interfaces import Clock

__all__ = [
    "DIR_MODE",
    "EVIDENCE_DIR",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "RECORDING_ID_PATTERN",
    "RECOVERED_REASON",
    "AuditHead",
    "Event",
    "FileEvidenceStore",
    "FileRecordingWriter",
    "make_recording_id",
]

EVIDENCE_DIR: Final = "evidence"
MANIFEST_NAME: Final = "manifest.jsonl"
# /2: session-key signers with certificates, audit-log anchor in the header, counters.
MANIFEST_FORMAT: Final = "bodycam-manifest/2"
STAGING_SUFFIX: Final = ".creating"
RECOVERED_REASON: Final = "recovered after power loss"  # the seal reason recovery writes
DIR_MODE: Final = 0o750
# What make_recording_id produces: <device-id>-<UTC yyyymmddThhmmssZ>-<4 hex>.
RECORDING_ID_PATTERN: Final = re.compile(r".+-\d{8}T\d{6}Z-[0-9a-f]{4}")
# A recording is not started unless at least its header and one segment's first
# chunks fit above the reserve.
_START_ALLOWANCE: Final = 1024 * 1024
_log = logging.getLogger(__name__)
# The audit log's head (seq, hash) when a recording begins, or None (no audit log yet).
AuditHead = Callable[[], tuple[int, str] | None]


def _no_audit_head() -> tuple[int, str] | None:
    return None


class Event:
    """Manifest record types (the ``event`` field)."""

    HEADER: Final = "header"
    SEGMENT_OPEN: Final = "segment_open"
    SEGMENT: Final = "segment"
    MARKER: Final = "marker"
    GAP: Final = "gap"
    CLOCK: Final = "clock"
    RECOVERY: Final = "recovery"
    SEAL: Final = "seal"


def make_recording_id(device_id: str, wall_start: datetime) -> str:
    """``<device-id>-<UTC yyyymmddThhmmssZ>-<4 random hex>``: sortable, collision-safe."""
    stamp = wall_start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{device_id}-{stamp}-{secrets.token_hex(2)}"


class FileRecordingWriter:
    """RecordingWriter: one open recording; one segment open at a time."""

    def __init__(self, *, directory: Path, recording_id: str, manifest: SignedLog,
                 recipients: Sequence[Recipient], clock: Clock, space: SpaceGuard,
                 sync_interval: float, signer: SessionKey) -> None:
        self._signer = signer
        self._directory = directory
        self._recording_id = recording_id
        self._manifest = manifest
        self._recipients = tuple(recipients)
        self._clock = clock
        self._space = space
        self._sync_interval = sync_interval
        self._lock = threading.Lock()
        self._next_index = 0
        self._open: EncryptedSegment | None = None
        self._open_record: dict[str, Any] = {}
        self._sealed = False

    @property
    def recording_id(self) -> str:
        return self._recording_id

    @property
    def directory(self) -> Path:
        return self._directory

    def open_segment(self, media_start_us: int, wall_start: datetime) -> SegmentWriter:
        """Record the intent first, then create the file: recovery can trust the record.

        The record also signs the hash of the file's age header and payload nonce (made
        in memory before the file exists), which a file put in the segment's place cannot
        match."""
        with self._lock:
            self._check_writable()
            if self._open is not None:
                raise RuntimeError(f"{self._recording_id}: segment {self._open.file_name} is "
                                   "still open; close it before opening the next")
            index = self._next_index
            self._space.ensure(_START_ALLOWANCE // 4, f"segment {index}")

            def record_intent(preamble: bytes) -> None:
                self._open_record = self._manifest.append(
                    Event.SEGMENT_OPEN, index=index, file=segment_file_name(index),
                    media_start_us=media_start_us, wall_start=utc_iso(wall_start),
                    preamble_sha256=hashlib.sha256(preamble).hexdigest())
                self._next_index += 1

            try:
                segment = EncryptedSegment(
                    directory=self._directory, index=index, recipients=self._recipients,
                    clock=self._clock, space=self._space, sync_interval=self._sync_interval,
                    media_start_us=media_start_us, wall_start=wall_start,
                    on_closed=self._segment_closed, on_preamble=record_intent)
            except BaseException:
                if self._next_index > index:
                    # The open record is written: account for whatever reached the card.
                    with contextlib.suppress(OSError):
                        self._salvage_failed(index)
                raise
            self._open = segment
            return segment

    def add_marker(self, media_us: int, wall: datetime) -> None:
        self._append(Event.MARKER, media_us=media_us, wall=utc_iso(wall))

    def note_gap(self, kind: GapKind, start_us: int, end_us: int | None) -> None:
        self._append(Event.GAP, source=kind, start_us=start_us, end_us=end_us)

    def note_clock_step(self, media_us: int, *, step_seconds: float, wall_before: datetime,
                        wall_after: datetime, synchronised: bool) -> None:
        self._append(Event.CLOCK, media_us=media_us, step_seconds=step_seconds,
                     wall_before=utc_iso(wall_before), wall_after=utc_iso(wall_after),
                     synchronised=synchronised)

    def seal(self, reason: str) -> SealRecord:
        """Final record; the manifest is closed and the writer refuses further changes.

        A segment whose close() failed (I/O error) is salvaged first, exactly as
        recovery would after a power cut, so the seal still accounts for every file.
        The seal takes the key store's next counter value (a TPM's, off the recording
        path: the media is all written by now) and returns where the manifest ends.
        """
        with self._lock:
            self._check_writable()
            if self._open is not None and not self._open.failed:
                raise RuntimeError(f"{self._recording_id}: close segment "
                                   f"{self._open.file_name} before sealing the recording")
            if self._open is not None:
                self._salvage_failed(self._open.index)
                self._open = None
            record = self._manifest.append(Event.SEAL, reason=reason,
                                           segments=self._next_index,
                                           counter=self._signer.next_counter())
            self._sealed = True
            head = self._manifest.head()
            self._manifest.close()
        assert head is not None  # the seal was just written
        return SealRecord(head[0], head[1], record["counter"])

    def _salvage_failed(self, index: int) -> None:
        found = [salvage_file(self._directory, i, name)
                 for i, name in segment_files(self._directory, index)]
        for item in found or [missing_segment(index)]:
            self._manifest.append(Event.RECOVERY, **recovery_fields(item, self._open_record))
        _log.error("%s: segment %d failed to close; %d file(s) salvaged and recorded",
                   self._recording_id, index, len(found))

    def _segment_closed(self, info: SegmentInfo) -> None:
        with self._lock:
            self._manifest.append(
                Event.SEGMENT, index=info.index, file=info.file_name, size=info.size,
                sha256=info.sha256, media_start_us=info.media_start_us,
                media_end_us=info.media_end_us, wall_start=utc_iso(info.wall_start))
            self._open = None

    def _append(self, event: str, **fields: Any) -> None:
        with self._lock:
            self._check_writable()
            self._manifest.append(event, **fields)

    def _check_writable(self) -> None:
        if self._sealed:
            raise RuntimeError(f"{self._recording_id} is sealed; start a new recording")


class FileEvidenceStore:
    """EvidenceStore on a local file system (the SD card's data partition)."""

    def __init__(self, *, data_dir: Path, recipients: Sequence[str], signer: SessionKey,
                 device_id: str, firmware_version: str, config_digest: str, clock: Clock,
                 reserve_bytes: int, sync_interval: float,
                 free_space: FreeSpace = statvfs_free_bytes,
                 audit_head: AuditHead = _no_audit_head) -> None:
        """Invalid recipient strings are reported and skipped here; with none left,
        `begin_recording` refuses (the device must never record without encryption).
        `audit_head` names the audit log's last line, which every header records."""
        self._data_dir = data_dir
        self._key = signer
        self._audit_head = audit_head
        self._device_id = device_id
        self._firmware_version = firmware_version
        self._config_digest = config_digest
        self._clock = clock
        self._sync_interval = sync_interval
        self._recipients: list[Recipient] = []
        self._fingerprints: list[str] = []
        self._recipient_problems: list[str] = []
        for text in recipients:
            try:
                self._recipients.append(parse_recipient(text))
                self._fingerprints.append(recipient_fingerprint(text))
            except ValueError as exc:
                self._recipient_problems.append(str(exc))
                _log.error("evidence recipient skipped: %s", exc)
        try:  # the configuration refuses this too; never a file a quantum computer opens
            refuse_mixed_recipients(self._recipients)
        except ValueError as exc:
            self._recipient_problems.append(str(exc))
            self._recipients.clear()
            self._fingerprints.clear()
            _log.error("evidence recipients refused: %s", exc)
        self._space = SpaceGuard(data_dir, reserve_bytes, clock, free_space)

    @property
    def evidence_dir(self) -> Path:
        return self._data_dir / EVIDENCE_DIR

    def free_bytes(self) -> int:
        return self._space.free_bytes()

    def can_begin(self) -> EvidenceError | None:
        """The error `begin_recording` would raise now (its message is the reason), or
        None. Writes nothing: the controller asks before it enters recording, so the
        wearer is refused at once instead of after the recorder tried."""
        if not self._recipients:
            details = "; ".join(self._recipient_problems) or "the list is empty"
            return NoRecipientError(
                f"no valid evidence recipient ({details}); recording refused because it "
                "would not be encrypted. Fix: set [evidence] recipients to the authority's "
                "age1pq1... (or age1...) public key(s) and restart"
            )
        try:
            self._space.ensure(_START_ALLOWANCE, "a new recording")
        except StorageFullError as exc:
            return exc
        return None

    def begin_recording(self, *, wall_start: datetime, clock_synchronised: bool,
                        prerecord_us: int) -> FileRecordingWriter:
        """Create the recording atomically; refuses before touching storage."""
        refusal = self.can_begin()
        if refusal is not None:
            raise refusal
        try:
            return self._create_recording(wall_start, clock_synchronised, prerecord_us)
        except OSError as exc:
            raise StorageWriteError(
                f"cannot start a recording in {self.evidence_dir}: {exc.strerror or exc}; "
                "nothing was recorded. Fix: check the SD card (a card with errors is "
                "remounted read-only; reseat or replace it) and restart") from exc

    def _create_recording(self, wall_start: datetime, clock_synchronised: bool,
                          prerecord_us: int) -> FileRecordingWriter:
        """The directory appears atomically: staged with its signed header, renamed."""
        parent = self.evidence_dir
        make_dirs(parent, DIR_MODE)
        recording_id, final = self._fresh_id(parent, wall_start)
        staging = parent / f".{recording_id}{STAGING_SUFFIX}"
        staging.mkdir(mode=DIR_MODE)
        device = self._key.device_key
        audit = self._audit_head()
        with SignedLog.open(staging / MANIFEST_NAME, self._key, self._clock) as log:
            log.append(
                Event.HEADER, format=MANIFEST_FORMAT, recording_id=recording_id,
                device_id=self._device_id, device_public_key=device.b64,
                device_key_algorithm=device.algorithm,
                device_key_fingerprint=device.fingerprint,
                key_store=self._key.key_store_kind,
                audit_head=None if audit is None else {"seq": audit[0], "hash": audit[1]},
                firmware_version=self._firmware_version,
                recipients=list(self._fingerprints), config_digest=self._config_digest,
                start=utc_iso(wall_start), clock_synchronised=clock_synchronised,
                prerecord_us=prerecord_us)
        os.rename(staging, final)
        fsync_directory(parent)
        return FileRecordingWriter(
            directory=final, recording_id=recording_id,
            manifest=SignedLog.open(final / MANIFEST_NAME, self._key, self._clock),
            recipients=self._recipients, clock=self._clock, space=self._space,
            sync_interval=self._sync_interval, signer=self._key)

    def _fresh_id(self, parent: Path, wall_start: datetime) -> tuple[str, Path]:
        while True:
            recording_id = make_recording_id(self._device_id, wall_start)
            final = parent / recording_id
            if not final.exists():
                return recording_id, final

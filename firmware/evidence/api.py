"""The contract between the media pipeline (firmware/media) and evidence storage.

The media pipeline produces MPEG-TS bytes; evidence storage encrypts them in memory,
writes them crash-safely and records them in the signed manifest. Neither side knows
how the other works.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

GapKind = Literal["camera", "microphone"]


class EvidenceError(RuntimeError):
    """Base class for evidence-storage failures that the controller must surface."""


class StorageFullError(EvidenceError):
    """Writing would take free space below the configured reserve. Nothing was written."""


class StorageWriteError(EvidenceError):
    """The storage device failed a write or sync (I/O error, card removed, read-only).

    Raised by begin_recording, SegmentWriter.write/tick/media_written/close (the syncs);
    the recorder seals what it can
    and reports the recording as ended (RecordingSealed is always sent once started)."""


class NoRecipientError(EvidenceError):
    """No valid evidence recipient is configured; recording must not start (no plaintext)."""


@dataclass(frozen=True)
class SegmentInfo:
    """What the manifest records about a finished segment."""

    index: int
    file_name: str
    size: int  # bytes of ciphertext on disk
    sha256: str  # hex SHA-256 of the ciphertext
    media_start_us: int
    media_end_us: int
    wall_start: datetime


@dataclass(frozen=True)
class SealRecord:
    """Where a recording's manifest ended: the audit log records it, so a manifest cut
    back or replaced afterwards no longer matches what the audit log knows."""

    manifest_seq: int
    manifest_hash: str  # chain hash of the seal line
    counter: int | None  # the key store's monotonic counter, taken by this seal


class SegmentWriter(Protocol):
    """One open encrypted segment file (`NAME.age.partial` until closed)."""

    @property
    def file_name(self) -> str: ...

    def write(self, data: bytes) -> None:
        """Append MPEG-TS bytes (whole 188-byte packets). Raises StorageFullError."""

    def tick(self, now: float) -> None:
        """Called at least every 100 ms: syncs to disk when due, bounds the loss window."""

    def media_written(self, media_end_us: int) -> None:
        """The media handed to the muxer so far reaches `media_end_us` (recording time).

        Syncs to disk once a sync interval of media has been written since the last
        sync: a pre-record flush writes many seconds of media per wall-clock second, and
        a wall-clock interval alone would leave all of it exposed to a power cut. The
        bytes on their way lag a little behind `media_end_us` (audio batched for 100 ms,
        the packet the muxer's interleaver holds back, the unsealed age chunk), so the
        media a sync covers is approximate by about that much."""

    def close(self, media_end_us: int) -> SegmentInfo:
        """Finish the age stream, fsync, rename to the final name, fsync the directory,
        and append the segment record to the manifest."""


class RecordingWriter(Protocol):
    """One recording: `evidence/<recording-id>/` with segments and manifest.jsonl."""

    @property
    def recording_id(self) -> str: ...

    @property
    def directory(self) -> Path: ...

    def open_segment(self, media_start_us: int, wall_start: datetime) -> SegmentWriter: ...

    def add_marker(self, media_us: int, wall: datetime) -> None: ...

    def note_gap(self, kind: GapKind, start_us: int, end_us: int | None) -> None:
        """Record that a source delivered no data from start_us (end_us None: still open)."""

    def note_clock_step(self, media_us: int, *, step_seconds: float, wall_before: datetime,
                        wall_after: datetime, synchronised: bool) -> None:
        """Record that the wall clock stepped (or its synchronisation changed) at media
        time `media_us`: wall times written after it are on the new clock."""

    def seal(self, reason: str) -> SealRecord:
        """Write the seal record (end reason). The recording is then immutable."""


class EvidenceStore(Protocol):
    def begin_recording(self, *, wall_start: datetime, clock_synchronised: bool,
                        prerecord_us: int) -> RecordingWriter:
        """Create the recording directory and signed manifest header.

        Raises NoRecipientError or StorageFullError before creating anything."""

    def free_bytes(self) -> int: ...

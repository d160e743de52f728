"""What the recorder reports to the controller (which maps it to audit log and alarms).

Events are delivered on the recorder's worker thread through the `on_event` callback;
the handler must only post them to the controller's own queue, never block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bodycam.firmware.evidence.api import GapKind, SegmentInfo

RecorderMode = Literal["idle", "buffering", "recording"]


@dataclass(frozen=True)
class RecorderEvent:
    """Base class of everything the recorder reports."""


@dataclass(frozen=True)
class ModeChanged(RecorderEvent):
    mode: RecorderMode


@dataclass(frozen=True)
class RecordingStarted(RecorderEvent):
    recording_id: str
    prerecord_us: int  # media included from before the press


@dataclass(frozen=True)
class RecordingRefused(RecorderEvent):
    """begin_recording failed (no recipient, storage full): nothing was recorded."""

    reason: str
    error: Exception


@dataclass(frozen=True)
class SegmentClosed(RecorderEvent):
    recording_id: str
    info: SegmentInfo


@dataclass(frozen=True)
class MarkerAdded(RecorderEvent):
    recording_id: str
    media_us: int


@dataclass(frozen=True)
class RecordingSealed(RecorderEvent):
    """The recording is over (sent for every recording that started).

    `sealed` False: storage failed so badly that even the seal record could not be
    written; the recording stays on the card as it is and the next start's recovery
    seals it. A RecorderFault with the details comes before this event.
    """

    recording_id: str
    reason: str
    segments: int
    sealed: bool = True
    # Where the manifest ended and the counter the seal took: the audit record of this
    # event anchors the manifest, so cutting it back afterwards is detected.
    manifest_seq: int | None = None
    manifest_hash: str | None = None
    counter: int | None = None


@dataclass(frozen=True)
class StorageFull(RecorderEvent):
    """Alarm: storage refused a write; the recording was sealed, older evidence kept."""

    recording_id: str | None


@dataclass(frozen=True)
class StallStarted(RecorderEvent):
    source: GapKind
    since: float  # clock.monotonic() of the last data from that source


@dataclass(frozen=True)
class StallEnded(RecorderEvent):
    source: GapKind
    since: float
    ended: float


@dataclass(frozen=True)
class QueueOverflow(RecorderEvent):
    """Media was dropped because the worker fell behind (counted since the last report)."""

    dropped: int
    total: int


@dataclass(frozen=True)
class RecorderFault(RecorderEvent):
    """An unexpected error; `recording_id` says which recording it hit (if any)."""

    message: str
    recording_id: str | None

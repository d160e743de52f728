"""One recording: decides where segments start and end and keeps the manifest informed.

Cut rule: a new segment starts at the first keyframe at least `segment_seconds` after
the current segment's start, so every segment opens with a decodable picture. While
the camera is stalled there are no keyframes; then the cut happens on audio, so a long
audio-only stretch still ends up in bounded segments.

Media times handed to the evidence store are microseconds since the recording's first
packet (its "origin"): the first keyframe, or the first audio chunk when the recording
starts while the camera is stalled. Media older than the origin is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bodycam.firmware.config.model import AudioConfig, VideoConfig
from bodycam.firmware.evidence.api import (
    GapKind,
    RecordingWriter,
    SealRecord,
    SegmentInfo,
    SegmentWriter,
    StorageFullError,
)
from bodycam.firmware.media.muxer import TsSegmentMuxer
from bodycam.hal.interfaces import AudioChunk, VideoPacket

# Seal reasons the recorder chooses itself: fixed phrases, as the manifest holds no free
# text (the details of a failure go to the audit log).
STORAGE_FULL_REASON = "storage full"
STORAGE_ERROR_REASON = "storage error"
RECORDER_ERROR_REASON = "recorder error"


@dataclass(frozen=True)
class WallAnchor:
    """A media timestamp (camera clock) and the wall-clock time it corresponds to.

    media_us None: no media was known when the anchor was taken (recording started
    before the camera delivered anything); the recording's first packet is taken to be
    at `wall` then.
    """

    media_us: int | None
    wall: datetime

    def wall_at(self, media_us: int) -> datetime:
        reference = media_us if self.media_us is None else self.media_us
        return self.wall + timedelta(microseconds=media_us - reference)


@dataclass(frozen=True)
class ClockStep:
    """The wall clock moved against the monotonic clock (or its synchronisation changed):
    what it read just before and just after, as the controller's clock watch saw it."""

    step_seconds: float  # wall_after - wall_before; 0 for a change of synchronisation only
    wall_before: datetime
    wall_after: datetime
    synchronised: bool


@dataclass(frozen=True)
class SealOutcome:
    reason: str  # the reason written to the seal record
    errors: tuple[Exception, ...]  # what went wrong while closing the last segment
    record: SealRecord  # where the manifest ended (the audit log records it)


class SegmentedRecording:
    """Feeds one recording's media into TS segments. The recorder's worker owns it.

    Errors from storage (StorageFullError) propagate out of `add`; the caller then
    calls `seal`, which closes whatever reached storage.
    """

    def __init__(self, writer: RecordingWriter, *, video: VideoConfig,
                 audio: AudioConfig | None, segment_seconds: float,
                 anchor: WallAnchor) -> None:
        self.writer = writer
        self._video = video
        self._audio = audio
        self._segment_us = round(segment_seconds * 1_000_000)
        self._anchor = anchor
        self.origin_us: int | None = None
        self._muxer: TsSegmentMuxer | None = None
        self._segment: SegmentWriter | None = None
        self._segment_start_us = 0  # relative to the origin
        self._stalled: dict[GapKind, int] = {}  # source -> gap start (camera clock)
        # The camera is back but its frames are dropped until a keyframe (a segment was
        # cut during the stall): the gap lasts until the first frame actually muxed.
        self._camera_back = False
        self.segments: list[SegmentInfo] = []

    @property
    def recording_id(self) -> str:
        return self.writer.recording_id

    @property
    def media_end_us(self) -> int:
        return self._muxer.media_end_us if self._muxer else 0

    def add(self, item: VideoPacket | AudioChunk) -> SegmentInfo | None:
        """Mux one item; returns the info of the segment this item closed, if it cut."""
        if self._muxer is None:
            if not self._can_start_with(item):
                return None
            self._start(item.pts_us)
        assert self._muxer is not None and self.origin_us is not None
        rel = item.pts_us - self.origin_us
        if rel < 0:
            return None
        closed = None
        if rel - self._segment_start_us >= self._segment_us and self._may_cut_at(item):
            closed = self._cut(rel)
        if isinstance(item, VideoPacket):
            dropped = self._muxer.dropped_leading_frames
            self._muxer.add_video(item)
            if self._camera_back and self._muxer.dropped_leading_frames == dropped:
                self._close_gap("camera", item.pts_us)
        else:
            self._muxer.add_audio(item)
        if self._segment is not None:
            self._segment.media_written(self._muxer.media_end_us)
        return closed

    def add_marker(self, media_us: int, wall: datetime) -> None:
        self.writer.add_marker(self._relative(media_us), wall)

    def note_clock_step(self, media_us: int, step: ClockStep) -> None:
        """The wall clock stepped when the newest media was at `media_us` (camera clock),
        so the manifest says from where on its wall times are on the new clock."""
        self.writer.note_clock_step(self._relative(media_us), step_seconds=step.step_seconds,
                                    wall_before=step.wall_before, wall_after=step.wall_after,
                                    synchronised=step.synchronised)

    def source_stalled(self, kind: GapKind, since_us: int) -> None:
        """A source delivered nothing after `since_us` (camera clock)."""
        if kind == "camera" and self._camera_back:
            self._camera_back = False  # no frame made it in between: the same gap
            return
        self._stalled[kind] = since_us
        if self.origin_us is not None:
            self.writer.note_gap(kind, self._relative(since_us), None)

    def source_resumed(self, kind: GapKind, at_us: int) -> None:
        """The source delivers again from `at_us`; for the camera the gap is closed by
        the first frame that is muxed (see `add`), which may be a keyframe later."""
        if kind == "camera" and kind in self._stalled and self._muxer is not None:
            self._camera_back = True
            return
        self._close_gap(kind, at_us)

    def _close_gap(self, kind: GapKind, end_us: int) -> None:
        if kind == "camera":
            self._camera_back = False
        since = self._stalled.pop(kind, None)
        if since is not None and self.origin_us is not None:
            self.writer.note_gap(kind, self._relative(since), self._relative(end_us))

    def tick(self, now: float) -> None:
        if self._segment is not None:
            self._segment.tick(now)

    def seal(self, reason: str) -> SealOutcome:
        """Close the open segment, close open gaps and seal, attempting every step.

        A failure while finishing the last segment (typically StorageFullError) does not
        stop the seal: what reached storage stays valid evidence. Such failures are
        returned rather than raised so the caller can report them; only a failing
        seal itself raises.
        """
        errors: list[Exception] = []
        if self._segment is not None:
            try:
                if self._muxer is not None:
                    self._muxer.finish()
            except Exception as exc:
                errors.append(exc)
            try:
                self._close_segment(self.media_end_us)
            except Exception as exc:
                errors.append(exc)
        if any(isinstance(e, StorageFullError) for e in errors):
            reason = STORAGE_FULL_REASON
        if self.origin_us is not None:
            for kind, since in self._stalled.items():
                self.writer.note_gap(kind, self._relative(since), self.media_end_us)
        self._stalled.clear()
        record = self.writer.seal(reason)
        return SealOutcome(reason, tuple(errors), record)

    def _can_start_with(self, item: VideoPacket | AudioChunk) -> bool:
        if isinstance(item, VideoPacket):
            return item.keyframe
        return self._audio is not None and "camera" in self._stalled

    def _may_cut_at(self, item: VideoPacket | AudioChunk) -> bool:
        if isinstance(item, VideoPacket):
            return item.keyframe
        return "camera" in self._stalled

    def _start(self, origin_us: int) -> None:
        self.origin_us = origin_us
        if self._anchor.media_us is None:
            self._anchor = WallAnchor(origin_us, self._anchor.wall)
        self._muxer = TsSegmentMuxer(self._video, self._audio, origin_us)
        for kind in self._stalled:
            # Stalled since before the recording had any media: the gap starts at zero.
            self._stalled[kind] = origin_us
            self.writer.note_gap(kind, 0, None)
        self._open_segment(0)

    def _cut(self, rel_us: int) -> SegmentInfo:
        assert self._muxer is not None
        self._muxer.close_segment()
        info = self._close_segment(rel_us)
        self._open_segment(rel_us)
        return info

    def _open_segment(self, rel_us: int) -> None:
        assert self._muxer is not None and self.origin_us is not None
        wall = self._anchor.wall_at(self.origin_us + rel_us)
        self._segment = self.writer.open_segment(rel_us, wall)
        self._segment_start_us = rel_us
        self._muxer.open_segment(self._segment.write)

    def _close_segment(self, end_rel_us: int) -> SegmentInfo:
        assert self._segment is not None
        segment, self._segment = self._segment, None
        info = segment.close(max(end_rel_us, self._segment_start_us))
        self.segments.append(info)
        return info

    def _relative(self, media_us: int) -> int:
        return max(0, media_us - (self.origin_us if self.origin_us is not None else media_us))

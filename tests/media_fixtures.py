"""Test helpers for the media pipeline: real H.264/PCM test clips, a manual clock and an
in-memory stand-in for evidence storage (a collaborator of the code under test).

`ManualClock` is the HAL's deterministic clock, re-exported for the media tests.

The clip is a flash/beep test pattern: every whole second of media time the picture is
white for one frame and a 1 kHz tone starts, otherwise the picture is dark grey with a
moving bar (so P-frames are not empty) and the audio is quiet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import av
import numpy as np

from bodycam.firmware.config.model import AudioConfig, EvidenceConfig, VideoConfig
from bodycam.firmware.evidence.api import (
    GapKind,
    NoRecipientError,
    SealRecord,
    SegmentInfo,
    StorageFullError,
)
from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import AudioChunk, VideoPacket

WIDTH, HEIGHT, FPS, GOP = 160, 120, 15, 15
SAMPLE_RATE, CHANNELS = 48_000, 1
CHUNK_US = 20_000
BEEP_US = 100_000
CAMERA_EPOCH_US = 7_000_000  # the camera clock does not start at zero

VIDEO = VideoConfig(width=WIDTH, height=HEIGHT, fps=FPS, bitrate_kbps=300,
                    keyframe_interval=GOP)
AUDIO = AudioConfig(enabled=True, sample_rate=SAMPLE_RATE, channels=CHANNELS,
                    bitrate_kbps=64)


def evidence_config(*, prerecord_seconds: float = 0.0, prerecord_audio: bool = False,
                    segment_seconds: float = 2.0, stall_seconds: float = 1.0) -> EvidenceConfig:
    return EvidenceConfig(recipients=(), segment_seconds=segment_seconds,
                          prerecord_seconds=prerecord_seconds,
                          prerecord_audio=prerecord_audio, stall_seconds=stall_seconds,
                          sync_interval_seconds=0.5)


MediaItem = VideoPacket | AudioChunk


@lru_cache(maxsize=8)
def video_packets(seconds: float, *, epoch_us: int = CAMERA_EPOCH_US,
                  gop: int = GOP, fps: int = FPS) -> tuple[VideoPacket, ...]:
    """Real libx264 access units (Annex B, SPS/PPS repeated on every keyframe)."""
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    ctx.time_base = Fraction(1, 1_000_000)
    ctx.framerate = Fraction(fps, 1)
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency",
                   "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:"
                                  "repeat-headers=1:bframes=0"}
    ctx.open()
    out: list[VideoPacket] = []
    for i in range(round(seconds * fps)):
        pts = i * 1_000_000 // fps
        rgb = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
        if pts % 1_000_000 < 1_000_000 // fps:
            rgb[:] = 255
        else:
            x = (i * 7) % WIDTH
            rgb[:, x:x + 8] = 120
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frame.pts, frame.time_base = pts, Fraction(1, 1_000_000)
        packets = list(ctx.encode(frame))
        out += [VideoPacket(bytes(p), epoch_us + pts, p.is_keyframe) for p in packets]
    for p in ctx.encode(None):
        raise AssertionError(f"zerolatency encoder should not hold frames, got {p}")
    return tuple(out)


@lru_cache(maxsize=8)
def audio_chunks(seconds: float, *, epoch_us: int = CAMERA_EPOCH_US,
                 channels: int = CHANNELS) -> tuple[AudioChunk, ...]:
    """int16 PCM: a 1 kHz beep of BEEP_US at every whole second, low noise otherwise."""
    per_chunk = SAMPLE_RATE * CHUNK_US // 1_000_000
    n_chunks = round(seconds * 1_000_000 / CHUNK_US)
    t = np.arange(n_chunks * per_chunk) / SAMPLE_RATE
    rng = np.random.default_rng(1)
    signal = rng.normal(0, 50, t.size)
    beep = (t % 1.0) < BEEP_US / 1_000_000
    signal[beep] += 12_000 * np.sin(2 * np.pi * 1000 * t[beep])
    pcm = np.repeat(signal.astype(np.int16)[:, None], channels, axis=1)
    return tuple(
        AudioChunk(pcm[i * per_chunk:(i + 1) * per_chunk].tobytes(),
                   epoch_us + i * CHUNK_US, SAMPLE_RATE, channels)
        for i in range(n_chunks))


def clip(seconds: float, *, audio: bool = True, epoch_us: int = CAMERA_EPOCH_US
         ) -> list[MediaItem]:
    """Video and audio interleaved in arrival (time) order."""
    items: list[MediaItem] = list(video_packets(seconds, epoch_us=epoch_us))
    if audio:
        items += audio_chunks(seconds, epoch_us=epoch_us)
    items.sort(key=lambda i: i.pts_us)
    return items


def probe(path: Path) -> dict[str, object]:
    """ffprobe's view of a file (streams and format) as JSON."""
    import json
    import subprocess
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True, capture_output=True, text=True)
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def decode_all(path: Path) -> dict[str, int]:
    """Decode every packet (errors raise); returns frame counts per stream type."""
    counts = {"video": 0, "audio": 0}
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            counts["video" if isinstance(frame, av.VideoFrame) else "audio"] += 1
    return counts


# --------------------------------------------------------------------------- storage fake


@dataclass
class FakeSegment:
    file_name: str
    media_start_us: int
    wall_start: datetime
    data: bytearray = field(default_factory=bytearray)
    writes: list[int] = field(default_factory=list)
    ticks: list[float] = field(default_factory=list)
    media_marks: list[int] = field(default_factory=list)
    info: SegmentInfo | None = None
    store: FakeStore | None = None

    def write(self, data: bytes) -> None:
        assert self.info is None, "write after close"
        assert self.store is not None
        self.store.take(len(data))
        self.data += data
        self.writes.append(len(data))

    def tick(self, now: float) -> None:
        self.ticks.append(now)

    def media_written(self, media_end_us: int) -> None:
        assert self.info is None, "media_written after close"
        self.media_marks.append(media_end_us)

    def close(self, media_end_us: int) -> SegmentInfo:
        import hashlib
        self.info = SegmentInfo(0, self.file_name, len(self.data),
                                hashlib.sha256(self.data).hexdigest(),
                                self.media_start_us, media_end_us, self.wall_start)
        return self.info


@dataclass
class FakeRecording:
    recording_id: str
    directory: Path
    prerecord_us: int
    store: FakeStore
    segments: list[FakeSegment] = field(default_factory=list)
    markers: list[tuple[int, datetime]] = field(default_factory=list)
    gaps: list[tuple[GapKind, int, int | None]] = field(default_factory=list)
    clock_steps: list[dict[str, object]] = field(default_factory=list)
    seal_reason: str | None = None

    def open_segment(self, media_start_us: int, wall_start: datetime) -> FakeSegment:
        assert self.seal_reason is None, "open_segment after seal"
        assert all(s.info is not None for s in self.segments), "previous segment still open"
        seg = FakeSegment(f"{self.recording_id}-{len(self.segments):04d}.ts.age",
                          media_start_us, wall_start, store=self.store)
        self.segments.append(seg)
        return seg

    def add_marker(self, media_us: int, wall: datetime) -> None:
        self.markers.append((media_us, wall))

    def note_gap(self, kind: GapKind, start_us: int, end_us: int | None) -> None:
        self.gaps.append((kind, start_us, end_us))

    def note_clock_step(self, media_us: int, *, step_seconds: float, wall_before: datetime,
                        wall_after: datetime, synchronised: bool) -> None:
        assert self.seal_reason is None, "clock step after seal"
        self.clock_steps.append({"media_us": media_us, "step_seconds": step_seconds,
                                 "wall_before": wall_before, "wall_after": wall_after,
                                 "synchronised": synchronised})

    def seal(self, reason: str) -> SealRecord:
        assert self.seal_reason is None, "sealed twice"
        assert all(s.info is not None for s in self.segments), "sealed with an open segment"
        if self.store.seal_error is not None:
            raise self.store.seal_error
        self.seal_reason = reason
        return SealRecord(manifest_seq=len(self.segments) + 1, manifest_hash="f" * 64,
                          counter=None)


class FakeStore:
    """In-memory EvidenceStore; `capacity` bytes of segment data, then StorageFullError.

    Faults a real card produces can be switched on: `begin_error` (raised by
    begin_recording), `write_error` (raised by every segment write), `seal_error`
    (raised by seal); `on_write` runs on every segment write (a slow card).
    """

    def __init__(self, capacity: int | None = None, has_recipient: bool = True) -> None:
        self.capacity = capacity
        self.has_recipient = has_recipient
        self.used = 0
        self.recordings: list[FakeRecording] = []
        self.begin_error: Exception | None = None
        self.write_error: Exception | None = None
        self.seal_error: Exception | None = None
        self.on_write: Callable[[], None] | None = None

    def begin_recording(self, *, wall_start: datetime, clock_synchronised: bool,
                        prerecord_us: int) -> FakeRecording:
        if not self.has_recipient:
            raise NoRecipientError("no evidence recipient configured")
        if self.begin_error is not None:
            raise self.begin_error
        rec = FakeRecording(f"REC{len(self.recordings):03d}", Path("/nonexistent"),
                            prerecord_us, self)
        self.recordings.append(rec)
        return rec

    def free_bytes(self) -> int:
        return 1 << 40 if self.capacity is None else self.capacity - self.used

    def take(self, n: int) -> None:
        if self.on_write is not None:
            self.on_write()
        if self.write_error is not None:
            raise self.write_error
        if self.capacity is not None and self.used + n > self.capacity:
            raise StorageFullError("fake storage is full")
        self.used += n


class MediaSink(Protocol):
    def on_video(self, packet: VideoPacket) -> None: ...

    def on_audio(self, chunk: AudioChunk) -> None: ...


def feed(recorder: MediaSink, clock: ManualClock, items: list[MediaItem] | tuple[MediaItem, ...],
         *, epoch_us: int = CAMERA_EPOCH_US, t0: float = 1000.0) -> None:
    """Deliver items like the devices would, moving the clock along with media time."""
    for item in items:
        target = t0 + (item.pts_us - epoch_us) / 1_000_000
        now = clock.monotonic()
        if target > now:
            clock.advance(target - now)
        if isinstance(item, VideoPacket):
            recorder.on_video(item)
        else:
            recorder.on_audio(item)


def record_with_recorder(store: object, clock: ManualClock, items: list[MediaItem], *,
                         segment_seconds: float = 2.0) -> list[object]:
    """Run `items` through a real Recorder into `store`; returns the events it reported."""
    from bodycam.firmware.media.recorder import Recorder

    events: list[object] = []
    recorder = Recorder(clock, store,  # type: ignore[arg-type]
                        video=VIDEO, audio=AUDIO,
                        evidence=evidence_config(segment_seconds=segment_seconds),
                        on_event=events.append, queue_capacity=100_000)
    recorder.start()
    try:
        recorder.start_recording()
        feed(recorder, clock, items, t0=clock.monotonic())
        recorder.stop_recording("stopped by wearer")
        assert recorder.flush(30.0), "recorder did not finish"
    finally:
        assert recorder.shutdown(30.0)
    return events

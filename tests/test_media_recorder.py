"""Recorder: modes, pre-record, segment cuts, markers, stalls, storage full, overflow.

Real pre-record ring, segmenter and muxer; evidence storage is the in-memory FakeStore
(a collaborator). Each test drives a ManualClock and waits with `flush()`, so nothing
depends on real timing.
"""

from __future__ import annotations

import errno
import itertools
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import av
import pytest
from media_fixtures import (
    AUDIO,
    CAMERA_EPOCH_US,
    FPS,
    VIDEO,
    FakeRecording,
    FakeStore,
    ManualClock,
    clip,
    decode_all,
    evidence_config,
    feed,
)

from bodycam.firmware.evidence.api import StorageFullError, StorageWriteError
from bodycam.firmware.media.events import (
    MarkerAdded,
    ModeChanged,
    QueueOverflow,
    RecorderEvent,
    RecorderFault,
    RecordingRefused,
    RecordingSealed,
    RecordingStarted,
    SegmentClosed,
    StallEnded,
    StallStarted,
    StorageFull,
)
from bodycam.firmware.media.recorder import Recorder
from bodycam.firmware.media.segmenter import ClockStep
from bodycam.hal.interfaces import AudioChunk, VideoPacket


class Harness:
    def __init__(self, store: FakeStore | None = None, *, start: bool = True,
                 queue_capacity: int = 100_000, **evidence: float) -> None:
        self.clock = ManualClock(start_monotonic=1000.0)
        self.store = store or FakeStore()
        self.events: list[RecorderEvent] = []
        self.recorder = Recorder(self.clock, self.store, video=VIDEO, audio=AUDIO,
                                 evidence=evidence_config(**evidence),  # type: ignore[arg-type]
                                 on_event=self.events.append, queue_capacity=queue_capacity)
        if start:
            self.recorder.start()

    def feed(self, items: list[VideoPacket | AudioChunk]) -> None:
        feed(self.recorder, self.clock, items)

    def settle(self, *, drops_expected: bool = False) -> None:
        assert self.recorder.flush(10.0), "recorder worker did not catch up"
        assert drops_expected or self.recorder.dropped == 0

    def of(self, kind: type[RecorderEvent]) -> list[RecorderEvent]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def recording(self) -> FakeRecording:
        return self.store.recordings[-1]


@pytest.fixture
def harness_factory() -> Iterator[type[Harness]]:
    made: list[Harness] = []

    class Tracked(Harness):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    yield Tracked
    for h in made:
        assert h.recorder.shutdown(10.0)


def between(items: list[VideoPacket | AudioChunk], start_s: float, end_s: float
            ) -> list[VideoPacket | AudioChunk]:
    lo, hi = CAMERA_EPOCH_US + start_s * 1e6, CAMERA_EPOCH_US + end_s * 1e6
    return [i for i in items if lo <= i.pts_us < hi]


def segment_file(tmp_path: Path, data: bytes, name: str = "seg.ts") -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def first_video_packet(path: Path) -> tuple[int, bool]:
    """(pts in 90 kHz, keyframe) of the first video packet."""
    with av.open(str(path)) as container:
        packet = next(p for p in container.demux(video=0) if p.pts is not None)
        assert packet.pts is not None
        return packet.pts, packet.is_keyframe


def test_recording_from_buffering_includes_the_prerecord(
        harness_factory: type[Harness], tmp_path: Path) -> None:
    h = harness_factory(prerecord_seconds=2.0, prerecord_audio=True, segment_seconds=60)
    items = clip(8.0)
    h.recorder.start_buffering()
    h.feed(between(items, 0, 5.5))  # the press happens at 5.5 s of camera time
    h.recorder.start_recording()
    h.feed(between(items, 5.5, 8.0))
    h.recorder.stop_recording("stopped by wearer")
    h.settle()

    started = h.of(RecordingStarted)
    assert len(started) == 1
    press_us = 5_480_000  # newest media known at the press: the last 20 ms audio chunk
    rec = h.recording
    assert rec.seal_reason == "stopped by wearer"
    (segment,) = rec.segments
    path = segment_file(tmp_path, segment.data)
    assert first_video_packet(path)[1]
    # the recording's first packet is the 3 s keyframe: >= 2 s before the press
    assert rec.prerecord_us == started[0].prerecord_us == press_us - 3_000_000  # type: ignore[attr-defined]
    assert decode_all(path)["video"] == 5 * FPS  # 3.0 .. 8.0 s without a hole
    assert h.recorder.mode == "buffering"  # back to the ring after the recording
    assert [e.mode for e in h.of(ModeChanged)] == [  # type: ignore[attr-defined]
        "buffering", "recording", "buffering"]


def test_unused_prerecord_is_discarded(harness_factory: type[Harness]) -> None:
    h = harness_factory(prerecord_seconds=2.0)
    h.recorder.start_buffering()
    h.feed(between(clip(4.0), 0, 4))
    h.settle()
    assert h.recorder.prerecord_bytes > 0
    h.recorder.stop_buffering()
    h.settle()
    assert h.recorder.prerecord_bytes == 0 and h.recorder.mode == "idle"
    assert h.store.recordings == []


def test_segments_cut_at_the_first_keyframe_after_the_length(
        harness_factory: type[Harness], tmp_path: Path) -> None:
    h = harness_factory(segment_seconds=1.5)
    items = clip(6.0)
    h.recorder.start_recording()
    h.feed(items)
    h.recorder.stop_recording("done")
    h.settle()
    rec = h.recording
    starts = [s.media_start_us for s in rec.segments]
    assert starts == [0, 2_000_000, 4_000_000]  # keyframes every 1 s; 1.5 s rounds up
    ends = [s.info.media_end_us for s in rec.segments if s.info]
    assert ends[:2] == starts[1:]  # contiguous
    for i, segment in enumerate(rec.segments):
        path = segment_file(tmp_path, segment.data, f"{i}.ts")
        assert first_video_packet(path)[1]
        assert decode_all(path)["video"] == 2 * FPS
    assert len(h.of(SegmentClosed)) == 3
    assert h.of(RecordingSealed)[0].segments == 3  # type: ignore[attr-defined]


def test_marker_is_recorded_at_the_media_time_of_the_press(
        harness_factory: type[Harness]) -> None:
    h = harness_factory()
    items = clip(3.0)
    h.recorder.start_recording()
    h.feed(between(items, 0, 1.5))
    h.recorder.add_marker()
    h.feed(between(items, 1.5, 3))
    h.recorder.stop_recording("done")
    h.settle()
    newest_at_press = 1_480_000  # last audio chunk before 1.5 s
    (marker,) = h.recording.markers
    assert marker[0] == newest_at_press
    assert isinstance(marker[1], datetime)
    assert [e.media_us for e in h.of(MarkerAdded)] == [newest_at_press]  # type: ignore[attr-defined]


def test_camera_stall_is_noted_as_a_gap_and_audio_continues(
        harness_factory: type[Harness], tmp_path: Path) -> None:
    h = harness_factory(stall_seconds=1.0, segment_seconds=60)
    items = clip(6.0)
    stall = [i for i in between(items, 2, 4.5) if isinstance(i, AudioChunk)]
    h.recorder.start_recording()
    h.feed(between(items, 0, 2))
    h.feed(stall)
    h.settle()
    assert [e.source for e in h.of(StallStarted)] == ["camera"]  # type: ignore[attr-defined]
    h.feed(between(items, 4.5, 6))
    h.recorder.stop_recording("done")
    h.settle()
    assert [e.source for e in h.of(StallEnded)] == ["camera"]  # type: ignore[attr-defined]
    gaps = h.recording.gaps
    assert gaps[0][::2] == ("camera", None)  # opened while the camera was away
    assert gaps[0][1] == pytest.approx(2_000_000, abs=1)  # end of the last frame
    assert gaps[1][:2] == gaps[0][:2]
    assert gaps[1][2] == pytest.approx(4_533_333, abs=1)  # first frame after the stall
    (segment,) = h.recording.segments
    counts = decode_all(segment_file(tmp_path, segment.data))
    assert counts["audio"] > 6 * 46  # audio kept going through the camera stall


def test_camera_gap_lasts_until_the_first_frame_that_is_recorded(
        harness_factory: type[Harness], tmp_path: Path) -> None:
    """A segment cut during the stall must start on a keyframe, so the frames between
    the camera's return (4.5 s) and the next keyframe (5.0 s) are dropped: the gap
    record covers them instead of ending at the camera's return."""
    h = harness_factory(stall_seconds=1.0, segment_seconds=1.5)
    items = clip(7.0)
    h.recorder.start_recording()
    h.feed(between(items, 0, 2))
    h.feed([i for i in between(items, 2, 4.5) if isinstance(i, AudioChunk)])
    h.settle()  # the stall is noticed while the camera is away
    h.feed(between(items, 4.5, 7))
    h.recorder.stop_recording("done")
    h.settle()
    # Cut on audio during the stall, before the camera's next keyframe at 5.0 s.
    assert 2_000_000 <= h.recording.segments[1].media_start_us < 5_000_000
    closed = [g for g in h.recording.gaps if g[0] == "camera" and g[2] is not None]
    assert len(closed) == 1
    assert closed[0][1] == pytest.approx(2_000_000, abs=1)
    assert closed[0][2] == pytest.approx(5_000_000, abs=1)  # the keyframe, not 4.5 s
    first_video = [first_video_packet(segment_file(tmp_path, s.data, f"{n}.ts"))
                   for n, s in enumerate(h.recording.segments)
                   if decode_all(segment_file(tmp_path, s.data, f"{n}.ts"))["video"]]
    assert all(keyframe for _pts, keyframe in first_video)


def test_recording_starts_on_audio_while_the_camera_is_stalled(
        harness_factory: type[Harness], tmp_path: Path) -> None:
    h = harness_factory(stall_seconds=1.0, segment_seconds=60)
    items = clip(6.0)
    h.recorder.start_buffering()
    h.feed([i for i in between(items, 0, 2) if isinstance(i, AudioChunk)])
    h.settle()
    assert [e.source for e in h.of(StallStarted)] == ["camera"]  # type: ignore[attr-defined]
    h.recorder.start_recording()
    h.feed([i for i in between(items, 2, 3.5) if isinstance(i, AudioChunk)])
    h.feed(between(items, 3.5, 6))
    h.recorder.stop_recording("done")
    h.settle()
    rec = h.recording
    # the evidence starts with the first audio after the press, not with the camera
    assert rec.gaps[0] == ("camera", 0, None)
    assert rec.gaps[1][:2] == ("camera", 0) and rec.gaps[1][2] is not None
    (segment,) = rec.segments
    path = segment_file(tmp_path, segment.data)
    counts = decode_all(path)
    assert counts["audio"] > 3.5 * 46
    assert counts["video"] == 2 * FPS  # video from its first keyframe after the stall (4 s)


def test_microphone_stall_never_stops_video(
        harness_factory: type[Harness], tmp_path: Path) -> None:
    h = harness_factory(stall_seconds=1.0, segment_seconds=60)
    items = clip(6.0)
    h.recorder.start_recording()
    h.feed(between(items, 0, 1))
    h.feed([i for i in between(items, 1, 4) if isinstance(i, VideoPacket)])
    h.settle()
    assert [e.source for e in h.of(StallStarted)] == ["microphone"]  # type: ignore[attr-defined]
    h.feed(between(items, 4, 6))
    h.recorder.stop_recording("done")
    h.settle()
    assert ("microphone", 1_000_000, None) in h.recording.gaps
    assert ("microphone", 1_000_000, 4_000_000) in h.recording.gaps
    (segment,) = h.recording.segments
    assert decode_all(segment_file(tmp_path, segment.data))["video"] == 6 * FPS


def test_storage_full_mid_recording_seals_with_reason_and_keeps_older_evidence(
        harness_factory: type[Harness]) -> None:
    store = FakeStore(capacity=150_000)
    h = harness_factory(store, segment_seconds=1.0)
    items = clip(6.0)
    h.recorder.start_recording()
    h.feed(between(items, 0, 2))
    h.recorder.stop_recording("first")
    h.settle()
    first = store.recordings[0]
    before = [bytes(s.data) for s in first.segments]

    h.recorder.start_recording()
    h.feed([i for i in clip(20.0, epoch_us=CAMERA_EPOCH_US + 3_000_000)])
    h.settle()
    second = store.recordings[1]
    assert second.seal_reason == "storage full"
    assert all(s.info is not None for s in second.segments)
    assert [bytes(s.data) for s in first.segments] == before
    alarms = [e for e in h.events if isinstance(e, StorageFull | RecordingSealed)]
    assert [type(e) for e in alarms[-2:]] == [StorageFull, RecordingSealed]
    assert alarms[-1].reason == "storage full"  # type: ignore[union-attr]
    assert h.recorder.mode == "idle"


@pytest.mark.parametrize(("begin_error", "reason"), [
    (None, "recipient"),
    # A card remounted read-only fails with a plain OSError. The controller leaves its
    # recording state only on RecordingRefused/RecordingSealed, so anything else would
    # leave it showing "recording" with nothing stored.
    (OSError(errno.EROFS, "Read-only file system"), "Read-only file system"),
])
def test_refused_start_reports_and_keeps_buffering(
        harness_factory: type[Harness], begin_error: OSError | None, reason: str) -> None:
    store = FakeStore(has_recipient=begin_error is not None)
    store.begin_error = begin_error
    h = harness_factory(store, prerecord_seconds=2.0)
    h.recorder.start_buffering()
    h.feed(between(clip(3.0), 0, 3))
    h.recorder.start_recording()
    h.settle()
    (refused,) = h.of(RecordingRefused)
    assert reason in refused.reason  # type: ignore[attr-defined]
    assert h.recorder.mode == "buffering" and h.recorder.prerecord_bytes > 0


def test_queue_overflow_drops_counts_and_reports(harness_factory: type[Harness]) -> None:
    h = harness_factory(start=False, queue_capacity=10)
    items = clip(2.0)
    h.feed(items)  # the worker is not running: the inbox fills up
    assert h.recorder.dropped == len(items) - 10
    h.recorder.start()
    h.settle(drops_expected=True)
    (overflow,) = h.of(QueueOverflow)
    assert overflow.dropped == overflow.total == len(items) - 10  # type: ignore[attr-defined]


class BlockingStore(FakeStore):
    """begin_recording waits until the test lets it go (slow SD card)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def begin_recording(self, **kwargs: object) -> FakeRecording:  # type: ignore[override]
        self.entered.set()
        assert self.release.wait(10.0)
        return super().begin_recording(**kwargs)  # type: ignore[arg-type]


def test_commands_and_callbacks_return_while_storage_is_slow(
        harness_factory: type[Harness]) -> None:
    store = BlockingStore()
    h = harness_factory(store, prerecord_seconds=1.0)
    items = clip(2.0)
    h.recorder.start_recording()
    assert store.entered.wait(10.0)
    # the worker is stuck in storage; none of these may wait for it
    h.feed(items)
    h.recorder.add_marker()
    h.recorder.stop_recording("done")
    h.recorder.start_buffering()
    store.release.set()
    h.settle()
    assert h.recording.seal_reason == "done"
    assert len(h.recording.markers) == 1
    assert h.recorder.dropped == 0


def test_open_segment_is_ticked_with_the_clock(harness_factory: type[Harness]) -> None:
    h = harness_factory()
    h.recorder.start_recording()
    h.feed(clip(1.0))
    h.settle()
    h.clock.advance(0.5)
    h.settle()
    ticks = h.recording.segments[-1].ticks
    assert ticks and ticks[-1] == h.clock.monotonic()


def test_each_segment_hears_the_media_it_holds(harness_factory: type[Harness]) -> None:
    """The media-time sync rule is fed by the segmenter: every segment is told, never
    backwards, how far the media it received reaches (relative to the recording);
    a closed segment hears nothing more (FakeSegment asserts that)."""
    h = harness_factory(segment_seconds=1.5)
    h.recorder.start_recording()
    h.feed(clip(6.0))
    h.recorder.stop_recording("done")
    h.settle()
    segments = h.recording.segments
    assert len(segments) == 3
    for segment in segments:
        marks = segment.media_marks
        assert marks and marks == sorted(marks)
        assert segment.info is not None
        assert segment.media_start_us < marks[0] and marks[-1] <= segment.info.media_end_us
    # The first segment's marks reach (nearly) its end at 2 s: one video frame short
    # at most, since the keyframe that starts the next segment is not its media.
    assert segments[0].media_marks[-1] >= 2_000_000 - 1_000_000 // FPS


def test_shutdown_seals_an_open_recording(harness_factory: type[Harness]) -> None:
    h = harness_factory()
    h.recorder.start_recording()
    h.feed(clip(2.0))
    assert h.recorder.shutdown(10.0)
    assert h.recording.seal_reason == "shutdown"
    assert h.recorder.mode == "idle"


def test_storage_error_type_is_the_contract_one() -> None:
    store = FakeStore(capacity=0)
    with pytest.raises(StorageFullError):
        store.take(1)


# ------------------------------------------------------------------ adversarial review


def test_io_error_mid_recording_seals_with_a_fixed_reason_and_recording_goes_on(
        harness_factory: type[Harness]) -> None:
    store = FakeStore()
    h = harness_factory(store, segment_seconds=1.0)
    items = clip(6.0)
    h.recorder.start_recording()
    h.feed(between(items, 0, 2.5))
    h.settle()
    store.write_error = StorageWriteError("writing segment /data/evidence/x/00002.age.partial "
                                          "failed: Input/output error")
    h.feed(between(items, 2.5, 4))
    h.settle()
    (sealed,) = h.of(RecordingSealed)
    # the manifest's seal reason is a fixed phrase (no paths, no free text) ...
    assert sealed.reason == "storage error"  # type: ignore[attr-defined]
    assert sealed.sealed  # type: ignore[attr-defined]
    assert h.recording.seal_reason == "storage error"
    # ... and the details go to the controller (audit log) as a fault
    assert any("Input/output error" in e.message for e in h.of(RecorderFault))  # type: ignore[attr-defined]
    assert h.recorder.mode == "idle"

    store.write_error = None  # the worker is alive: the next recording works
    h.recorder.start_recording()
    h.feed(between(items, 4, 6))
    h.recorder.stop_recording("stopped by wearer")
    h.settle()
    assert h.recording.seal_reason == "stopped by wearer"
    assert len(h.store.recordings) == 2 and h.recording.segments[0].data


def test_seal_that_cannot_be_written_still_ends_the_recording(
        harness_factory: type[Harness]) -> None:
    """Without RecordingSealed the controller would stay in its recording state."""
    store = FakeStore()
    store.seal_error = OSError(errno.EIO, "Input/output error")
    h = harness_factory(store)
    h.recorder.start_recording()
    h.feed(clip(1.0))
    h.recorder.stop_recording("stopped by wearer")
    h.settle()
    (sealed,) = h.of(RecordingSealed)
    assert sealed.recording_id == h.recording.recording_id  # type: ignore[attr-defined]
    assert not sealed.sealed  # type: ignore[attr-defined]
    assert h.of(RecorderFault)
    assert h.recorder.mode == "idle"


def test_backlog_stays_bounded_while_storage_is_slower_than_the_camera(
        harness_factory: type[Harness]) -> None:
    """Live media queues behind the pre-record backlog. A card slower than the camera
    must not grow that queue without bound (a Pi Zero has 512 MB): beyond the inbox's
    capacity media is dropped, counted and reported, exactly as the inbox does."""
    capacity = 200
    h = harness_factory(prerecord_seconds=2.0, prerecord_audio=True, segment_seconds=60,
                        queue_capacity=capacity)
    items = clip(20.0)
    buffered = between(items, 0, 3)
    h.recorder.start_buffering()
    h.feed(buffered)
    h.settle()
    live = iter(between(items, 3, 20))
    exhausted = threading.Event()
    peak = 0

    def slow_card() -> None:  # every write takes as long as 8 items of media last
        nonlocal peak
        peak = max(peak, h.recorder.backlog_items)
        batch = list(itertools.islice(live, 8))
        for item in batch:
            if isinstance(item, VideoPacket):
                h.recorder.on_video(item)
            else:
                h.recorder.on_audio(item)
        if not batch:
            exhausted.set()

    h.store.on_write = slow_card
    h.recorder.start_recording()
    assert exhausted.wait(30.0)
    h.recorder.stop_recording("stopped by wearer")
    h.settle(drops_expected=True)
    assert peak <= len(buffered) + capacity
    assert h.recorder.dropped > 0
    assert h.of(QueueOverflow)
    assert h.recording.seal_reason == "stopped by wearer"


def test_a_clock_step_is_noted_in_the_open_recording_at_the_newest_media(
        harness_factory: type[Harness]) -> None:
    """L12: the manifest says where its wall times jump; nothing without a recording."""
    h = harness_factory()
    items = clip(3.0)
    before = datetime(2025, 1, 1, 8, 0, 0)
    step = ClockStep(-3600.0, before, before.replace(hour=7), synchronised=True)
    h.recorder.note_clock_step(step)  # not recording: nothing to note it in
    h.recorder.start_recording()
    h.feed(between(items, 0, 1.5))
    h.recorder.note_clock_step(step)
    h.feed(between(items, 1.5, 3))
    h.recorder.stop_recording("done")
    h.settle()
    h.recorder.note_clock_step(step)  # sealed: nothing to note it in either
    h.settle()
    (noted,) = h.recording.clock_steps
    assert noted == {"media_us": 1_480_000, "step_seconds": -3600.0, "wall_before": before,
                     "wall_after": before.replace(hour=7), "synchronised": True}
    assert not h.of(RecorderFault)


def test_progress_moves_with_the_worker_and_stands_still_when_it_hangs(
        harness_factory: type[Harness]) -> None:
    """What the watchdog follows (health.py): a worker stuck in storage stops it."""
    store = BlockingStore()
    h = harness_factory(store)
    h.clock.advance(5.0)
    h.settle()
    assert h.recorder.progress >= 1005.0
    h.recorder.start_recording()
    assert store.entered.wait(10.0)  # the worker is stuck in begin_recording
    stuck_at = h.recorder.progress
    h.clock.advance(60.0)
    threading.Event().wait(0.3)  # several worker ticks, had it been free (real time)
    assert h.recorder.progress == stuck_at
    store.release.set()
    h.settle()
    assert h.recorder.progress >= 1065.0

"""The recorder: media in from the camera/mic threads, segments out to evidence storage.

Threading: `on_video`/`on_audio` run on the device threads and only append to a bounded
inbox (dropping and counting on overflow, never blocking). Controller commands append
to the same inbox, so commands and media stay in arrival order, and return at once.
One worker thread owns everything else: the pre-record ring, the muxer, the open
segment and all storage calls. Events go back through `on_event` on that thread.

Why commands are asynchronous, including start_recording: begin_recording creates a
directory and a signed manifest header, i.e. SD-card I/O whose latency the controller
must not wait for; a failure (NoRecipientError, StorageFullError) arrives as
RecordingRefused within milliseconds, and nothing is lost meanwhile because media
keeps flowing into the ring. A missing recipient is a provisioning fault the
controller should already refuse at boot (no "cheap check" exists in the storage
contract to do it synchronously).

Pre-record flush: the ring can hold 120 s of media, more than the worker can encrypt
and write in one go without the inbox overflowing. It is moved to a backlog that is
worked off in slices while live media queues behind it, so nothing is dropped at the
moment recording starts. Live media in the backlog is bounded like the inbox (a card
slower than the camera must not eat the RAM): beyond the inbox capacity it is dropped
and counted.

Every recording that starts ends with RecordingSealed (or never starts: RecordingRefused),
whatever fails on the way: the controller leaves its recording state on those events
only. Seal reasons are fixed phrases (the manifest holds no free text); the details of a
failure go out as RecorderFault.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bodycam.firmware.config.model import AudioConfig, EvidenceConfig, VideoConfig
from bodycam.firmware.evidence.api import EvidenceError, EvidenceStore, GapKind, StorageFullError
from bodycam.firmware.media.events import (
    MarkerAdded,
    ModeChanged,
    QueueOverflow,
    RecorderEvent,
    RecorderFault,
    RecorderMode,
    RecordingRefused,
    RecordingSealed,
    RecordingStarted,
    SegmentClosed,
    StallEnded,
    StallStarted,
    StorageFull,
)
from bodycam.firmware.media.prerecord import MediaItem, PrerecordBuffer
from bodycam.firmware.media.segmenter import (
    RECORDER_ERROR_REASON,
    STORAGE_ERROR_REASON,
    STORAGE_FULL_REASON,
    ClockStep,
    SegmentedRecording,
    WallAnchor,
)
from bodycam.hal.interfaces import AudioChunk, Clock, VideoPacket

log = logging.getLogger(__name__)

TICK_S = 0.1  # the worker wakes at least this often: SegmentWriter.tick, stall checks
BACKLOG_SLICE = 32  # pre-record items muxed between two looks at the inbox
OVERFLOW_REPORT_S = 1.0  # at most one QueueOverflow event per second
DEFAULT_QUEUE_CAPACITY = 512  # media items (~10 s of 30 fps video plus 50 chunks/s)

CommandName = Literal["start_buffering", "stop_buffering", "start_recording",
                      "stop_recording", "add_marker", "clock_step", "barrier", "shutdown"]
EventHandler = Callable[[RecorderEvent], None]


@dataclass(frozen=True)
class _Command:
    name: CommandName
    at: float  # clock.monotonic() of the call
    wall: datetime  # wall-clock time of the call (the press)
    media_us: int | None  # newest media timestamp known at the call
    reason: str = ""
    clock_step: ClockStep | None = None  # only for "clock_step"
    done: threading.Event = field(default_factory=threading.Event)


class _Inbox:
    """Bounded for media, unbounded for commands, one FIFO for both."""

    def __init__(self, capacity: int, clock: Clock) -> None:
        self._capacity = capacity
        self._clock = clock
        self._items: deque[MediaItem | _Command] = deque()
        self._media = 0
        self._cond = threading.Condition()
        self.dropped = 0
        self.newest_us: int | None = None
        self.last_arrival: dict[GapKind, float] = {}

    def put_media(self, item: MediaItem, source: GapKind) -> bool:
        now = self._clock.monotonic()
        with self._cond:
            self.last_arrival[source] = now
            if self._media >= self._capacity:
                self.dropped += 1
                return False
            self._items.append(item)
            self._media += 1
            if self.newest_us is None or item.pts_us > self.newest_us:
                self.newest_us = item.pts_us
            self._cond.notify()
        return True

    @property
    def capacity(self) -> int:
        return self._capacity

    def count_drop(self) -> None:
        """Media dropped after the inbox (behind the backlog), reported like inbox drops."""
        with self._cond:
            self.dropped += 1

    def put_command(self, command: _Command) -> None:
        with self._cond:
            self._items.append(command)
            self._cond.notify()

    def take(self, timeout: float) -> list[MediaItem | _Command]:
        with self._cond:
            if not self._items and timeout > 0:
                self._cond.wait(timeout)
            items = list(self._items)
            self._items.clear()
            self._media = 0
        return items


class Recorder:
    """Pre-record ring, segmenter and stall watchdog behind a non-blocking interface."""

    def __init__(self, clock: Clock, store: EvidenceStore, *, video: VideoConfig,
                 audio: AudioConfig, evidence: EvidenceConfig, on_event: EventHandler,
                 queue_capacity: int = DEFAULT_QUEUE_CAPACITY) -> None:
        self._clock = clock
        self._store = store
        self._video = video
        self._audio = audio if audio.enabled else None
        self._segment_seconds = evidence.segment_seconds
        self._stall_s = evidence.stall_seconds
        self._on_event = on_event
        self._inbox = _Inbox(queue_capacity, clock)
        self._ring = PrerecordBuffer(
            evidence.prerecord_seconds, evidence.prerecord_audio and self._audio is not None,
            max_bytes=prerecord_ceiling(evidence.prerecord_seconds, video, self._audio))
        self._buffering = False
        self._recording: SegmentedRecording | None = None
        self._backlog: deque[MediaItem] = deque()
        self._backlog_limit = 0  # the pre-record drained into it + the inbox capacity
        self._mode: RecorderMode = "idle"
        self._active_since = clock.monotonic()
        self._stalls: dict[GapKind, float] = {}
        self._last_end_us: dict[GapKind, int] = {}
        self._overflow_reported = 0
        self._overflow_reported_at: float | None = None
        self._thread: threading.Thread | None = None
        self._progress = clock.monotonic()

    # ------------------------------------------------------------------ any thread

    @property
    def progress(self) -> float:
        """clock.monotonic() of the worker's last step (a loop turn or a muxed item).

        The watchdog follows it (health.py): a worker that stands still writes no
        evidence, and only a restart gets it going again. A long pre-record flush or
        drain moves it with every item, so only a real hang (a deadlock, a storage call
        that never returns) leaves it behind.
        """
        return self._progress

    @property
    def mode(self) -> RecorderMode:
        return self._mode

    @property
    def dropped(self) -> int:
        """Media items dropped because the inbox was full (since start)."""
        return self._inbox.dropped

    @property
    def prerecord_bytes(self) -> int:
        return self._ring.bytes_held

    @property
    def backlog_items(self) -> int:
        """Media waiting behind the pre-record flush (diagnostics, bench)."""
        return len(self._backlog)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("recorder already started")
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Seal any recording ("shutdown") and stop the worker; False if it hung."""
        if self._thread is None:
            return True
        self._command("shutdown", reason="shutdown")
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def on_video(self, packet: VideoPacket) -> None:
        """Camera callback: never blocks; drops (and counts) when the inbox is full."""
        self._inbox.put_media(packet, "camera")

    def on_audio(self, chunk: AudioChunk) -> None:
        """Microphone callback: never blocks; drops (and counts) when the inbox is full."""
        self._inbox.put_media(chunk, "microphone")

    def start_buffering(self) -> None:
        self._command("start_buffering")

    def stop_buffering(self) -> None:
        """Stop filling the ring and discard its content (it was not used)."""
        self._command("stop_buffering")

    def start_recording(self) -> None:
        """Begin a recording that includes the pre-record; outcome arrives as an event."""
        self._command("start_recording")

    def stop_recording(self, reason: str = "stopped") -> None:
        self._command("stop_recording", reason=reason)

    def add_marker(self) -> None:
        """Mark the current moment (media time of the newest packet at the call)."""
        self._command("add_marker")

    def note_clock_step(self, step: ClockStep) -> None:
        """The wall clock stepped: an open recording's manifest records it at the media
        time of the newest packet (nothing happens without a recording)."""
        self._command("clock_step", step=step)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far has been processed (tests, bench)."""
        return self._command("barrier").done.wait(timeout)

    def _command(self, name: CommandName, reason: str = "",
                 step: ClockStep | None = None) -> _Command:
        command = _Command(name, self._clock.monotonic(), self._clock.wall(),
                           self._inbox.newest_us, reason, step)
        self._inbox.put_command(command)
        return command

    # ------------------------------------------------------------------ worker thread

    def _run(self) -> None:
        running = True
        while running:
            self._progress = self._clock.monotonic()
            handled: list[_Command] = []
            for item in self._inbox.take(0 if self._backlog else TICK_S):
                if isinstance(item, _Command):
                    running = self._guarded(self._handle, item) and running
                    handled.append(item)
                else:
                    self._guarded(self._on_media, item)
            self._guarded(self._work_off_backlog)
            self._guarded(self._housekeeping)
            for command in handled:  # after housekeeping: flush() sees its effects too
                command.done.set()

    def _guarded(self, step: Callable[..., bool | None], *args: object) -> bool:
        """Run one step; an unexpected error is reported and never kills the worker.

        Returns False only when the step asked the worker to stop.
        """
        try:
            return step(*args) is not False
        except Exception as exc:
            log.exception("recorder step failed")
            self._fault(exc)
            return True

    def _handle(self, cmd: _Command) -> bool:
        if cmd.name == "start_buffering":
            self._buffering = True
        elif cmd.name == "stop_buffering":
            self._buffering = False
            self._ring.clear()
        elif cmd.name == "start_recording":
            self._start_recording(cmd)
        elif cmd.name == "stop_recording":
            self._stop_recording(cmd.reason)
        elif cmd.name == "add_marker":
            self._add_marker(cmd)
        elif cmd.name == "clock_step":
            self._note_clock_step(cmd)
        elif cmd.name == "barrier":
            self._drain_backlog()
        elif cmd.name == "shutdown":
            self._stop_recording(cmd.reason)
            self._buffering = False
            self._ring.clear()
            self._update_mode(cmd.at)
            return False
        self._update_mode(cmd.at)
        return True

    def _start_recording(self, cmd: _Command) -> None:
        if self._recording is not None:
            return
        first = self._ring.first_us
        prerecord_us = 0
        if first is not None and cmd.media_us is not None:
            prerecord_us = max(0, cmd.media_us - first)
        try:
            writer = self._store.begin_recording(
                wall_start=cmd.wall, clock_synchronised=self._clock.synchronised(),
                prerecord_us=prerecord_us)
        except Exception as exc:  # not only EvidenceError: a read-only card is an OSError
            if not isinstance(exc, EvidenceError):
                log.exception("begin_recording failed")
            self._emit(RecordingRefused(str(exc), exc))
            return
        self._recording = SegmentedRecording(
            writer, video=self._video, audio=self._audio,
            segment_seconds=self._segment_seconds,
            anchor=WallAnchor(cmd.media_us, cmd.wall))
        for source in self._stalls:
            self._recording.source_stalled(source, self._last_end_us.get(source, 0))
        self._backlog.extend(self._ring.drain())
        self._backlog_limit = len(self._backlog) + self._inbox.capacity
        self._emit(RecordingStarted(writer.recording_id, prerecord_us))

    def _stop_recording(self, reason: str) -> None:
        self._drain_backlog()
        if self._recording is not None:
            self._end_recording(reason)

    def _add_marker(self, cmd: _Command) -> None:
        rec = self._recording
        if rec is None:
            return
        media_us = cmd.media_us if cmd.media_us is not None else 0
        rec.add_marker(media_us, cmd.wall)
        origin = rec.origin_us if rec.origin_us is not None else media_us
        self._emit(MarkerAdded(rec.recording_id, max(0, media_us - origin)))

    def _note_clock_step(self, cmd: _Command) -> None:
        rec = self._recording
        if rec is None or cmd.clock_step is None:
            return
        rec.note_clock_step(cmd.media_us if cmd.media_us is not None else 0, cmd.clock_step)

    def _on_media(self, item: MediaItem) -> None:
        source: GapKind = "camera" if isinstance(item, VideoPacket) else "microphone"
        if source in self._stalls:
            since = self._stalls.pop(source)
            self._emit(StallEnded(source, since, self._clock.monotonic()))
            if self._recording is not None:
                self._recording.source_resumed(source, item.pts_us)
        duration = (item.duration_us if isinstance(item, AudioChunk)
                    else 1_000_000 // max(self._video.fps, 1))
        self._last_end_us[source] = item.pts_us + duration
        if isinstance(item, AudioChunk) and self._audio is None:
            return
        if self._recording is not None:
            if len(self._backlog) >= self._backlog_limit > 0:
                self._inbox.count_drop()
            elif self._backlog:
                self._backlog.append(item)
            else:
                self._record(item)
        elif self._buffering:
            self._ring.push(item)

    def _record(self, item: MediaItem) -> None:
        rec = self._recording
        if rec is None:
            return
        self._progress = self._clock.monotonic()
        try:
            closed = rec.add(item)
        except StorageFullError:
            self._end_recording(STORAGE_FULL_REASON)
            return
        except Exception as exc:
            log.exception("recording %s failed", rec.recording_id)
            self._fault(exc)
            self._end_recording(STORAGE_ERROR_REASON if isinstance(exc, EvidenceError | OSError)
                                else RECORDER_ERROR_REASON)
            return
        if closed is not None:
            self._emit(SegmentClosed(rec.recording_id, closed))

    def _work_off_backlog(self) -> None:
        for _ in range(min(BACKLOG_SLICE, len(self._backlog))):
            self._record(self._backlog.popleft())

    def _drain_backlog(self) -> None:
        while self._backlog and self._recording is not None:
            self._record(self._backlog.popleft())
        self._backlog.clear()

    def _end_recording(self, reason: str) -> None:
        rec, self._recording = self._recording, None
        self._backlog.clear()
        if rec is None:
            return
        try:
            self._seal(rec, reason)
        finally:
            self._update_mode()  # after RecordingSealed: the recording is really over

    def _seal(self, rec: SegmentedRecording, reason: str) -> None:
        last = rec.segments[-1] if rec.segments else None
        try:
            outcome = rec.seal(reason)
        except Exception as exc:
            # Left unsealed on the card: the next start's recovery seals it. The
            # recording is over all the same, and the controller must hear so.
            log.exception("sealing %s failed", rec.recording_id)
            self._fault(exc, rec.recording_id)
            self._emit(RecordingSealed(rec.recording_id, reason, len(rec.segments),
                                       sealed=False))
            return
        if rec.segments and rec.segments[-1] is not last:
            self._emit(SegmentClosed(rec.recording_id, rec.segments[-1]))
        for error in outcome.errors:
            if not isinstance(error, StorageFullError):
                self._fault(error, rec.recording_id)
        if outcome.reason == STORAGE_FULL_REASON:
            self._emit(StorageFull(rec.recording_id))
        seal = outcome.record
        self._emit(RecordingSealed(rec.recording_id, outcome.reason, len(rec.segments),
                                   manifest_seq=seal.manifest_seq,
                                   manifest_hash=seal.manifest_hash, counter=seal.counter))

    def _housekeeping(self) -> None:
        now = self._clock.monotonic()
        if self._recording is not None:
            self._recording.tick(now)
        if self._mode != "idle":
            self._check_stalls(now)
        self._report_overflow(now)

    def _check_stalls(self, now: float) -> None:
        sources: tuple[GapKind, ...] = ("camera", "microphone") if self._audio else ("camera",)
        for source in sources:
            if source in self._stalls:
                continue
            since = max(self._inbox.last_arrival.get(source, self._active_since),
                        self._active_since)
            if now - since < self._stall_s:
                continue
            self._stalls[source] = since
            self._emit(StallStarted(source, since))
            if self._recording is not None:
                self._recording.source_stalled(source, self._last_end_us.get(source, 0))

    def _report_overflow(self, now: float) -> None:
        total = self._inbox.dropped
        if total == self._overflow_reported:
            return
        if (self._overflow_reported_at is not None
                and now - self._overflow_reported_at < OVERFLOW_REPORT_S):
            return
        self._emit(QueueOverflow(total - self._overflow_reported, total))
        self._overflow_reported = total
        self._overflow_reported_at = now

    def _update_mode(self, at: float | None = None) -> None:
        """Publish the mode; `at` is when the change was asked for (default: now)."""
        mode: RecorderMode = ("recording" if self._recording is not None
                              else "buffering" if self._buffering else "idle")
        if mode == self._mode:
            return
        if self._mode == "idle":
            # stall detection starts counting from the request, not from when the
            # worker got to it
            self._active_since = self._clock.monotonic() if at is None else at
        self._mode = mode
        self._emit(ModeChanged(mode))

    def _fault(self, exc: Exception, recording_id: str | None = None) -> None:
        message = f"{type(exc).__name__}: {exc}"
        if recording_id is None and self._recording is not None:
            recording_id = self._recording.recording_id
        self._emit(RecorderFault(message, recording_id))

    def _emit(self, event: RecorderEvent) -> None:
        try:
            self._on_event(event)
        except Exception:
            log.exception("on_event handler failed for %r", event)


def prerecord_ceiling(seconds: float, video: VideoConfig, audio: AudioConfig | None) -> int:
    """Hard RAM ceiling for the ring: twice (N s + one GOP) at the configured rates.

    Twice, because the bitrate is a target that busy scenes exceed; one GOP, because
    the ring keeps a whole GOP beyond N seconds; plus 1 MiB of slack for small N.
    """
    gop_s = video.keyframe_interval / max(video.fps, 1)
    rate = video.bitrate_kbps * 1000 // 8
    if audio is not None:
        rate += audio.sample_rate * audio.channels * 2
    return int(2 * (seconds + gop_s) * rate) + (1 << 20)

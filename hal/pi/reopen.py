"""Camera and microphone that open their device on start() and open it afresh after a stall.

The device program answers a stalled or missing source with stop() then start()
(firmware/device/sources.py), never with its own restart. On the Pi that only reaches
the hardware if start() opens a device that is not open (a USB microphone missing at
boot, or plugged back in later: PortAudio sees a new device only when opened again) and
if stop() releases a device that had gone quiet, so that the next start() opens it from
scratch (a wedged capture stream or camera pipeline is closed, not just paused). A
device that delivers keeps its stream open across stop/start, because opening
PortAudio or libcamera takes a while and a press must not wait for it.

So `bodycam run` no longer exits when the microphone (or the camera) cannot be opened at
boot: the part is reported as missing, the camera records what it can with an alarm, and
every later start() tries again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Generic, Literal, Protocol, TypeVar

from bodycam.hal.interfaces import (
    AudioCallback,
    AudioChunk,
    Camera,
    Clock,
    HardwareError,
    Microphone,
    PreviewCallback,
    VideoCallback,
    VideoPacket,
)

log = logging.getLogger(__name__)

MediaSource = Literal["camera", "microphone"]
STALE_SECONDS = 1.0  # delivered nothing for this long before stop(): release the device


class _Part(Protocol):
    def stop(self) -> None: ...

    def close(self) -> None: ...


class _MicrophonePart(_Part, Protocol):
    """What the wrapper needs of a sound card (PiMicrophone)."""

    @property
    def running(self) -> bool: ...

    def start(self, on_audio: AudioCallback) -> None: ...


class _CameraPart(_Part, Protocol):
    """What the wrapper needs of a camera (PiCamera)."""

    @property
    def running(self) -> bool: ...

    def start(self, on_video: VideoCallback, on_preview: PreviewCallback) -> None: ...


P = TypeVar("P", bound=_Part)


class _Opened(Generic[P]):
    """The one open device behind a wrapper: opened on demand, released when it stopped
    after going quiet (or when stopping it failed)."""

    def __init__(self, opener: Callable[[], P], clock: Clock) -> None:
        self._opener = opener
        self._clock = clock
        self._part: P | None = None
        self._active_since = -math.inf  # start() or the last delivery, whichever is later

    @property
    def part(self) -> P | None:
        return self._part

    def open(self) -> P:
        """The open device, opening it now if needed (HardwareError when it cannot be)."""
        if self._part is None:
            self._part = self._opener()
        return self._part

    def started(self) -> None:
        self._active_since = self._clock.monotonic()

    def delivered(self) -> None:
        """Device thread: one store, no lock (read by stop() on the controller thread)."""
        self._active_since = self._clock.monotonic()

    def stop(self) -> None:
        part = self._part
        if part is None:
            return
        quiet = self._clock.monotonic() - self._active_since > STALE_SECONDS
        try:
            part.stop()
        except BaseException:
            self.release()  # in an unknown state: the next start opens it afresh
            raise
        if quiet:
            self.release()

    def release(self) -> None:
        part, self._part = self._part, None
        if part is None:
            return
        try:
            part.close()
        except Exception as exc:  # it is being given up on; the next open says more
            log.warning("closing a stalled device failed: %s", exc)


Q = TypeVar("Q", _MicrophonePart, _CameraPart)


class _Reopening(Generic[Q]):
    """What both wrappers share: open at boot or on start, release when quiet."""

    def __init__(self, opener: Callable[[], Q], clock: Clock) -> None:
        self._device: _Opened[Q] = _Opened(opener, clock)

    def open(self) -> None:
        """Open the device now (at boot), so a missing one is reported at once."""
        self._device.open()

    @property
    def running(self) -> bool:
        part = self._device.part
        return part is not None and part.running

    def stop(self) -> None:
        self._device.stop()

    def close(self) -> None:
        self._device.release()

    def _start(self, start: Callable[[Q], None]) -> None:
        part = self._device.open()
        try:
            start(part)
        except HardwareError:
            self._device.release()  # the next start opens it again
            raise
        self._device.started()


class ReopeningMicrophone(_Reopening[_MicrophonePart], Microphone):
    """A sound card opened by `opener` (e.g. PiMicrophone) when needed; see the module."""

    def start(self, on_audio: AudioCallback) -> None:
        def deliver(chunk: AudioChunk) -> None:
            self._device.delivered()
            on_audio(chunk)

        self._start(lambda part: part.start(deliver))


class ReopeningCamera(_Reopening[_CameraPart], Camera):
    """A camera opened by `opener` (e.g. open_pi_camera) when needed; see the module."""

    def start(self, on_video: VideoCallback, on_preview: PreviewCallback) -> None:
        def deliver(packet: VideoPacket) -> None:
            self._device.delivered()
            on_video(packet)

        self._start(lambda part: part.start(deliver, on_preview))

"""The microphone on PyAudio (PortAudio over ALSA): 16-bit PCM chunks with media timestamps.

Timestamps: chunks must share the camera's clock (CLOCK_MONOTONIC microseconds, which
is what the injected SystemClock's `monotonic()` reads on the Pi). In the callback,
PortAudio tells how long ago the first sample of the buffer was captured
(`current_time - input_buffer_adc_time`, both on PortAudio's own clock, so only their
difference is used); subtracting that from `clock.monotonic()` maps the chunk onto the
media clock. Backends that report no ADC time get the buffer duration instead (the
buffer was just filled). Scheduling jitter would make such per-callback times wobble
and overlap, which the AAC muxer does not tolerate, so chunks are time-stamped by
counting samples from an anchor, and re-anchored on the mapped time only when the two
drift apart by more than `RESYNC_BUFFERS` buffers (an overflow, or the sound card's
crystal drifting from the system clock).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from bodycam.firmware.config.model import AudioConfig
from bodycam.hal.interfaces import AudioCallback, AudioChunk, Clock, HardwareError, Microphone
from bodycam.hal.pi.deps import require

_log = logging.getLogger(__name__)

DEVICE = "microphone"
MIC_FIX = (
    "connect the USB microphone, or enable the I2S microphone's overlay in "
    "/boot/firmware/config.txt (for example dtoverlay=googlevoicehat-soundcard) and reboot; "
    "`arecord -l` must list a capture device, and `arecord -D hw:CARD --dump-hw-params` "
    "shows the sample rates and channel counts it accepts for [audio]"
)
RESYNC_BUFFERS = 2  # re-anchor when sample counting and the mapped time differ this much


class PiMicrophone(Microphone):
    """An opened PortAudio capture stream; `start()` begins delivering AudioChunks."""

    def __init__(
        self,
        audio: AudioConfig,
        clock: Clock,
        device: str | None = None,
        *,
        buffer_ms: int = 20,
    ) -> None:
        self._pyaudio = require("pyaudio", DEVICE)
        self._clock = clock
        self._rate = audio.sample_rate
        self._channels = audio.channels
        self._frames_per_buffer = audio.sample_rate * buffer_ms // 1000
        self._lock = threading.Lock()
        self._on_audio: AudioCallback | None = None
        self._running = False
        self._anchor_us: int | None = None  # media time of the first sample counted
        self._samples = 0  # frames delivered since the anchor
        self.overflows = 0
        self.resyncs = 0
        self.callback_errors = 0
        self._pa = self._pyaudio.PyAudio()
        try:
            index, name = self._select_device(device)
            self._where = f"sound input {name!r}"
            self._stream = self._open(index)
        except BaseException:
            self._pa.terminate()
            raise

    def _select_device(self, wanted: str | None) -> tuple[int, str]:
        """Find the input device whose name contains `wanted`, or the default input."""
        if wanted is None:
            try:
                info = self._pa.get_default_input_device_info()
            except OSError as exc:
                raise HardwareError(
                    DEVICE, "default sound input", f"no sound input device ({exc})", MIC_FIX
                ) from exc
            return int(info["index"]), str(info["name"])
        inputs = [
            self._pa.get_device_info_by_index(i) for i in range(self._pa.get_device_count())
        ]
        inputs = [info for info in inputs if int(info["maxInputChannels"]) > 0]
        for info in inputs:
            if wanted.lower() in str(info["name"]).lower():
                return int(info["index"]), str(info["name"])
        found = ", ".join(repr(str(info["name"])) for info in inputs) or "none"
        raise HardwareError(
            DEVICE,
            f"sound input matching {wanted!r}",
            f"no such capture device (found: {found})",
            MIC_FIX,
        )

    def _open(self, index: int) -> Any:
        try:
            return self._pa.open(
                format=self._pyaudio.paInt16,
                channels=self._channels,
                rate=self._rate,
                input=True,
                input_device_index=index,
                frames_per_buffer=self._frames_per_buffer,
                stream_callback=self._callback,
                start=False,
            )
        except (OSError, ValueError) as exc:
            raise HardwareError(
                DEVICE,
                self._where,
                f"cannot open 16-bit capture at {self._rate} Hz, {self._channels} channel(s) "
                f"({exc})",
                MIC_FIX,
            ) from exc

    @property
    def running(self) -> bool:
        return self._running

    def start(self, on_audio: AudioCallback) -> None:
        with self._lock:
            if self._running:
                raise RuntimeError("microphone already started")
            self._on_audio = on_audio
            self._anchor_us = None
            try:
                self._stream.start_stream()
            except OSError as exc:
                raise HardwareError(
                    DEVICE, self._where, f"cannot start capture ({exc})", MIC_FIX
                ) from exc
            self._running = True

    def stop(self) -> None:
        with self._lock:
            if not self._running:
                return
            self._running = False
            # Pa_StopStream returns after the last callback has finished.
            self._stream.stop_stream()
            self._on_audio = None

    def close(self) -> None:
        """Stop, close the stream and release PortAudio."""
        self.stop()
        self._stream.close()
        self._pa.terminate()

    # -- PortAudio thread --------------------------------------------------------------

    def _chunk_pts_us(self, frame_count: int, time_info: Mapping[str, float]) -> int:
        adc = time_info.get("input_buffer_adc_time", 0.0)
        age = time_info.get("current_time", 0.0) - adc
        if adc <= 0 or not 0 <= age < 1:  # backend without (plausible) ADC times
            age = frame_count / self._rate
        mapped = round((self._clock.monotonic() - age) * 1_000_000)
        if self._anchor_us is None:
            self._anchor_us, self._samples = mapped, 0
        counted = self._anchor_us + self._samples * 1_000_000 // self._rate
        if abs(mapped - counted) > RESYNC_BUFFERS * frame_count * 1_000_000 // self._rate:
            self.resyncs += 1
            self._anchor_us, self._samples, counted = mapped, 0, mapped
        self._samples += frame_count
        return counted

    def _callback(
        self, in_data: bytes | None, frame_count: int, time_info: Mapping[str, float],
        status_flags: int,
    ) -> tuple[None, int]:
        """Wrap the buffer into an AudioChunk and hand it on; never raises, never blocks."""
        on_audio = self._on_audio
        if on_audio is not None and in_data:
            if status_flags & self._pyaudio.paInputOverflow:
                self.overflows += 1
            try:
                on_audio(
                    AudioChunk(
                        pcm=bytes(in_data),
                        pts_us=self._chunk_pts_us(frame_count, time_info),
                        sample_rate=self._rate,
                        channels=self._channels,
                    )
                )
            except Exception:  # an exception here would make PyAudio abort the stream
                self.callback_errors += 1
        return None, self._pyaudio.paContinue


class DisabledMicrophone(Microphone):
    """Stands in when [audio] enabled = false: no sound card is opened, no chunk delivered.

    Lets a camera without a microphone boot; the controller knows from the configuration
    that no audio is expected, so the silence is not reported as a stall.
    """

    def __init__(self) -> None:
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def start(self, on_audio: AudioCallback) -> None:
        self._running = True

    def stop(self) -> None:
        self._running = False

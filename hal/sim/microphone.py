"""Simulated microphone: low-level noise plus a 1 kHz beep at every whole media second.

Chunks sit on an absolute sample grid of the injected clock (see pacing.py): sample s is
at media time s / sample_rate, so every beep starts exactly at the instant the simulated
camera shows its full white frame, on the same clock. A recording therefore carries its
own A/V-sync marks.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt

from bodycam.firmware.config.model import AudioConfig
from bodycam.hal.interfaces import (
    AudioCallback,
    AudioChunk,
    Clock,
    HardwareError,
    Microphone,
)
from bodycam.hal.sim.pacing import GridPacer

BEEP_HZ = 1000
BEEP_SECONDS = 0.05
BEEP_AMPLITUDE = 16000  # about -6 dBFS
NOISE_AMPLITUDE = 60  # standard deviation, about -55 dBFS: "a quiet room"


def synth_samples(first_sample: int, count: int, sample_rate: int,
                  rng: np.random.Generator) -> npt.NDArray[np.int16]:
    """Mono samples [first_sample, first_sample + count) of the absolute sample grid."""
    s = np.arange(first_sample, first_sample + count, dtype=np.int64)
    in_beep = (s % sample_rate) < round(BEEP_SECONDS * sample_rate)
    tone = np.sin(2 * np.pi * BEEP_HZ * (s % sample_rate) / sample_rate) * BEEP_AMPLITUDE
    noise = rng.normal(0.0, NOISE_AMPLITUDE, count)
    return np.clip(np.where(in_beep, tone, 0.0) + noise, -32768, 32767).astype(np.int16)


def _discard(_: AudioChunk) -> None:
    """Callback used before start(): drops the chunk."""


class SimMicrophone(Microphone):
    """int16 PCM chunks of `chunk_ms` on the microphone's own thread."""

    def __init__(self, audio: AudioConfig, clock: Clock, *, chunk_ms: int = 20,
                 seed: int = 0) -> None:
        if (audio.sample_rate * chunk_ms) % 1000:
            raise ValueError(f"a {chunk_ms} ms chunk is not a whole number of samples at "
                             f"{audio.sample_rate} Hz; choose a chunk length that divides")
        self._audio = audio
        self._chunk_frames = audio.sample_rate * chunk_ms // 1000
        self._rng = np.random.default_rng(seed)
        self._on_audio: AudioCallback = _discard
        self._pacer = GridPacer("sim-microphone", clock,
                                Fraction(chunk_ms, 1000), self._produce)
        self.failed = False
        self._plugged = True
        self._stream_dead = False  # opened before an unplug: delivers nothing until reopened

    @property
    def running(self) -> bool:
        return self._pacer.running

    def start(self, on_audio: AudioCallback) -> None:
        if not self._plugged:
            raise HardwareError("microphone", "simulated USB microphone", "not connected",
                                "plug the microphone in")
        self._stream_dead = False
        self._on_audio = on_audio
        self._pacer.start()

    def stop(self) -> None:
        self._pacer.stop()

    def stall(self, seconds: float) -> None:
        """Deliver nothing for `seconds` of clock time, then resume on the grid."""
        self._pacer.stall(seconds)

    def fail(self) -> None:
        """A dead microphone: the stream stays open but no audio ever arrives again."""
        self.failed = True

    def unplug(self) -> None:
        """A USB microphone pulled out: the open stream goes silent for good and start()
        raises HardwareError until `plug()`."""
        self._plugged = False
        self._stream_dead = True

    def plug(self) -> None:
        """Plugged back in: only a new start() (stop, then start) hears it again."""
        self._plugged = True

    def _produce(self, index: int) -> None:
        if self.failed or self._stream_dead:
            return
        first = index * self._chunk_frames
        mono = synth_samples(first, self._chunk_frames, self._audio.sample_rate, self._rng)
        pcm = np.repeat(mono[:, None], self._audio.channels, axis=1)
        self._on_audio(AudioChunk(pcm.astype("<i2").tobytes(), self._pacer.pts_us(index),
                                  self._audio.sample_rate, self._audio.channels))

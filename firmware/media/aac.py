"""PCM chunks -> AAC packets on the recording's timeline (PyAV's native AAC encoder).

The encoder takes exactly 1024 samples per frame, microphones deliver whatever their
period is; PyAV cuts what it is given into encoder frames itself (its frame-size
filter, always in the path for AAC), stamping each from the pts of the samples handed
in, so batches of any length go in as one frame each. The timeline follows the sample
count, not each chunk's timestamp, so timestamp jitter of a few milliseconds does not
chop the audio; real discontinuities are handled explicitly:

* a short gap (<= SILENCE_FILL_LIMIT_US) is filled with silence: glitch-free playback;
* a long gap (a stalled microphone) is left as a gap: the partial frame is padded and
  encoding resumes at the new timestamp, so a missing stretch never masquerades as
  recorded silence in evidence;
* an overlap (a chunk that starts before the previous one ended) loses its overlapping
  start, keeping timestamps strictly increasing.

Chunks are collected for BATCH_US and converted/encoded together: per-chunk numpy
conversion and encoder calls at 50 chunks/s cost as much CPU as the AAC encoding
itself, and 100 ms is well inside the power-loss window the muxer keeps.

AAC priming: the encoder's first packet has pts = first sample - 1024 (decoder delay).
Packets keep that pts, so players that honour timestamps (all of them, for MPEG-TS)
stay in sync; the muxer adds a fixed offset so it is never negative.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from bodycam.firmware.config.model import AudioConfig
from bodycam.hal.interfaces import AudioChunk

JITTER_TOLERANCE_US = 10_000
SILENCE_FILL_LIMIT_US = 250_000
BATCH_US = 100_000
_LAYOUTS = {1: "mono", 2: "stereo"}


class AacEncoder:
    """Encodes one recording's audio; timestamps in samples relative to `origin_us`."""

    def __init__(self, config: AudioConfig, origin_us: int) -> None:
        if config.channels not in _LAYOUTS:
            raise ValueError(
                f"audio.channels = {config.channels} is not supported; use 1 (mono) or 2 "
                "(stereo)")
        self.config = config
        self.time_base = Fraction(1, config.sample_rate)
        self._origin_us = origin_us
        self._layout = _LAYOUTS[config.channels]
        self._codec = av.CodecContext.create("aac", "w")
        self._codec.sample_rate = config.sample_rate
        self._codec.layout = self._layout
        self._codec.format = "fltp"
        self._codec.bit_rate = config.bitrate_kbps * 1000
        self._codec.time_base = self.time_base
        # libav's "fast" coder (the default "twoloop" is a search): half the CPU of the
        # whole pipeline was AAC encoding (bodycam bench), and speech at 96 kbit/s does
        # not need the search. No perceptual noise substitution: evidence keeps the
        # waveform of background sound instead of replacing noise-like bands with
        # synthetic noise (and the encoder skips that analysis).
        self._codec.options = {"aac_coder": "fast", "aac_pns": "0"}
        self._codec.open()
        self.frame_size: int = self._codec.frame_size
        self._next: int | None = None  # sample index the next chunk should start at
        self._stretch_start = 0  # sample index where the current gap-free stretch began
        self._sent = 0  # samples of this stretch handed to the encoder
        self._tolerance = self._samples(JITTER_TOLERANCE_US)
        self._fill_limit = self._samples(SILENCE_FILL_LIMIT_US)
        self.end_us: int | None = None  # end of the audio handed in so far (relative)
        # int16 interleaved PCM accepted onto the timeline but not yet sent to the encoder.
        self._batch = self._samples(BATCH_US)
        self._pending: list[npt.NDArray[np.int16]] = []
        self._pending_samples = 0

    def encode(self, chunk: AudioChunk) -> list[av.Packet[Any]]:
        """Add one chunk; returns the packets that became ready (pts in 1/sample_rate)."""
        if (chunk.sample_rate, chunk.channels) != (self.config.sample_rate,
                                                   self.config.channels):
            raise ValueError(
                f"microphone delivers {chunk.sample_rate} Hz x {chunk.channels} ch but the "
                f"recording was set up for {self.config.sample_rate} Hz x "
                f"{self.config.channels} ch; make audio.sample_rate/channels match the mic")
        samples = np.frombuffer(chunk.pcm, dtype="<i2").reshape(-1, chunk.channels)
        start = self._samples(chunk.pts_us - self._origin_us)
        packets: list[av.Packet[Any]] = []
        if self._next is None:
            self._stretch_start = self._next = start
        delta = start - self._next
        if delta > self._fill_limit:
            packets += self._pad_partial_frame()
            if start >= self._next:  # a new stretch of timeline
                self._stretch_start = self._next = start
                self._sent = 0
            delta = start - self._next
        if delta > self._tolerance:
            samples = np.concatenate([np.zeros((delta, chunk.channels), np.int16), samples])
        elif delta < -self._tolerance:
            samples = samples[-delta:]
        if len(samples):
            self._pending.append(samples)
            self._pending_samples += len(samples)
            self._next += len(samples)
            self.end_us = self._next * 1_000_000 // self.config.sample_rate
            if self._pending_samples >= self._batch:
                packets += self._drain()
        return packets

    def flush(self) -> list[av.Packet[Any]]:
        """Encode what is buffered and drain the encoder (end of the recording)."""
        packets = self._pad_partial_frame()
        packets += self._codec.encode(None)  # PyAV stamps the codec's time_base
        return packets

    def _drain(self) -> list[av.Packet[Any]]:
        """Convert the batched PCM in one go and encode the frames it completes."""
        if not self._pending:
            return []
        interleaved = self._pending[0] if len(self._pending) == 1 else np.concatenate(
            self._pending)
        self._pending.clear()
        self._pending_samples = 0
        return self._write(interleaved.T.astype(np.float32) / 32768.0)

    def _write(self, samples: npt.NDArray[np.float32]) -> list[av.Packet[Any]]:
        """Hand planar samples to the encoder as one frame; returns the packets it made.

        Samples short of a whole encoder frame wait inside PyAV until the next call.
        """
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp",
                                           layout=self._layout)
        frame.sample_rate = self.config.sample_rate
        frame.pts, frame.time_base = self._stretch_start + self._sent, self.time_base
        self._sent += samples.shape[1]
        return list(self._codec.encode(frame))

    def _pad_partial_frame(self) -> list[av.Packet[Any]]:
        """Encode the batch, completing a partly filled frame with silence (1024 needed)."""
        packets = self._drain()
        missing = -self._sent % self.frame_size
        if not missing:
            return packets
        assert self._next is not None  # samples were sent, so the timeline started
        self._next += missing
        self.end_us = self._next * 1_000_000 // self.config.sample_rate
        return packets + self._write(np.zeros((self.config.channels, missing), np.float32))

    def _samples(self, us: int) -> int:
        return round(us * self.config.sample_rate / 1_000_000)


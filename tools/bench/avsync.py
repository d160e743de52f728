"""Measure audio/video sync on a flash-and-beep test pattern.

The simulator (and the test clips) show a white frame and start a 1 kHz beep at every
whole second of media time. This decodes a recording (MPEG-TS, MP4, ...) with PyAV,
finds the flashes (frames whose mean brightness is nearly white) and the beep onsets
(where the 1 kHz envelope crosses half of its peak), pairs each flash with the nearest
onset and reports audio-minus-video offsets in milliseconds. Timing comes from the
decoded frames' timestamps, so this measures exactly what a player would do.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

WHITE_LEVEL = 230  # mean luma (0-255) above which a frame counts as a flash
BEEP_HZ = 1000.0
ENVELOPE_S = 0.004  # 1 kHz demodulation window: 4 cycles
PAIR_WINDOW_S = 0.4  # a flash and an onset further apart than this are not a pair

FloatArray = npt.NDArray[np.float64]


def measure_av_sync(media_path: Path) -> dict[str, Any]:
    """Return {"count", "median_ms", "max_abs_ms", "offsets_ms"} (audio - video, ms)."""
    flashes, times, samples = _decode(media_path)
    onsets = _beep_onsets(times, samples)
    offsets: list[float] = []
    for flash in flashes:
        if onsets.size == 0:
            break
        nearest = float(onsets[np.argmin(np.abs(onsets - flash))])
        if abs(nearest - flash) <= PAIR_WINDOW_S:
            offsets.append(round((nearest - flash) * 1000.0, 3))
    return {
        "count": len(offsets),
        "median_ms": statistics.median(offsets) if offsets else None,
        "max_abs_ms": max((abs(o) for o in offsets), default=None),
        "offsets_ms": offsets,
        "flashes": len(flashes),
        "beeps": int(onsets.size),
    }


def _decode(path: Path) -> tuple[list[float], FloatArray, FloatArray]:
    """Flash times (start of each run of white frames) and the mono audio with times."""
    flashes: list[float] = []
    previous_white = False
    chunks: list[FloatArray] = []
    chunk_times: list[FloatArray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            white = float(frame.to_ndarray(format="gray").mean()) >= WHITE_LEVEL
            if white and not previous_white and frame.time is not None:
                flashes.append(float(frame.time))
            previous_white = white
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return flashes, np.zeros(0), np.zeros(0)
        for aframe in container.decode(audio=0):
            if aframe.time is None:
                continue
            channels = len(aframe.layout.channels)
            data = aframe.to_ndarray().astype(np.float64)
            mono = (data.reshape(channels, -1).mean(axis=0) if aframe.format.is_planar
                    else data.reshape(-1, channels).mean(axis=1))
            chunks.append(mono)
            chunk_times.append(float(aframe.time) + np.arange(mono.size) / aframe.sample_rate)
    if not chunks:
        return flashes, np.zeros(0), np.zeros(0)
    return flashes, np.concatenate(chunk_times), np.concatenate(chunks)


def _beep_onsets(times: FloatArray, samples: FloatArray) -> FloatArray:
    """Times where the 1 kHz envelope rises through half its peak (window-corrected)."""
    if samples.size < 2:
        return np.zeros(0)
    rate = 1.0 / float(np.median(np.diff(times)))
    window = max(int(rate * ENVELOPE_S), 1)
    carrier = np.exp(-2j * np.pi * BEEP_HZ * times)
    kernel = np.ones(window) / window
    envelope = np.abs(np.convolve(samples * carrier, kernel, mode="full"))[:samples.size]
    loud = envelope >= envelope.max() / 2
    rising = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    # The causal moving average reaches half of a step half a window after it.
    return np.asarray(times[rising] - window / (2 * rate), dtype=np.float64)

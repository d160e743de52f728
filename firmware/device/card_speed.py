"""How fast the card takes evidence, measured the way the recorder writes it.

The pre-record ring lives in RAM until the press (by design: nothing is stored unless a
recording starts). After the press it is written to the card as fast as the card allows,
fsync'd every sync interval of media; until that flush ends, a power cut loses the part
of the ring not yet written, and the live media queued behind it. The self test writes
a probe file in the same slices with the same syncs, so the technician sees how long
that window is for the configured ring on this very card, and whether the card keeps
up with recording at all.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bodycam.firmware.config.model import AudioConfig, EvidenceConfig, VideoConfig

MIB = 1024 * 1024
MIN_PROBE_BYTES = 1 * MIB
MAX_PROBE_BYTES = 16 * MIB
MIN_SLICE_BYTES = 64 * 1024  # one age chunk
HEADROOM = 2.0  # the card must take the recording at least this many times over
FLUSH_WINDOW_TARGET_S = 1.5  # + one 0.5 s sync interval = the 2 s loss bound

SyncedWriteProbe = Callable[[Path, int, int], float]


@dataclass(frozen=True)
class RecordingLoad:
    """What recording asks of the card, from the configuration."""

    stream_bytes_per_s: float  # video + audio as recorded
    ring_bytes: int  # the pre-record ring written after a press
    slice_bytes: int  # bytes between two fsyncs while the ring is flushed

    @classmethod
    def of(cls, video: VideoConfig, audio: AudioConfig,
           evidence: EvidenceConfig) -> RecordingLoad:
        video_bps = video.bitrate_kbps * 1000 / 8
        audio_bps = audio.bitrate_kbps * 1000 / 8 if audio.enabled else 0.0
        ring_bps = video_bps + (audio_bps if evidence.prerecord_audio else 0.0)
        stream = video_bps + audio_bps
        return cls(stream_bytes_per_s=stream,
                   ring_bytes=round(ring_bps * evidence.prerecord_seconds),
                   slice_bytes=max(MIN_SLICE_BYTES,
                                   round(stream * evidence.sync_interval_seconds)))


@dataclass(frozen=True)
class CardVerdict:
    ok: bool
    detail: str  # what was measured and what it means
    fix: str  # empty when ok


def synced_write_bytes_per_s(directory: Path, total: int, slice_bytes: int) -> float:
    """Write `total` bytes in `slice_bytes` pieces, fsync after each; bytes per second.

    The probe file is hidden, never evidence, and removed again (also on errors).
    """
    block = os.urandom(slice_bytes)  # incompressible, like ciphertext
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".selftest-speed-") as probe:
        started = time.perf_counter()
        written = 0
        while written < total:
            piece = block[:min(slice_bytes, total - written)]
            probe.write(piece)
            probe.flush()
            os.fsync(probe.fileno())
            written += len(piece)
        elapsed = time.perf_counter() - started
    return total / max(elapsed, 1e-9)


def judge_card(directory: Path, load: RecordingLoad,
               probe: SyncedWriteProbe = synced_write_bytes_per_s) -> CardVerdict:
    """Measure the card and say whether it keeps up and how long the ring flush takes."""
    total = min(MAX_PROBE_BYTES, max(MIN_PROBE_BYTES, load.ring_bytes))
    speed = probe(directory, total, load.slice_bytes)
    speed_text = f"card writes {speed / MIB:.1f} MB/s with syncs"
    needed = load.stream_bytes_per_s * HEADROOM
    if speed < needed:
        return CardVerdict(
            False,
            f"{speed_text}, recording needs {needed / MIB:.2f} MB/s "
            f"({HEADROOM:g}x the {load.stream_bytes_per_s * 8 / 1e6:.1f} Mbit/s stream)",
            "fit a faster card (application class A1 / video class V30 or better), or "
            "lower video.bitrate_kbps")
    if not load.ring_bytes:
        return CardVerdict(True, f"{speed_text}; no pre-record ring configured", "")
    flush_s = load.ring_bytes / speed
    detail = (f"{speed_text}; the pre-record ring ({load.ring_bytes / MIB:.1f} MB) reaches "
              f"it {flush_s:.1f} s after a press")
    if flush_s > FLUSH_WINDOW_TARGET_S:
        detail += (f" (over {FLUSH_WINDOW_TARGET_S:g} s: a power cut in that time loses "
                   "the unwritten ring; a faster card or a shorter "
                   "evidence.prerecord_seconds shortens it)")
    return CardVerdict(True, detail, "")

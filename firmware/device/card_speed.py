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
LOSS_BOUND_S = 2.0  # media a power cut may cost once recording (the product promise)
PROBE_TIME_LIMIT_S = 10.0  # a dying card is judged on what it wrote in this time

SyncedWriteProbe = Callable[[Path, int, int], float]


@dataclass(frozen=True)
class RecordingLoad:
    """What recording asks of the card, from the configuration."""

    stream_bytes_per_s: float  # video + audio as recorded
    ring_bytes: int  # the pre-record ring written after a press (at its fullest)
    slice_bytes: int  # bytes between two fsyncs while the ring is flushed
    sync_interval_s: float

    @property
    def flush_target_s(self) -> float:
        """Longest flush that keeps the live media after the press within the bound."""
        return LOSS_BOUND_S - self.sync_interval_s

    def flush_seconds(self, card_bytes_per_s: float) -> float:
        """Press until the ring *and* the live media queued behind it are written.

        Live media keeps arriving while the ring is written, so the backlog shrinks
        only by what the card takes beyond the stream: ring / (card - stream).
        """
        return self.ring_bytes / max(card_bytes_per_s - self.stream_bytes_per_s, 1e-9)

    @classmethod
    def of(cls, video: VideoConfig, audio: AudioConfig,
           evidence: EvidenceConfig) -> RecordingLoad:
        video_bps = video.bitrate_kbps * 1000 / 8
        audio_bps = audio.bitrate_kbps * 1000 / 8 if audio.enabled else 0.0
        ring_bps = video_bps + (audio_bps if evidence.prerecord_audio else 0.0)
        stream = video_bps + audio_bps
        # The ring starts on a keyframe at least prerecord_seconds before the press, so
        # at its fullest it holds up to one keyframe interval more.
        ring_s = (evidence.prerecord_seconds + video.keyframe_interval / max(video.fps, 1)
                  if evidence.prerecord_seconds > 0 else 0.0)
        return cls(stream_bytes_per_s=stream, ring_bytes=round(ring_bps * ring_s),
                   slice_bytes=max(MIN_SLICE_BYTES,
                                   round(stream * evidence.sync_interval_seconds)),
                   sync_interval_s=evidence.sync_interval_seconds)


@dataclass(frozen=True)
class CardVerdict:
    ok: bool
    detail: str  # what was measured and what it means
    fix: str  # empty when ok


def synced_write_bytes_per_s(directory: Path, total: int, slice_bytes: int) -> float:
    """Write `total` bytes in `slice_bytes` pieces, fsync after each; bytes per second.

    Stops early after PROBE_TIME_LIMIT_S (a failing card is slow enough to judge by
    then). The probe file is hidden, never evidence, and removed again (also on errors).
    """
    block = os.urandom(slice_bytes)  # incompressible, like ciphertext
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".selftest-speed-") as probe:
        started = time.perf_counter()
        written = 0
        elapsed = 0.0
        while written < total and elapsed < PROBE_TIME_LIMIT_S:
            piece = block[:min(slice_bytes, total - written)]
            probe.write(piece)
            probe.flush()
            os.fsync(probe.fileno())
            written += len(piece)
            elapsed = time.perf_counter() - started
    return written / max(elapsed, 1e-9)


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
    flush_s = load.flush_seconds(speed)
    detail = (f"{speed_text}; the pre-record ring (up to {load.ring_bytes / MIB:.1f} MB) "
              f"and the live media behind it are on the card {flush_s:.1f} s after a press")
    if flush_s > load.flush_target_s:
        detail += (f" (over {load.flush_target_s:g} s: a power cut in that time loses "
                   "the unwritten ring and live media; a faster card or a shorter "
                   "evidence.prerecord_seconds shortens it)")
    return CardVerdict(True, detail, "")

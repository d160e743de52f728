"""CPU cost of the recording pipeline per second of media.

The real Recorder (pre-record ring, segmenter, PyAV MPEG-TS muxer with AAC encoding)
feeds the real FileEvidenceStore (age encryption, fsync, signed manifest) in a
temporary directory; only the camera's own H.264 encoding is left out (on the Pi that is
the hardware encoder), by replaying a pre-encoded stream. The first part of the media
arrives while the recorder is buffering, so the pre-record flush is part of the cost.

CPU time is the whole process's (all threads: the feeder is negligible next to the
worker) between the first item and the end of the sealed recording; the realtime
factor is media seconds over wall seconds for the same span.

`prerecord_flush_s` is the wall time from the press until the ring has been muxed,
encrypted and written (the recorder's backlog is empty; synced up to the last 0.5 s of
media, the rest at the next sync): the window in which a power cut still loses part of
the ring, which lived in RAM only until the press.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bodycam.firmware import __version__
from bodycam.firmware.config.model import EvidenceConfig
from bodycam.firmware.evidence.age.keys import generate_identity
from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.store import FileEvidenceStore
from bodycam.firmware.evidence.verify import verify_recording
from bodycam.firmware.media.aac import AacEncoder
from bodycam.firmware.media.events import (
    RecorderEvent,
    RecorderFault,
    RecordingStarted,
    SegmentClosed,
)
from bodycam.firmware.media.recorder import Recorder
from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import AudioChunk
from bodycam.tools.bench.media import US_PER_S, BenchStream, drive, replay

SEGMENT_SECONDS = 10.0
SYNC_INTERVAL_S = 0.5


def bench_evidence_config(recipient: str, prerecord_seconds: float) -> EvidenceConfig:
    """The shipped evidence defaults, with audio kept in the ring so all media is costed."""
    return EvidenceConfig(recipients=(recipient,), segment_seconds=SEGMENT_SECONDS,
                          prerecord_seconds=prerecord_seconds, prerecord_audio=True,
                          stall_seconds=3.0, sync_interval_seconds=SYNC_INTERVAL_S)


def bench_store(data_dir: Path, recipient: str, clock: ManualClock) -> FileEvidenceStore:
    return FileEvidenceStore(
        data_dir=data_dir, recipients=[recipient],
        signer=SessionKey(SoftwareKeyStore.generate(), clock),
        device_id="BENCH-0001", firmware_version=__version__, config_digest="bench",
        clock=clock, reserve_bytes=0, sync_interval=SYNC_INTERVAL_S)


def measure_pipeline(stream: BenchStream, media_seconds: float,
                     prerecord_seconds: float, *, post_quantum: bool = False) -> dict[str, Any]:
    """Buffer `prerecord_seconds`, then record up to `media_seconds` in total, sealed,
    encrypted to one X25519 recipient or (`post_quantum`) one hybrid recipient."""
    items = list(replay(stream, media_seconds))  # copies made here, outside the measurement
    split_us = round(prerecord_seconds * US_PER_S)
    buffered = [i for i in items if i.pts_us < split_us]
    live = items[len(buffered):]
    _secret, recipient = generate_identity(post_quantum=post_quantum)
    clock = ManualClock()
    events: list[RecorderEvent] = []
    with tempfile.TemporaryDirectory(prefix="bodycam-bench-") as tmp:
        store = bench_store(Path(tmp), recipient, clock)
        # A window a little longer than what is buffered: the ring keeps all of it.
        recorder = Recorder(clock, store, video=stream.video_config, audio=stream.audio_config,
                            evidence=bench_evidence_config(recipient, prerecord_seconds + 1),
                            on_event=events.append)
        recorder.start()
        try:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            recorder.start_buffering()
            drive(recorder, clock, buffered)
            pressed = time.perf_counter()
            recorder.start_recording()
            if not recorder.flush(60.0):  # returns once the ring is muxed and written
                raise RuntimeError("the recorder did not flush the pre-record ring in 60 s")
            flush_s = time.perf_counter() - pressed
            drive(recorder, clock, live)
            recorder.stop_recording("benchmark")
            if not recorder.flush(60.0):
                raise RuntimeError("the recorder did not seal the benchmark recording in 60 s")
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        finally:
            recorder.shutdown()
        result = _outcome(events, store)
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "prerecord_s": prerecord_seconds,
        "prerecord_flush_s": flush_s,
        "cpu_s_per_media_s": cpu / result["media_s"],
        "realtime_factor": result["media_s"] / wall,
        "dropped_items": recorder.dropped,
        "recipient": "hybrid" if post_quantum else "x25519",
        **result,
    }


def _outcome(events: list[RecorderEvent], store: FileEvidenceStore) -> dict[str, Any]:
    """What the recording contains, checked: no faults, verified, and its media length."""
    faults = [e.message for e in events if isinstance(e, RecorderFault)]
    if faults:
        raise RuntimeError(f"the recorder reported faults: {faults[:3]}")
    started = next((e for e in events if isinstance(e, RecordingStarted)), None)
    closed = [e.info for e in events if isinstance(e, SegmentClosed)]
    if started is None or not closed:
        raise RuntimeError("the benchmark recording did not start or produced no segment")
    return {
        "media_s": sum(i.media_end_us - i.media_start_us for i in closed) / US_PER_S,
        "segments": len(closed),
        "ciphertext_bytes": sum(i.size for i in closed),
        "verification": verify_recording(store.evidence_dir / started.recording_id).status,
    }


def measure_aac_alone(stream: BenchStream, media_seconds: float) -> float:
    """CPU seconds per media second of the recorder's AAC encoder on its own.

    The same audio as the pipeline run, through the same AacEncoder (libav's native
    AAC), nothing else: the part of pipeline_cpu_s_per_media_s that is the codec.
    """
    chunks = [i for i in replay(stream, media_seconds) if isinstance(i, AudioChunk)]
    if not chunks:
        return 0.0
    encoder = AacEncoder(stream.audio_config, chunks[0].pts_us)
    cpu0 = time.process_time()
    for chunk in chunks:
        encoder.encode(chunk)
    encoder.flush()
    return (time.process_time() - cpu0) / media_seconds

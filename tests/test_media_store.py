"""Recorder into the real evidence store: encrypted, verifiable, playable with `age -d`."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_fixtures import FPS, clip, decode_all, probe, record_with_recorder
from test_evidence_support import AgeIdentity, age_decrypt, age_identity, make_store, new_session

from bodycam.firmware.evidence.signed_log import read_records
from bodycam.firmware.evidence.verify import verify_recording
from bodycam.firmware.media.events import RecordingSealed, RecordingStarted
from bodycam.hal.clocks import ManualClock


@pytest.fixture
def identity(tmp_path: Path) -> AgeIdentity:
    return age_identity(tmp_path)


def test_recording_is_verified_and_every_segment_plays_after_age_decrypt(
        tmp_path: Path, identity: AgeIdentity) -> None:
    clock = ManualClock(start_monotonic=50.0)
    store = make_store(tmp_path, identity, clock, new_session())
    events = record_with_recorder(store, clock, clip(6.0), segment_seconds=2.0)

    started = next(e for e in events if isinstance(e, RecordingStarted))
    sealed = next(e for e in events if isinstance(e, RecordingSealed))
    assert sealed.reason == "stopped by wearer" and sealed.segments == 3
    directory = store.evidence_dir / started.recording_id
    report = verify_recording(directory)
    assert report.status == "verified", report.summary()

    segments = [r for r in read_records(directory / "manifest.jsonl")
                if r["event"] == "segment"]
    assert [r["media_start_us"] for r in segments] == [0, 2_000_000, 4_000_000]
    for record in segments:
        plain = age_decrypt(identity, directory / record["file"])
        assert plain.returncode == 0, plain.stderr
        ts = tmp_path / f"{record['index']}.ts"
        ts.write_bytes(plain.stdout)
        streams = sorted(s["codec_name"] for s in probe(ts)["streams"])  # type: ignore[attr-defined]
        assert streams == ["aac", "h264"]
        assert decode_all(ts)["video"] == 2 * FPS
    assert not any(p.suffix == ".ts" for p in directory.iterdir())  # no plaintext stored


def _ffprobe_packets(path: Path, stream: str) -> list[dict[str, str]]:
    """ffprobe's packets of one stream type ("v" or "a"): pts, duration, flags (90 kHz)."""
    import json
    import subprocess
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
         "packet=pts,duration,flags", "-of", "json", str(path)],
        check=True, capture_output=True, text=True)
    packets: list[dict[str, str]] = json.loads(result.stdout)["packets"]
    return packets


def test_stored_segments_start_on_a_keyframe_with_headers_and_continue_each_other(
        tmp_path: Path, identity: AgeIdentity) -> None:
    """What a player sees in each age-decrypted segment (ffprobe): a keyframe carrying
    SPS/PPS first, and timestamps that carry on exactly where the previous one ended."""
    import av

    from bodycam.firmware.media.h264 import NAL_PPS, NAL_SPS, iter_nal_units

    clock = ManualClock(start_monotonic=50.0)
    store = make_store(tmp_path, identity, clock, new_session())
    events = record_with_recorder(store, clock, clip(6.0), segment_seconds=2.0)
    started = next(e for e in events if isinstance(e, RecordingStarted))
    directory = store.evidence_dir / started.recording_id
    paths = []
    for record in read_records(directory / "manifest.jsonl"):
        if record["event"] == "segment":
            ts = tmp_path / f"{record['index']}.ts"
            ts.write_bytes(age_decrypt(identity, directory / record["file"]).stdout)
            paths.append(ts)
    assert len(paths) == 3
    ends: dict[str, int] = {}
    for path in paths:
        video = _ffprobe_packets(path, "v")
        assert video[0]["flags"].startswith("K")
        with av.open(str(path)) as container:
            first = next(p for p in container.demux(video=0) if p.size)
            assert {NAL_SPS, NAL_PPS} <= {t for t, _, _ in iter_nal_units(bytes(first))}
        for kind, packets in (("v", video), ("a", _ffprobe_packets(path, "a"))):
            if kind in ends:
                assert int(packets[0]["pts"]) == ends[kind], (path.name, kind)
            ends[kind] = int(packets[-1]["pts"]) + int(packets[-1]["duration"])


def test_power_cut_right_after_the_ring_flush_keeps_the_ring(
        tmp_path: Path, identity: AgeIdentity, monkeypatch: pytest.MonkeyPatch) -> None:
    """A power cut keeps only what was fsync'd. The ring is flushed in far less than the
    wall-clock sync interval (here: no time at all on the clock), so the syncs must
    follow the media written, or a cut just after the flush would lose the whole ring."""
    import io
    import os

    from media_fixtures import decode_all, evidence_config, feed

    from bodycam.firmware.config.model import VideoConfig
    from bodycam.firmware.evidence.age import decrypt
    from bodycam.firmware.evidence.age.keys import parse_identity
    from bodycam.firmware.media.recorder import Recorder
    from bodycam.tools.bench.media import encode_stream, replay

    fps, ring_s = 30, 8.0
    # Camera-like bitrate (noisy picture, 3 Mbit/s): one 64 KiB age chunk is ~0.2 s.
    stream = encode_stream(1.0, video=VideoConfig(width=640, height=360, fps=fps,
                                                  bitrate_kbps=3000, keyframe_interval=fps))
    synced: dict[str, int] = {}  # file -> its size at the last fsync: what a cut keeps
    real_fsync = os.fsync

    def fsync_spy(fd: int) -> None:
        real_fsync(fd)
        synced[os.readlink(f"/proc/self/fd/{fd}")] = os.fstat(fd).st_size

    monkeypatch.setattr(os, "fsync", fsync_spy)
    clock = ManualClock(start_monotonic=50.0)
    store = make_store(tmp_path, identity, clock, new_session())
    events: list[object] = []
    recorder = Recorder(clock, store, video=stream.video_config, audio=stream.audio_config,
                        evidence=evidence_config(prerecord_seconds=10.0, segment_seconds=30.0),
                        on_event=events.append, queue_capacity=100_000)
    recorder.start()
    try:
        recorder.start_buffering()
        feed(recorder, clock, list(replay(stream, ring_s)), epoch_us=0, t0=clock.monotonic())
        assert recorder.flush(30.0)
        recorder.start_recording()
        assert recorder.flush(30.0)  # the ring is written; the clock did not move
        started = next(e for e in events if isinstance(e, RecordingStarted))
        partial = store.evidence_dir / started.recording_id / "00000.age.partial"
        written = partial.read_bytes()
        durable = written[:synced.get(str(partial), 0)]
    finally:
        assert recorder.shutdown(30.0)
    assert len(written) > 2_000_000  # the ring (about 3 MB) reached the file
    assert len(durable) > 1_000_000, f"only {len(durable)} bytes of the ring were synced"

    key = parse_identity(next(line for line in identity.identity_file.read_text().splitlines()
                              if line.startswith("AGE-SECRET-KEY-")))
    plain = io.BytesIO()
    decrypt([key], io.BytesIO(durable), plain, allow_truncated=True)
    ts = tmp_path / "after-cut.ts"
    ts.write_bytes(plain.getvalue()[:len(plain.getvalue()) // 188 * 188])
    # Allowed to be missing: one sync interval (0.5 s) of media, one age chunk still in
    # the encryptor (~0.2 s), the frame the muxer holds back and a torn last frame.
    assert decode_all(ts)["video"] >= (ring_s - 1.0) * fps

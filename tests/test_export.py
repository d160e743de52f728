"""`bodycam-evidence export`: real recordings (Recorder + FileEvidenceStore) to one MP4."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import av
import pytest
from export_support import export, report_of, sha256
from media_fixtures import (
    AUDIO,
    FPS,
    VIDEO,
    VideoPacket,
    clip,
    decode_all,
    probe,
    record_with_recorder,
)
from test_evidence_support import AgeIdentity, age_identity

from bodycam.firmware.evidence.age.stream import PAYLOAD_NONCE_SIZE, SEALED_CHUNK_SIZE
from bodycam.firmware.evidence.api import SegmentWriter
from bodycam.firmware.evidence.recovery import recover_unfinished
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.signed_log import utc_iso
from bodycam.firmware.evidence.store import FileEvidenceStore
from bodycam.firmware.media.events import RecordingStarted
from bodycam.firmware.media.muxer import TsSegmentMuxer
from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import AudioChunk
from bodycam.tools.bench.avsync import measure_av_sync

pytest_plugins = ("export_fixtures",)


def test_export_joins_all_segments_into_one_mp4_with_a_report(
        tmp_path: Path, recording: Path, identity: AgeIdentity,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "case-17.mp4"
    assert export(recording, identity, out) == 0

    info = probe(out)
    fmt = info["format"]
    assert "mp4" in fmt["format_name"]  # type: ignore[index]
    assert float(fmt["duration"]) == pytest.approx(6.0, abs=0.1)  # type: ignore[index]
    assert sorted(s["codec_name"] for s in info["streams"]) == ["aac", "h264"]  # type: ignore[attr-defined]
    assert decode_all(out)["video"] == 6 * FPS  # every frame of every segment
    assert measure_av_sync(out)["max_abs_ms"] < 20
    head = out.read_bytes()
    assert head.index(b"moov") < head.index(b"mdat")  # +faststart: index at the front

    report = report_of(out)
    assert report["forced"] is False and report["notes"] == []
    assert report["verification"]["status"] == "verified"  # type: ignore[index]
    assert report["output"]["sha256"] == sha256(out)  # type: ignore[index]
    segments = report["segments"]
    assert [s["file"] for s in segments] == ["00000.age", "00001.age", "00002.age"]  # type: ignore[attr-defined]
    for entry in segments:  # type: ignore[attr-defined]
        assert entry["sha256"] == sha256(recording / entry["file"])
    assert report["manifest"]["sha256"] == sha256(recording / "manifest.jsonl")  # type: ignore[index]
    progress = capsys.readouterr().err
    assert "segment 3/3 00002.age: 100%" in progress


def test_tampered_recording_is_refused_unless_forced(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    segment = recording / "00001.age"
    data = bytearray(segment.read_bytes())
    data[-100] ^= 0xFF
    segment.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out) == 1
    assert not out.exists() and not out.with_suffix(".report.json").exists()

    assert export(recording, identity, out, "--force") == 0
    report = report_of(out)
    assert report["forced"] is True
    assert report["verification"]["status"] == "failed"  # type: ignore[index]
    notes = " ".join(report["notes"])  # type: ignore[arg-type]
    assert "FORCED export despite failed verification" in notes
    assert "segment 1" in notes  # the damaged chunk is named, the rest was kept


def record_cut_by_power_loss(store: FileEvidenceStore, clock: ManualClock) -> Path:
    """A 6 s clip whose power goes 4 s in, during segment 1, before any recovery ran.

    Returns the recording directory: 00000.age closed, 00001.age.partial holding the
    whole chunks synced to the card, the manifest unsealed."""
    items = clip(6.0)
    writer = store.begin_recording(wall_start=clock.wall(), clock_synchronised=True,
                                   prerecord_us=0)
    muxer = TsSegmentMuxer(VIDEO, AUDIO, items[0].pts_us)
    first = writer.open_segment(0, clock.wall())
    muxer.open_segment(first.write)
    cut_at = next(i for i in items if isinstance(i, VideoPacket) and i.keyframe
                  and i.pts_us - items[0].pts_us >= 2_000_000)
    second = None
    for item in items:
        if item is cut_at:
            muxer.close_segment()
            first.close(2_000_000)
            second = writer.open_segment(2_000_000, clock.wall())
            muxer.open_segment(second.write)
        if isinstance(item, VideoPacket):
            muxer.add_video(item)
        else:
            muxer.add_audio(item)
    assert second is not None
    clock.advance(5)
    second.tick(clock.monotonic())  # whole chunks synced to the card, then the power goes
    return writer.directory


def test_segment_cut_by_power_loss_is_salvaged_and_reported(
        tmp_path: Path, store: FileEvidenceStore, clock: ManualClock, key: SessionKey,
        identity: AgeIdentity) -> None:
    record_cut_by_power_loss(store, clock)
    (recovered,) = recover_unfinished(store.evidence_dir.parent, key, clock)

    out = tmp_path / "salvaged.mp4"
    assert export(recovered.directory, identity, out) == 0
    report = report_of(out)
    notes = " ".join(report["notes"])  # type: ignore[arg-type]
    assert "cut short by power loss: salvaged" in notes
    salvaged = [s for s in report["segments"] if "salvaged_bytes" in s]  # type: ignore[attr-defined]
    assert len(salvaged) == 1 and salvaged[0]["salvaged_bytes"] > 0
    video_frames = decode_all(out)["video"]
    # segment 0 whole; segment 1 up to its last whole chunk (the unsynced rest is lost)
    assert 2 * FPS < video_frames < 6 * FPS


def test_wrong_identity_is_a_decrypt_failure(tmp_path: Path, recording: Path) -> None:
    (tmp_path / "other").mkdir()
    stranger = age_identity(tmp_path / "other")
    out = tmp_path / "out.mp4"
    assert export(recording, stranger, out) == 1
    assert not out.exists() and not Path(str(out) + ".partial").exists()


def test_usage_errors_exit_2(tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"")
    assert export(recording, identity, existing) == 2
    missing_key = AgeIdentity(tmp_path / "nope.txt", identity.recipient)
    assert export(recording, missing_key, tmp_path / "x.mp4") == 2
    assert export(tmp_path / "no-such-dir", identity, tmp_path / "y.mp4") == 2


# ------------------------------------------------------------------ adversarial review


def test_plaintext_mp4_and_report_are_readable_by_the_custodian_only(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    """The MP4 is the only plaintext export writes, and the report holds the markers and
    wall times; a default umask would make them world-readable on a shared workstation."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        out = tmp_path / "case.mp4"
        assert export(recording, identity, out) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.with_suffix(".report.json").stat().st_mode) == 0o600
    assert report_of(out)["recording"] == recording.name  # the signed id


def test_unsealed_recording_is_exported_only_when_forced(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    """Its end may have been cut off (indistinguishable from a power cut before the
    restart): a court MP4 from it needs the custodian's explicit decision."""
    manifest = recording / "manifest.jsonl"
    manifest.write_bytes(b"".join(manifest.read_bytes().splitlines(keepends=True)[:-1]))
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out) == 1
    assert not out.exists() and not out.with_suffix(".report.json").exists()
    assert export(recording, identity, out, "--force") == 0
    notes = " ".join(report_of(out)["notes"])  # type: ignore[arg-type]
    assert "FORCED" in notes and "may be incomplete" in notes


@pytest.mark.parametrize("cut", [0, 30, None], ids=["empty", "in the header", "no chunk"])
def test_segment_cut_before_its_first_whole_chunk_is_a_note_not_a_failure(
        store: FileEvidenceStore, clock: ManualClock, key: SessionKey,
        identity: AgeIdentity, cut: int | None) -> None:
    """Power lost just after a segment opened: recovery records 0 whole chunks, so no
    media of it exists anywhere. Exporting the rest must not need --force."""
    items = clip(2.0)
    writer = store.begin_recording(wall_start=clock.wall(), clock_synchronised=True,
                                   prerecord_us=0)
    _mux_segment(writer.open_segment(0, clock.wall()), items).close(2_000_000)
    writer.open_segment(2_000_000, clock.wall())  # header and nonce written, then the cut
    partial = writer.directory / "00001.age.partial"
    if cut is not None:
        with partial.open("r+b") as f:
            f.truncate(cut)
    del writer
    (recovered,) = recover_unfinished(store.evidence_dir.parent, key, clock)

    out = store.evidence_dir.parent.parent / "out.mp4"
    assert export(recovered.directory, identity, out) == 0
    report = report_of(out)
    notes = " ".join(report["notes"])  # type: ignore[arg-type]
    assert "segment 1 (00001.truncated.age): no media survived" in notes
    assert report["forced"] is False
    assert decode_all(out)["video"] == 2 * FPS


def test_first_segments_without_audio_packets_still_export_with_audio(
        tmp_path: Path, store: FileEvidenceStore, clock: ManualClock,
        identity: AgeIdentity) -> None:
    """Pre-record without audio (the default) longer than a segment: segment 0 declares an
    AAC stream but holds no audio packet, so its codec parameters are unknown there."""
    from media_fixtures import CAMERA_EPOCH_US

    silent_start = clip(3.0, audio=False)
    with_sound = clip(3.0, epoch_us=CAMERA_EPOCH_US + 3_000_000)
    events = record_with_recorder(store, clock, silent_start + with_sound,
                                  segment_seconds=2.0)
    started = next(e for e in events if isinstance(e, RecordingStarted))
    out = tmp_path / "late-audio.mp4"
    assert export(store.evidence_dir / started.recording_id, identity, out) == 0
    streams = {s["codec_type"]: s for s in probe(out)["streams"]}  # type: ignore[union-attr]
    assert streams["video"]["codec_name"] == "h264"
    assert streams["audio"]["codec_name"] == "aac"
    assert int(streams["audio"]["sample_rate"]) == AUDIO.sample_rate
    assert 2.5 < float(streams["audio"]["duration"]) < 3.5


# ------------------------------------------------------------------ acceptance audit


def unwritable_directory(tmp_path: Path) -> Path:
    """A directory this user cannot create files in. root ignores permission bits, so
    root gets /proc, where nobody can create a file."""
    if os.geteuid() == 0:
        return Path("/proc")
    directory = tmp_path / "read-only"
    directory.mkdir(mode=0o500)
    return directory


@pytest.mark.parametrize("where", ["missing directory", "unwritable directory",
                                   "a directory"])
def test_output_that_cannot_be_created_is_a_usage_error_before_verifying(
        tmp_path: Path, recording: Path, identity: AgeIdentity, where: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = {"missing directory": tmp_path / "no-such-dir" / "x.mp4",
           "unwritable directory": unwritable_directory(tmp_path) / "x.mp4",
           "a directory": tmp_path}[where]
    assert export(recording, identity, out) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "verification" not in err  # nothing was verified
    assert str(out.parent if where != "a directory" else out) in err
    assert "Fix:" in err or "give the MP4 file" in err


def test_unrecovered_open_segment_is_included_when_forced(
        tmp_path: Path, store: FileEvidenceStore, clock: ManualClock, key: SessionKey,
        identity: AgeIdentity) -> None:
    """Exported before the camera ran its recovery: the .partial is real media."""
    directory = record_cut_by_power_loss(store, clock)
    partial = directory / "00001.age.partial"
    before = sha256(partial)
    out = tmp_path / "unrecovered.mp4"
    assert export(directory, identity, out) == 1  # unsealed: only with --force

    assert export(directory, identity, out, "--force") == 0
    report = report_of(out)
    notes = " ".join(report["notes"])  # type: ignore[arg-type]
    assert re.search(r"included 00001\.age\.partial: [1-9]\d* whole chunks salvaged, "
                     r"recording not recovered on the device", notes)
    # age authenticates chunks, not who made them: the note must not suggest otherwise
    assert "nothing shows that the camera wrote it" in notes
    assert "anyone holding the authority's public recipient can make such a file" in notes
    assert "vouches" not in notes
    assert [s["file"] for s in report["segments"]] == ["00000.age", "00001.age.partial"]  # type: ignore[attr-defined]
    assert sha256(partial) == before  # export never changes the evidence
    frames = decode_all(out)["video"]

    # the same media as an export after the device's recovery gives
    (recovered,) = recover_unfinished(store.evidence_dir.parent, key, clock)
    after = tmp_path / "recovered.mp4"
    assert export(recovered.directory, identity, after) == 0
    assert 2 * FPS < frames == decode_all(after)["video"] < 6 * FPS


def test_complete_segment_without_its_segment_record_is_included_when_forced(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    """Power cut between renaming 00002.age and writing its manifest record."""
    manifest = recording / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    assert b'"event":"segment"' in lines[-2] and b'"event":"seal"' in lines[-1]
    manifest.write_bytes(b"".join(lines[:-2]))
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out, "--force") == 0
    notes = " ".join(report_of(out)["notes"])  # type: ignore[arg-type]
    assert re.search(r"included 00002\.age: [1-9]\d* whole chunks salvaged, recording not "
                     r"recovered on the device", notes)
    assert decode_all(out)["video"] == 6 * FPS


def test_segment_files_left_out_are_named(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    shutil.copyfile(recording / "00001.age", recording / "00007.age")
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out) == 1  # a file the manifest does not name
    assert export(recording, identity, out, "--force") == 0
    notes = " ".join(report_of(out)["notes"])  # type: ignore[arg-type]
    assert "not included: 00007.age (not named in the manifest" in notes
    assert decode_all(out)["video"] == 6 * FPS


def flip_byte_in_chunk(segment: Path, chunk: int) -> None:
    data = bytearray(segment.read_bytes())
    payload = data.index(b"\n", data.index(b"\n---")) + 1 + PAYLOAD_NONCE_SIZE
    data[payload + chunk * SEALED_CHUNK_SIZE + 1000] ^= 0xFF
    segment.write_bytes(bytes(data))


def video_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(frame.time) for frame in container.decode(video=0)]


def test_forced_export_skips_only_the_damaged_chunk(
        tmp_path: Path, store: FileEvidenceStore, clock: ManualClock,
        identity: AgeIdentity) -> None:
    """age chunks authenticate one by one: the media after a damaged chunk is kept."""
    events = record_with_recorder(store, clock, clip(14.0), segment_seconds=7.0)
    started = next(e for e in events if isinstance(e, RecordingStarted))
    recording = store.evidence_dir / started.recording_id
    segment = recording / "00000.age"
    assert segment.stat().st_size > 2 * SEALED_CHUNK_SIZE  # chunks 0, 1 and a final one
    flip_byte_in_chunk(segment, 1)
    out = tmp_path / "damaged.mp4"
    assert export(recording, identity, out) == 1  # unchanged without --force

    assert export(recording, identity, out, "--force") == 0
    report = report_of(out)
    notes = " ".join(report["notes"])  # type: ignore[arg-type]
    assert "segment 0 (00000.age): skipped chunk 1 (plaintext bytes 65536-131072)" in notes
    assert "media lost in the MP4" in notes
    (hole,) = report["output"]["holes"]  # type: ignore[index]
    lost_from, lost_to = hole["lost_s"]["video"]
    assert 1.0 < lost_from < lost_to < 7.0
    times = video_times(out)
    assert any(lost_to - 1e-3 <= t < 7.0 for t in times)  # segment 0 after the hole
    assert not any(lost_from + 1e-3 < t < lost_to - 1e-3 for t in times)
    assert float(probe(out)["format"]["duration"]) == pytest.approx(14.0, abs=0.1)  # type: ignore[index]
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(out), "-f", "null", "-"],
                             capture_output=True, text=True, check=True)
    assert decoded.stderr == ""  # no undecodable picture after the hole
    assert measure_av_sync(out)["max_abs_ms"] < 20


def test_report_carries_markers_and_gaps(
        tmp_path: Path, store: FileEvidenceStore, clock: ManualClock,
        identity: AgeIdentity) -> None:
    items = clip(4.0)
    start = clock.wall()
    writer = store.begin_recording(wall_start=start, clock_synchronised=True,
                                   prerecord_us=0)
    _mux_segment(writer.open_segment(0, start), items).close(4_000_000)
    writer.add_marker(1_500_000, start + timedelta(seconds=1.5))
    writer.note_gap("microphone", 2_000_000, 2_500_000)
    writer.note_gap("camera", 3_000_000, None)
    writer.seal("stopped by wearer")

    out = tmp_path / "timeline.mp4"
    assert export(writer.directory, identity, out) == 0
    report = report_of(out)
    video_start = report["output"]["streams"]["video"]["start_s"]  # type: ignore[index]
    (marker,) = report["markers"]  # type: ignore[misc]
    assert marker["media_s"] == 1.5
    assert marker["mp4_s"] == pytest.approx(1.5 + video_start, abs=1e-6)
    assert marker["wall"] == utc_iso(start + timedelta(seconds=1.5))
    mic, camera = report["gaps"]  # type: ignore[misc]
    assert (mic["source"], mic["start_media_s"], mic["end_media_s"]) == ("microphone", 2.0, 2.5)
    assert mic["start_mp4_s"] == pytest.approx(2.0 + video_start, abs=1e-6)
    assert mic["start_wall"] == utc_iso(start + timedelta(seconds=2))
    assert mic["end_wall"] == utc_iso(start + timedelta(seconds=2.5))
    assert camera["end_media_s"] is None and camera["end_wall"] is None


def _mux_segment(segment: SegmentWriter, items: list[VideoPacket | AudioChunk]
                 ) -> SegmentWriter:
    """`items` muxed into the open `segment` (one TS container); returns it, still open."""
    muxer = TsSegmentMuxer(VIDEO, AUDIO, items[0].pts_us)
    muxer.open_segment(segment.write)
    for item in items:
        if isinstance(item, VideoPacket):
            muxer.add_video(item)
        else:
            muxer.add_audio(item)
    muxer.finish()
    return segment

"""`bodycam-evidence export` on damaged, cut or misplaced evidence (acceptance audit).

Every recording here is made by the real Recorder and FileEvidenceStore, then damaged
the way the audit did on copies of a `make demo` recording.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import pytest
from export_support import export, recorded
from media_fixtures import CAMERA_EPOCH_US, FPS, clip, decode_all
from test_evidence_support import AgeIdentity, age_identity
from test_export import flip_byte_in_chunk, record_cut_by_power_loss

from bodycam.firmware.evidence.age.stream import SEALED_CHUNK_SIZE
from bodycam.firmware.evidence.recovery import recover_unfinished
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.store import FileEvidenceStore
from bodycam.hal.clocks import ManualClock

pytest_plugins = ("export_fixtures",)


def report_of(out: Path) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(out.with_name(out.stem + ".report.json").read_text())
    return parsed


def notes_of(out: Path) -> str:
    return " ".join(report_of(out)["notes"])  # type: ignore[arg-type]


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def decode_errors(path: Path) -> str:
    """What ffmpeg says while decoding every picture and sample ('' when all decode)."""
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, text=True, check=True).stderr


def packet_counts(path: Path) -> dict[str, int]:
    with av.open(str(path)) as container:
        counts: dict[str, int] = {}
        for packet in container.demux():
            if packet.size:
                counts[packet.stream.type] = counts.get(packet.stream.type, 0) + 1
        return counts


# ------------------------------------------------------------------ 1, 2: damaged header


@pytest.mark.parametrize("offset", [50, 150], ids=["stanza", "header MAC"])
def test_forced_export_keeps_the_segments_around_one_with_a_damaged_header(
        tmp_path: Path, recording: Path, identity: AgeIdentity, offset: int) -> None:
    flip(recording / "00001.age", offset)
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out) == 1  # verification fails first
    assert not out.exists()

    assert export(recording, identity, out, "--force") == 0
    notes = notes_of(out)
    assert "segment 1 (00001.age) cannot be decrypted" in notes
    assert "header is damaged, so none of its chunks can be authenticated" in notes
    entry = next(s for s in report_of(out)["segments"]  # type: ignore[attr-defined]
                 if s["file"] == "00001.age")
    assert "header" in entry["undecryptable"]
    assert decode_all(out)["video"] == 4 * FPS  # segments 0 and 2, whole


def test_forced_export_with_no_decryptable_segment_fails(
        tmp_path: Path, recording: Path) -> None:
    (tmp_path / "other").mkdir()
    stranger = age_identity(tmp_path / "other")
    out = tmp_path / "out.mp4"
    assert export(recording, stranger, out, "--force") == 1
    assert not out.exists() and not Path(f"{out}.partial").exists()


@pytest.fixture(params=[True, False], ids=["recovered", "not recovered"])
def cut_recording(request: pytest.FixtureRequest, store: FileEvidenceStore,
                  clock: ManualClock, key: SessionKey) -> tuple[Path, bool]:
    """(directory, recovered): power lost during segment 1, before or after the
    device's recovery renamed 00001.age.partial to 00001.truncated.age."""
    directory = record_cut_by_power_loss(store, clock)
    if not request.param:
        return directory, False
    (recovered,) = recover_unfinished(store.evidence_dir.parent, key, clock)
    return recovered.directory, True


def test_header_damage_of_a_cut_segment_is_not_called_an_empty_file(
        tmp_path: Path, cut_recording: tuple[Path, bool], identity: AgeIdentity) -> None:
    directory, _ = cut_recording
    (segment,) = directory.glob("00001.*")
    flip(segment, 50)
    out = tmp_path / "out.mp4"
    assert export(directory, identity, out, "--force") == 0
    notes = notes_of(out)
    assert "no media survived" not in notes and "power was lost before" not in notes
    assert f"segment 1 ({segment.name}) cannot be decrypted" in notes
    assert "header is damaged" in notes
    assert decode_all(out)["video"] == 2 * FPS


# ------------------------------------------------------------------ 3: cut last packets


def test_a_segment_cut_by_power_loss_leaves_no_corrupt_last_frame(
        tmp_path: Path, cut_recording: tuple[Path, bool], identity: AgeIdentity) -> None:
    """The TS demuxer passes on the packet the cut ends inside as if it were whole."""
    directory, recovered = cut_recording
    out = tmp_path / "out.mp4"
    assert export(directory, identity, out, *(() if recovered else ("--force",))) == 0
    assert decode_errors(out) == ""
    entry = report_of(out)["segments"][1]  # type: ignore[index]
    assert entry["cut_end_packets"] >= 1
    assert f"{entry['cut_end_packets']} packet(s) cut by the end of" in notes_of(out)


# ------------------------------------------------------------------ 4: hole notes


@pytest.fixture
def late_audio(store: FileEvidenceStore, clock: ManualClock) -> Path:
    """One 34 s segment of five chunks; audio starts 24 s in (pre-record without audio),
    in chunk 2."""
    items = clip(24.0, audio=False) + clip(10.0, epoch_us=CAMERA_EPOCH_US + 24_000_000)
    directory = recorded(store, clock, items, 40.0)  # type: ignore[arg-type]
    assert (directory / "00000.age").stat().st_size > 4 * SEALED_CHUNK_SIZE
    return directory


def test_a_hole_at_the_start_is_one_statement_not_per_stream_claims(
        tmp_path: Path, late_audio: Path, identity: AgeIdentity) -> None:
    intact = tmp_path / "intact.mp4"
    assert export(late_audio, identity, intact) == 0
    flip_byte_in_chunk(late_audio / "00000.age", 0)
    out = tmp_path / "out.mp4"
    assert export(late_audio, identity, out, "--force") == 0
    notes = notes_of(out)
    assert "the hole is at the start: media before" in notes
    assert "the first packet after it, is missing" in notes
    assert "audio" not in notes and "video the start" not in notes
    assert packet_counts(out)["audio"] == packet_counts(intact)["audio"]
    (hole,) = report_of(out)["output"]["holes"]  # type: ignore[index]
    assert hole["lost_s"] == {} and hole["missing_before_s"] > 0


def test_a_hole_before_audio_starts_claims_no_audio_loss(
        tmp_path: Path, late_audio: Path, identity: AgeIdentity) -> None:
    intact = tmp_path / "intact.mp4"
    assert export(late_audio, identity, intact) == 0
    segment = late_audio / "00000.age"
    flip_byte_in_chunk(segment, 1)  # in the silent first 24 s
    flip_byte_in_chunk(segment, 3)  # after audio started
    out = tmp_path / "out.mp4"
    assert export(late_audio, identity, out, "--force") == 0
    first, second = report_of(out)["output"]["holes"]  # type: ignore[index]
    assert set(first["lost_s"]) == {"video"}
    assert set(second["lost_s"]) == {"audio", "video"}
    first_note = next(n for n in report_of(out)["notes"]  # type: ignore[attr-defined]
                      if n.startswith("segment 0 (00000.age) chunk 1:"))
    assert "audio" not in first_note
    assert packet_counts(out)["audio"] < packet_counts(intact)["audio"]  # the second hole


# ------------------------------------------------------------------ 5, 6, 8, 9: usage


def test_output_inside_the_recording_directory_is_a_usage_error(
        recording: Path, identity: AgeIdentity, capsys: pytest.CaptureFixture[str]) -> None:
    out = recording / "x.mp4"
    assert export(recording, identity, out) == 2
    err = capsys.readouterr().err
    assert "must not be inside the recording directory" in err
    assert "verification" not in err
    assert sorted(p.name for p in recording.iterdir()) == [
        "00000.age", "00001.age", "00002.age", "manifest.jsonl"]


def test_a_leftover_partial_output_is_a_usage_error_before_verifying(
        tmp_path: Path, recording: Path, identity: AgeIdentity,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.mp4"
    leftover = Path(f"{out}.partial")
    leftover.write_bytes(b"plaintext")
    assert export(recording, identity, out) == 2
    err = capsys.readouterr().err
    assert str(leftover) in err and "delete it securely" in err
    assert "verification" not in err
    assert leftover.read_bytes() == b"plaintext"


@pytest.mark.parametrize(("name", "report"), [
    ("case.v2", "case.v2.report.json"),
    ("CASE.MP4", "CASE.report.json"),
    ("case.mp4", "case.report.json"),
])
def test_report_name_is_the_output_name_without_mp4(
        tmp_path: Path, recording: Path, identity: AgeIdentity, name: str,
        report: str) -> None:
    assert export(recording, identity, tmp_path / name) == 0
    assert (tmp_path / report).is_file()


def test_two_outputs_differing_only_after_a_dot_get_their_own_reports(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    assert export(recording, identity, tmp_path / "case.v1") == 0
    assert export(recording, identity, tmp_path / "case.v2") == 0
    assert {p.name for p in tmp_path.glob("*.report.json")} == {
        "case.v1.report.json", "case.v2.report.json"}


@pytest.mark.parametrize("content", [[], ["notes.txt"]], ids=["empty", "no evidence"])
def test_directory_without_a_recording_is_a_usage_error(
        tmp_path: Path, identity: AgeIdentity, content: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "not-a-recording"
    directory.mkdir()
    for name in content:
        (directory / name).write_text("x")
    assert export(directory, identity, tmp_path / "out.mp4") == 2
    err = capsys.readouterr().err
    assert "manifest.jsonl" in err and ".age" in err


# ------------------------------------------------------------------ 7: gaps


def test_a_gap_opened_and_closed_is_one_entry(
        tmp_path: Path, store: FileEvidenceStore, clock: ManualClock,
        identity: AgeIdentity) -> None:
    from test_export import _mux_segment

    writer = store.begin_recording(wall_start=clock.wall(), clock_synchronised=True,
                                   prerecord_us=0)
    _mux_segment(writer.open_segment(0, clock.wall()), clip(4.0)).close(4_000_000)  # type: ignore[arg-type]
    writer.note_gap("microphone", 2_000_000, None)  # the camera's record as the gap opens
    writer.note_gap("camera", 3_000_000, None)  # never closed
    writer.note_gap("microphone", 2_000_000, 2_500_000)  # and as it closes
    writer.seal("stopped by wearer")
    out = tmp_path / "gaps.mp4"
    assert export(writer.directory, identity, out) == 0
    gaps = report_of(out)["gaps"]
    assert [(g["source"], g["start_media_s"], g["end_media_s"])  # type: ignore[attr-defined]
            for g in gaps] == [("microphone", 2.0, 2.5), ("camera", 3.0, None)]  # type: ignore[attr-defined]


# ------------------------------------------------------------------ 10: closed but cut


def test_a_closed_segment_cut_on_disk_is_not_called_complete(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    """Power cut between renaming 00002.age and writing its record; the copy was then
    cut short (here: inside its only chunk, so no whole chunk decrypts)."""
    manifest = recording / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(b"".join(lines[:-2]))  # drop the segment record and the seal
    segment = recording / "00002.age"
    with segment.open("r+b") as f:
        f.truncate(segment.stat().st_size - 1000)
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out, "--force") == 0
    notes = notes_of(out)
    assert "it is complete" not in notes
    assert "included 00002.age: 0 whole chunks salvaged" in notes
    assert "the final chunk is missing" in notes
    assert decode_errors(out) == ""


def test_audio_starting_late_in_a_long_segment_is_exported(
        tmp_path: Path, late_audio: Path, identity: AgeIdentity) -> None:
    """24 s of silent pre-record in one segment: libav's default probing (5 s) would
    give up before the first audio packet and leave the AAC stream unusable."""
    out = tmp_path / "out.mp4"
    assert export(late_audio, identity, out) == 0
    counts = packet_counts(out)
    assert counts["video"] == 34 * FPS and counts["audio"] > 0
    assert decode_errors(out) == ""

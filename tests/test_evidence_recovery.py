"""Power-loss recovery: every byte kept, whole chunks counted without a key, then sealed."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_evidence_support import (
    AgeIdentity,
    age_decrypt,
    age_identity,
    make_store,
    new_session,
    record,
)

from bodycam.firmware.evidence.age import CHUNK_SIZE
from bodycam.firmware.evidence.age.stream import PAYLOAD_NONCE_SIZE, SEALED_CHUNK_SIZE
from bodycam.firmware.evidence.recovery import RECOVERED_REASON, recover_unfinished
from bodycam.firmware.evidence.salvage import chunk_layout
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.signed_log import read_records
from bodycam.firmware.evidence.verify import verify_recording
from bodycam.hal.clocks import ManualClock

# Distinct packets, so a salvaged prefix can be compared byte for byte.
MEDIA = b"".join(b"\x47\x00\x11\x10" + i.to_bytes(4, "big") + bytes(180) for i in range(1300))


@dataclass
class Crash:
    """A recording cut off by a power cut while segment 1 was being written."""

    data_dir: Path
    directory: Path
    partial: Path
    key: SessionKey
    clock: ManualClock
    identity: AgeIdentity

    def recover(self) -> list[object]:
        return list(recover_unfinished(self.data_dir, self.key, self.clock))

    def records(self) -> list[dict[str, object]]:
        return read_records(self.directory / "manifest.jsonl")


@pytest.fixture
def crash(tmp_path: Path) -> Crash:
    identity = age_identity(tmp_path)
    clock, key = ManualClock(), new_session()
    writer = record(make_store(tmp_path, identity, clock, key), clock, segments=1)
    segment = writer.open_segment(10_000_000, clock.wall())
    segment.write(MEDIA)  # ~244 kB: three sealed chunks on disk, the rest in RAM
    clock.advance(60)  # the device restarts a minute later
    return Crash(tmp_path / "data", writer.directory,
                 writer.directory / "00001.age.partial", key, clock, identity)


def _cut(path: Path, length: int) -> bytes:
    """Simulate the power cut: only the first `length` bytes reached the card."""
    with path.open("r+b") as f:
        f.truncate(length)
    return path.read_bytes()


def test_unrecovered_crash_verifies_as_unsealed(crash: Crash) -> None:
    report = verify_recording(crash.directory)
    assert report.exit_code == 3, report.summary()
    assert any("segment 1 is open" in note for note in report.notes)


@pytest.mark.parametrize("where", ["empty", "in header", "in nonce", "chunk boundary",
                                   "mid chunk", "one byte short"])
def test_power_cut_at_any_length_keeps_every_byte(crash: Crash, where: str) -> None:
    header = chunk_layout(crash.partial).header_bytes
    payload = header + PAYLOAD_NONCE_SIZE
    length = {"empty": 0, "in header": header // 2, "in nonce": header + 5,
              "chunk boundary": payload + 2 * SEALED_CHUNK_SIZE,
              "mid chunk": payload + 2 * SEALED_CHUNK_SIZE + 40_000,
              "one byte short": payload + 3 * SEALED_CHUNK_SIZE - 1}[where]
    kept = _cut(crash.partial, length)
    expected_chunks = max(0, length - payload) // SEALED_CHUNK_SIZE

    (report,) = crash.recover()

    salvaged = crash.directory / "00001.truncated.age"
    assert not crash.partial.exists()
    assert salvaged.read_bytes() == kept  # renamed, not rewritten: every byte kept
    (item,) = report.salvaged
    assert (item.index, item.file, item.state, item.size) == (
        1, "00001.truncated.age", "truncated", length)
    assert item.layout.whole_chunks == expected_chunks
    recovery, seal = crash.records()[-2:]
    assert recovery["event"] == "recovery"
    assert recovery["sha256"] == hashlib.sha256(kept).hexdigest()
    assert (recovery["whole_chunks"], recovery["whole_bytes"]) == (
        expected_chunks, expected_chunks * CHUNK_SIZE)
    assert recovery["media_start_us"] == 10_000_000
    assert (seal["event"], seal["reason"], seal["segments"]) == ("seal", RECOVERED_REASON, 2)

    verified = verify_recording(crash.directory)
    assert verified.exit_code == 0, verified.summary()
    assert verified.recovered
    if expected_chunks:
        plain = age_decrypt(crash.identity, salvaged)
        assert plain.returncode != 0  # age reports the truncation ...
        assert plain.stdout == MEDIA[:expected_chunks * CHUNK_SIZE]  # ... after the chunks


def test_torn_manifest_line_is_kept_and_recovery_continues(crash: Crash) -> None:
    manifest = crash.directory / "manifest.jsonl"
    torn = b'{"event":"marker","media_us":12'
    manifest.write_bytes(manifest.read_bytes() + torn)
    (report,) = crash.recover()
    assert report.torn_manifest_bytes == len(torn)
    assert (crash.directory / "manifest.jsonl.torn-5").read_bytes() == torn
    events = [r["event"] for r in crash.records()]
    assert events[-3:] == ["torn_tail", "recovery", "seal"]
    assert verify_recording(crash.directory).exit_code == 0


def test_crash_during_rename_with_both_names(crash: Crash) -> None:
    shutil.copyfile(crash.partial, crash.directory / "00001.age")  # FAT: both entries survive
    (report,) = crash.recover()
    states = sorted((s.file, s.state) for s in report.salvaged)
    assert states == [("00001.age", "closed"), ("00001.truncated.age", "truncated")]
    assert verify_recording(crash.directory).exit_code == 0


def test_crash_after_rename_before_the_segment_record(crash: Crash) -> None:
    os.rename(crash.partial, crash.directory / "00001.age")
    (report,) = crash.recover()
    assert [(s.file, s.state) for s in report.salvaged] == [("00001.age", "closed")]
    assert verify_recording(crash.directory).exit_code == 0


def test_file_that_never_reached_the_disk(crash: Crash) -> None:
    crash.partial.unlink()  # created, but the directory entry was not yet durable
    (report,) = crash.recover()
    assert [(s.index, s.file, s.state) for s in report.salvaged] == [(1, "", "missing")]
    assert verify_recording(crash.directory).exit_code == 0


def test_recovery_interrupted_after_renaming(crash: Crash) -> None:
    os.rename(crash.partial, crash.directory / "00001.truncated.age")
    (report,) = crash.recover()
    assert [(s.file, s.state) for s in report.salvaged] == [("00001.truncated.age",
                                                              "truncated")]
    assert crash.recover() == []  # sealed now: a second start changes nothing
    assert verify_recording(crash.directory).exit_code == 0


def test_header_only_recording_and_interrupted_start(tmp_path: Path) -> None:
    identity = age_identity(tmp_path)
    clock, key = ManualClock(), new_session()
    writer = make_store(tmp_path, identity, clock, key).begin_recording(
        wall_start=clock.wall(), clock_synchronised=True, prerecord_us=0)
    staging = writer.directory.parent / ".BC-0001-20250101T090000Z-beef.creating"
    staging.mkdir()
    (staging / "manifest.jsonl").write_bytes(b'{"event":"hea')

    reports = recover_unfinished(tmp_path / "data", key, clock)

    by_id = {r.recording_id: r for r in reports}
    assert by_id["BC-0001-20250101T090000Z-beef"].abandoned_start
    assert (staging / "manifest.jsonl").read_bytes() == b'{"event":"hea'  # untouched
    assert by_id[writer.recording_id].salvaged == ()
    records = read_records(writer.directory / "manifest.jsonl")
    assert [r["event"] for r in records] == ["header", "seal"]
    assert verify_recording(writer.directory).exit_code == 0


def test_sealed_recordings_are_left_alone(tmp_path: Path) -> None:
    identity = age_identity(tmp_path)
    clock, key = ManualClock(), new_session()
    writer = record(make_store(tmp_path, identity, clock, key), clock)
    writer.seal("stopped by wearer")
    before = (writer.directory / "manifest.jsonl").read_bytes()
    assert recover_unfinished(tmp_path / "data", key, clock) == []
    assert (writer.directory / "manifest.jsonl").read_bytes() == before


def test_cut_after_the_repair_truncated_the_manifest(crash: Crash) -> None:
    """Power lost during recovery itself: the torn line is safe in its side file and cut
    off the manifest, but its torn_tail record was never written. The side file must
    still be accounted for (verify names every file), and nothing is deleted."""
    torn = b'{"event":"marker","media_us":12'
    (crash.directory / "manifest.jsonl.torn-5").write_bytes(torn)

    (report,) = crash.recover()
    assert report.torn_manifest_bytes == len(torn)
    assert crash.recover() == []
    repairs = [r for r in crash.records() if r["event"] == "torn_tail"]
    assert [(r["file"], r["bytes"]) for r in repairs] == [("manifest.jsonl.torn-5", len(torn))]
    assert verify_recording(crash.directory).exit_code == 0


def test_cut_while_writing_the_repair_record(crash: Crash) -> None:
    """The first repair's own torn_tail record was torn: two side files, both recorded."""
    manifest = crash.directory / "manifest.jsonl"
    torn = b'{"event":"marker","media_us":12'
    (crash.directory / "manifest.jsonl.torn-5").write_bytes(torn)
    torn_repair = b'{"bytes":31,"event":"torn_tail","file":"manif'
    manifest.write_bytes(manifest.read_bytes() + torn_repair)

    (report,) = crash.recover()
    assert crash.recover() == []
    repairs = {r["file"]: r["bytes"] for r in crash.records() if r["event"] == "torn_tail"}
    assert repairs == {"manifest.jsonl.torn-5": len(torn),
                       "manifest.jsonl.torn-5.1": len(torn_repair)}
    assert (crash.directory / "manifest.jsonl.torn-5").read_bytes() == torn
    assert (crash.directory / "manifest.jsonl.torn-5.1").read_bytes() == torn_repair
    report = verify_recording(crash.directory)
    assert report.exit_code == 0, report.summary()


def test_recovery_twice_adds_nothing(crash: Crash) -> None:
    crash.recover()
    before = (crash.directory / "manifest.jsonl").read_bytes()
    assert crash.recover() == []
    assert (crash.directory / "manifest.jsonl").read_bytes() == before
    assert verify_recording(crash.directory).exit_code == 0

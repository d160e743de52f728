"""Evidence store: refusal without recipients, recording layout, manifest records."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest
from test_evidence_support import (
    TS_PACKET,
    AgeIdentity,
    age_decrypt,
    age_identity,
    make_store,
    new_session,
    record,
)

from bodycam.firmware.evidence.age.keys import recipient_fingerprint
from bodycam.firmware.evidence.api import NoRecipientError, StorageWriteError
from bodycam.firmware.evidence.signed_log import read_records
from bodycam.firmware.evidence.store import FileEvidenceStore
from bodycam.firmware.evidence.verify import verify_recording
from bodycam.hal.clocks import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def identity(tmp_path: Path) -> AgeIdentity:
    return age_identity(tmp_path)


def _store(tmp_path: Path, clock: ManualClock, recipients: list[str]) -> FileEvidenceStore:
    return FileEvidenceStore(
        data_dir=tmp_path / "data", recipients=recipients, signer=new_session(),
        device_id="BC-0001", firmware_version="0.1.0", config_digest="c0" * 32, clock=clock,
        reserve_bytes=0, sync_interval=0.5, free_space=lambda _path: 1 << 40)


@pytest.mark.parametrize("recipients", [[], ["age1typo"], ["AGE-SECRET-KEY-1QQQQ"]])
def test_no_valid_recipient_refuses_before_creating_anything(
        tmp_path: Path, clock: ManualClock, recipients: list[str]) -> None:
    store = _store(tmp_path, clock, recipients)
    with pytest.raises(NoRecipientError, match=r"no valid evidence recipient.*Fix: set"):
        store.begin_recording(wall_start=clock.wall(), clock_synchronised=True, prerecord_us=0)
    assert not (tmp_path / "data").exists()


def test_valid_recipients_are_used_when_one_is_broken(tmp_path: Path, clock: ManualClock,
                                                      identity: AgeIdentity) -> None:
    (tmp_path / "escrow").mkdir()
    escrow = age_identity(tmp_path / "escrow")
    store = _store(tmp_path, clock, [identity.recipient, "age1broken", escrow.recipient])
    writer = record(store, clock, segments=1)
    writer.seal("stopped by wearer")
    header = read_records(writer.directory / "manifest.jsonl")[0]
    assert header["recipients"] == [recipient_fingerprint(identity.recipient),
                                    recipient_fingerprint(escrow.recipient)]
    for who in (identity, escrow):
        assert age_decrypt(who, writer.directory / "00000.age").returncode == 0


def test_recording_layout_and_header(tmp_path: Path, clock: ManualClock,
                                     identity: AgeIdentity) -> None:
    key = new_session()
    store = make_store(tmp_path, identity, clock, key)
    writer = store.begin_recording(wall_start=clock.wall(), clock_synchronised=False,
                                   prerecord_us=30_000_000)
    assert re.fullmatch(r"BC-0001-20250101T080000Z-[0-9a-f]{4}", writer.recording_id)
    assert writer.directory == tmp_path / "data" / "evidence" / writer.recording_id
    assert sorted(p.name for p in writer.directory.parent.iterdir()) == [writer.recording_id]
    header = read_records(writer.directory / "manifest.jsonl")[0]
    # Exactly what verification and offload need: no location, content or names.
    assert set(header) == {
        "event", "seq", "prev", "time", "sig", "format", "recording_id", "device_id",
        "device_public_key", "device_key_fingerprint", "firmware_version", "recipients",
        "config_digest", "start", "clock_synchronised", "prerecord_us",
        "device_key_algorithm", "key_store", "audit_head", "signer"}
    assert header["device_public_key"] == key.device_key.b64
    assert (header["device_key_algorithm"], header["key_store"]) == ("ed25519", "software")
    assert header["signer"] == key.certificate  # the session key's certificate
    assert header["audit_head"] is None  # no audit log given to this store
    assert (header["clock_synchronised"], header["prerecord_us"]) == (False, 30_000_000)
    assert header["start"] == "2025-01-01T08:00:00.000Z"


def test_manifest_records_segments_markers_gaps_and_seal(tmp_path: Path, clock: ManualClock,
                                                         identity: AgeIdentity) -> None:
    writer = record(make_store(tmp_path, identity, clock, new_session()), clock)
    writer.note_gap("microphone", 12_000_000, None)
    writer.seal("stopped by wearer")
    records = read_records(writer.directory / "manifest.jsonl")
    assert [r["event"] for r in records] == [
        "header", "segment_open", "segment", "marker", "segment_open", "segment", "gap",
        "seal"]
    segment = records[2]
    assert (segment["index"], segment["file"], segment["media_start_us"],
            segment["media_end_us"]) == (0, "00000.age", 0, 10_000_000)
    assert segment["size"] == (writer.directory / "00000.age").stat().st_size
    assert records[6]["source"] == "microphone" and records[6]["end_us"] is None
    assert records[7]["reason"] == "stopped by wearer" and records[7]["segments"] == 2
    assert verify_recording(writer.directory).exit_code == 0


def test_seal_needs_closed_segment_and_is_final(tmp_path: Path, clock: ManualClock,
                                               identity: AgeIdentity) -> None:
    writer = record(make_store(tmp_path, identity, clock, new_session()), clock,
                    segments=0)
    segment = writer.open_segment(0, clock.wall())
    segment.write(TS_PACKET)
    with pytest.raises(RuntimeError, match="still open"):
        writer.open_segment(1, clock.wall())
    with pytest.raises(RuntimeError, match="before sealing"):
        writer.seal("stopped by wearer")
    segment.close(40_000)
    writer.seal("stopped by wearer")
    with pytest.raises(RuntimeError, match="is sealed"):
        writer.add_marker(0, clock.wall())
    with pytest.raises(RuntimeError, match="is sealed"):
        writer.open_segment(50_000, clock.wall())


def test_segment_that_failed_to_close_is_salvaged_by_the_seal(
        tmp_path: Path, clock: ManualClock, identity: AgeIdentity,
        monkeypatch: pytest.MonkeyPatch) -> None:
    writer = record(make_store(tmp_path, identity, clock, new_session()), clock,
                    segments=1)
    segment = writer.open_segment(10_000_000, clock.wall())
    segment.write(TS_PACKET * 800)

    def card_error(*_args: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with monkeypatch.context() as patch:  # the SD card fails during the rename
        patch.setattr(os, "rename", card_error)
        with pytest.raises(StorageWriteError, match=r"00001.age.partial failed.*Fix"):
            segment.close(20_000_000)
    writer.seal("stopped by wearer")

    records = read_records(writer.directory / "manifest.jsonl")
    recovery, seal = records[-2:]
    assert (recovery["event"], recovery["file"], recovery["state"]) == (
        "recovery", "00001.truncated.age", "truncated")
    assert seal["reason"] == "stopped by wearer"
    report = verify_recording(writer.directory)
    assert report.exit_code == 0 and report.recovered, report.summary()
    plain = age_decrypt(identity, writer.directory / "00001.truncated.age")
    assert plain.stdout == TS_PACKET * 800  # the final chunk was sealed before the failure


def test_card_error_at_start_is_an_evidence_error_naming_the_fix(
        tmp_path: Path, clock: ManualClock, identity: AgeIdentity) -> None:
    """An OSError (read-only or damaged card) must reach the recorder as an EvidenceError,
    the one kind the storage contract promises, with the problem and the fix."""
    store = make_store(tmp_path, identity, clock, new_session())
    store.evidence_dir.parent.mkdir(parents=True)
    store.evidence_dir.write_bytes(b"")  # the evidence directory cannot be made
    with pytest.raises(StorageWriteError, match=r"cannot start a recording.*Fix: check"):
        store.begin_recording(wall_start=clock.wall(), clock_synchronised=True,
                              prerecord_us=0)


def test_first_recording_makes_its_new_directories_durable(
        tmp_path: Path, clock: ManualClock, identity: AgeIdentity,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A new name is durable only once its directory is fsync'd: the evidence/
    directory made for the first recording included (else a power cut can lose it)."""
    from bodycam.firmware.evidence import durable
    from bodycam.firmware.evidence import store as store_module

    synced: list[Path] = []
    real = durable.fsync_directory

    def spy(path: Path) -> None:
        synced.append(path)
        real(path)

    for module in (durable, store_module):
        monkeypatch.setattr(module, "fsync_directory", spy)
    store = make_store(tmp_path, identity, clock, new_session())
    writer = store.begin_recording(wall_start=clock.wall(), clock_synchronised=True,
                                   prerecord_us=0)
    data_dir = store.evidence_dir.parent
    assert data_dir in synced  # holds the new evidence/ entry
    assert synced[-1] == store.evidence_dir  # holds the renamed recording
    assert writer.directory.parent == store.evidence_dir

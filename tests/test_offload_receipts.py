"""Receipts against the card: the camera removes only what a matching, pinned receipt
covers, and `verify` accepts exactly that afterwards (one check for both)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from offload_support import server_key_b64
from test_evidence_support import age_identity, make_store, new_session, record

from bodycam.firmware.evidence.offloaded import (
    RECEIPT_NAME,
    ReceiptError,
    SealedManifest,
    check_receipt,
)
from bodycam.firmware.evidence.receipts import RECEIPT_FORMAT, sign_statement
from bodycam.firmware.evidence.recovery import QUARANTINE_DIR
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.offload.card import CardRecording, read_recording, sealed_recordings
from bodycam.firmware.offload.removal import keep_receipt, remove_segments
from bodycam.hal.clocks import ManualClock
from bodycam.tools.custody.cli import main as evidence_main

SERVER = Ed25519PrivateKey.generate()
SERVER_KEY = server_key_b64(SERVER)
OTHER = Ed25519PrivateKey.generate()


class AuditSpy:
    """Collects what the offload audits (the real AuditLog is exercised end to end)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, object]]] = []

    def record(self, event: str, **fields: object) -> dict[str, Any]:
        self.records.append((event, fields))
        return {"event": event, **fields}

    def events(self) -> list[str]:
        return [event for event, _ in self.records]


@pytest.fixture
def key() -> SessionKey:
    return new_session()


@pytest.fixture
def sealed(tmp_path: Path, key: SessionKey) -> CardRecording:
    clock = ManualClock()
    writer = record(make_store(tmp_path, age_identity(tmp_path), clock, key), clock)
    writer.seal("stopped by wearer")
    found = read_recording(writer.directory)
    assert found is not None
    return found


def receipt_for(manifest: SealedManifest, signer: Ed25519PrivateKey = SERVER,
                **changes: object) -> bytes:
    fields: dict[str, object] = {
        "device_id": manifest.device_id, "recording_id": manifest.recording_id,
        "device_key": manifest.device_key_fingerprint, "manifest_seq": manifest.seal_seq,
        "manifest_hash": manifest.seal_hash, "files": len(manifest.files),
        "bytes": manifest.bytes, "sealed": True, "stored_at": "2026-12-06T08:00:00.000Z",
    }
    fields.update(changes)
    return json.dumps(sign_statement(signer, RECEIPT_FORMAT, fields)).encode()


def test_the_card_lists_sealed_recordings_oldest_first(tmp_path: Path, key: SessionKey) -> None:
    clock = ManualClock()
    store = make_store(tmp_path, age_identity(tmp_path), clock, key,)
    first = record(store, clock)
    first.seal("stopped by wearer")
    clock.advance(60)
    open_one = record(store, clock)  # still recording: never offloaded
    evidence = tmp_path / "data" / "evidence"
    (evidence / ".BC-0001-x.creating").mkdir()
    (tmp_path / "data" / QUARANTINE_DIR).mkdir()
    found = sealed_recordings(evidence)
    assert [r.recording_id for r in found] == [first.recording_id]
    open_one.seal("stopped by wearer")
    assert [r.recording_id for r in sealed_recordings(evidence)] == [
        first.recording_id, open_one.recording_id]


def test_a_matching_receipt_passes(sealed: CardRecording) -> None:
    receipt = check_receipt(receipt_for(sealed.manifest), sealed.manifest, SERVER_KEY)
    assert receipt["manifest_hash"] == sealed.manifest.seal_hash


@pytest.mark.parametrize(("change", "named"), [
    ({"recording_id": "BC-0001-20250101T080000Z-0000"}, "recording_id"),
    ({"manifest_seq": 3}, "manifest_seq"),
    ({"manifest_hash": "0" * 64}, "manifest_hash"),
    ({"files": 1}, "files"),
    ({"bytes": 1}, "bytes"),
    ({"sealed": False}, "sealed"),
    ({"device_id": "BC-0002"}, "device_id"),
    ({"device_key": "0" * 16}, "device_key"),
])
def test_a_receipt_for_something_else_is_refused_by_name(
        sealed: CardRecording, change: dict[str, object], named: str) -> None:
    with pytest.raises(ReceiptError, match=named):
        check_receipt(receipt_for(sealed.manifest, **change), sealed.manifest, SERVER_KEY)


def test_a_receipt_of_another_server_or_forged_is_refused(sealed: CardRecording) -> None:
    with pytest.raises(ReceiptError, match="another server"):
        check_receipt(receipt_for(sealed.manifest, OTHER), sealed.manifest, SERVER_KEY)
    forged = json.loads(receipt_for(sealed.manifest))
    forged["bytes"] += 1  # edited after signing
    forged["files"] = len(sealed.manifest.files)
    with pytest.raises(ReceiptError, match="does not verify"):
        check_receipt(json.dumps(forged).encode(), sealed.manifest, SERVER_KEY)


def test_removal_keeps_manifest_and_receipt_and_audits_both(sealed: CardRecording) -> None:
    raw = receipt_for(sealed.manifest)
    audit = AuditSpy()
    keep_receipt(sealed, raw, audit)
    removed = remove_segments(sealed, raw, audit)
    assert removed == [f.name for f in sealed.manifest.media] and len(removed) == 2
    assert sorted(os.listdir(sealed.directory)) == ["manifest.jsonl", RECEIPT_NAME]
    assert (sealed.directory / RECEIPT_NAME).read_bytes() == raw
    assert audit.events() == ["offload_receipt", "offload_removed"]
    assert audit.records[0][1]["manifest_hash"] == sealed.manifest.seal_hash


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = evidence_main(["verify", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def _offload(recording: CardRecording, raw: bytes) -> None:
    audit = AuditSpy()
    keep_receipt(recording, raw, audit)
    remove_segments(recording, raw, audit)


def test_an_offloaded_recording_verifies_as_offloaded(
        sealed: CardRecording, capsys: pytest.CaptureFixture[str]) -> None:
    _offload(sealed, receipt_for(sealed.manifest))
    code, out = verify(capsys, str(sealed.directory), "--server-key", SERVER_KEY)
    assert code == 0, out
    assert "offloaded: the evidence server's receipt (the pinned server key" in out
    assert "2 of 2 segment file(s) were removed" in out and "PROBLEM" not in out
    code, out = verify(capsys, str(sealed.directory))
    assert code == 1 and "NOT pinned: check it with --server-key" in out
    assert "anyone can sign such a receipt. Fix: verify with --server-key" in out


def test_a_receipt_signed_by_a_key_of_its_own_excuses_nothing_without_the_pin(
        sealed: CardRecording, capsys: pytest.CaptureFixture[str]) -> None:
    """Whoever holds the card deletes the segments and plants a receipt signed by a key
    of their own: without --server-key that is a failure, with it a refusal."""
    _offload(sealed, receipt_for(sealed.manifest, Ed25519PrivateKey.generate()))
    code, out = verify(capsys, str(sealed.directory))
    assert code == 1 and "anyone can sign such a receipt" in out
    code, out = verify(capsys, str(sealed.directory), "--server-key", SERVER_KEY)
    assert code == 1 and "signed by another server" in out


def test_without_a_receipt_removed_segments_are_missing(
        sealed: CardRecording, capsys: pytest.CaptureFixture[str]) -> None:
    """What the receipt check is for: the same removal without it is a failure."""
    _offload(sealed, receipt_for(sealed.manifest))
    (sealed.directory / RECEIPT_NAME).unlink()
    code, out = verify(capsys, str(sealed.directory))
    assert code == 1 and out.count("missing (listed at") == 2


@pytest.mark.parametrize("how", ["other-server", "mismatch", "garbage"])
def test_a_receipt_that_does_not_match_is_a_problem(
        sealed: CardRecording, capsys: pytest.CaptureFixture[str], how: str) -> None:
    good = receipt_for(sealed.manifest)
    _offload(sealed, good)
    bad = {"other-server": receipt_for(sealed.manifest, OTHER),
           "mismatch": receipt_for(sealed.manifest, bytes=1),
           "garbage": b"{not json"}[how]
    (sealed.directory / RECEIPT_NAME).write_bytes(bad)
    code, out = verify(capsys, str(sealed.directory), "--server-key", SERVER_KEY)
    assert code == 1
    assert "receipt.json: not a receipt for this recording" in out
    assert out.count("missing (listed at") == 2


def test_a_receipt_never_excuses_an_altered_segment(
        sealed: CardRecording, capsys: pytest.CaptureFixture[str]) -> None:
    raw = receipt_for(sealed.manifest)
    keep_receipt(sealed, raw, AuditSpy())  # kept, nothing removed yet (a cut before it)
    segment = sealed.directory / sealed.manifest.media[0].name
    segment.write_bytes(segment.read_bytes()[:-1] + b"\x00")
    code, out = verify(capsys, str(sealed.directory), "--server-key", SERVER_KEY)
    assert code == 1 and "SHA-256 differs" in out


def test_server_key_option_takes_the_servers_file(
        sealed: CardRecording, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _offload(sealed, receipt_for(sealed.manifest))
    offload_file = tmp_path / "camera-offload.toml"
    offload_file.write_text(f'[offload]\nserver_key = "{SERVER_KEY}"\n')
    code, out = verify(capsys, str(sealed.directory), "--server-key", str(offload_file))
    assert code == 0 and "the pinned server key" in out
    code, out = verify(capsys, str(sealed.directory), "--server-key", "not-a-key!")
    assert code == 2 and "--server-key: not base64" in out


def test_a_whole_camera_with_an_offloaded_recording_verifies(
        tmp_path: Path, key: SessionKey, capsys: pytest.CaptureFixture[str]) -> None:
    """The data directory as the custodian takes it: audit log, links, offloaded."""
    from bodycam.firmware.device.audit import AuditLog

    clock = ManualClock()
    audit = AuditLog.open(tmp_path / "data", key, clock)
    store = make_store(tmp_path, age_identity(tmp_path), clock, key)
    writer = record(store, clock)
    audit.record("recording_started", recording_id=writer.recording_id, prerecord_us=0)
    seal = writer.seal("stopped by wearer")
    audit.record("recording_sealed", recording_id=writer.recording_id,
                 reason="stopped by wearer", segments=2, sealed=True,
                 manifest_seq=seal.manifest_seq, manifest_hash=seal.manifest_hash,
                 counter=None)
    found = read_recording(writer.directory)
    assert found is not None
    raw = receipt_for(found.manifest)
    keep_receipt(found, raw, audit)
    remove_segments(found, raw, audit)
    audit.close()
    code, out = verify(capsys, str(tmp_path / "data"), "--server-key", SERVER_KEY)
    assert code == 0, out
    assert "offloaded:" in out


def test_a_planted_receipt_in_quarantine_is_checked_against_the_pin_too(
        tmp_path: Path, key: SessionKey, capsys: pytest.CaptureFixture[str]) -> None:
    """The card holder moves a recording into quarantine/, deletes its segments and plants
    a receipt of their own: --server-key holds there as everywhere else."""
    from bodycam.firmware.device.audit import AuditLog

    clock = ManualClock()
    audit = AuditLog.open(tmp_path / "data", key, clock)
    store = make_store(tmp_path, age_identity(tmp_path), clock, key)
    writer = record(store, clock)
    writer.seal("stopped by wearer")
    audit.close()
    found = read_recording(writer.directory)
    assert found is not None
    moved = tmp_path / "data" / QUARANTINE_DIR / writer.directory.name
    moved.parent.mkdir()
    writer.directory.rename(moved)
    planted = read_recording(moved)
    assert planted is not None
    _offload(planted, receipt_for(planted.manifest, Ed25519PrivateKey.generate()))
    code, out = verify(capsys, str(tmp_path / "data"), "--server-key", SERVER_KEY)
    assert code == 1 and "signed by another server" in out

"""SignedLog: line format, chain continuation on reopen, torn-tail repair."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from test_evidence_support import new_session

from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.signed_log import (
    GENESIS_PREV,
    SignedLog,
    canonical_json,
    read_records,
)
from bodycam.firmware.evidence.verify import verify_log
from bodycam.hal.clocks import ManualClock


@pytest.fixture
def key() -> SessionKey:
    return new_session()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_lines_are_canonical_chained_and_signed(tmp_path: Path, key: SessionKey,
                                                clock: ManualClock) -> None:
    path = tmp_path / "audit.jsonl"
    with SignedLog.open(path, key, clock) as log:
        first = log.append("boot", firmware="0.1.0", note="Straße")
        clock.advance(1.5)
        log.append("button", name="record")
    raw = path.read_bytes().split(b"\n")
    assert raw[-1] == b""
    one, two = (json.loads(line) for line in raw[:2])
    assert raw[0] == canonical_json(one)  # sorted keys, no spaces, UTF-8 (not \\u escapes)
    assert "Straße".encode() in raw[0]
    assert (one["seq"], one["prev"], one["event"]) == (0, GENESIS_PREV, "boot")
    assert one["time"] == "2025-01-01T08:00:00.000Z"
    # The first line a session writes carries its certificate from the device key.
    assert one["signer"] == key.certificate and one["signer"]["key"] == key.public_key_b64
    assert one["signer"]["device_key"] == key.device_key.b64
    assert two["seq"] == 1 and two["time"] == "2025-01-01T08:00:01.500Z"
    assert two["prev"] == hashlib.sha256(raw[0]).hexdigest()
    assert "signer" not in two and "device_public_key" not in two
    unsigned = canonical_json({k: v for k, v in one.items() if k != "sig"})
    session_public = Ed25519PublicKey.from_public_bytes(
        base64.b64decode(key.public_key_b64))
    session_public.verify(base64.b64decode(one["sig"]), unsigned)  # the session key signs
    assert first == one
    assert verify_log(path).status == "verified"


def test_reserved_fields_are_refused(tmp_path: Path, key: SessionKey,
                                     clock: ManualClock) -> None:
    with SignedLog.open(tmp_path / "a.jsonl", key, clock) as log, \
            pytest.raises(ValueError, match="set by the log itself"):
        log.append("x", seq=5)


def test_reopening_continues_the_chain(tmp_path: Path, key: SessionKey,
                                       clock: ManualClock) -> None:
    path = tmp_path / "audit.jsonl"
    with SignedLog.open(path, key, clock) as log:
        log.append("boot")
        log.append("shutdown")
    with SignedLog.open(path, key, clock) as log:
        assert log.next_seq == 2
        assert log.torn_tail is None
        log.append("boot")
    assert [r["seq"] for r in read_records(path)] == [0, 1, 2]
    assert verify_log(path).exit_code == 0


@pytest.mark.parametrize("tail", [b'{"event":"button","na', b"\x00" * 4096,
                                  b'{"not":"a record"}\n{"half'])
def test_torn_tail_is_kept_aside_and_recorded(tmp_path: Path, key: SessionKey,
                                              clock: ManualClock, tail: bytes) -> None:
    path = tmp_path / "audit.jsonl"
    with SignedLog.open(path, key, clock) as log:
        log.append("boot")
        log.append("button", name="display")
    whole = path.read_bytes()
    path.write_bytes(whole + tail)  # the power cut

    with SignedLog.open(path, key, clock) as log:
        repair = log.torn_tail
        log.append("boot")

    assert repair is not None
    side = tmp_path / repair["file"]
    assert side.read_bytes() == tail
    assert repair["bytes"] == len(tail)
    assert repair["sha256"] == hashlib.sha256(tail).hexdigest()
    assert repair["seq"] == 2 and repair["offset"] == len(whole)
    assert path.read_bytes().startswith(whole)
    assert [r["event"] for r in read_records(path)] == ["boot", "button", "torn_tail", "boot"]
    report = verify_log(path, [key.device_key])
    assert report.exit_code == 0, report.summary()
    assert any("power cut tore a line" in note for note in report.notes)


def test_repair_interrupted_after_the_side_copy_reuses_it(tmp_path: Path, key: SessionKey,
                                                          clock: ManualClock) -> None:
    path = tmp_path / "audit.jsonl"
    with SignedLog.open(path, key, clock) as log:
        log.append("boot")
    tail = b'{"half'
    path.write_bytes(path.read_bytes() + tail)
    (tmp_path / "audit.jsonl.torn-1").write_bytes(tail)  # copy made, then power lost again
    with SignedLog.open(path, key, clock) as log:
        assert log.torn_tail is not None and log.torn_tail["file"] == "audit.jsonl.torn-1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.jsonl", "audit.jsonl.torn-1"]


def test_a_log_torn_inside_its_first_line_starts_over(tmp_path: Path, key: SessionKey,
                                                      clock: ManualClock) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"event":"bo')
    with SignedLog.open(path, key, clock) as log:
        assert log.torn_tail is not None and log.torn_tail["seq"] == 0
    first = read_records(path)[0]
    assert first["prev"] == GENESIS_PREV and first["signer"]["device_key"] == key.device_key.b64
    assert verify_log(path).exit_code == 0


def test_the_search_for_the_last_signer_is_bounded(tmp_path: Path, key: SessionKey,
                                                   clock: ManualClock) -> None:
    """Review of M2: 40 MB of well-formed records without a signer used to be read whole
    at every start (on a 512 MB camera, memory runs out); beyond 16 MiB the previous
    signer is unknown instead."""
    path = tmp_path / "audit.jsonl"
    with SignedLog.open(path, key, clock) as log:
        log.append("boot")
    with path.open("ab") as out:
        out.write(b'{"seq":5,"sig":"x"}\n' * (17 * 1024 * 1024 // 20 + 1))
    with SignedLog.open(path, new_session(), clock) as log:
        assert log.previous_device_key is None

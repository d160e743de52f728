"""The camera's evidence store with post-quantum recipients: segments are encrypted to
age1pq1... keys exactly as to age1... keys (one mlkem768x25519 stanza per recipient, no
X25519 stanza), the recording verifies, and a mixed recipient list is refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from test_evidence_support import AgeIdentity, make_store, new_session, record

from bodycam.firmware.evidence.age import decrypt
from bodycam.firmware.evidence.age.header import read_header
from bodycam.firmware.evidence.age.keys import (
    format_identity_file,
    generate_identity,
    read_identity_file,
    recipient_fingerprint,
)
from bodycam.firmware.evidence.api import NoRecipientError
from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.firmware.evidence.verify import verify_recording
from bodycam.hal.clocks import ManualClock


def _hybrid_identity(directory: Path) -> AgeIdentity:
    secret, recipient = generate_identity(post_quantum=True)
    path = directory / "authority-pq.txt"
    path.write_text(format_identity_file(secret))
    return AgeIdentity(path, recipient)


def test_store_encrypts_segments_to_a_hybrid_recipient(tmp_path: Path) -> None:
    identity = _hybrid_identity(tmp_path)
    clock = ManualClock(start_monotonic=50.0)
    store = make_store(tmp_path, identity, clock, new_session(clock))
    writer = record(store, clock, segments=2)
    writer.seal("test")
    recording = next((store.evidence_dir).iterdir())
    assert verify_recording(recording).status == "verified"
    header = (recording / MANIFEST_NAME).read_text().splitlines()[0]
    assert recipient_fingerprint(identity.recipient) in header
    keys = read_identity_file(identity.identity_file)
    for segment in sorted(recording.glob("*.age")):
        with segment.open("rb") as src:
            assert [s.type for s in read_header(src).stanzas] == ["mlkem768x25519"]
        plain = bytearray()
        decrypt(keys, io.BytesIO(segment.read_bytes()), plain.extend)
        assert plain[:1] == b"\x47" and len(plain) % 188 == 0  # MPEG-TS packets


def test_store_refuses_to_record_to_a_mixed_recipient_list(tmp_path: Path) -> None:
    clock = ManualClock(start_monotonic=50.0)
    hybrid = _hybrid_identity(tmp_path)
    store = make_store(tmp_path, hybrid, clock, new_session(clock))
    assert store.can_begin() is None
    mixed = type(store)(
        data_dir=tmp_path / "data2", recipients=[hybrid.recipient, generate_identity()[1]],
        signer=new_session(clock), device_id="BC-0001", firmware_version="0.1.0",
        config_digest="c0" * 32, clock=clock, reserve_bytes=0, sync_interval=0.5,
        free_space=lambda _path: 1 << 40)
    refusal = mixed.can_begin()
    assert isinstance(refusal, NoRecipientError)
    assert "quantum computer" in str(refusal) and "Fix:" in str(refusal)
    with pytest.raises(NoRecipientError):
        mixed.begin_recording(wall_start=clock.wall(), clock_synchronised=True,
                              prerecord_us=0)
    assert not (tmp_path / "data2" / "evidence").exists() or not any(
        (tmp_path / "data2" / "evidence").iterdir())

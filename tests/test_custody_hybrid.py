"""The custodian's tools with post-quantum identities: `keygen --pq`, and decrypt, verify
and export reading hybrid identities, also beside the X25519 identity an agency keeps
for its older recordings (the migration path)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from export_support import recorded, report_of
from media_fixtures import clip
from test_evidence_support import AgeIdentity, make_store, new_session

from bodycam.firmware.evidence.age.header import read_header
from bodycam.firmware.evidence.age.keys import (
    format_identity_file,
    format_recipient,
    generate_identity,
    read_identity_file,
)
from bodycam.hal.clocks import ManualClock
from bodycam.tools.custody.cli import main


@pytest.fixture
def pq_identity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> AgeIdentity:
    """Made by the real `bodycam-evidence keygen --pq`."""
    path = tmp_path / "authority-pq.key"
    assert main(["keygen", "--pq", "-o", str(path)]) == 0
    return AgeIdentity(path, capsys.readouterr().out.strip())


def _recording(tmp_path: Path, identity: AgeIdentity, name: str) -> Path:
    clock = ManualClock(start_monotonic=50.0)
    store = make_store(tmp_path / name, identity, clock, new_session(clock))
    return recorded(store, clock, clip(4.0), 2.0)  # type: ignore[arg-type]


def test_keygen_pq_writes_a_private_hybrid_identity(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "agency.key"
    assert main(["keygen", "--pq", "-o", str(path)]) == 0
    captured = capsys.readouterr()
    printed = captured.out.strip()
    assert printed.startswith("age1pq1") and len(printed) == 1959
    assert "AGE-SECRET-KEY" not in captured.out + captured.err
    assert "post-quantum hybrid identity" in captured.err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert lines[1] == f"# public key: {printed}"
    assert lines[2].startswith("AGE-SECRET-KEY-PQ-1")
    assert format_recipient(read_identity_file(path)[0].public_key()) == printed


def test_keygen_without_pq_recommends_it(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen", "-o", str(tmp_path / "x.key")]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("age1") and not captured.out.startswith("age1pq1")
    assert "new deployments should use --pq" in captured.err


def test_decrypt_verify_and_export_with_a_hybrid_identity(
        tmp_path: Path, pq_identity: AgeIdentity) -> None:
    recording = _recording(tmp_path, pq_identity, "cam")
    segment = sorted(recording.glob("*.age"))[0]
    with segment.open("rb") as src:
        assert [s.type for s in read_header(src).stanzas] == ["mlkem768x25519"]
    out = tmp_path / "seg0.ts"
    assert main(["decrypt", "-i", str(pq_identity.identity_file), "-o", str(out),
                 str(segment)]) == 0
    assert out.read_bytes()[:1] == b"\x47"
    assert main(["verify", str(recording), "--expect-recipient", pq_identity.recipient]) == 0
    recipients = tmp_path / "authority.recipients"
    recipients.write_text(f"# the authority\n{pq_identity.recipient}\n")
    assert main(["verify", str(recording), "--expect-recipient", str(recipients)]) == 0
    assert main(["verify", str(recording), "--expect-recipient", generate_identity()[1]]) == 1
    mp4 = tmp_path / "case.mp4"
    assert main(["export", str(recording), "-i", str(pq_identity.identity_file),
                 "-o", str(mp4)]) == 0
    assert mp4.stat().st_size > 0
    assert report_of(mp4)["verification"]["status"] == "verified"  # type: ignore[index]


def test_one_identity_file_reads_recordings_from_before_and_after_the_move(
        tmp_path: Path, pq_identity: AgeIdentity, capsys: pytest.CaptureFixture[str]) -> None:
    """Migration: the cameras now encrypt to the hybrid key; the X25519 identity is kept
    (here in the same file) for what they recorded before."""
    secret, recipient = generate_identity()
    old_file = tmp_path / "authority-x25519.key"
    old_file.write_text(format_identity_file(secret))
    before = _recording(tmp_path, AgeIdentity(old_file, recipient), "before")
    after = _recording(tmp_path, pq_identity, "after")
    both = tmp_path / "authority-all.key"
    both.write_text(pq_identity.identity_file.read_text() + old_file.read_text())
    for n, recording in enumerate((before, after)):
        assert main(["export", str(recording), "-i", str(both),
                     "-o", str(tmp_path / f"r{n}.mp4")]) == 0
    # with only the new key, the old recording is a clear "wrong key" saying which is missing
    capsys.readouterr()
    assert main(["export", str(before), "-i", str(pq_identity.identity_file),
                 "-o", str(tmp_path / "wrong.mp4")]) != 0
    assert "need the X25519 identity kept for them" in capsys.readouterr().err

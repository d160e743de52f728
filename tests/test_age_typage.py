"""Interoperability with typage (npm `age-encryption`, the age author's TypeScript
implementation, pinned in tests/interop/package-lock.json and installed by `make`'s test
setup with `npm ci`): what the camera writes, typage decrypts; what typage writes, the
custodian tool decrypts; both derive the same recipient from an identity. Post-quantum
hybrid recipients first, X25519 alongside."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from age_support import ours_encrypt
from test_evidence_support import AgeIdentity, make_store, new_session, record

from bodycam.firmware.evidence.age import CHUNK_SIZE, decrypt
from bodycam.firmware.evidence.age.header import read_header
from bodycam.firmware.evidence.age.keys import (
    format_identity_file,
    format_recipient,
    generate_identity,
    parse_identity,
)
from bodycam.hal.clocks import ManualClock
from bodycam.tools.custody.cli import main as evidence_main

INTEROP = Path(__file__).resolve().parent / "interop"
SCRIPT = INTEROP / "typage.mjs"
NODE = shutil.which("node")
_INSTALLED = INTEROP / "node_modules" / "age-encryption" / "package.json"
if NODE is None or not _INSTALLED.is_file():
    _WHY = ("typage is not installed: needs Node.js >= 20.19 and `npm ci` in tests/interop "
            "(make .venv/.dev does both)")
    if os.environ.get("CI") == "true":
        raise RuntimeError(_WHY)
    pytest.skip(_WHY, allow_module_level=True)

SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE,
         random.Random(13).randrange(1, 5 * CHUNK_SIZE)]


def typage(*args: str, data: bytes = b"") -> bytes:
    assert NODE is not None
    done = subprocess.run([NODE, str(SCRIPT), *args], input=data, capture_output=True,
                          check=False, timeout=120, cwd=INTEROP)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def _identity_file(directory: Path, secret: str, name: str) -> Path:
    path = directory / name
    path.write_text(format_identity_file(secret))
    return path


@pytest.fixture(scope="module")
def pq(tmp_path_factory: pytest.TempPathFactory) -> AgeIdentity:
    """A hybrid identity made by typage, in an identity file."""
    secret, recipient = typage("keygen", "--pq").decode().split()
    path = tmp_path_factory.mktemp("typage") / "authority-pq.key"
    path.write_text(f"# made by typage\n{secret}\n")
    return AgeIdentity(path, recipient)


def _payload(size: int) -> bytes:
    return random.Random(size).randbytes(size)


# ------------------------------------------------------------------ keys


def test_typage_identity_gives_the_same_recipient_here(pq: AgeIdentity) -> None:
    [secret] = [line for line in pq.identity_file.read_text().splitlines()
                if line.startswith("AGE-SECRET-KEY-PQ-1")]
    assert format_recipient(parse_identity(secret).public_key()) == pq.recipient


def test_our_identities_give_the_same_recipient_in_typage(tmp_path: Path) -> None:
    pairs = [generate_identity(post_quantum=True), generate_identity()]
    path = tmp_path / "ours.key"
    path.write_text("".join(format_identity_file(secret) for secret, _ in pairs))
    assert typage("recipient", str(path)).decode().split() == [r for _, r in pairs]


# ------------------------------------------------------------------ camera -> typage


@pytest.mark.parametrize("size", SIZES)
def test_typage_decrypts_what_our_encryptor_wrote_to_a_hybrid_recipient(
        pq: AgeIdentity, size: int) -> None:
    data = _payload(size)
    ciphertext = ours_encrypt(data, [pq.recipient])
    assert [s.type for s in read_header(io.BytesIO(ciphertext)).stanzas] == ["mlkem768x25519"]
    assert typage("decrypt", str(pq.identity_file), data=ciphertext) == data


def test_typage_decrypts_the_camera_segments(tmp_path: Path, pq: AgeIdentity) -> None:
    """Segments written by the camera's evidence store (recorder path), not a test helper."""
    clock = ManualClock(start_monotonic=50.0)
    store = make_store(tmp_path, pq, clock, new_session(clock))
    record(store, clock, segments=2).seal("test")
    segments = sorted(store.evidence_dir.glob("*/*.age"))
    assert len(segments) == 2
    keys = [parse_identity(line) for line in pq.identity_file.read_text().splitlines()
            if line.startswith("AGE-")]
    for segment in segments:
        ours = bytearray()
        decrypt(keys, io.BytesIO(segment.read_bytes()), ours.extend)
        assert typage("decrypt", str(pq.identity_file), data=segment.read_bytes()) == ours


def test_typage_decrypts_several_hybrid_recipients_each(tmp_path: Path) -> None:
    pairs = [generate_identity(post_quantum=True) for _ in range(3)]
    data = _payload(CHUNK_SIZE + 7)
    ciphertext = ours_encrypt(data, [r for _, r in pairs])
    for n, (secret, _) in enumerate(pairs):
        path = _identity_file(tmp_path, secret, f"id{n}.key")
        assert typage("decrypt", str(path), data=ciphertext) == data


def test_typage_decrypts_our_x25519_files(tmp_path: Path) -> None:
    secret, recipient = generate_identity()
    data = _payload(2 * CHUNK_SIZE + 3)
    path = _identity_file(tmp_path, secret, "x.key")
    assert typage("decrypt", str(path), data=ours_encrypt(data, [recipient])) == data


# ------------------------------------------------------------------ typage -> custodian


@pytest.mark.parametrize("size", SIZES)
def test_custodian_decrypts_what_typage_wrote_to_a_hybrid_recipient(
        tmp_path: Path, pq: AgeIdentity, size: int) -> None:
    data = _payload(size)
    source = tmp_path / "typage.age"
    source.write_bytes(typage("encrypt", pq.recipient, data=data))
    out = tmp_path / "plain.bin"
    assert evidence_main(["decrypt", "-i", str(pq.identity_file), "-o", str(out),
                          str(source)]) == 0
    assert out.read_bytes() == data


def test_custodian_reads_a_mixed_file_typage_wrote_with_either_identity(
        tmp_path: Path, pq: AgeIdentity) -> None:
    """The camera never writes hybrid + X25519 in one file, but the decryptor reads
    such files (other tools write them; the conformance vectors expect it)."""
    secret, recipient = generate_identity()
    classic = _identity_file(tmp_path, secret, "x25519.key")
    data = _payload(CHUNK_SIZE + 1)
    source = tmp_path / "mixed.age"
    source.write_bytes(typage("encrypt", recipient, pq.recipient, data=data))
    assert {s.type for s in read_header(io.BytesIO(source.read_bytes())).stanzas} == {
        "X25519", "mlkem768x25519"}
    for n, identity in enumerate((classic, pq.identity_file)):
        out = tmp_path / f"plain{n}.bin"
        assert evidence_main(["decrypt", "-i", str(identity), "-o", str(out),
                              str(source)]) == 0
        assert out.read_bytes() == data


def test_custodian_decrypts_typage_x25519_files() -> None:
    secret, recipient = typage("keygen").decode().split()
    data = _payload(CHUNK_SIZE)
    plain = bytearray()
    decrypt([parse_identity(secret)], io.BytesIO(typage("encrypt", recipient, data=data)),
            plain.extend)
    assert plain == data

"""Interoperability with the reference `age` / `age-keygen` programs (Debian package age)."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from age_support import ours_encrypt

from bodycam.firmware.evidence.age import CHUNK_SIZE, TruncatedError, decrypt
from bodycam.firmware.evidence.age.keys import (
    format_identity_file,
    format_recipient,
    generate_identity,
    read_identity_file,
)

AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")
if AGE is None or AGE_KEYGEN is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("age and age-keygen must be installed in CI (Debian package age)")
    pytest.skip("age / age-keygen not installed (Debian package age)", allow_module_level=True)

SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE,
         random.Random(7).randrange(1, 5 * CHUNK_SIZE)]


def _run(*cmd: str, data: bytes | None = None) -> bytes:
    done = subprocess.run(cmd, input=data, capture_output=True, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def age_identity(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "age-key.txt"
    _run(str(AGE_KEYGEN), "-o", str(path))
    return path


def _age_recipient(identity: Path) -> str:
    return _run(str(AGE_KEYGEN), "-y", str(identity)).decode().strip()


def test_age_keygen_keys_parse(age_identity: Path) -> None:
    key = read_identity_file(age_identity)[0]
    assert format_recipient(key.public_key()) == _age_recipient(age_identity)


def test_our_keys_work_with_age_keygen(tmp_path: Path) -> None:
    secret, recipient = generate_identity()
    path = tmp_path / "ours.txt"
    path.write_text(secret + "\n")
    assert _age_recipient(path) == recipient


@pytest.mark.parametrize("size", SIZES)
def test_age_decrypts_ours(size: int, age_identity: Path, tmp_path: Path) -> None:
    data = random.Random(size).randbytes(size)
    _, other = generate_identity()
    file = tmp_path / "ours.age"
    file.write_bytes(ours_encrypt(data, [other, _age_recipient(age_identity)]))
    assert _run(str(AGE), "-d", "-i", str(age_identity), str(file)) == data


@pytest.mark.parametrize("size", SIZES)
def test_we_decrypt_age(size: int, age_identity: Path) -> None:
    data = random.Random(size).randbytes(size)
    _, other = generate_identity()
    ciphertext = _run(str(AGE), "-r", other, "-r", _age_recipient(age_identity), data=data)
    out = io.BytesIO()
    decrypt(read_identity_file(age_identity), io.BytesIO(ciphertext), out)
    assert out.getvalue() == data


def test_truncated_age_file_releases_the_same_prefix_as_age(age_identity: Path,
                                                             tmp_path: Path) -> None:
    data = random.Random(9).randbytes(3 * CHUNK_SIZE + 100)
    ciphertext = _run(str(AGE), "-r", _age_recipient(age_identity), data=data)
    truncated = tmp_path / "cut.age"
    truncated.write_bytes(ciphertext[:len(ciphertext) - CHUNK_SIZE])  # inside chunk 3 of 4
    ours = io.BytesIO()
    with pytest.raises(TruncatedError) as info:
        decrypt(read_identity_file(age_identity), truncated.open("rb"), ours)
    theirs = subprocess.run([str(AGE), "-d", "-i", str(age_identity), str(truncated)],
                            capture_output=True, check=False)
    assert theirs.returncode != 0
    assert ours.getvalue() == theirs.stdout == data[:2 * CHUNK_SIZE]
    assert info.value.released_bytes == 2 * CHUNK_SIZE


def _age_version() -> tuple[int, ...]:
    text = _run(str(AGE), "--version").decode().strip().lstrip("v")
    return tuple(int(part) for part in text.split("-")[0].split(".")[:2])


def test_hybrid_files_need_age_1_3_as_the_readme_says(tmp_path: Path) -> None:
    """Debian's age 1.1.1 cannot read post-quantum files (nor the identity file); age >=
    1.3 can. Whichever is installed, the README's statement is checked against it."""
    secret, recipient = generate_identity(post_quantum=True)
    identity = tmp_path / "pq.key"
    identity.write_text(format_identity_file(secret))
    file = tmp_path / "pq.age"
    file.write_bytes(ours_encrypt(b"evidence", [recipient]))
    done = subprocess.run([str(AGE), "-d", "-i", str(identity), str(file)],
                          capture_output=True, check=False)
    if _age_version() >= (1, 3):
        assert done.returncode == 0 and done.stdout == b"evidence"
    else:
        assert done.returncode != 0 and b"unknown identity type" in done.stderr

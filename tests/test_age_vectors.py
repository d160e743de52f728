"""The age conformance vectors (C2SP CCTV), every file, exactly as each one expects."""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from bodycam.firmware.evidence.age import (
    AgeError,
    HeaderError,
    HmacError,
    NoIdentityMatch,
    PayloadError,
    decrypt,
)
from bodycam.firmware.evidence.age.keys import generate_identity, parse_identity

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "age-vectors"
EXPECTED: dict[str, type[AgeError] | None] = {
    "success": None,
    "no match": NoIdentityMatch,
    "header failure": HeaderError,
    "HMAC failure": HmacError,
    "payload failure": PayloadError,
}
# Features a decryptor may leave out; ours must then refuse cleanly. The post-quantum
# hybrid_* vectors are not among them: they must pass exactly as they expect.
UNSUPPORTED_FAMILIES = ("scrypt", "armor")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class Vector:
    name: str
    meta: dict[str, str]
    identities: list[str]
    body: bytes


def _load(path: Path) -> Vector:
    head, _, body = path.read_bytes().partition(b"\n\n")
    meta: dict[str, str] = {}
    identities: list[str] = []
    for line in head.decode("utf-8").splitlines():
        key, _, value = line.partition(": ")
        if key == "identity":
            identities.append(value)
        else:
            meta[key] = value
    if meta.get("compressed") == "zlib":
        body = zlib.decompress(body)
    return Vector(path.name, meta, identities, body)


def _vector_paths() -> list[Path]:
    if not VECTORS.is_dir():
        return []
    return sorted(p for p in VECTORS.iterdir() if p.is_file() and p.name != "README.md")


PATHS = _vector_paths()


def test_vectors_present() -> None:
    if not PATHS:
        message = f"age conformance vectors missing: expected them in {VECTORS}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI must provide ../shared next to the clone)")
        pytest.skip(message)
    assert len(PATHS) > 100


def _run(identities: list[str], body: bytes) -> tuple[AgeError | None, bytes]:
    keys = [parse_identity(i) for i in identities]
    out = bytearray()
    try:
        decrypt(keys, io.BytesIO(body), out.extend)
    except AgeError as exc:
        return exc, bytes(out)
    return None, bytes(out)


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_vector(path: Path) -> None:
    vector = _load(path)
    family = vector.name.split("_")[0]
    if family in UNSUPPORTED_FAMILIES:
        _check_refused(vector)
        return
    error, released = _run(vector.identities, vector.body)
    expected = EXPECTED[vector.meta["expect"]]
    if expected is None:
        assert error is None, f"{vector.name}: unexpected {error!r}"
    else:
        assert isinstance(error, expected), f"{vector.name}: got {error!r}"
    assert hashlib.sha256(released).hexdigest() == vector.meta.get("payload", EMPTY_SHA256)


def _check_refused(vector: Vector) -> None:
    """The file is refused by the decryptor with the vector's identities (or an unrelated
    one for passphrase vectors, which name none)."""
    error, released = _run(vector.identities or [generate_identity()[0]], vector.body)
    assert isinstance(error, AgeError), f"{vector.name}: not refused"
    assert released == b""

"""Our age encryptor and decryptor against each other: chunking, lookahead, failures."""

from __future__ import annotations

import io
import itertools
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from bodycam.firmware.evidence.age import (
    CHUNK_SIZE,
    AgeEncryptor,
    DecryptResult,
    HmacError,
    NoIdentityMatch,
    PayloadError,
    TruncatedError,
    decrypt,
)
from bodycam.firmware.evidence.age.header import read_header

SEALED = CHUNK_SIZE + 16
KEY = X25519PrivateKey.generate()


class Recorder:
    """A sink that keeps each emitted piece separately, to check what was emitted when."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        self.pieces.append(bytes(data))

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces)


def encrypt(data: bytes, splits: list[int] | None = None,
            keys: list[X25519PrivateKey] | None = None) -> Recorder:
    sink = Recorder()
    enc = AgeEncryptor([k.public_key() for k in keys or [KEY]], sink)
    cuts = sorted({0, len(data), *(s for s in splits or [] if 0 <= s <= len(data))})
    for start, end in itertools.pairwise(cuts):
        enc.write(data[start:end])
    enc.close()
    assert enc.ciphertext_bytes == len(sink.data)
    return sink


def plaintext_of(ciphertext: bytes, key: X25519PrivateKey = KEY) -> bytes:
    out = io.BytesIO()
    decrypt([key], io.BytesIO(ciphertext), out)
    return out.getvalue()


def test_header_and_nonce_are_written_immediately() -> None:
    sink = Recorder()
    AgeEncryptor([KEY.public_key()], sink)
    assert len(sink.pieces) == 1
    src = io.BytesIO(sink.pieces[0])
    header = read_header(src)
    assert [s.type for s in header.stanzas] == ["X25519"]
    assert len(src.read()) == 16  # the payload nonce


def test_full_chunk_is_held_until_one_more_byte_arrives() -> None:
    sink = Recorder()
    enc = AgeEncryptor([KEY.public_key()], sink)
    enc.write(bytes(CHUNK_SIZE))
    assert (len(sink.pieces), enc.pending) == (1, CHUNK_SIZE)
    enc.write(b"x")  # byte 65 537: the first chunk is now known to be non-final
    assert [len(p) for p in sink.pieces[1:]] == [SEALED]
    assert enc.pending == 1
    enc.close()
    assert [len(p) for p in sink.pieces[1:]] == [SEALED, 1 + 16]
    assert enc.pending == 0


@pytest.mark.parametrize(("size", "chunk_sizes"), [
    (0, [16]),
    (1, [17]),
    (CHUNK_SIZE, [SEALED]),  # a full FINAL chunk, no empty chunk after it
    (2 * CHUNK_SIZE, [SEALED, SEALED]),
    (2 * CHUNK_SIZE + 5, [SEALED, SEALED, 21]),
])
def test_chunk_layout(size: int, chunk_sizes: list[int]) -> None:
    data = random.Random(size).randbytes(size)
    sink = encrypt(data)
    assert [len(p) for p in sink.pieces[1:]] == chunk_sizes
    assert plaintext_of(sink.data) == data


def test_large_write_is_sealed_in_place_with_lookahead() -> None:
    data = random.Random(1).randbytes(3 * CHUNK_SIZE)
    sink = Recorder()
    enc = AgeEncryptor([KEY.public_key()], sink)
    enc.write(data)
    assert len(sink.pieces) == 3 and enc.pending == CHUNK_SIZE
    enc.close()
    assert plaintext_of(sink.data) == data


@settings(max_examples=40, deadline=None)
@given(size=st.one_of(st.integers(0, 3 * CHUNK_SIZE + 3),
                      st.sampled_from([CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1,
                                       2 * CHUNK_SIZE])),
       seed=st.integers(0, 2**32 - 1),
       splits=st.lists(st.integers(0, 3 * CHUNK_SIZE + 3), max_size=12))
def test_round_trip_with_random_write_splits(size: int, seed: int, splits: list[int]) -> None:
    data = random.Random(seed).randbytes(size)
    assert plaintext_of(encrypt(data, splits).data) == data


def test_every_recipient_can_decrypt() -> None:
    keys = [X25519PrivateKey.generate() for _ in range(3)]
    ciphertext = encrypt(b"evidence", keys=keys).data
    for key in keys:
        assert plaintext_of(ciphertext, key) == b"evidence"
    with pytest.raises(NoIdentityMatch, match="is a recipient"):
        plaintext_of(ciphertext, X25519PrivateKey.generate())


def test_accepts_callable_and_file_destinations() -> None:
    ciphertext = encrypt(b"abc").data
    chunks: list[bytes] = []
    result = decrypt([KEY], io.BytesIO(ciphertext), chunks.append)
    assert chunks == [b"abc"]
    assert result == DecryptResult(plaintext_bytes=3, chunks=1, truncated=False)


def test_no_recipients_refused() -> None:
    with pytest.raises(ValueError, match="at least one recipient"):
        AgeEncryptor([], Recorder())


def test_write_after_close_refused_and_close_is_idempotent() -> None:
    enc = AgeEncryptor([KEY.public_key()], Recorder())
    enc.close()
    enc.close()
    with pytest.raises(ValueError, match="closed"):
        enc.write(b"late")


def test_sink_failure_breaks_the_stream() -> None:
    calls = 0

    def failing_sink(_data: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk gone")

    enc = AgeEncryptor([KEY.public_key()], failing_sink)
    with pytest.raises(OSError, match="disk gone"):
        enc.write(bytes(CHUNK_SIZE + 1))
    with pytest.raises(RuntimeError, match="broken"):
        enc.write(b"more")
    with pytest.raises(RuntimeError, match="broken"):
        enc.close()


def _header_len(ciphertext: bytes) -> int:
    src = io.BytesIO(ciphertext)
    read_header(src)
    return src.tell() + 16


def test_altered_header_fails_hmac() -> None:
    ciphertext = bytearray(encrypt(b"abc", keys=[KEY, X25519PrivateKey.generate()]).data)
    # Swap the two stanzas: both still parse and ours still unwraps, but the MAC breaks.
    header = ciphertext[:_header_len(ciphertext) - 16].split(b"\n")
    header[1:3], header[3:5] = header[3:5], header[1:3]
    altered = b"\n".join(header) + ciphertext[_header_len(ciphertext) - 16:]
    with pytest.raises(HmacError):
        plaintext_of(altered)


def test_corrupt_chunk_releases_verified_prefix_only() -> None:
    data = random.Random(2).randbytes(3 * CHUNK_SIZE + 10)
    ciphertext = bytearray(encrypt(data).data)
    ciphertext[_header_len(ciphertext) + SEALED + 100] ^= 1  # inside the second chunk
    out = io.BytesIO()
    with pytest.raises(PayloadError, match="chunk 1 failed authentication") as info:
        decrypt([KEY], io.BytesIO(bytes(ciphertext)), out)
    assert out.getvalue() == data[:CHUNK_SIZE]
    assert (info.value.released_bytes, info.value.chunks) == (CHUNK_SIZE, 1)
    with pytest.raises(PayloadError):  # corruption is not mistaken for truncation
        decrypt([KEY], io.BytesIO(bytes(ciphertext)), io.BytesIO(), allow_truncated=True)


@pytest.mark.parametrize("cut", [0, 1, SEALED, SEALED + 1000, 2 * SEALED])
def test_truncated_file_releases_whole_chunks(cut: int) -> None:
    data = random.Random(3).randbytes(3 * CHUNK_SIZE + 10)
    ciphertext = encrypt(data).data
    truncated = ciphertext[:_header_len(ciphertext) + cut]
    whole = cut // SEALED
    out = io.BytesIO()
    with pytest.raises(TruncatedError) as info:
        decrypt([KEY], io.BytesIO(truncated), out)
    assert out.getvalue() == data[:whole * CHUNK_SIZE]
    assert info.value.released_bytes == whole * CHUNK_SIZE
    salvaged = io.BytesIO()
    result = decrypt([KEY], io.BytesIO(truncated), salvaged, allow_truncated=True)
    assert result == DecryptResult(whole * CHUNK_SIZE, whole, truncated=True)
    assert salvaged.getvalue() == data[:whole * CHUNK_SIZE]


def test_trailing_data_after_final_chunk_is_a_payload_error() -> None:
    ciphertext = encrypt(bytes(CHUNK_SIZE)).data + b"junk"
    out = io.BytesIO()
    with pytest.raises(PayloadError, match="trailing data"):
        decrypt([KEY], io.BytesIO(ciphertext), out)
    assert out.getvalue() == bytes(CHUNK_SIZE)  # released before the check, as age does

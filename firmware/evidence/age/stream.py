"""The age payload (STREAM): key derivation and per-chunk nonces.

The payload is a 16-byte random nonce followed by 64 KiB plaintext chunks, each sealed
with ChaCha20-Poly1305 under an 11-byte big-endian counter and a final-chunk flag byte.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bodycam.firmware.evidence.age.header import hkdf_sha256

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
PAYLOAD_NONCE_SIZE = 16
_MAX_COUNTER = 1 << 88


def new_payload_nonce() -> bytes:
    return os.urandom(PAYLOAD_NONCE_SIZE)


def payload_aead(file_key: bytes, payload_nonce: bytes) -> ChaCha20Poly1305:
    return ChaCha20Poly1305(hkdf_sha256(file_key, payload_nonce, b"payload"))


def chunk_nonce(counter: int, final: bool) -> bytes:
    if counter >= _MAX_COUNTER:
        raise OverflowError("age STREAM chunk counter exhausted (2^88 chunks)")
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def open_chunk(aead: ChaCha20Poly1305, counter: int, sealed: bytes | memoryview, *,
               final: bool) -> bytes | None:
    """The plaintext of one sealed chunk, or None when it does not authenticate."""
    try:
        return aead.decrypt(chunk_nonce(counter, final), sealed, None)
    except InvalidTag:
        return None

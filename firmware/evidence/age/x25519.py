"""The age X25519 recipient stanza: wrapping and unwrapping the file key.

Per age-encryption.org/v1: an ephemeral X25519 share, a wrap key from HKDF-SHA256 over
the shared secret (salt = share || recipient public key), and the 16-byte file key
sealed with ChaCha20-Poly1305 under a zero nonce.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bodycam.firmware.evidence.age.errors import HeaderError
from bodycam.firmware.evidence.age.header import Stanza, b64decode, b64encode, hkdf_sha256

STANZA_TYPE = "X25519"
FILE_KEY_SIZE = 16
_LABEL = b"age-encryption.org/v1/X25519"
_ZERO_NONCE = bytes(12)
_SHARE_SIZE = 32
_BODY_SIZE = FILE_KEY_SIZE + 16


def public_bytes(pub: X25519PublicKey) -> bytes:
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def can_receive(point: X25519PublicKey) -> bool:
    """False for a low-order point: every shared secret with it is all zeros, so no file
    encrypted to it could be opened (age refuses such a secret)."""
    try:
        X25519PrivateKey.generate().exchange(point)
    except ValueError:
        return False
    return True


def _wrap_key(shared: bytes, share: bytes, recipient: bytes) -> ChaCha20Poly1305:
    return ChaCha20Poly1305(hkdf_sha256(shared, share + recipient, _LABEL))


def wrap(file_key: bytes, recipient: X25519PublicKey) -> Stanza:
    """A stanza that lets the holder of `recipient`'s private key recover `file_key`."""
    ephemeral = X25519PrivateKey.generate()
    share = public_bytes(ephemeral.public_key())
    try:
        shared = ephemeral.exchange(recipient)
    except ValueError:
        raise ValueError(
            "the recipient public key is a low-order point and cannot receive files; "
            "configure a key made by age-keygen or bodycam-evidence keygen"
        ) from None
    body = _wrap_key(shared, share, public_bytes(recipient)).encrypt(_ZERO_NONCE, file_key, None)
    return Stanza(STANZA_TYPE, (b64encode(share),), body)


def unwrap(stanza: Stanza, identity: X25519PrivateKey) -> bytes | None:
    """The file key, or None when the stanza is not for this identity.

    A malformed X25519 stanza is a HeaderError (as in the reference implementation),
    even if another stanza might match: a broken header is never half-trusted.
    """
    if stanza.type != STANZA_TYPE:
        return None
    if len(stanza.args) != 1:
        raise HeaderError(f"X25519 stanza has {len(stanza.args)} arguments, expected 1")
    try:
        share = b64decode(stanza.args[0].encode("ascii"))
    except ValueError as exc:
        raise HeaderError(f"X25519 stanza share is not valid base64 ({exc})") from None
    if len(share) != _SHARE_SIZE:
        raise HeaderError(f"X25519 stanza share is {len(share)} bytes, expected {_SHARE_SIZE}")
    if len(stanza.body) != _BODY_SIZE:
        raise HeaderError(
            f"X25519 stanza body is {len(stanza.body)} bytes, expected {_BODY_SIZE}"
        )
    try:
        shared = identity.exchange(X25519PublicKey.from_public_bytes(share))
    except ValueError:
        raise HeaderError("X25519 stanza share is a low-order point (all-zero secret)") from None
    aead = _wrap_key(shared, share, public_bytes(identity.public_key()))
    try:
        return aead.decrypt(_ZERO_NONCE, stanza.body, None)
    except InvalidTag:
        return None


def new_file_key() -> bytes:
    return os.urandom(FILE_KEY_SIZE)

"""The age post-quantum hybrid recipient (``mlkem768x25519``): keys and the stanza.

Per the C2SP age spec: an identity is a 32-byte seed; the recipient is the
MLKEM768-X25519 (X-Wing) public key the seed expands to; the file key is sealed with
HPKE SealBase (KEM MLKEM768-X25519, HKDF-SHA256, ChaCha20-Poly1305, info
``age-encryption.org/mlkem768x25519``, empty aad) and the stanza is
``-> mlkem768x25519 base64(enc)`` with the 32-byte HPKE ciphertext as its body.

All cryptography is pyca/cryptography's (>= 47): ML-KEM-768, X25519, SHAKE256 and HPKE
with the X-Wing KEM, so the KEM combiner, the key schedule and the AEAD are the library's
audited code. What is written here is only what no library offers because it is age's
own framing: expanding the seed into the two private keys (X-Wing's
SHAKE256(seed, 96) = ML-KEM d||z || X25519 scalar, which the library takes as two keys),
the stanza's argument and length checks, and the all-zero X25519 check the age spec and
vectors demand (the library's HPKE does not reject a low-order share itself, it only
fails to decrypt; age calls that a malformed header, not a wrong key).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from bodycam.firmware.evidence.age.errors import HeaderError
from bodycam.firmware.evidence.age.header import Stanza, b64decode, b64encode
from bodycam.firmware.evidence.age.x25519 import can_receive, public_bytes

__all__ = ["ENC_SIZE", "PUBLIC_KEY_SIZE", "SEED_SIZE", "STANZA_TYPE", "HybridIdentity",
           "HybridRecipient", "unwrap", "wrap"]

STANZA_TYPE = "mlkem768x25519"
SEED_SIZE = 32
_MLKEM_PUBLIC_SIZE = 1184
_MLKEM_CIPHERTEXT_SIZE = 1088
_X25519_SIZE = 32
PUBLIC_KEY_SIZE = _MLKEM_PUBLIC_SIZE + _X25519_SIZE  # 1216
ENC_SIZE = _MLKEM_CIPHERTEXT_SIZE + _X25519_SIZE  # 1120
_BODY_SIZE = 16 + 16  # the file key and its Poly1305 tag
_INFO = b"age-encryption.org/mlkem768x25519"
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256,
                    hpke.AEAD.CHACHA20_POLY1305)


class HybridRecipient:
    """An ``age1pq1...`` public key: ML-KEM-768 encapsulation key || X25519 public key."""

    __slots__ = ("_key", "_raw")

    def __init__(self, raw: bytes) -> None:
        """Raises ValueError (without quoting `raw`) unless it is a usable public key."""
        if len(raw) != PUBLIC_KEY_SIZE:
            raise ValueError(f"key is {len(raw)} bytes, expected {PUBLIC_KEY_SIZE}")
        try:
            mlkem = MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM_PUBLIC_SIZE])
        except ValueError:
            raise ValueError("non-canonical: its ML-KEM-768 part is not a valid encapsulation "
                             "key (a coefficient is not reduced modulo q)") from None
        point = X25519PublicKey.from_public_bytes(raw[_MLKEM_PUBLIC_SIZE:])
        if not can_receive(point):
            raise ValueError("its X25519 part is a low-order point, which cannot receive "
                             "files")
        self._raw = bytes(raw)
        self._key = hpke.MLKEM768X25519PublicKey(mlkem, point)

    def public_bytes_raw(self) -> bytes:
        return self._raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HybridRecipient) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"HybridRecipient({self._raw[:4].hex()}...)"


class HybridIdentity:
    """An ``AGE-SECRET-KEY-PQ-1...`` identity: the 32-byte seed and the keys it expands to."""

    __slots__ = ("_key", "_public", "_seed", "_x25519")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise ValueError(f"key is {len(seed)} bytes, expected {SEED_SIZE}")
        shake = hashes.Hash(hashes.SHAKE256(64 + _X25519_SIZE))
        shake.update(seed)
        expanded = shake.finalize()
        mlkem = MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        self._x25519 = X25519PrivateKey.from_private_bytes(expanded[64:])
        self._seed = bytes(seed)
        self._key = hpke.MLKEM768X25519PrivateKey(mlkem, self._x25519)
        self._public = HybridRecipient(mlkem.public_key().public_bytes_raw()
                                       + public_bytes(self._x25519.public_key()))

    @classmethod
    def generate(cls) -> HybridIdentity:
        return cls(os.urandom(SEED_SIZE))

    def seed_bytes(self) -> bytes:
        return self._seed

    def public_key(self) -> HybridRecipient:
        return self._public

    def __repr__(self) -> str:  # never the seed
        return f"HybridIdentity(public {self._public!r})"


def wrap(file_key: bytes, recipient: HybridRecipient) -> Stanza:
    """A stanza that lets the holder of `recipient`'s identity recover `file_key`."""
    sealed = _SUITE.encrypt(file_key, recipient._key, info=_INFO)  # enc || ciphertext
    return Stanza(STANZA_TYPE, (b64encode(sealed[:ENC_SIZE]),), sealed[ENC_SIZE:])


def unwrap(stanza: Stanza, identity: HybridIdentity) -> bytes | None:
    """The file key, or None when the stanza is not for this identity.

    A malformed mlkem768x25519 stanza is a HeaderError, as the spec requires; the body
    length is checked before decrypting (partitioning oracles).
    """
    if stanza.type != STANZA_TYPE:
        return None
    if len(stanza.args) != 1:
        raise HeaderError(f"{STANZA_TYPE} stanza has {len(stanza.args)} arguments after its "
                          "type, expected 1 (the encapsulated key)")
    try:
        enc = b64decode(stanza.args[0].encode("ascii"))
    except ValueError as exc:
        raise HeaderError(f"{STANZA_TYPE} stanza: encapsulated key is not valid base64 "
                          f"({exc})") from None
    if len(enc) != ENC_SIZE:
        raise HeaderError(f"{STANZA_TYPE} stanza: encapsulated key is {len(enc)} bytes, "
                          f"expected {ENC_SIZE}")
    if len(stanza.body) != _BODY_SIZE:
        raise HeaderError(f"{STANZA_TYPE} stanza body is {len(stanza.body)} bytes, expected "
                          f"{_BODY_SIZE}")
    try:
        identity._x25519.exchange(X25519PublicKey.from_public_bytes(enc[_MLKEM_CIPHERTEXT_SIZE:]))
    except ValueError:
        raise HeaderError(f"{STANZA_TYPE} stanza: the X25519 share is a low-order point "
                          "(all-zero secret)") from None
    try:
        return _SUITE.decrypt(enc + stanza.body, identity._key, info=_INFO)
    except InvalidTag:
        return None

"""Device public keys of either signature algorithm, as logs, pins and reports carry them.

A device key is Ed25519 (the software key store) or ECDSA P-256 (a TPM). Both travel as
the standard base64 of their raw form, 32 bytes or a 65-byte uncompressed point, so the
length tells the algorithm and an Ed25519 key pinned before TPMs existed still parses.
The fingerprint (first 16 hex digits of SHA-256 of the raw key) is what people compare.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bodycam.hal.keystore import SignatureAlgorithm

__all__ = ["DevicePublicKey", "fingerprint_of", "parse_public_key"]

_RAW_LENGTH: Final[dict[int, SignatureAlgorithm]] = {32: "ed25519", 65: "ecdsa-p256"}
_PARSE_HELP: Final = (
    "not a device public key: expected the base64 of 32 bytes (Ed25519) or 65 bytes (TPM, "
    "ECDSA P-256) as printed by `bodycam identity --public-key`, or a BODYCAM-IDENTITY.txt "
    "/ `bodycam identity` output with one 'Public key:' line")


def fingerprint_of(raw: bytes) -> str:
    """Short id a person can compare by eye: first 16 hex digits of SHA-256(raw key)."""
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class DevicePublicKey:
    """The public half of a device key; verifies what the device (or its TPM) signed."""

    algorithm: SignatureAlgorithm
    raw: bytes

    @classmethod
    def from_raw(cls, raw: bytes) -> DevicePublicKey:
        algorithm = _RAW_LENGTH.get(len(raw))
        if algorithm is None:
            raise ValueError(_PARSE_HELP)
        key = cls(algorithm, raw)
        key._load()  # refuse bytes that are not a point on the curve now, not at verify
        return key

    @property
    def b64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when `signature` is this key's over `message`; never raises on bad input."""
        try:
            loaded = self._load()
            if isinstance(loaded, Ed25519PublicKey):
                loaded.verify(signature, message)
            else:
                loaded.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def _load(self) -> Ed25519PublicKey | ec.EllipticCurvePublicKey:
        if self.algorithm == "ed25519":
            return Ed25519PublicKey.from_public_bytes(self.raw)
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), self.raw)
        except ValueError:
            raise ValueError(f"{_PARSE_HELP} (the 65 bytes are not a P-256 point)") from None


def parse_public_key(text: str) -> DevicePublicKey:
    """A device key from its base64 form, or from what the technician hands over:
    `bodycam identity` output or BODYCAM-IDENTITY.txt, whose "public key:" line holds it."""
    labelled = [line.split(":", 1)[1] for line in text.splitlines()
                if line.strip().lower().startswith("public key:")]
    if len(labelled) == 1:
        text = labelled[0]
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(_PARSE_HELP) from None
    return DevicePublicKey.from_raw(raw)

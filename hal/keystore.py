"""The device's long-term signing key, wherever it is kept: the HAL's key-store contract.

Two implementations exist: a TPM 2.0 (the Raspberry Pi TPM boards on SPI), where the key
is created inside the chip and cannot be exported, and a software key file for boards
without one (whoever copies the card can copy that key: see docs/threat-model.md).

The long-term key signs rarely: once per boot it certifies a session key that lives only
in RAM and signs every log line (see firmware/evidence/session_key.py), so a slow TPM
(tens of milliseconds per signature) never sits on the recording path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Final, Literal

__all__ = [
    "ALGORITHMS",
    "KeyMissingError",
    "KeyStore",
    "KeyStoreError",
    "SignatureAlgorithm",
]

SignatureAlgorithm = Literal["ed25519", "ecdsa-p256"]
# ed25519: 32-byte raw public key, 64-byte signature over the message.
# ecdsa-p256: 65-byte uncompressed SEC1 point, DER ECDSA signature over SHA-256(message)
# (what a TPM 2.0 signs; it is the one curve every TPM has).
ALGORITHMS: Final[tuple[SignatureAlgorithm, ...]] = ("ed25519", "ecdsa-p256")


class KeyStoreError(RuntimeError):
    """The key store cannot be used; the message names what and the fix."""


class KeyMissingError(KeyStoreError):
    """The key store holds no device key: first boot has not made one yet, or it was
    removed (a key file deleted, a TPM cleared). Only first boot creates one silently."""


class KeyStore(ABC):
    """The long-term device key. `kind` says where it lives, for reports and the audit."""

    kind: str  # "software" or "tpm"
    algorithm: SignatureAlgorithm

    @abstractmethod
    def public_key_bytes(self) -> bytes:
        """Raw public key: 32 bytes (ed25519) or 65-byte uncompressed point (ecdsa-p256)."""

    @abstractmethod
    def sign(self, message: bytes) -> bytes:
        """Signature over `message` in the algorithm's encoding (see ALGORITHMS)."""

    def next_counter(self) -> int | None:
        """Increment the hardware monotonic counter and return its new value.

        None when the key store has no counter nobody can roll back (the software key):
        a counter in a file on the card would be as easy to rewind as the logs it guards.
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release the device (TPM connection); the key itself stays where it is."""

"""The device's Ed25519 signing key: made on the device, kept on the device.

The key signs every manifest and audit-log line, so whoever holds it can forge
evidence records. It is therefore generated on first use inside the state directory
(directory 0700, file 0600), never exported, never logged; only its public half and a
short fingerprint leave the device (via `bodycam identity`), to be registered by the
evidence custodian, who pins it when verifying.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from bodycam.firmware.evidence.api import EvidenceError
from bodycam.firmware.evidence.durable import fsync_directory, write_new_file

__all__ = [
    "KEY_FILE_NAME",
    "DeviceKey",
    "DeviceKeyError",
    "fingerprint",
    "fsync_directory",
    "parse_public_key",
    "public_key_b64",
    "verify_signature",
]

KEY_FILE_NAME = "device-ed25519.pem"
_DIR_MODE = 0o700
_KEY_MODE = 0o600
_RAW_KEY_LEN = 32
_log = logging.getLogger(__name__)


class DeviceKeyError(EvidenceError):
    """The device key file exists but cannot be used (damaged, wrong type)."""


def public_key_b64(pub: Ed25519PublicKey) -> str:
    """Standard base64 of the raw 32-byte public key (what manifests and pins carry)."""
    return base64.b64encode(pub.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def fingerprint(pub: Ed25519PublicKey) -> str:
    """Short id a person can compare by eye: first 16 hex digits of SHA-256(raw key)."""
    return hashlib.sha256(pub.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key from its base64 form (as printed by `bodycam identity --public-key`),
    or from what the technician hands over: `bodycam identity` output or the camera's
    BODYCAM-IDENTITY.txt, whose "public key:" line holds it."""
    labelled = [line.split(":", 1)[1] for line in text.splitlines()
                if line.strip().lower().startswith("public key:")]
    if len(labelled) == 1:
        text = labelled[0]
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _RAW_KEY_LEN:
        raise ValueError(
            "not a device public key: expected the base64 of 32 bytes as printed by "
            "`bodycam identity --public-key`, or a BODYCAM-IDENTITY.txt / `bodycam identity` "
            "output with one 'Public key:' line"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_signature(pub: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        pub.verify(signature, data)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True, repr=False)
class DeviceKey:
    """The private signing key; repr() never shows key material."""

    _private: Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"DeviceKey(fingerprint={self.fingerprint})"

    @classmethod
    def generate(cls) -> DeviceKey:
        """An in-memory key (tests and the simulator's throwaway devices)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, state_dir: Path) -> DeviceKey:
        """The key in `state_dir`, generating it atomically there on first use."""
        _ensure_private_dir(state_dir)
        path = state_dir / KEY_FILE_NAME
        if not path.exists():
            _create_key_file(path)
        return cls(_load_key_file(path))

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._private.public_key()

    @property
    def public_key_b64(self) -> str:
        return public_key_b64(self.public_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)


def _ensure_private_dir(state_dir: Path) -> None:
    state_dir.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    mode = stat.S_IMODE(state_dir.stat().st_mode)
    if mode & 0o077:
        _log.warning("state directory %s had mode %o; tightened to %o", state_dir, mode,
                     _DIR_MODE)
        state_dir.chmod(_DIR_MODE)


def _create_key_file(path: Path) -> None:
    """Write the new key under a temporary name, fsync, then hard-link it into place.

    A power cut can therefore never leave a half-written key under the real name, and
    `link` fails if another process created the key meanwhile (then that key wins).
    """
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        write_new_file(tmp, pem, _KEY_MODE)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_directory(path.parent)
    _log.info("generated the device signing key in %s", path.parent)


def _load_key_file(path: Path) -> Ed25519PrivateKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        _log.warning("device key file %s had mode %o; tightened to %o", path, mode, _KEY_MODE)
        path.chmod(_KEY_MODE)
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except ValueError:
        raise DeviceKeyError(
            f"{path}: the device signing key is damaged and cannot be read. Fix: move the "
            "file aside (keep it for the investigation), restart to generate a new key, and "
            "register the new public key (`bodycam identity`) with the evidence custodian"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DeviceKeyError(
            f"{path}: holds a {type(key).__name__}, not an Ed25519 key. Fix: move the file "
            "aside and restart so the device generates its own Ed25519 key"
        )
    return key

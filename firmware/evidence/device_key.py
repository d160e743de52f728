"""The software key store: an Ed25519 device key in a file, for boards without a TPM.

The key certifies the per-boot session keys that sign every manifest and audit line
(session_key.py), so whoever holds it can forge evidence. A file on the SD card protects
it only while the card stays in the camera: anyone who copies the card copies the key
(docs/threat-model.md). A TPM (bodycam.hal.tpm) is the store that keeps it on the device.

Only first boot creates the key (`create`); `open` never does, so a key that vanished or
was replaced is noticed and audited as a re-key by the camera program instead of being
silently replaced. `open` trusts only a regular file (no symlink) owned by the calling
user with no group/other permission bits in a directory nobody else can write: a file
that anyone else could have read or replaced is not this device's secret any more.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from bodycam.firmware.evidence.durable import fsync_directory, write_all
from bodycam.firmware.evidence.durable import set_aside as durable_set_aside
from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.hal.keystore import KeyMissingError, KeyStore, KeyStoreError

__all__ = [
    "KEY_FILE_NAME",
    "DeviceKeyError",
    "KeyMissingError",
    "SoftwareKeyStore",
    "UntrustedKeyError",
    "set_aside",
]

KEY_FILE_NAME: Final = "device-ed25519.pem"
_DIR_MODE: Final = 0o700
_KEY_MODE: Final = 0o600
_MAX_KEY_FILE: Final = 4096


class DeviceKeyError(KeyStoreError):
    """The device key file exists but cannot be used (damaged, wrong type)."""


class UntrustedKeyError(KeyStoreError):
    """The key file may have been read or replaced by someone else (modes, owner, link)."""


class SoftwareKeyStore(KeyStore):
    """An Ed25519 private key held in process memory; repr() never shows key material."""

    kind = "software"
    algorithm = "ed25519"

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self._public = DevicePublicKey.from_raw(private.public_key().public_bytes_raw())

    def __repr__(self) -> str:
        return f"SoftwareKeyStore(fingerprint={self.fingerprint})"

    @classmethod
    def generate(cls) -> SoftwareKeyStore:
        """An in-memory key (tests and the simulator's throwaway devices)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def ephemeral(cls) -> SoftwareKeyStore:
        """A key that exists only in this process's RAM, never written anywhere: what a
        TPM camera signs with for one boot when its TPM does not answer, so the camera
        can record without ever leaving a copyable key on the card. Certificates name it
        "ephemeral"; nothing can be registered for it, so its lines never pass a pinned
        verification: the custodian sees exactly which recordings lack the TPM's word."""
        store = cls(Ed25519PrivateKey.generate())
        store.kind = "ephemeral"
        return store

    @classmethod
    def open(cls, state_dir: Path, *, owner_uid: int | None = None) -> SoftwareKeyStore:
        """The key in `state_dir`; raises KeyMissingError, UntrustedKeyError or
        DeviceKeyError (each message names the fix). `owner_uid`: who must own the key
        (default: this process; first boot runs as root for the service user)."""
        uid = os.geteuid() if owner_uid is None else owner_uid
        path = state_dir / KEY_FILE_NAME
        _check_private_dir(state_dir, uid)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise KeyMissingError(
                f"no device key in {state_dir}. Fix: first boot creates it "
                "(bodycam-firstboot.service); on a camera that had a key, this is a re-key "
                "and is audited") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UntrustedKeyError(f"{path} is a symbolic link; the device key must be "
                                        "a file of its own. Fix: remove the link") from None
            raise
        try:
            _check_key_file(path, os.fstat(fd), uid)
            pem = os.read(fd, _MAX_KEY_FILE + 1)
        finally:
            os.close(fd)
        return cls(_parse_pem(path, pem))

    @classmethod
    def create(cls, state_dir: Path, *, owner: tuple[int, int] | None = None
               ) -> SoftwareKeyStore:
        """Make a new key in `state_dir` (first boot, or an audited re-key).

        Written under a temporary name (O_EXCL, no symlink followed, fchown on the open
        file), fsync'd, then hard-linked into place, so a power cut never leaves half a key
        under the real name and a key that already exists is never overwritten.
        """
        _make_private_dir(state_dir, owner)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        path = state_dir / KEY_FILE_NAME
        tmp = state_dir / f".{KEY_FILE_NAME}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     _KEY_MODE)
        try:
            try:
                if owner is not None:
                    os.fchown(fd, *owner)
                os.fchmod(fd, _KEY_MODE)
                write_all(fd, pem)
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, path, follow_symlinks=False)
            except FileExistsError:
                raise KeyStoreError(f"{path} already exists; a device key is never "
                                    "overwritten. Fix: open it instead") from None
        finally:
            tmp.unlink(missing_ok=True)
        fsync_directory(state_dir)
        return cls(private)

    def public_key_bytes(self) -> bytes:
        return self._public.raw

    @property
    def public_key(self) -> DevicePublicKey:
        return self._public

    @property
    def fingerprint(self) -> str:
        return self._public.fingerprint

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


def set_aside(state_dir: Path, reason: str) -> Path | None:
    """Move an unusable key file out of the way (kept for the investigation, never
    deleted) so a new key can be made; returns where it went, None if there was none."""
    path = state_dir / KEY_FILE_NAME
    if not os.path.lexists(path):
        return None
    return durable_set_aside(path, lambda n: f"{KEY_FILE_NAME}.{reason}-{n}")


def _make_private_dir(state_dir: Path, owner: tuple[int, int] | None) -> None:
    state_dir.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    info = os.lstat(state_dir)
    if not stat.S_ISDIR(info.st_mode):
        raise UntrustedKeyError(f"{state_dir} is not a directory (a link?); the device key "
                                "needs a private directory. Fix: remove it and restart")
    fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        os.fchmod(fd, _DIR_MODE)
    finally:
        os.close(fd)


def _check_private_dir(state_dir: Path, uid: int) -> None:
    try:
        info = os.lstat(state_dir)
    except FileNotFoundError:
        raise KeyMissingError(f"no state directory {state_dir}, so no device key. Fix: "
                              "first boot creates both") from None
    if not stat.S_ISDIR(info.st_mode):
        raise UntrustedKeyError(f"{state_dir} is not a directory (a link?). Fix: remove it")
    if info.st_uid != uid or stat.S_IMODE(info.st_mode) & 0o022:
        raise UntrustedKeyError(
            f"{state_dir} can be written by others (owner {info.st_uid}, mode "
            f"{stat.S_IMODE(info.st_mode):o}), so the key in it may have been replaced. "
            "Fix: the camera sets the key aside and makes a new one (audited)")


def _check_key_file(path: Path, info: os.stat_result, uid: int) -> None:
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode):
        raise UntrustedKeyError(f"{path} is not a regular file. Fix: remove it")
    if info.st_uid != uid:
        raise UntrustedKeyError(f"{path} belongs to uid {info.st_uid}, not to the camera "
                                f"program (uid {uid}), so it is not this device's own key")
    if mode & 0o077:
        raise UntrustedKeyError(f"{path} had mode {mode:o}: others could read or replace "
                                "it, so it can no longer be trusted as this device's secret")


def _parse_pem(path: Path, pem: bytes) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(pem, password=None) if len(pem) <= _MAX_KEY_FILE else None
    except (ValueError, TypeError):
        key = None
    if key is None:
        raise DeviceKeyError(f"{path}: the device signing key is damaged and cannot be read. "
                             "The camera sets it aside (kept for the investigation), makes a "
                             "new key and audits the re-key; register the new public key "
                             "(`bodycam identity`) with the evidence custodian")
    if not isinstance(key, Ed25519PrivateKey):
        raise DeviceKeyError(f"{path}: holds a {type(key).__name__}, not an Ed25519 key; "
                             "it is set aside and a new key made (audited)")
    return key

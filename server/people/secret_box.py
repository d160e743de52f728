"""TOTP keys are kept sealed in the database (AES-256-GCM under a key in the data
directory's identity/), so a copy of the database or of its backups alone cannot make a
single valid code. The sealed value is bound to its username: a key copied onto another
account does not open there.

`init` makes the key (`migrate` makes it for a data directory from before); every server
process on one database needs the same file, like the signing key beside it.
"""

from __future__ import annotations

import base64
import functools
import os
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bodycam.firmware.evidence.durable import write_new_file

__all__ = ["KEY_FILE", "SecretBox", "create_box_key", "load_box"]

KEY_FILE: Final = "totp-key.bin"
_PREFIX: Final = "v1:"
_NONCE: Final = 12


def create_box_key(identity_dir: Path) -> bool:
    """Make the key unless it is there; True if it was made."""
    try:
        write_new_file(identity_dir / KEY_FILE, os.urandom(32), 0o600)
    except FileExistsError:
        return False
    return True


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, username: str, secret: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, secret.encode(), f"totp:{username}".encode())
        return _PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, username: str, stored: str) -> str:
        """ValueError if `stored` was not sealed for `username` under this key."""
        try:
            raw = base64.b64decode(stored.removeprefix(_PREFIX), validate=True)
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:],
                                       f"totp:{username}".encode())
        except (ValueError, InvalidTag):
            raise ValueError(f"the second factor of {username} does not open with this "
                             f"server's {KEY_FILE} (another server's key, or altered in "
                             "the database). Fix: `bodycam-server user reset-second-factor "
                             f"{username}`") from None
        return plain.decode()


@functools.lru_cache(maxsize=4)
def load_box(identity_dir: Path) -> SecretBox:
    path = identity_dir / KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{path} is missing: no second factor can be checked. Fix: copy "
                         "it from the data directory of the server that made the accounts "
                         "(every serve process on one database needs the same file), or "
                         "run `bodycam-server migrate` for a data directory made before "
                         "it existed") from None
    if len(key) != 32:
        raise ValueError(f"{path} is not a 32-byte key: restore it from the backup")
    return SecretBox(key)

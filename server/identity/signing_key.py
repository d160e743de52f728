"""The server's Ed25519 signing key: what receipts and time statements are signed with.

Cameras pin its public half (`server_key` in camera-offload.toml). It is made once by
`init` and never replaced by it: a new key would make every camera refuse every receipt
(they would keep everything, but nothing would ever leave them).
"""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodycam.firmware.evidence.durable import write_new_file

__all__ = ["KEY_FILE", "create_signing_key", "load_signing_key", "public_b64"]

KEY_FILE = "signing-key.pem"


def create_signing_key(identity_dir: Path) -> Ed25519PrivateKey:
    """A new key written to `identity_dir` (FileExistsError if one is there)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_new_file(identity_dir / KEY_FILE, pem, 0o600)
    return key


def load_signing_key(identity_dir: Path) -> Ed25519PrivateKey:
    path = identity_dir / KEY_FILE
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise ValueError(f"the signing key {path} is missing. Fix: restore it from the "
                         "backup (a new key would make every camera refuse its receipts)"
                         ) from None
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"the signing key {path} cannot be read: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key


def public_b64(key: Ed25519PrivateKey) -> str:
    """The raw public key in base64, as cameras pin it."""
    return base64.b64encode(key.public_key().public_bytes_raw()).decode("ascii")

"""`bodycam-keyholder init`: a new key holder directory (never over an existing one)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bodycam.firmware.evidence.age.keys import (
    format_identity_file,
    format_recipient,
    generate_identity,
    read_identity_file,
    recipient_fingerprint,
)
from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.durable import write_new_file
from bodycam.hal.clocks import SystemClock
from bodycam.server.keyholder.config import (
    IDENTITY_FILE,
    SETTINGS_FILE,
    KeyholderError,
    settings_text,
)
from bodycam.server.keyholder.log import LOG_KEY_DIR, HolderLog

__all__ = ["InitResult", "initialise"]


@dataclass(frozen=True)
class InitResult:
    recipients: list[str]  # age recipients the cameras encrypt to
    log_key: str  # base64, for `bodycam-server keyholder connect`
    log_key_fingerprint: str


def _identity_text(identity: Path | None, post_quantum: bool) -> str:
    if identity is None:
        secret, _recipient = generate_identity(post_quantum=post_quantum)
        return format_identity_file(secret)
    try:
        read_identity_file(identity)  # refuse anything that is not an identity file
        return identity.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise KeyholderError(f"--identity: {exc}") from None


def initialise(directory: Path, server_key: str, *, identity: Path | None,
               post_quantum: bool, socket: Path, group: str | None) -> InitResult:
    """Make DIR (0700): the identity (copied in, or made), the log key, keyholder.toml,
    and the log's first record."""
    if (directory / SETTINGS_FILE).exists():
        raise KeyholderError(f"{directory} is a key holder already; init never overwrites")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    write_new_file(directory / IDENTITY_FILE,
                   _identity_text(identity, post_quantum).encode("utf-8"), 0o600)
    keys = read_identity_file(directory / IDENTITY_FILE)
    recipients = [format_recipient(k.public_key()) for k in keys]
    store = SoftwareKeyStore.create(directory / LOG_KEY_DIR)
    write_new_file(directory / SETTINGS_FILE,
                   settings_text(server_key, socket, group).encode("utf-8"), 0o600)
    log = HolderLog.open(directory, SystemClock())
    try:
        log.append("keyholder_init", server_key=server_key,
                   recipients=[recipient_fingerprint(r) for r in recipients])
    finally:
        log.close()
    return InitResult(recipients, store.public_key.b64, store.public_key.fingerprint)

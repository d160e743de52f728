"""What the camera remembers about provisioning: whose key it trusts, the last serial.

Both live in /etc/bodycam, which only root writes:

- provisioning-key.pub: the agency's provisioning key. Put there by the installer when
  the image is built (best: the camera never trusts anything else), or pinned at the
  first accepted provisioning (trust on first use: whoever provisions a fresh camera
  first decides whose key it trusts).
- provisioning-state.json: the serial of the last accepted signature (older ones are
  refused, so an old signed file cannot be replayed), the SHA-256 of each file accepted
  with it (the same serial is taken again only for exactly those files: two files signed
  with one serial, e.g. in the same second, must not replace each other), the device id
  it set, and the fingerprint of the key that signed it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bodycam.firmware.config.safe_read import read_regular
from bodycam.firmware.device.provisioning_signature import (
    KeyFileError,
    parse_public_key_file,
    public_key_file,
)
from bodycam.firmware.evidence.durable import replace_file

__all__ = ["PINNED_KEY_NAME", "STATE_NAME", "Trust", "TrustError", "load_trust",
           "save_pinned_key", "save_state"]

PINNED_KEY_NAME = "provisioning-key.pub"
STATE_NAME = "provisioning-state.json"
_LIMIT = 4096
_PUBLIC_MODE = 0o644
_STATE_MODE = 0o640
_SHA256 = re.compile(r"[0-9a-f]{64}")


class TrustError(RuntimeError):
    """The pinned key or the state file is damaged: provisioning stays closed."""


@dataclass(frozen=True)
class Trust:
    key: Ed25519PublicKey | None  # None: nothing pinned yet (trust on first use)
    serial: int | None  # None: never provisioned with a signature
    device: str | None  # the device id the last accepted provisioning set
    # SHA-256 by file name of what was accepted with `serial` (None: state written by
    # firmware that did not keep them, or never provisioned)
    files: Mapping[str, str] | None = None


def load_trust(etc_dir: Path) -> Trust:
    """The pinned key and last state in `etc_dir`. Raises TrustError when damaged."""
    key_path, state_path = etc_dir / PINNED_KEY_NAME, etc_dir / STATE_NAME
    key = None
    try:
        key = parse_public_key_file(read_regular(key_path, _LIMIT, follow_symlinks=False))
    except FileNotFoundError:
        pass
    except (OSError, KeyFileError) as exc:
        raise TrustError(f"the pinned provisioning key {key_path} cannot be used ({exc}); "
                         "the camera accepts no provisioning until it is repaired: "
                         "reinstall the image with the agency's public key in "
                         f"/etc/bodycam/{PINNED_KEY_NAME}") from None
    try:
        state = json.loads(read_regular(state_path, _LIMIT, follow_symlinks=False))
    except FileNotFoundError:
        return Trust(key, None, None)
    except (OSError, ValueError) as exc:
        raise TrustError(f"{state_path} cannot be read ({exc}); the camera accepts no "
                         "provisioning until it is repaired: reinstall the image") from None
    serial, device = state.get("serial"), state.get("device")
    if not isinstance(serial, int) or not isinstance(device, str):
        raise TrustError(f"{state_path} lacks its serial or device id; reinstall the image")
    files = state.get("files")
    if files is not None and not _is_file_hashes(files):
        raise TrustError(f"{state_path}: 'files' is not a table of file names and SHA-256 "
                         "hashes; reinstall the image")
    return Trust(key, serial, device, files)


def _is_file_hashes(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(name, str) and isinstance(sha, str) and _SHA256.fullmatch(sha)
        for name, sha in value.items())


def save_pinned_key(etc_dir: Path, key: Ed25519PublicKey, owner: tuple[int, int]) -> None:
    replace_file(etc_dir / PINNED_KEY_NAME, public_key_file(key), _PUBLIC_MODE, owner)


def save_state(etc_dir: Path, serial: int, device: str, signer: str,
               owner: tuple[int, int], *, files: Mapping[str, str]) -> None:
    """Record an accepted provisioning: `files` maps each file's name to its SHA-256."""
    data = json.dumps({"serial": serial, "device": device, "signer": signer,
                       "files": dict(files)}, sort_keys=True) + "\n"
    replace_file(etc_dir / STATE_NAME, data.encode("utf-8"), _STATE_MODE, owner)

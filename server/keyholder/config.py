"""The key holder's directory and its settings (`keyholder.toml`).

    DIR/keyholder.toml     server_key (pinned), identity, socket, limits (below)
    DIR/authority.key      the evidence authority's age identity file (0600), unless
                           `identity` names another path (a mounted token, say)
    DIR/log-key/           the long-term Ed25519 key that certifies the log's sessions
    DIR/keyholder.jsonl    the signed log of every unlock and refusal
    DIR/grants.sqlite      nonces of grants used (replay) and when (rate limit)

DIR and everything in it belong to the key holder's own Unix user, mode 0700/0600: the
evidence server's user reaches only the socket. The settings are read once at start.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bodycam.firmware.config.offload_rules import Ed25519Key
from bodycam.firmware.config.rules import InvalidValueError
from bodycam.firmware.evidence.age.keys import (
    Identity,
    format_recipient,
    read_identity_file,
    recipient_fingerprint,
)
from bodycam.server.keyholder.state import RateLimits

__all__ = ["DEFAULT_SOCKET", "IDENTITY_FILE", "SETTINGS_FILE", "HolderSettings",
           "KeyholderError", "parse_server_key", "recipient_fingerprints", "settings_text"]

SETTINGS_FILE: Final = "keyholder.toml"
IDENTITY_FILE: Final = "authority.key"
DEFAULT_SOCKET: Final = "/run/bodycam-keyholder/keyholder.sock"
_LIMITS: Final = {  # name: (default, lowest, highest)
    "max_segments": (1000, 1, 100_000),
    "max_lifetime_seconds": (3600, 10, 7 * 24 * 3600),
    "clock_skew_seconds": (120, 0, 3600),
    "rate_per_person": (30, 1, 100_000),
    "rate_total": (300, 1, 1_000_000),
}


class KeyholderError(ValueError):
    """The key holder cannot start or run a command; the message names the fix."""


def parse_server_key(text: str) -> str:
    """The evidence server's public signing key, base64 (as `bodycam-server init` prints
    it, and as `server_key` in its camera-offload.toml)."""
    try:
        key = str(Ed25519Key().convert(text))
    except InvalidValueError as exc:
        raise KeyholderError(f"server key: {exc.issues[0][1]}") from None
    if not key:
        raise KeyholderError("no server key given: pass the signing key `bodycam-server "
                             "init` printed (server_key in its camera-offload.toml)")
    return key


def _private_file(path: Path, what: str) -> None:
    """A secret the key holder trusts only if nobody else could have read or swapped it."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        raise KeyholderError(f"{what} {path} is missing. Fix: restore it from its backup, "
                             "or `bodycam-keyholder init` a new key holder") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyholderError(f"{what} {path} is not a regular file (a link or device)")
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise KeyholderError(f"{what} {path} must belong to the key holder's user with mode "
                             f"0600 (it is {oct(info.st_mode & 0o777)}). Fix: chown it to "
                             "that user and chmod 600; if others could read it, treat it as "
                             "exposed")


@dataclass(frozen=True)
class HolderSettings:
    directory: Path
    server_key: str
    identity_file: Path
    socket: Path
    socket_group: str | None
    max_segments: int
    max_lifetime_seconds: int
    clock_skew_seconds: int
    rate: RateLimits

    @classmethod
    def load(cls, directory: Path) -> HolderSettings:
        path = directory / SETTINGS_FILE
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KeyholderError(f"{directory} is not a key holder directory (no "
                                 f"{SETTINGS_FILE}). Fix: `bodycam-keyholder init --dir "
                                 f"{directory} ...`") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise KeyholderError(f"{path}: {exc}") from None
        limits = {name: _limit(data, name, path) for name in _LIMITS}
        identity = Path(_string(data, "identity", path, IDENTITY_FILE))
        group = _string(data, "socket_group", path, "")
        return cls(directory, parse_server_key(_string(data, "server_key", path, "")),
                   identity if identity.is_absolute() else directory / identity,
                   Path(_string(data, "socket", path, DEFAULT_SOCKET)), group or None,
                   limits["max_segments"], limits["max_lifetime_seconds"],
                   limits["clock_skew_seconds"],
                   RateLimits(limits["rate_per_person"], limits["rate_total"]))

    def identities(self) -> list[Identity]:
        """The authority identities; KeyholderError when missing, unreadable or exposed."""
        _private_file(self.identity_file, "the authority identity")
        try:
            return read_identity_file(self.identity_file)
        except (OSError, ValueError) as exc:
            raise KeyholderError(str(exc)) from None


def recipient_fingerprints(identities: list[Identity] | tuple[Identity, ...]) -> list[str]:
    """Fingerprints of the recipients of `identities` (public: what cameras encrypt to)."""
    return [recipient_fingerprint(format_recipient(i.public_key())) for i in identities]


def _string(data: dict[str, Any], name: str, path: Path, default: str) -> str:
    value = data.get(name, default)
    if not isinstance(value, str):
        raise KeyholderError(f"{path}: {name} must be a string")
    return value


def _limit(data: dict[str, Any], name: str, path: Path) -> int:
    default, low, high = _LIMITS[name]
    value = data.get(name, default)
    if type(value) is not int or not low <= value <= high:
        raise KeyholderError(f"{path}: {name} = {value!r}; give a whole number from {low} to "
                             f"{high} (default {default})")
    return value


def settings_text(server_key: str, socket: Path, group: str | None) -> str:
    """keyholder.toml as `init` writes it (every limit at its default, to be edited)."""
    lines = ["# bodycam key holder (docs/keyholder.md)",
             f"server_key = {json.dumps(server_key)}  # the evidence server's key, pinned",
             f"identity = {json.dumps(IDENTITY_FILE)}",
             f"socket = {json.dumps(str(socket))}"]
    if group:
        lines.append(f"socket_group = {json.dumps(group)}  # the evidence server's user")
    lines += [f"{name} = {default}" for name, (default, _low, _high) in _LIMITS.items()]
    return "\n".join(lines) + "\n"

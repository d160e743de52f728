"""The configuration the device last ran with: its digest and its recipients' fingerprints.

Kept in `<state_dir>/config.json` so that the first start with a different configuration
is audited once, as `config_changed`, by the one writer of the audit log, and so that the
record names who could decrypt before and who can now. A digest alone shows *that*
something changed; a swapped or added evidence recipient (security audit H3) must be
visible as such in the signed log, so the fingerprints go in too (first 16 hex of
SHA-256 of the X25519 key, the same ids a manifest header lists).

Devices that ran older firmware have only `config.digest` (the digest line): it is still
read, with the previous recipients unknown (null in the record).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bodycam.firmware.config.model import Config
from bodycam.firmware.evidence.agekeys import recipient_fingerprint
from bodycam.firmware.evidence.durable import make_dirs, replace_file

FILE_NAME: Final = "config.json"
LEGACY_FILE_NAME: Final = "config.digest"
FORMAT: Final = "bodycam-config-memory/1"


@dataclass(frozen=True)
class RememberedConfig:
    """What the device ran with before; None where it is not known."""

    digest: str | None
    recipients: tuple[str, ...] | None  # fingerprints


def recipient_fingerprints(recipients: tuple[str, ...] | list[str]) -> list[str]:
    """Fingerprints of `recipients` in their configured order (a key that does not parse
    cannot have been accepted by the configuration; it is named as such, not dropped)."""
    prints = []
    for recipient in recipients:
        try:
            prints.append(recipient_fingerprint(recipient))
        except ValueError:
            prints.append("unparseable")
    return prints


def recall(state_dir: Path) -> RememberedConfig:
    """The configuration remembered in `state_dir` (all None on a first start)."""
    try:
        record: Any = json.loads((state_dir / FILE_NAME).read_bytes())
    except FileNotFoundError:
        return RememberedConfig(_legacy_digest(state_dir), None)
    except (OSError, ValueError, RecursionError):
        return RememberedConfig(None, None)  # unreadable: everything counts as changed
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return RememberedConfig(None, None)
    digest, prints = record.get("config_digest"), record.get("recipients")
    return RememberedConfig(
        digest if isinstance(digest, str) else None,
        tuple(prints) if isinstance(prints, list) and all(isinstance(p, str) for p in prints)
        else None)


def remember(config: Config) -> RememberedConfig:
    """Remember `config` and return what was remembered before it (written only when it
    differs, so an unchanged start costs no write)."""
    state_dir = config.storage.state_dir
    previous = recall(state_dir)
    prints = recipient_fingerprints(config.evidence.recipients)
    if previous.digest != config.digest or previous.recipients != tuple(prints):
        data = json.dumps({"format": FORMAT, "config_digest": config.digest,
                           "recipients": prints}, sort_keys=True).encode("ascii") + b"\n"
        make_dirs(state_dir, 0o700)
        replace_file(state_dir / FILE_NAME, data, 0o600)
        (state_dir / LEGACY_FILE_NAME).unlink(missing_ok=True)
    return previous


def _legacy_digest(state_dir: Path) -> str | None:
    try:
        text = (state_dir / LEGACY_FILE_NAME).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None

"""The configuration the camera last started with, as its own signed audit log says.

Every `boot` record carries the configuration's digest and the evidence recipients'
fingerprints (first 16 hex of SHA-256 of the raw public key, the ids a manifest header
lists). At the next start the controller compares the running configuration with the
last `boot` record this camera signed and audits `config_changed` when they differ,
naming who could decrypt before and who can now (security audit H3).

The previous configuration comes from the signed log, never from a file beside it:
/etc/bodycam and the state directory are on the same ext4 partition, so whoever edits
the configuration on the card could rewrite such a file too and hide the change (the
firmware once kept `<state_dir>/config.json` for this; it is no longer read). The log
cannot be rewritten without the device key. Where it holds no boot record this camera
signed, tied to its end by the hash chain within reach (the first start, a new chain
after a damaged log was set aside, a re-key, lines cut out or copied in), the previous
configuration is unknown, and the change is recorded with nulls: never skipped on a
guess. A boot record of older firmware has the digest but not the recipients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bodycam.firmware.device.audit import AuditLog
from bodycam.firmware.evidence.age.keys import recipient_fingerprint

BOOT_EVENT: Final = "boot"


@dataclass(frozen=True)
class PreviousConfig:
    """What the camera ran with before; None where the signed log does not say."""

    digest: str | None
    recipients: tuple[str, ...] | None  # fingerprints


UNKNOWN: Final = PreviousConfig(None, None)


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


def previous_config(audit: AuditLog) -> PreviousConfig:
    """The configuration of the last boot this camera signed into `audit` (call before
    this boot's own record). Raises OSError when the log cannot be read."""
    record = audit.last_signed(BOOT_EVENT)
    if record is None:
        return UNKNOWN
    digest, prints = record.get("config_digest"), record.get("recipients")
    return PreviousConfig(
        digest if isinstance(digest, str) else None,
        tuple(prints) if isinstance(prints, list) and all(isinstance(p, str) for p in prints)
        else None)

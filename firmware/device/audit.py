"""The device audit log: every boot, shutdown, gesture, state change, alarm and fault.

Append-only JSON lines in ``<data-dir>/audit/audit.jsonl``, hash-chained and signed by
the device key exactly like a recording's manifest (one `SignedLog` implementation), so
`bodycam-evidence verify` checks both the same way. Records carry what happened and why,
never personal data: no location, no media content, no names.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bodycam.firmware.config.model import Config
from bodycam.firmware.evidence.durable import replace_file
from bodycam.firmware.evidence.signed_log import SignedLog, Signer
from bodycam.hal.interfaces import Clock

AUDIT_DIR_NAME = "audit"
AUDIT_FILE_NAME = "audit.jsonl"
CONFIG_DIGEST_FILE = "config.digest"

log = logging.getLogger(__name__)


def audit_path(data_dir: Path) -> Path:
    return data_dir / AUDIT_DIR_NAME / AUDIT_FILE_NAME


class AuditLog:
    """Thread-safe (SignedLog serialises appends); each record is fsync'd before return."""

    def __init__(self, log_file: SignedLog) -> None:
        self._log = log_file

    @classmethod
    def open(cls, data_dir: Path, key: Signer, clock: Clock) -> AuditLog:
        path = audit_path(data_dir)
        path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        return cls(SignedLog.open(path, key, clock))

    @property
    def path(self) -> Path:
        return self._log.path

    def record(self, event: str, **fields: object) -> dict[str, Any]:
        """Append one record; also mirrored to the journal at INFO (same fields)."""
        written = self._log.append(event, **fields)
        log.info("audit %s %s", event,
                 " ".join(f"{k}={v}" for k, v in sorted(fields.items())))
        return written

    def state_change(self, source: str, dest: str, cause: str) -> None:
        self.record("state", **{"from": source, "to": dest, "cause": cause})

    def close(self) -> None:
        self._log.close()


def remember_config_digest(config: Config) -> str | None:
    """The configuration digest the device last ran with (None on its first start), and
    remember the current one, so a configuration change is audited once, at the start
    that uses it, by the one writer of the audit log."""
    path = config.storage.state_dir / CONFIG_DIGEST_FILE
    try:
        previous = path.read_text(encoding="ascii").strip() or None
    except FileNotFoundError:
        previous = None
    if previous != config.digest:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        replace_file(path, f"{config.digest}\n".encode("ascii"), 0o600)
    return previous

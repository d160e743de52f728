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

from bodycam.firmware.evidence.durable import ensure_real_directory, set_aside
from bodycam.firmware.evidence.signed_log import DamagedLogError, SignedLog, Signer
from bodycam.hal.interfaces import Clock

AUDIT_DIR_NAME = "audit"
AUDIT_FILE_NAME = "audit.jsonl"

log = logging.getLogger(__name__)


def audit_path(data_dir: Path) -> Path:
    return data_dir / AUDIT_DIR_NAME / AUDIT_FILE_NAME


class AuditLog:
    """Thread-safe (SignedLog serialises appends); each record is fsync'd before return."""

    def __init__(self, log_file: SignedLog, damaged: tuple[Path, str] | None = None) -> None:
        """`damaged`: an unreadable log this one replaced (where it went, and why)."""
        self._log = log_file
        self.damaged = damaged

    @classmethod
    def open(cls, data_dir: Path, key: Signer, clock: Clock) -> AuditLog:
        """Continue the audit log; one that cannot be continued (damaged beyond a torn
        line, or not a file) is set aside whole and a new chain begins, so the camera can
        always record. The caller audits and alarms `damaged`."""
        path = audit_path(data_dir)
        ensure_real_directory(path.parent, 0o750)
        try:
            return cls(SignedLog.open(path, key, clock))
        except DamagedLogError as exc:
            aside = set_aside(path, lambda n: f"audit-damaged-{n}.jsonl")
            log.error("audit log %s is damaged (%s); set aside as %s, a new chain begins",
                      path, exc, aside.name)
            return cls(SignedLog.open(path, key, clock), damaged=(aside, str(exc)))

    @property
    def path(self) -> Path:
        return self._log.path

    @property
    def created(self) -> bool:
        """This start made the audit log (it was not there)."""
        return self._log.created

    @property
    def previous_device_key(self) -> str | None:
        """The device key (base64) that signed this log before this boot, if any."""
        return self._log.previous_device_key

    def head(self) -> tuple[int, str] | None:
        """(seq, hash) of the last record: every recording's header names it."""
        return self._log.head()

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


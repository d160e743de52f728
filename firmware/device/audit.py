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
from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.session_key import check_certificate
from bodycam.firmware.evidence.signed_log import (
    KEY_FIELD,
    SIGNER_FIELD,
    DamagedLogError,
    SignedLog,
    SignedRecord,
    Signer,
)
from bodycam.firmware.evidence.verify_chain import signature_ok
from bodycam.hal.interfaces import Clock

AUDIT_DIR_NAME = "audit"
AUDIT_FILE_NAME = "audit.jsonl"

log = logging.getLogger(__name__)


def audit_path(data_dir: Path) -> Path:
    return data_dir / AUDIT_DIR_NAME / AUDIT_FILE_NAME


class AuditLog:
    """Thread-safe (SignedLog serialises appends); each record is fsync'd before return."""

    def __init__(self, log_file: SignedLog, device_key: DevicePublicKey,
                 damaged: tuple[Path, str] | None = None) -> None:
        """`device_key`: this camera's, which certifies the session key writing now.
        `damaged`: an unreadable log this one replaced (where it went, and why)."""
        self._log = log_file
        self._device_key = device_key
        self.damaged = damaged

    @classmethod
    def open(cls, data_dir: Path, key: Signer, clock: Clock) -> AuditLog:
        """Continue the audit log; one that cannot be continued (damaged beyond a torn
        line, or not a file) is set aside whole and a new chain begins, so the camera can
        always record. The caller audits and alarms `damaged`."""
        path = audit_path(data_dir)
        ensure_real_directory(path.parent, 0o750)
        device_key = check_certificate(dict(key.certificate))[0]
        try:
            return cls(SignedLog.open(path, key, clock), device_key)
        except DamagedLogError as exc:
            aside = set_aside(path, lambda n: f"audit-damaged-{n}.jsonl")
            log.error("audit log %s is damaged (%s); set aside as %s, a new chain begins",
                      path, exc, aside.name)
            return cls(SignedLog.open(path, key, clock), device_key, damaged=(aside, str(exc)))

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

    def last_signed(self, event: str) -> dict[str, Any] | None:
        """The last `event` record this camera signed that is still tied to the log's end
        by the hash chain (SignedLog.last_record), or None. What the card holder can
        write into the log (unsigned lines, lines of another key, old lines copied to
        the end) is never returned, so a lie there cannot pass for the camera's word."""
        return self._log.last_record(event, self._signed_here)

    def _signed_here(self, found: SignedRecord) -> bool:
        """Whether this camera's device key signed `found.record`: through a session key
        it certified, or itself in a log from before session keys."""
        certificate = found.introducer.get(SIGNER_FIELD)
        if certificate is None:
            legacy = found.introducer.get(KEY_FIELD)
            return legacy == self._device_key.b64 and signature_ok(self._device_key,
                                                                    found.record)
        try:
            device, session, _counter = check_certificate(certificate)
        except ValueError:
            return False
        return device == self._device_key and signature_ok(session, found.record)

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


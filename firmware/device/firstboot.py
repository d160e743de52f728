"""First boot, and every boot after it: provisioning import, then the device identity.

Run as root by bodycam-firstboot.service (and by bodycam-provision.service when
bodycam-provision.path sees a new file on the boot partition). A technician cannot log
in to a camera, but can write files onto the SD card's FAT boot partition from any
laptop; this entry point, holding a lock so the units never interleave:

1. imports signed provisioning files from there (provisioning_import: verified,
   checked without privilege, installed or refused with BODYCAM-ERROR.txt);
2. makes sure the device signing key exists and writes BODYCAM-IDENTITY.txt (device id,
   public key, fingerprint) for the technician to hand to the custodian;
3. restarts the camera program when its configuration changed (optional).

The names below are re-exported so callers keep one place to import them from.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from bodycam.firmware.config.device_rules import SERVICE_WRITABLE, load_device_config
from bodycam.firmware.config.loader import ConfigError
from bodycam.firmware.config.model import Config
from bodycam.firmware.config.safe_read import read_regular
from bodycam.firmware.device.audit import audit_path
from bodycam.firmware.device.boot_files import read_boot_file
from bodycam.firmware.device.device_layout import (
    BOOT_CONFIG_NAME,
    ERROR_FILE_NAME,
    FAULT_FILE_NAME,
    IDENTITY_FILE_NAME,
    SERVICE_USER,
    Audit,
    DeviceLayout,
    Owner,
    ensure_config_dir,
    log_audit,
    pending_fault,
)
from bodycam.firmware.device.identity import IDENTITY_SNAPSHOT, identity_text
from bodycam.firmware.device.provisioning_checker import run_checker
from bodycam.firmware.device.provisioning_import import (
    FAULT_PROVISIONING,
    NEW_KEY_NAME,
    RECIPIENTS_REJECTED_NAME,
    REJECTED_NAME,
    Capacity,
    Checker,
    ImportResult,
    Indicate,
    import_from_boot,
    log_indicate,
    partition_bytes,
)
from bodycam.firmware.device.provisioning_trust import PINNED_KEY_NAME
from bodycam.firmware.device.provisioning_validate import (
    UNSET_DEVICE_ID,
    validate_provisioning,
    validate_with_recipients,
)
from bodycam.firmware.device.recipients_file import RECIPIENTS_FILE_NAME
from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.durable import replace_file
from bodycam.firmware.evidence.key_stores import (
    KeyStoreChoice,
    create_key_store,
    resolve_kind,
)
from bodycam.firmware.evidence.public_keys import (
    DevicePublicKey,
    fingerprint_of,
    parse_public_key,
)
from bodycam.firmware.offload.firewall import DROPIN, write_dropin
from bodycam.hal.clocks import SystemClock
from bodycam.hal.interfaces import Clock
from bodycam.hal.keystore import KeyMissingError, KeyStore, KeyStoreError

__all__ = [
    "BOOT_CONFIG_NAME",
    "ERROR_FILE_NAME",
    "FAULT_FILE_NAME",
    "FAULT_PROVISIONING",
    "IDENTITY_FILE_NAME",
    "NEW_KEY_NAME",
    "PINNED_KEY_NAME",
    "RECIPIENTS_FILE_NAME",
    "RECIPIENTS_REJECTED_NAME",
    "REJECTED_NAME",
    "SERVICE_USER",
    "SERVICE_WRITABLE",
    "UNSET_DEVICE_ID",
    "Audit",
    "Capacity",
    "Checker",
    "DeviceLayout",
    "IdentityError",
    "ImportResult",
    "Indicate",
    "Owner",
    "import_from_boot",
    "log_audit",
    "main",
    "partition_bytes",
    "pending_fault",
    "validate_provisioning",
    "validate_with_recipients",
    "write_identity",
]

_STATE_MODE = 0o700
_MAX_SNAPSHOT_BYTES = 4096  # an identity text is a few hundred bytes
_log = logging.getLogger(__name__)


# ------------------------------------------------------------------------ identity


class IdentityError(RuntimeError):
    """The device identity could not be made or written; the message says why and how
    to fix it. The import before it stands."""


def write_identity(layout: DeviceLayout, owner: Owner, audit: Audit = log_audit
                   ) -> Path | None:
    """Make sure the device key exists and BODYCAM-IDENTITY.txt on the boot partition
    matches it and the configured device id. Rewrites the file only when it differs.

    A software key is made here, only on a camera that never had one (no audit log yet): a
    key that went missing later is replaced by the camera program as an audited re-key
    with an alarm, never silently here. A TPM key is made by the camera program at its
    first start (this sandboxed helper cannot reach the TPM), which leaves the identity
    in its state directory for the next run of this helper to copy (the path unit
    watches it). Returns None while there is no identity to write yet.

    Raises ConfigError (the active configuration is invalid), KeyStoreError (the key
    cannot be used, e.g. a link planted in its place) or IdentityError.
    """
    config = (load_device_config(layout.config_file) if layout.config_file.exists()
              else load_device_config())
    state_dir = layout.under_root(config.storage.state_dir)
    _make_service_dirs(layout, state_dir, owner)
    choice = KeyStoreChoice(config.device.key_store, state_dir, config.device.tpm_tcti)
    if resolve_kind(choice, layout.root) == "tpm":
        text = _tpm_identity(state_dir / IDENTITY_SNAPSHOT)
        if text is None:
            return None
    else:
        key = _software_key(layout, config, choice, owner, audit)
        if key is None:
            return None
        text = identity_text(config.device.id, key.kind,
                             DevicePublicKey(key.algorithm, key.public_key_bytes()))
    data = text.encode("utf-8")
    target = layout.boot_dir / IDENTITY_FILE_NAME
    current = read_boot_file(layout.boot_dir, IDENTITY_FILE_NAME, len(data))
    if current is not None and current.data == data:
        return target
    try:
        replace_file(target, data, 0o644, fat=True)
    except OSError as exc:
        raise IdentityError(f"could not write {target} ({exc.strerror or exc}); fix: delete "
                            f"whatever is called {IDENTITY_FILE_NAME} on the boot partition "
                            "and make room on it, then reboot") from None
    _log.info("wrote %s", target)
    return target


def _software_key(layout: DeviceLayout, config: Config, choice: KeyStoreChoice,
                  owner: Owner, audit: Audit) -> KeyStore | None:
    try:
        return SoftwareKeyStore.open(choice.state_dir, owner_uid=owner.service_uid)
    except KeyMissingError:
        if audit_path(layout.under_root(config.storage.data_dir)).exists():
            _log.error("the device key is gone although the camera has an audit log; the "
                       "camera program makes a new one with a signed re-key record and an "
                       "alarm, and the identity file follows")
            return None
    key = create_key_store(choice, "software", owner=(owner.service_uid, owner.gid))
    audit("device.key_generated", {"fingerprint": fingerprint_of(key.public_key_bytes()),
                                   "key_store": key.kind})
    return key


def _tpm_identity(snapshot: Path) -> str | None:
    """The identity the camera program left for a TPM key, checked to hold a key.

    It lies in the service user's own directory: read without following a link or
    blocking on a FIFO planted there (this runs as root)."""
    try:
        text = read_regular(snapshot, _MAX_SNAPSHOT_BYTES, follow_symlinks=False).decode("utf-8")
        parse_public_key(text)
    except FileNotFoundError:
        _log.info("TPM key store: the camera program makes the key at its first start; "
                  "%s follows then", IDENTITY_FILE_NAME)
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        _log.error("%s holds no usable identity (%s); the camera program rewrites it at "
                   "its next start", snapshot, exc)
        return None
    return text


def _make_service_dirs(layout: DeviceLayout, directory: Path, owner: Owner) -> None:
    """Create `directory` and missing parents 0700 for the service user (this process
    runs as root; a root-owned parent would lock the camera program out of its key).

    Each new directory is owned through a descriptor opened without following links,
    so a link swapped in by the service user is refused, not chowned.
    """
    missing = [d for d in (directory, *directory.parents)
               if d.is_relative_to(layout.root) and d != layout.root
               and not os.path.lexists(d)]
    for path in reversed(missing):
        path.mkdir(mode=_STATE_MODE)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchown(fd, owner.service_uid, owner.gid)
        finally:
            os.close(fd)


# ------------------------------------------------------------------------ entry point


class JournalFormatter(logging.Formatter):
    """Prefix each line with its syslog priority (`<3>` error ... `<7>` debug), which
    journald reads from a service's stderr, so `journalctl -p warning` works."""

    _PRIORITY = ((logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))

    def format(self, record: logging.LogRecord) -> str:
        priority = next((p for level, p in self._PRIORITY if record.levelno >= level), 7)
        return f"<{priority}>{super().format(record)}"


@contextlib.contextmanager
def _exclusive(layout: DeviceLayout, owner: Owner) -> Iterator[None]:
    """The boot unit, the path unit and a technician's manual run never interleave."""
    ensure_config_dir(layout, owner)
    with (layout.etc_dir / ".provisioning.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None,
         audit: Audit = log_audit, indicate: Indicate = log_indicate,
         checker: Checker = run_checker, capacity: Capacity = partition_bytes) -> int:
    """Exit 0: nothing to do or installed; 1: rejected or failed (see the journal)."""
    parser = argparse.ArgumentParser(
        prog="python -m bodycam.firmware.device.firstboot",
        description="Import a provisioning file from the boot partition and write the "
                    "device identity there (run by bodycam-firstboot.service).")
    parser.add_argument("--root", type=Path, default=Path("/"),
                        help="treat this directory as / (image building, tests)")
    parser.add_argument("--user", default=SERVICE_USER,
                        help="service user that may read the configuration and owns the key")
    parser.add_argument("--restart-if-changed", metavar="UNIT",
                        help="after installing a new configuration, `systemctl try-restart` "
                             "this unit so it runs with it (nothing else restarts it)")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(JournalFormatter("%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    layout = DeviceLayout(root=args.root)
    try:
        owner = Owner.service_user(args.user)
    except KeyError:
        _log.error("user %r does not exist; fix: run tools/install/install.sh (it creates it)",
                   args.user)
        return 1
    with _exclusive(layout, owner):
        result = import_from_boot(layout, owner, clock or SystemClock(), audit, indicate,
                                  checker=checker, capacity=capacity)
        try:
            write_identity(layout, owner, audit)
        except ConfigError as exc:
            _log.error("the active configuration %s is invalid, identity not written:\n%s",
                       layout.config_file, exc)
            return 1
        except (IdentityError, KeyStoreError) as exc:
            _log.error("identity not written: %s", exc)
            return 1
        firewall_changed = _allow_offload_server(layout)
    if firewall_changed and layout.root == Path("/"):
        _reload_units()
    _log.info("provisioning: %s", result.value)
    if result is ImportResult.INSTALLED and args.restart_if_changed:
        return _try_restart(args.restart_if_changed)
    return 1 if result is ImportResult.REJECTED else 0


def _allow_offload_server(layout: DeviceLayout) -> bool:
    """The camera program's firewall follows the installed configuration: its one
    allowed address is the pinned evidence server's (firmware/offload/firewall.py).
    True when the drop-in changed. A failure is logged: the unit then keeps the old
    drop-in, and IPAddressDeny=any still stops everything else."""
    try:
        config = (load_device_config(layout.config_file) if layout.config_file.exists()
                  else load_device_config())
        return write_dropin(config.offload, layout.under_root(DROPIN))
    except (ConfigError, OSError) as exc:
        _log.error("the camera program's firewall drop-in %s was not updated: %s; fix: "
                   "check /etc/bodycam/bodycam.toml ([offload]) and that the directory is "
                   "writable, then reboot", DROPIN, exc)
        return False


def _reload_units() -> None:
    """systemd reads the new drop-in before bodycam.service (re)starts."""
    done = subprocess.run(["systemctl", "daemon-reload"], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        _log.error("systemctl daemon-reload failed: %s; the camera program keeps its "
                   "previous firewall until the next boot", done.stderr.strip())


def _try_restart(unit: str) -> int:
    """Restart the camera program on its new configuration; only when it changed, since
    a restart ends a running recording: it is sealed cleanly and, being a clean stop,
    not resumed (a running camera's boot partition is written only at the bench)."""
    done = subprocess.run(["systemctl", "try-restart", unit], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        _log.error("could not restart %s: %s; fix: reboot the camera to use the new "
                   "configuration", unit, done.stderr.strip())
        return 1
    _log.info("restarted %s with the new configuration", unit)
    return 0


if __name__ == "__main__":
    sys.exit(main())

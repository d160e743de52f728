"""The device side of provisioning: import a configuration from the boot partition.

A technician cannot log in to a camera, but can write files onto the SD card's FAT boot
partition from any laptop. At every boot (bodycam-firstboot.service) and whenever a new
file appears there (bodycam-provision.path) this module:

1. validates /boot/firmware/bodycam.toml exactly as the camera program will load it,
   with the keys of an age recipients file bodycam-recipients.txt beside it written
   into its [evidence] recipients (that file alone replaces the installed recipients);
2. valid: installs it as /etc/bodycam/bodycam.toml (root:bodycam 0640, written
   atomically), removes the file(s) from the boot partition and audits the change;
   invalid: changes nothing, renames them `*.rejected`, writes every problem to
   BODYCAM-ERROR.txt (CRLF, readable in Windows Notepad), leaves a fault marker for the
   camera program and signals the fault through the indicator hook;
3. generates the device signing key on first boot and writes BODYCAM-IDENTITY.txt
   (device id, public key, fingerprint) for the technician to hand to the custodian.

Nothing here logs configuration values: only hashes, key names and counts.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import pwd
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from bodycam.firmware.config.loader import (
    DEVICE_CONFIG_FILE,
    ConfigError,
    ConfigProblem,
    load_config,
)
from bodycam.firmware.config.model import Config
from bodycam.firmware.device.audit import audit_path
from bodycam.firmware.device.identity import IDENTITY_SNAPSHOT, identity_text
from bodycam.firmware.device.recipients_file import (
    RECIPIENTS_FILE_NAME,
    read_recipients,
    with_recipients,
)
from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.durable import fsync_directory, replace_file
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
from bodycam.hal.clocks import SystemClock
from bodycam.hal.interfaces import Clock
from bodycam.hal.keystore import KeyMissingError, KeyStore

__all__ = [
    "BOOT_CONFIG_NAME",
    "ERROR_FILE_NAME",
    "FAULT_FILE_NAME",
    "FAULT_PROVISIONING",
    "IDENTITY_FILE_NAME",
    "RECIPIENTS_FILE_NAME",
    "RECIPIENTS_REJECTED_NAME",
    "REJECTED_NAME",
    "Audit",
    "DeviceLayout",
    "ImportResult",
    "Indicate",
    "Owner",
    "import_from_boot",
    "log_audit",
    "main",
    "pending_fault",
    "validate_provisioning",
    "validate_with_recipients",
    "write_identity",
]

BOOT_CONFIG_NAME = "bodycam.toml"
REJECTED_NAME = "bodycam.toml.rejected"
RECIPIENTS_REJECTED_NAME = f"{RECIPIENTS_FILE_NAME}.rejected"
ERROR_FILE_NAME = "BODYCAM-ERROR.txt"
IDENTITY_FILE_NAME = "BODYCAM-IDENTITY.txt"
# Left in the configuration directory while the last provisioning attempt failed, so the
# camera program can keep showing the fault after this process has exited.
FAULT_FILE_NAME = "provisioning-fault.txt"
FAULT_PROVISIONING = "provisioning_invalid"
SERVICE_USER = "bodycam"
# The only tree bodycam.service may write (StateDirectory=bodycam, ProtectSystem=strict).
SERVICE_WRITABLE = Path("/var/lib/bodycam")
UNSET_DEVICE_ID = "UNSET"
MAX_CONFIG_BYTES = 256 * 1024  # a real file is a few KiB; refuse to parse a stray image
_CONFIG_MODE = 0o640
_CONFIG_DIR_MODE = 0o750
_STATE_MODE = 0o700
_CRLF = "\r\n"

Audit = Callable[[str, dict[str, object]], None]
Indicate = Callable[[str], None]
_log = logging.getLogger(__name__)


def log_audit(event: str, details: dict[str, object]) -> None:
    """Default audit sink: one journal line. The signed audit log has a single writer, the
    camera program, which audits the new configuration at the start that uses it."""
    _log.info("audit %s %s", event, json.dumps(details, sort_keys=True))


def _log_indicate(pattern: str) -> None:
    _log.warning("fault pattern %s requested (no indicator attached)", pattern)


@dataclass(frozen=True)
class Owner:
    """Who the installed files belong to: this process (root on the device) and the
    service group, which may read the configuration."""

    uid: int
    gid: int  # the service user's group: may read the configuration
    service_uid: int  # owns the state directory and the device key

    @classmethod
    def service_user(cls, name: str = SERVICE_USER) -> Owner:
        entry = pwd.getpwnam(name)
        return cls(uid=os.getuid(), gid=entry.pw_gid, service_uid=entry.pw_uid)

    @classmethod
    def current(cls) -> Owner:
        """Everything owned by the calling user (tests, developer machines)."""
        return cls(uid=os.getuid(), gid=os.getgid(), service_uid=os.getuid())


@dataclass(frozen=True)
class DeviceLayout:
    """Where things are on the device; `root` moves all of it (tests, image building)."""

    root: Path = Path("/")
    boot: Path = Path("/boot/firmware")
    config_dir: Path = DEVICE_CONFIG_FILE.parent

    def under_root(self, path: Path) -> Path:
        return self.root / path.relative_to(path.anchor)

    @property
    def boot_dir(self) -> Path:
        return self.under_root(self.boot)

    @property
    def etc_dir(self) -> Path:
        return self.under_root(self.config_dir)

    @property
    def config_file(self) -> Path:
        return self.etc_dir / BOOT_CONFIG_NAME


class ImportResult(Enum):
    NOTHING = "nothing to import"
    INSTALLED = "installed"
    UNCHANGED = "identical to the active configuration"
    REJECTED = "rejected"


# ------------------------------------------------------------------------ validation


def validate_provisioning(path: Path) -> Config:
    """The configuration `path` gives on top of the shipped defaults, if fit for service.

    Beyond what the loader checks, a camera put into service must name itself and must
    have somebody to encrypt for (otherwise it refuses to record). Raises ConfigError.
    """
    _check_size(path, "a TOML text file", "this is not a bodycam.toml; copy the "
                "configuration text file")
    config = load_config(path)
    problems: list[ConfigProblem] = []
    if not config.evidence.recipients:
        problems.append(ConfigProblem(
            str(path), "evidence.recipients", [], "at least one age1... recipient",
            "add the evidence authority's public key(s); without one the camera "
            "refuses to record"))
    if config.device.id == UNSET_DEVICE_ID:
        problems.append(ConfigProblem(
            str(path), "device.id", UNSET_DEVICE_ID, "the camera's serial, e.g. BC-0001",
            "set [device] id to the serial on the camera's label"))
    for key, where in (("storage.data_dir", config.storage.data_dir),
                       ("storage.state_dir", config.storage.state_dir)):
        if not where.is_relative_to(SERVICE_WRITABLE):
            problems.append(ConfigProblem(
                str(path), key, str(where), f"a directory below {SERVICE_WRITABLE}",
                "bodycam.service may write nowhere else (systemd sandbox); keep the "
                "default or choose a sub-directory"))
    if problems:
        raise ConfigError(problems)
    return config


def validate_with_recipients(config_path: Path, recipients_path: Path, *,
                             keep: bool) -> tuple[Config, bytes]:
    """The configuration `config_path` gives with the recipients file merged in (keep=True)
    or replacing its recipients (keep=False), and the exact text to install.

    The merged text is checked by validate_provisioning as the file it will be, so the
    installed configuration is valid on its own. Raises ConfigError.
    """
    _check_size(recipients_path, "an age recipients text file",
                f"this is not a {RECIPIENTS_FILE_NAME}; copy the recipients text file")
    try:
        data = recipients_path.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(recipients_path), "", exc.strerror or str(exc),
                                         "a readable age recipients file",
                                         "check the path and the file's permissions")]
                          ) from None
    recipients = read_recipients(recipients_path, data)
    _check_size(config_path, "a TOML text file", "this is not a bodycam.toml; copy the "
                "configuration text file")
    text = with_recipients(config_path, recipients, keep=keep)
    with tempfile.TemporaryDirectory(prefix="bodycam-provision-") as tmp:
        staged = Path(tmp) / BOOT_CONFIG_NAME
        staged.write_bytes(text)
        try:
            return validate_provisioning(staged), text
        except ConfigError as exc:
            origin = f"{config_path} with {recipients_path}"
            raise ConfigError([replace(p, source=origin) if p.source == str(staged) else p
                               for p in exc.problems]) from None


def _check_size(path: Path, expected: str, hint: str) -> None:
    size = path.stat().st_size if path.is_file() else 0
    if size > MAX_CONFIG_BYTES:
        raise ConfigError([ConfigProblem(str(path), "", f"{size} bytes",
                                         f"{expected} of at most {MAX_CONFIG_BYTES} bytes",
                                         hint)])


def pending_fault(layout: DeviceLayout = DeviceLayout()) -> str | None:
    """The last rejected provisioning attempt's error text, or None when there is none.

    The camera program calls this at start to keep showing the provisioning fault.
    """
    try:
        return (layout.etc_dir / FAULT_FILE_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


# ------------------------------------------------------------------------ import


def import_from_boot(layout: DeviceLayout, owner: Owner, clock: Clock,
                     audit: Audit = log_audit, indicate: Indicate = _log_indicate,
                     ) -> ImportResult:
    """Install a provisioning file (and/or recipients file) from the boot partition, or
    explain why not."""
    present = [path for path in (layout.boot_dir / BOOT_CONFIG_NAME,
                                 layout.boot_dir / RECIPIENTS_FILE_NAME) if path.exists()]
    if not present:
        return ImportResult.NOTHING
    try:
        config, data = _prepare(layout, present)
    except ConfigError as exc:
        hashes = {p.name: hashlib.sha256(_read_limited(p)).hexdigest() for p in present}
        _reject(layout, owner, clock, present, exc.problems)
        audit("config.rejected", {"sha256": hashes,
                                  "problems": len(exc.problems),
                                  "keys": sorted({p.key for p in exc.problems})})
        indicate(FAULT_PROVISIONING)
        _log.error("rejected %s (%d problems); details in %s on the boot partition",
                   " and ".join(p.name for p in present), len(exc.problems),
                   ERROR_FILE_NAME)
        return ImportResult.REJECTED
    sha = hashlib.sha256(data).hexdigest()
    previous = _sha256_or_none(layout.config_file)
    if previous != sha:
        _install_config(layout, owner, data)
    for stale in (layout.boot_dir / ERROR_FILE_NAME, layout.boot_dir / REJECTED_NAME,
                  layout.boot_dir / RECIPIENTS_REJECTED_NAME,
                  layout.etc_dir / FAULT_FILE_NAME, *present):
        stale.unlink(missing_ok=True)
    fsync_directory(layout.boot_dir)
    changed = previous != sha
    audit("config.provisioned", {"sha256": sha, "previous_sha256": previous,
                                 "changed": changed, "digest": config.digest,
                                 "device_id": config.device.id,
                                 "files": [p.name for p in present],
                                 "recipients": len(config.evidence.recipients)})
    _log.info("provisioning %s %s", sha[:12], "installed" if changed else "unchanged")
    return ImportResult.INSTALLED if changed else ImportResult.UNCHANGED


def _prepare(layout: DeviceLayout, present: Sequence[Path]) -> tuple[Config, bytes]:
    """The validated configuration and the bytes to install, from the files found.

    bodycam.toml alone is installed as written; with a recipients file its recipients
    are merged in; a recipients file alone replaces the installed configuration's.
    """
    snapshot = {path: _read_limited(path) for path in present}
    config_file = layout.boot_dir / BOOT_CONFIG_NAME
    recipients = layout.boot_dir / RECIPIENTS_FILE_NAME
    if recipients not in snapshot:
        config, data = validate_provisioning(config_file), snapshot[config_file]
    elif config_file in snapshot:
        config, data = validate_with_recipients(config_file, recipients, keep=True)
    elif layout.config_file.exists():
        config, data = validate_with_recipients(layout.config_file, recipients, keep=False)
    else:
        raise ConfigError([ConfigProblem(
            str(recipients), "", "no installed configuration", f"{RECIPIENTS_FILE_NAME} "
            f"beside a {BOOT_CONFIG_NAME}, or on a camera already provisioned",
            f"write {BOOT_CONFIG_NAME} with it: `bodycam-provision write --recipients "
            f"{RECIPIENTS_FILE_NAME} {BOOT_CONFIG_NAME} TARGET`")])
    changed = [path for path, data_read in snapshot.items()
               if _read_limited(path) != data_read]
    if changed:
        raise ConfigError([ConfigProblem(
            str(path), "", "a file that changed while it was read", "a finished file",
            "copy the file again with `bodycam-provision write`, which writes atomically")
            for path in changed])
    return config, data


def _read_limited(path: Path) -> bytes:
    with path.open("rb") as stream:
        data = stream.read(MAX_CONFIG_BYTES + 1)
    return data


def _sha256_or_none(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _ensure_config_dir(layout: DeviceLayout, owner: Owner) -> None:
    """root:bodycam 0750: the service reads its configuration and cannot change it."""
    layout.etc_dir.mkdir(mode=_CONFIG_DIR_MODE, parents=True, exist_ok=True)
    os.chown(layout.etc_dir, owner.uid, owner.gid)
    layout.etc_dir.chmod(_CONFIG_DIR_MODE)


def _install_config(layout: DeviceLayout, owner: Owner, data: bytes) -> None:
    _ensure_config_dir(layout, owner)
    replace_file(layout.config_file, data, _CONFIG_MODE, (owner.uid, owner.gid))


_REJECTED = {BOOT_CONFIG_NAME: REJECTED_NAME, RECIPIENTS_FILE_NAME: RECIPIENTS_REJECTED_NAME}


def _reject(layout: DeviceLayout, owner: Owner, clock: Clock, present: Sequence[Path],
            problems: Sequence[ConfigProblem]) -> None:
    """Explain the rejection on the boot partition and leave the active config alone."""
    when = clock.wall().strftime("%Y-%m-%d %H:%M:%S UTC")
    names = " and ".join(path.name for path in present)
    renamed = " and ".join(_REJECTED[path.name] for path in present)
    check = " ".join(f"--recipients {p.name}" if p.name == RECIPIENTS_FILE_NAME else p.name
                     for p in reversed(present))
    lines = [
        f"bodycam: the provisioning file(s) {names} were REJECTED ({when}).",
        "The camera keeps its previous configuration. Nothing was changed.",
        "",
        f"Problems ({len(problems)}):",
        *(f"  - {problem}" for problem in problems),
        "",
        f"Fix: correct the file(s) (renamed {renamed}), check with",
        f"  bodycam-provision check {check}",
        "and write again with `bodycam-provision write`, or save them here under their",
        "original names. This file is removed once a valid file is installed.",
    ]
    text = _CRLF.join(lines) + _CRLF
    replace_file(layout.boot_dir / ERROR_FILE_NAME, text.encode("utf-8"), 0o644, fat=True)
    for path in present:
        os.replace(path, layout.boot_dir / _REJECTED[path.name])
    fsync_directory(layout.boot_dir)
    _ensure_config_dir(layout, owner)
    fault = "\n".join(str(problem) for problem in problems) + "\n"
    replace_file(layout.etc_dir / FAULT_FILE_NAME, fault.encode("utf-8"), _CONFIG_MODE,
                  (owner.uid, owner.gid))


# ------------------------------------------------------------------------ identity


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
    """
    config = load_config(layout.config_file) if layout.config_file.exists() else load_config()
    state_dir = layout.under_root(config.storage.state_dir)
    _make_service_dirs(layout.root, state_dir, owner)
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
    with contextlib.suppress(FileNotFoundError):
        if target.read_bytes() == data:
            return target
    replace_file(target, data, 0o644, fat=True)
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
    """The identity the camera program left for a TPM key, checked to hold a key."""
    try:
        text = snapshot.read_bytes().decode("utf-8")
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


def _make_service_dirs(root: Path, directory: Path, owner: Owner) -> None:
    """Create `directory` and missing parents 0700 for the service user (this process
    runs as root; a root-owned parent would lock the camera program out of its key)."""
    missing = [d for d in (directory, *directory.parents)
               if d.is_relative_to(root) and d != root and not d.exists()]
    for path in reversed(missing):
        path.mkdir(mode=_STATE_MODE)
        os.chown(path, owner.service_uid, owner.gid)


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
    _ensure_config_dir(layout, owner)
    with (layout.etc_dir / ".provisioning.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None,
         audit: Audit = log_audit, indicate: Indicate = _log_indicate) -> int:
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
        _log.error("user %r does not exist; fix: run tools/install.sh (it creates it)",
                   args.user)
        return 1
    with _exclusive(layout, owner):
        result = import_from_boot(layout, owner, clock or SystemClock(), audit, indicate)
        try:
            write_identity(layout, owner, audit)
        except ConfigError as exc:
            _log.error("the active configuration %s is invalid, identity not written:\n%s",
                       layout.config_file, exc)
            return 1
    if result is ImportResult.INSTALLED and args.restart_if_changed:
        return _try_restart(args.restart_if_changed)
    return 1 if result is ImportResult.REJECTED else 0


def _try_restart(unit: str) -> int:
    """Restart the camera program on its new configuration; only when it changed, since
    a restart ends a recording (sealed cleanly, but a new recording starts after it)."""
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

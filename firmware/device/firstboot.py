"""The device side of provisioning: import a configuration from the boot partition.

A technician cannot log in to a camera, but can write files onto the SD card's FAT boot
partition from any laptop. At every boot (bodycam-firstboot.service) and whenever a new
file appears there (bodycam-provision.path) this module, as root:

1. reads bodycam.toml and/or bodycam-recipients.txt (an age recipients file whose keys
   are written into [evidence] recipients; alone it replaces the installed recipients),
   each with its signature NAME.sig, once, into memory, refusing links, FIFOs and
   directories (boot_files);
2. verifies the signatures (provisioning_signature) against the agency's provisioning
   key pinned in /etc/bodycam (provisioning_trust; pinned at the first accepted
   provisioning if the image did not bring it), refusing an unsigned file, another
   key's signature and a serial older than the last accepted one. Only signed bytes go
   on, to a child process without privilege that parses and validates them
   (provisioning_checker) and returns the exact bytes to install;
3. valid, and the card large enough for its storage reserve: installs them as
   /etc/bodycam/bodycam.toml (root:bodycam 0640, atomically), removes the files from
   the boot partition and audits the change. Invalid: changes nothing, renames them
   `*.rejected`, writes every problem to BODYCAM-ERROR.txt (CRLF, readable in Windows
   Notepad), leaves a fault marker for the camera program and signals the fault;
4. a bodycam-provisioning-key.pub signed by the pinned key replaces that key;
5. makes sure the device signing key exists and writes BODYCAM-IDENTITY.txt (device id,
   public key, fingerprint) for the technician to hand to the custodian.

Nothing here logs configuration values: only hashes, key names, counts and key
fingerprints.
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bodycam.firmware.config.device_rules import (
    SERVICE_WRITABLE,
    capacity_problems,
    load_device_config,
)
from bodycam.firmware.config.loader import (
    DEVICE_CONFIG_FILE,
    MAX_CONFIG_BYTES,
    ConfigError,
    ConfigText,
)
from bodycam.firmware.config.model import Config
from bodycam.firmware.config.safe_read import read_regular
from bodycam.firmware.device.audit import audit_path
from bodycam.firmware.device.boot_files import (
    REJECTED_SUFFIX,
    BootFile,
    read_boot_file,
    remove_file,
    set_aside,
)
from bodycam.firmware.device.identity import IDENTITY_SNAPSHOT, identity_text
from bodycam.firmware.device.provisioning_checker import (
    CheckRequest,
    Finding,
    Verdict,
    run_checker,
)
from bodycam.firmware.device.provisioning_signature import (
    FLEET,
    MAX_SIGNATURE_BYTES,
    SIGNATURE_SUFFIX,
    KeyFileError,
    Signature,
    SignatureFormatError,
    fingerprint,
    parse_public_key_file,
    parse_signature,
)
from bodycam.firmware.device.provisioning_trust import (
    PINNED_KEY_NAME,
    Trust,
    TrustError,
    load_trust,
    save_pinned_key,
    save_state,
)
from bodycam.firmware.device.provisioning_validate import (
    UNSET_DEVICE_ID,
    validate_provisioning,
    validate_with_recipients,
)
from bodycam.firmware.device.recipients_file import RECIPIENTS_FILE_NAME
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

BOOT_CONFIG_NAME = "bodycam.toml"
# A new agency provisioning key, signed by the pinned one (key rotation).
NEW_KEY_NAME = "bodycam-provisioning-key.pub"
REJECTED_NAME = BOOT_CONFIG_NAME + REJECTED_SUFFIX
RECIPIENTS_REJECTED_NAME = RECIPIENTS_FILE_NAME + REJECTED_SUFFIX
ERROR_FILE_NAME = "BODYCAM-ERROR.txt"
IDENTITY_FILE_NAME = "BODYCAM-IDENTITY.txt"
# Left in the configuration directory while the last provisioning attempt failed, so the
# camera program can keep showing the fault after this process has exited.
FAULT_FILE_NAME = "provisioning-fault.txt"
FAULT_PROVISIONING = "provisioning_invalid"
SERVICE_USER = "bodycam"
_INPUT_NAMES = (BOOT_CONFIG_NAME, RECIPIENTS_FILE_NAME, NEW_KEY_NAME)
_CONFIG_MODE = 0o640
_CONFIG_DIR_MODE = 0o750
_STATE_MODE = 0o700
_CRLF = "\r\n"

Audit = Callable[[str, dict[str, object]], None]
Indicate = Callable[[str], None]
Checker = Callable[[CheckRequest], Verdict]
Capacity = Callable[[Path], int]  # bytes of the file system holding a path
_log = logging.getLogger(__name__)


def log_audit(event: str, details: dict[str, object]) -> None:
    """Default audit sink: one journal line. The signed audit log has a single writer, the
    camera program, which audits the new configuration at the start that uses it."""
    _log.info("audit %s %s", event, json.dumps(details, sort_keys=True))


def _log_indicate(pattern: str) -> None:
    _log.warning("fault pattern %s requested (no indicator attached)", pattern)


def partition_bytes(path: Path) -> int:
    """Size of the file system that holds `path` (or its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    info = os.statvfs(probe)
    return info.f_blocks * info.f_frsize


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
    KEY_REPLACED = "provisioning key replaced"
    REJECTED = "rejected"


def pending_fault(layout: DeviceLayout = DeviceLayout()) -> str | None:
    """The last rejected provisioning attempt's error text, or None when there is none.

    The camera program calls this at start to keep showing the provisioning fault.
    """
    try:
        return (layout.etc_dir / FAULT_FILE_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


# ------------------------------------------------------------------------ import


class _RejectedError(Exception):
    def __init__(self, findings: Sequence[Finding]) -> None:
        super().__init__(findings)
        self.findings = list(findings)


@dataclass(frozen=True)
class _Accepted:
    """What an import will do once every check passed."""

    verdict: Verdict | None  # None: only a key rotation
    serial: int
    device_id: str
    signer: Ed25519PublicKey
    pin: Ed25519PublicKey | None  # a key to pin now: first use, or a rotation
    rotated_from: Ed25519PublicKey | None


@dataclass(frozen=True)
class _Found:
    """The entries read from the boot partition, each once."""

    inputs: dict[str, BootFile]  # by name: bodycam.toml, the recipients, a new key
    signatures: dict[str, BootFile]  # by the name of the file they sign

    @property
    def entries(self) -> list[BootFile]:
        return [*self.inputs.values(), *self.signatures.values()]

    def text(self, name: str) -> ConfigText | None:
        entry = self.inputs.get(name)
        return None if entry is None or entry.data is None else ConfigText(
            str(entry.path), entry.data)


def import_from_boot(layout: DeviceLayout, owner: Owner, clock: Clock,
                     audit: Audit = log_audit, indicate: Indicate = _log_indicate, *,
                     checker: Checker = run_checker, capacity: Capacity = partition_bytes,
                     ) -> ImportResult:
    """Install provisioning files from the boot partition, or explain why not."""
    found = _read_boot(layout)
    if not found.inputs:
        return ImportResult.NOTHING
    try:
        accepted = _accept(layout, found, checker, capacity)
    except _RejectedError as exc:
        _reject(layout, owner, clock, found, exc.findings)
        hashes = {e.name: None if e.data is None else hashlib.sha256(e.data).hexdigest()
                  for e in found.entries}
        audit("config.rejected", {"sha256": hashes, "problems": len(exc.findings),
                                  "keys": sorted({f.key for f in exc.findings})})
        indicate(FAULT_PROVISIONING)
        _log.error("rejected %s (%d problems); details in %s on the boot partition",
                   " and ".join(found.inputs), len(exc.findings), ERROR_FILE_NAME)
        return ImportResult.REJECTED
    return _install(layout, owner, found, accepted, audit)


def _read_boot(layout: DeviceLayout) -> _Found:
    inputs = {name: entry for name in _INPUT_NAMES
              if (entry := read_boot_file(layout.boot_dir, name, MAX_CONFIG_BYTES))}
    signatures = {name: entry for name in inputs
                  if (entry := read_boot_file(layout.boot_dir, name + SIGNATURE_SUFFIX,
                                              MAX_SIGNATURE_BYTES))}
    return _Found(inputs, signatures)


def _accept(layout: DeviceLayout, found: _Found, checker: Checker,
            capacity: Capacity) -> _Accepted:
    """Every check, cheapest and least exposed first; raises _RejectedError with all findings
    of the first stage that failed. Nothing is parsed before its signature verified."""
    unreadable = [Finding(e.problem, "") for e in found.entries if e.problem]
    if unreadable:
        raise _RejectedError(unreadable)
    try:
        trust = load_trust(layout.etc_dir)
    except TrustError as exc:
        raise _RejectedError([Finding(str(exc), "")]) from None
    signatures, new_key = _verified(found, trust)
    signer = next(iter(signatures.values())).key
    verdict = None
    if BOOT_CONFIG_NAME in found.inputs or RECIPIENTS_FILE_NAME in found.inputs:
        verdict = checker(CheckRequest(found.text(BOOT_CONFIG_NAME),
                                       found.text(RECIPIENTS_FILE_NAME),
                                       _installed(layout)))
        if verdict.problems:
            raise _RejectedError(verdict.problems)
    device_id = trust.device or (verdict.device_id if verdict else "")
    wrong_camera = [Finding(f"{name} is signed for camera {sig.device}, but this camera is "
                            f"{device_id or 'not provisioned yet'}: sign it for this camera "
                            f"(--device {device_id or 'ID'}) or for every camera "
                            f"(--device '{FLEET}')", "signature")
                    for name, sig in signatures.items()
                    if sig.device not in (FLEET, device_id)]
    if wrong_camera:
        raise _RejectedError(wrong_camera)
    if verdict is not None:
        _check_capacity(layout, found, verdict, capacity)
    return _Accepted(verdict, max(sig.serial for sig in signatures.values()),
                     verdict.device_id if verdict else device_id, signer,
                     pin=new_key if new_key else (signer if trust.key is None else None),
                     rotated_from=trust.key if new_key else None)


def _verified(found: _Found, trust: Trust) -> tuple[dict[str, Signature],
                                                     Ed25519PublicKey | None]:
    """The parsed signature of every input, each checked against the key it must be
    signed with, and the new key a rotation file brings. Raises _RejectedError."""
    findings: list[Finding] = []
    signatures: dict[str, Signature] = {}
    for name, entry in found.inputs.items():
        assert entry.data is not None  # unreadable entries were refused before
        try:
            signatures[name] = _signature(found, name, entry.data, trust)
        except _RejectedError as exc:
            findings += exc.findings
    if findings:
        raise _RejectedError(findings)
    new_key = None
    if NEW_KEY_NAME in found.inputs:
        new_key = _rotation_key(found, trust)
    expected = new_key or trust.key
    keys = {fingerprint(sig.key) for name, sig in signatures.items() if name != NEW_KEY_NAME}
    if expected is None and len(keys) > 1:
        findings.append(Finding("the files are signed by different keys "
                                f"({', '.join(sorted(keys))}); sign them all with the "
                                "agency's provisioning key", "signature"))
    for name, sig in signatures.items():
        wanted = trust.key if name == NEW_KEY_NAME else expected
        if wanted is not None and fingerprint(sig.key) != fingerprint(wanted):
            findings.append(Finding(
                f"{name} is signed by key {sig.signer}, but this camera trusts only the "
                f"provisioning key {fingerprint(wanted)}: sign it with that key (a new "
                f"agency key is first introduced with {NEW_KEY_NAME}, signed by the "
                "old one)", "signature"))
    if findings:
        raise _RejectedError(findings)
    return signatures, new_key


def _signature(found: _Found, name: str, data: bytes, trust: Trust) -> Signature:
    """The signature of `name` if it vouches for `data` and is not older than the last
    accepted one. Raises _RejectedError."""
    sig_name = name + SIGNATURE_SUFFIX
    entry = found.signatures.get(name)
    if entry is None or entry.data is None:
        raise _RejectedError([Finding(
            f"{name} has no signature ({sig_name} is missing beside it): this camera "
            "accepts only files signed with the agency's provisioning key. Fix: write "
            "them with `bodycam-provision write --sign-key AGENCY.key ...`, or run "
            f"`bodycam-provision sign --key AGENCY.key {name}` and copy {sig_name} too",
            "signature")])
    try:
        sig = parse_signature(entry.data)
    except SignatureFormatError as exc:
        raise _RejectedError([Finding(f"{sig_name} is not a provisioning signature ({exc}); "
                                 "make it with bodycam-provision sign", "signature")]
                        ) from None
    problem = sig.problem(name, data)
    if problem is None and trust.serial is not None and sig.serial < trust.serial:
        problem = (f"{name} was signed with serial {sig.serial}, older than the "
                   f"provisioning this camera already accepted (serial {trust.serial}): an "
                   "old file cannot be installed again; sign it again (a new signature "
                   "gets a new serial)")
    if problem is not None:
        raise _RejectedError([Finding(problem, "signature")])
    return sig


def _rotation_key(found: _Found, trust: Trust) -> Ed25519PublicKey:
    data = found.inputs[NEW_KEY_NAME].data
    assert data is not None
    if trust.key is None:
        raise _RejectedError([Finding(
            f"{NEW_KEY_NAME} replaces the pinned provisioning key, but this camera has "
            "none yet: provision it with a signed bodycam.toml (its key is then pinned)",
            "signature")])
    try:
        return parse_public_key_file(data)
    except KeyFileError as exc:
        raise _RejectedError([Finding(f"{NEW_KEY_NAME}: {exc}", "")]) from None


def _installed(layout: DeviceLayout) -> ConfigText | None:
    """The active configuration's bytes (root's own file: read, not parsed, here)."""
    try:
        return ConfigText(str(layout.config_file),
                          read_regular(layout.config_file, MAX_CONFIG_BYTES,
                                       follow_symlinks=False))
    except FileNotFoundError:
        return None


def _check_capacity(layout: DeviceLayout, found: _Found, verdict: Verdict,
                    capacity: Capacity) -> None:
    """A configuration that validates but could never record on this card is refused."""
    assert verdict.needs is not None
    size = capacity(layout.under_root(Path(verdict.data_dir)))
    source = str(layout.boot_dir / BOOT_CONFIG_NAME if BOOT_CONFIG_NAME in found.inputs
                 else layout.config_file)
    problems = capacity_problems(verdict.needs, size, source)
    if problems:
        raise _RejectedError([Finding(str(p), p.key) for p in problems])


def _install(layout: DeviceLayout, owner: Owner, found: _Found, accepted: _Accepted,
             audit: Audit) -> ImportResult:
    """Pin/replace the key, record the serial, install the bytes, clear the boot partition.

    The serial is saved before the configuration: a power cut in between leaves the file
    on the boot partition, and the next boot installs it (same serial) then.
    """
    _ensure_config_dir(layout, owner)
    files = (owner.uid, owner.gid)
    if accepted.pin is not None:
        save_pinned_key(layout.etc_dir, accepted.pin, files)
        if accepted.rotated_from is None:
            _log.warning("pinned the provisioning key %s at first use: from now on only "
                         "files it signs are accepted", fingerprint(accepted.pin))
            audit("provisioning.key_pinned", {"fingerprint": fingerprint(accepted.pin),
                                              "how": "trust on first use"})
        else:
            audit("provisioning.key_replaced", {
                "old": fingerprint(accepted.rotated_from), "new": fingerprint(accepted.pin)})
    save_state(layout.etc_dir, accepted.serial, accepted.device_id,
               fingerprint(accepted.signer), files)
    result = ImportResult.KEY_REPLACED
    verdict = accepted.verdict
    if verdict is not None:
        sha = hashlib.sha256(verdict.data).hexdigest()
        previous = _sha256_or_none(layout.config_file)
        if previous != sha:
            replace_file(layout.config_file, verdict.data, _CONFIG_MODE, files)
        result = ImportResult.INSTALLED if previous != sha else ImportResult.UNCHANGED
        audit("config.provisioned", {
            "sha256": sha, "previous_sha256": previous, "changed": previous != sha,
            "digest": verdict.digest, "device_id": verdict.device_id,
            "files": list(found.inputs), "recipients": list(verdict.recipients),
            "signer": fingerprint(accepted.signer), "serial": accepted.serial,
            "checked_as_uid": verdict.uid})
        _log.info("provisioning %s %s (signed by %s, serial %d)", sha[:12],
                  "installed" if previous != sha else "unchanged",
                  fingerprint(accepted.signer), accepted.serial)
    rejected = [layout.boot_dir / f"{name}{suffix}{REJECTED_SUFFIX}"
                for name in _INPUT_NAMES for suffix in ("", SIGNATURE_SUFFIX)]
    for stale in (layout.boot_dir / ERROR_FILE_NAME, *rejected,
                  layout.etc_dir / FAULT_FILE_NAME, *(e.path for e in found.entries)):
        remove_file(stale)
    _fsync_boot(layout)
    return result


def _sha256_or_none(path: Path) -> str | None:
    try:
        return hashlib.sha256(read_regular(path, MAX_CONFIG_BYTES,
                                           follow_symlinks=False)).hexdigest()
    except FileNotFoundError:
        return None


def _fsync_boot(layout: DeviceLayout) -> None:
    try:
        fsync_directory(layout.boot_dir)
    except OSError as exc:
        _log.error("could not flush the boot partition: %s", exc)


def _ensure_config_dir(layout: DeviceLayout, owner: Owner) -> None:
    """root:bodycam 0750: the service reads its configuration and cannot change it."""
    layout.etc_dir.mkdir(mode=_CONFIG_DIR_MODE, parents=True, exist_ok=True)
    os.chown(layout.etc_dir, owner.uid, owner.gid)
    layout.etc_dir.chmod(_CONFIG_DIR_MODE)


def _reject(layout: DeviceLayout, owner: Owner, clock: Clock, found: _Found,
            findings: Sequence[Finding]) -> None:
    """Explain the rejection on the boot partition and leave the active config alone.

    The rejection stands whatever the boot partition allows: an error file that cannot
    be written (partition full, a directory of that name) is logged, and the fault
    marker in /etc/bodycam is written regardless.
    """
    when = clock.wall().strftime("%Y-%m-%d %H:%M:%S UTC")
    names = " and ".join(found.inputs)
    renamed = " and ".join(name + REJECTED_SUFFIX for name in found.inputs)
    files = " ".join(f"--recipients {n}" if n == RECIPIENTS_FILE_NAME else n
                     for n in reversed(found.inputs) if n != NEW_KEY_NAME)
    lines = [
        f"bodycam: the provisioning file(s) {names} were REJECTED ({when}).",
        "The camera keeps its previous configuration. Nothing was changed.",
        "",
        f"Problems ({len(findings)}):",
        *(f"  - {finding.text}" for finding in findings),
        "",
        f"Fix: correct the file(s) (renamed {renamed}), check with",
        f"  bodycam-provision check {files or 'FILE'}",
        "and write them again, signed with the agency's provisioning key:",
        f"  bodycam-provision write --sign-key AGENCY.key {files or 'FILE'} TARGET",
        "(or sign with `bodycam-provision sign --key AGENCY.key FILE` and copy FILE.sig",
        "beside FILE). This file is removed once a valid file is installed.",
    ]
    text = _CRLF.join(lines) + _CRLF
    try:
        replace_file(layout.boot_dir / ERROR_FILE_NAME, text.encode("utf-8"), 0o644, fat=True)
    except OSError as exc:
        _log.error("could not write %s on the boot partition (%s); the rejection stands "
                   "and the camera shows the fault", ERROR_FILE_NAME, exc.strerror or exc)
    for entry in found.entries:
        set_aside(entry.path)
    _fsync_boot(layout)
    _ensure_config_dir(layout, owner)
    fault = "\n".join(finding.text for finding in findings) + "\n"
    replace_file(layout.etc_dir / FAULT_FILE_NAME, fault.encode("utf-8"), _CONFIG_MODE,
                 (owner.uid, owner.gid))


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
    _ensure_config_dir(layout, owner)
    with (layout.etc_dir / ".provisioning.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None,
         audit: Audit = log_audit, indicate: Indicate = _log_indicate,
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
        _log.error("user %r does not exist; fix: run tools/install.sh (it creates it)",
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
    _log.info("provisioning: %s", result.value)
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

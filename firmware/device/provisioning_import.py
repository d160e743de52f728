"""Import provisioning files from the boot partition: verify, check, install or refuse.

Run as root by firstboot (at every boot, and by bodycam-provision.path when a file
appears). Each file and its signature NAME.sig is read once, into memory, refusing
links, FIFOs and directories (boot_files); the signatures are verified against the
agency's provisioning key pinned in /etc/bodycam (provisioning_trust; pinned at the first
accepted provisioning if the image did not bring it), refusing an unsigned file, another
key's signature, a serial older than the last accepted one, and the same serial on
anything but a re-install of exactly the files accepted with it. Only signed bytes go on,
to a child process without privilege that parses and validates them
(provisioning_checker) and returns the exact bytes to install: for a bodycam.toml
alone root checks they are the signed ones (a recipients file is merged in by the child:
`_check_answer` says why that is safe). A valid configuration that could never record
on this card (its reserve) is refused too.

Accepted: installed as /etc/bodycam/bodycam.toml (root:bodycam 0640, atomically), the
files removed from the boot partition, the change audited. Refused: nothing changes; the
files are renamed `*.rejected`, every problem goes to BODYCAM-ERROR.txt (CRLF, readable
in Windows Notepad) and to a fault marker the camera program shows. A
bodycam-provisioning-key.pub signed by the pinned key replaces that key. Nothing here logs
configuration values: only hashes, key names, counts and key fingerprints.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bodycam.firmware.config.device_rules import capacity_problems
from bodycam.firmware.config.loader import MAX_CONFIG_BYTES, ConfigText
from bodycam.firmware.config.safe_read import read_regular
from bodycam.firmware.device.boot_files import (
    REJECTED_SUFFIX,
    BootFile,
    read_boot_file,
    remove_file,
    set_aside,
)
from bodycam.firmware.device.device_layout import (
    BOOT_CONFIG_NAME,
    ERROR_FILE_NAME,
    FAULT_FILE_NAME,
    Audit,
    DeviceLayout,
    Owner,
    ensure_config_dir,
    log_audit,
)
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
    Trust,
    TrustError,
    load_trust,
    save_pinned_key,
    save_state,
)
from bodycam.firmware.device.recipients_file import RECIPIENTS_FILE_NAME
from bodycam.firmware.evidence.durable import fsync_directory, replace_file
from bodycam.hal.interfaces import Clock

__all__ = [
    "FAULT_PROVISIONING",
    "NEW_KEY_NAME",
    "RECIPIENTS_REJECTED_NAME",
    "REJECTED_NAME",
    "Capacity",
    "Checker",
    "ImportResult",
    "Indicate",
    "import_from_boot",
    "log_indicate",
    "partition_bytes",
]

# A new agency provisioning key, signed by the pinned one (key rotation).
NEW_KEY_NAME = "bodycam-provisioning-key.pub"
REJECTED_NAME = BOOT_CONFIG_NAME + REJECTED_SUFFIX
RECIPIENTS_REJECTED_NAME = RECIPIENTS_FILE_NAME + REJECTED_SUFFIX
FAULT_PROVISIONING = "provisioning_invalid"
_INPUT_NAMES = (BOOT_CONFIG_NAME, RECIPIENTS_FILE_NAME, NEW_KEY_NAME)
_CONFIG_MODE = 0o640
_CRLF = "\r\n"

Indicate = Callable[[str], None]
Checker = Callable[[CheckRequest], Verdict]
Capacity = Callable[[Path], int]  # bytes of the file system holding a path
_log = logging.getLogger(__name__)


def log_indicate(pattern: str) -> None:
    """Default indicator hook: the journal (the camera program shows the fault marker)."""
    _log.warning("fault pattern %s requested (no indicator attached)", pattern)


def partition_bytes(path: Path) -> int:
    """Size of the file system that holds `path` (or its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    info = os.statvfs(probe)
    return info.f_blocks * info.f_frsize


class ImportResult(Enum):
    NOTHING = "nothing to import"
    INSTALLED = "installed"
    UNCHANGED = "identical to the active configuration"
    KEY_REPLACED = "provisioning key replaced"
    REJECTED = "rejected"



class _RejectedError(Exception):
    def __init__(self, findings: Sequence[Finding]) -> None:
        super().__init__(findings)
        self.findings = list(findings)


@dataclass(frozen=True)
class _Accepted:
    """What an import will do once every check passed."""

    verdict: Verdict | None  # None: only a key rotation
    serial: int
    files: dict[str, str]  # SHA-256 of each file by name
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

    def hashes(self) -> dict[str, str]:
        """SHA-256 of each input by name (every input was read whole)."""
        return {name: hashlib.sha256(entry.data or b"").hexdigest()
                for name, entry in self.inputs.items()}

    def text(self, name: str) -> ConfigText | None:
        entry = self.inputs.get(name)
        return None if entry is None or entry.data is None else ConfigText(
            str(entry.path), entry.data)


def import_from_boot(layout: DeviceLayout, owner: Owner, clock: Clock,
                     audit: Audit = log_audit, indicate: Indicate = log_indicate, *,
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
        _check_answer(found, verdict)
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
                     found.hashes(), verdict.device_id if verdict else device_id, signer,
                     pin=new_key if new_key else (signer if trust.key is None else None),
                     rotated_from=trust.key if new_key else None)


def _check_answer(found: _Found, verdict: Verdict) -> None:
    """Root installs only signed bytes: for a bodycam.toml alone the checker's answer
    must be those bytes exactly (compared here, not parsed). Raises _RejectedError.

    A recipients file is merged into the configuration by the checker, whose text root
    could only compare by parsing it, which is what the child is there to avoid. That is
    safe because the child only ever sees signed bytes, answers on a pipe only it holds,
    and cannot be reached by other processes (it runs as nobody, marked non-dumpable, so
    none can ptrace it or write its memory); inside it, the digest and recipients root
    audits are those of the very text it returns. A wrong merge would take a bug in it or
    a signed file that subverts the parser, and whoever can have the agency sign a file
    can have any configuration installed anyway. The camera program parses what was
    installed at every start and signs its digest and recipients into the audit log.
    """
    if RECIPIENTS_FILE_NAME in found.inputs or BOOT_CONFIG_NAME not in found.inputs:
        return
    if verdict.data != found.inputs[BOOT_CONFIG_NAME].data:
        raise _RejectedError([Finding(
            f"the provisioning check answered with other bytes than the signed "
            f"{BOOT_CONFIG_NAME} (a fault of the camera's software, not of the file); "
            "nothing was installed. Fix: reinstall the camera's software "
            "(tools/install/install.sh) and provision again; if it happens again, report this "
            "camera", "")])


def _verified(found: _Found, trust: Trust) -> tuple[dict[str, Signature],
                                                     Ed25519PublicKey | None]:
    """The parsed signature of every input, each checked against the key it must be
    signed with, and the new key a rotation file brings. Raises _RejectedError."""
    findings: list[Finding] = []
    signatures: dict[str, Signature] = {}
    again = trust.files is not None and found.hashes() == trust.files
    for name, entry in found.inputs.items():
        assert entry.data is not None  # unreadable entries were refused before
        try:
            signatures[name] = _signature(found, name, entry.data, trust, again=again)
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


def _signature(found: _Found, name: str, data: bytes, trust: Trust, *,
               again: bool) -> Signature:
    """The signature of `name` if it vouches for `data` and is newer than the last
    accepted one, or has its serial and `again` (the files are exactly those accepted
    with it). Raises _RejectedError."""
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
    if problem is None and trust.serial is not None:
        problem = _serial_problem(name, sig.serial, trust.serial, again=again)
    if problem is not None:
        raise _RejectedError([Finding(problem, "signature")])
    return sig


def _serial_problem(name: str, serial: int, accepted: int, *, again: bool) -> str | None:
    """Why a signature's serial cannot be taken after `accepted`, if it cannot."""
    if serial > accepted or (serial == accepted and again):
        return None
    if serial < accepted:
        return (f"{name} was signed with serial {serial}, older than the provisioning this "
                f"camera already accepted (serial {accepted}): an old file cannot be "
                "installed again; sign it again (a new signature gets a new serial)")
    return (f"{name} was signed with serial {serial}, the serial of the provisioning this "
            "camera already accepted, but it is not one of the files accepted with it (a "
            "file signed with that serial is taken again only together with exactly "
            "those files, as a re-install); sign it again (a new signature gets a new "
            "serial), with `bodycam-provision write` for all the files at once")


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
    ensure_config_dir(layout, owner)
    owned_by = (owner.uid, owner.gid)
    if accepted.pin is not None:
        save_pinned_key(layout.etc_dir, accepted.pin, owned_by)
        if accepted.rotated_from is None:
            _log.warning("pinned the provisioning key %s at first use: from now on only "
                         "files it signs are accepted", fingerprint(accepted.pin))
            audit("provisioning.key_pinned", {"fingerprint": fingerprint(accepted.pin),
                                              "how": "trust on first use"})
        else:
            audit("provisioning.key_replaced", {
                "old": fingerprint(accepted.rotated_from), "new": fingerprint(accepted.pin)})
    save_state(layout.etc_dir, accepted.serial, accepted.device_id,
               fingerprint(accepted.signer), owned_by, files=accepted.files)
    result = ImportResult.KEY_REPLACED
    verdict = accepted.verdict
    if verdict is not None:
        sha = hashlib.sha256(verdict.data).hexdigest()
        previous = _sha256_or_none(layout.config_file)
        if previous != sha:
            replace_file(layout.config_file, verdict.data, _CONFIG_MODE, owned_by)
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
    ensure_config_dir(layout, owner)
    fault = "\n".join(finding.text for finding in findings) + "\n"
    replace_file(layout.etc_dir / FAULT_FILE_NAME, fault.encode("utf-8"), _CONFIG_MODE,
                 (owner.uid, owner.gid))

"""The camera program's signing identity for one boot: key store, session key, re-keys.

First boot makes the device key (firstboot.py). The camera program only opens it; when
it cannot (the key file is gone, damaged, readable by others, or the TPM does not
answer) recording must still be possible, so it makes a new key, and that is never
silent: the caller writes a signed ``rekey`` record naming the old and the new key and
raises the integrity alarm. A key the audit log does not know (one swapped in on the
card) is the same event, noticed by comparing with the key that signed the audit log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bodycam.firmware.config.model import Config
from bodycam.firmware.config.safe_read import read_regular
from bodycam.firmware.evidence.device_key import (
    DeviceKeyError,
    KeyMissingError,
    SoftwareKeyStore,
    UntrustedKeyError,
    set_aside,
)
from bodycam.firmware.evidence.durable import replace_file
from bodycam.firmware.evidence.key_stores import (
    KeyStoreChoice,
    Kind,
    create_key_store,
    open_key_store,
    resolve_kind,
)
from bodycam.firmware.evidence.public_keys import DevicePublicKey, parse_public_key
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.hal.interfaces import Clock
from bodycam.hal.keystore import KeyStore, KeyStoreError

__all__ = ["IDENTITY_SNAPSHOT", "BootIdentity", "Rekey", "identity_text", "key_store_choice",
           "open_boot_identity", "previous_identity", "rekey_of", "write_identity_snapshot"]

# In the state directory: what BODYCAM-IDENTITY.txt must say. The camera program writes
# it (it is the one process that can reach a TPM); first boot copies it onto the boot
# partition (bodycam-provision.path watches it).
IDENTITY_SNAPSHOT = "device-identity.txt"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rekey:
    """Why this boot signs with a key the logs did not know (the ``rekey`` record)."""

    reason: str
    old_fingerprint: str | None
    new_fingerprint: str
    set_aside: str | None = None  # where an unusable key file was moved

    def fields(self) -> dict[str, object]:
        return {"reason": self.reason, "old_device_key_fingerprint": self.old_fingerprint,
                "device_key_fingerprint": self.new_fingerprint, "set_aside": self.set_aside}


@dataclass(frozen=True)
class BootIdentity:
    store: KeyStore
    session: SessionKey
    new_key_reason: str | None  # a key was made this boot, and why
    set_aside: Path | None

    @property
    def fingerprint(self) -> str:
        return self.session.device_key.fingerprint


def key_store_choice(config: Config) -> KeyStoreChoice:
    return KeyStoreChoice(config.device.key_store, config.storage.state_dir,
                          config.device.tpm_tcti)


def open_boot_identity(config: Config, clock: Clock,
                       expected: str | None = None) -> BootIdentity:
    """Open the device key (making one only when recording would otherwise be
    impossible) and certify this boot's session key with it.

    `expected`: the device key (base64) the camera signed with so far (its audit log, or
    the identity its last start left). A key file holding another key was put there: it
    is set aside like an untrusted one, never used, so a planted key can never sign.
    """
    choice = key_store_choice(config)
    if resolve_kind(choice) == "software":
        return _certify(choice, "software", clock, expected)
    try:
        return _certify(choice, "tpm", clock, None)
    except KeyStoreError as exc:
        log.error("the TPM key store cannot be used (%s); this boot signs with a key held "
                  "only in RAM so the camera can record", exc)
        store = SoftwareKeyStore.ephemeral()
        return BootIdentity(store, SessionKey(store, clock), (
            f"TPM unavailable ({exc}): this boot signs with a key that exists only in RAM; "
            "its recordings cannot be tied to the camera's registered key. Check the TPM "
            "board; the camera tries it again at every start"), None)


def _certify(choice: KeyStoreChoice, kind: Kind, clock: Clock,
             expected: str | None) -> BootIdentity:
    store, made, aside = _open_or_create(choice, kind)
    if made is None and expected is not None and kind == "software" \
            and DevicePublicKey(store.algorithm, store.public_key_bytes()).b64 != expected:
        store.close()
        made = ("the key file holds another key than the one this camera signed with so "
                "far: a key put in its place; set aside, never used")
        aside = set_aside(choice.state_dir, "foreign")
        store = create_key_store(choice, kind)
    return BootIdentity(store, SessionKey(store, clock), made, aside)


def _open_or_create(choice: KeyStoreChoice, kind: Kind
                    ) -> tuple[KeyStore, str | None, Path | None]:
    """(store, why a new key was made or None, where an unusable key file went)."""
    try:
        return open_key_store(choice, kind), None, None
    except KeyMissingError as exc:
        return create_key_store(choice, kind), str(exc), None
    except (UntrustedKeyError, DeviceKeyError) as exc:
        label = "untrusted" if isinstance(exc, UntrustedKeyError) else "damaged"
        aside = set_aside(choice.state_dir, label)
        return create_key_store(choice, kind), str(exc), aside


def identity_text(device_id: str, store_kind: str, public: DevicePublicKey) -> str:
    """BODYCAM-IDENTITY.txt, CRLF (read on Windows laptops)."""
    where = "TPM 2.0 (cannot be copied)" if store_kind == "tpm" else "key file on the card"
    lines = [
        "bodycam device identity",
        "",
        f"Device id:   {device_id}",
        f"Key store:   {where}",
        f"Public key:  {public.b64}",
        f"Fingerprint: {public.fingerprint}",
        "",
        "Give this file to the evidence custodian: recordings from this camera are",
        "accepted only when signed by this key. Compare the fingerprint with the one",
        "the camera shows on its display before enrolling it.",
    ]
    return "\r\n".join(lines) + "\r\n"


def write_identity_snapshot(state_dir: Path, device_id: str, identity: BootIdentity) -> None:
    """Keep <state>/device-identity.txt equal to this boot's key (written only on change,
    so the path unit wakes first boot's helper only when there is something new)."""
    text = identity_text(device_id, identity.store.kind, identity.session.device_key)
    path = state_dir / IDENTITY_SNAPSHOT
    try:
        if path.read_bytes().decode("utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    replace_file(path, text.encode("utf-8"), 0o600)


def previous_identity(state_dir: Path) -> str | None:
    """The identity the camera's previous start left (read before this start rewrites
    it): the device key it had, for noticing a re-key when the audit log is gone too."""
    try:
        text = read_regular(state_dir / IDENTITY_SNAPSHOT, 4096,
                            follow_symlinks=False).decode("utf-8")
        return parse_public_key(text).b64
    except (OSError, ValueError):
        return None


def rekey_of(identity: BootIdentity, previous_device_key: str | None) -> Rekey | None:
    """The re-key this boot is, if any: a key was made although the device had one (its
    audit log or its last identity names one), or the device key is another one.

    This catches accidents and naive swaps on the camera itself; the guarantee is the
    custodian's pinned verification, since whoever holds the card can also edit what this
    compares with."""
    if previous_device_key is None:
        return None  # the device's first key
    new = identity.fingerprint
    try:
        old: str | None = parse_public_key(previous_device_key).fingerprint
    except ValueError:
        old = None
    if identity.new_key_reason is None and old == new:
        return None
    reason = identity.new_key_reason or (
        "the device key is not the one that signed the audit log so far (replaced on the "
        "card, or the TPM was cleared)")
    return Rekey(reason, old, new, str(identity.set_aside) if identity.set_aside else None)

"""Choosing, opening and (first boot only) creating the device's key store.

`auto` means the TPM when the kernel shows one (/dev/tpmrm0), else the software key file,
decided once: creating a key records its store in the state directory, and `auto` then
follows that record. A TPM board that stops answering therefore never quietly turns the
camera into a software-key camera; the program signs with a software key only as an
audited, alarmed fallback and tries the TPM again at every start (device/identity.py).
The camera program never creates a key on its own except as such an audited re-key;
first boot creates it (firstboot.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.durable import replace_file
from bodycam.hal.keystore import KeyStore

__all__ = ["KEY_STORE_FILE", "TPM_DEVICE", "KeyStoreChoice", "Kind", "create_key_store",
           "open_key_store", "resolve_kind", "tpm_fitted"]

TPM_DEVICE: Final = Path("/dev/tpmrm0")
# Seen also by units that hide /dev (PrivateDevices=yes: the first-boot helper).
TPM_SYSFS: Final = Path("/sys/class/tpm")
Kind = Literal["tpm", "software"]


@dataclass(frozen=True)
class KeyStoreChoice:
    """What the configuration asks for (`[device] key_store`, `tpm_tcti`, state dir)."""

    kind: Literal["auto", "tpm", "software"]
    state_dir: Path
    tpm_tcti: str = "device:/dev/tpmrm0"


KEY_STORE_FILE: Final = "key-store"  # in the state directory: "tpm" or "software"


def tpm_fitted(root: Path = Path("/")) -> bool:
    """The kernel has a TPM: its device node, or (for sandboxed callers) its sysfs entry."""
    sysfs = root / TPM_SYSFS.relative_to("/")
    return (root / TPM_DEVICE.relative_to("/")).exists() or (
        sysfs.is_dir() and any(sysfs.iterdir()))


def resolve_kind(choice: KeyStoreChoice, root: Path = Path("/")) -> Kind:
    """The configured store; for `auto`, the one the key was made in, else the TPM if
    the kernel shows one (below `root`: tests and image building)."""
    if choice.kind != "auto":
        return choice.kind
    try:
        recorded = (choice.state_dir / KEY_STORE_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        recorded = ""
    if recorded in ("tpm", "software"):
        return "tpm" if recorded == "tpm" else "software"
    return "tpm" if tpm_fitted(root) else "software"


def open_key_store(choice: KeyStoreChoice, kind: Kind, *,
                   owner_uid: int | None = None) -> KeyStore:
    """Open the existing key; raises KeyStoreError (KeyMissingError when there is none).
    `owner_uid`: who must own a key file (default this process)."""
    if kind == "tpm":
        from bodycam.hal.tpm import TpmKeyStore  # noqa: PLC0415 - tpm2-pytss only on demand
        return TpmKeyStore.open(tcti=choice.tpm_tcti)
    return SoftwareKeyStore.open(choice.state_dir, owner_uid=owner_uid)


def create_key_store(choice: KeyStoreChoice, kind: Kind, *,
                     owner: tuple[int, int] | None = None) -> KeyStore:
    """Make a new key (first boot, or an audited re-key); never replaces an existing one."""
    store: KeyStore
    if kind == "tpm":
        from bodycam.hal.tpm import TpmKeyStore  # noqa: PLC0415 - tpm2-pytss only on demand
        store = TpmKeyStore.create(tcti=choice.tpm_tcti)
    else:
        store = SoftwareKeyStore.create(choice.state_dir, owner=owner)
    if choice.kind == "auto":
        replace_file(choice.state_dir / KEY_STORE_FILE, f"{kind}\n".encode("ascii"), 0o600,
                     owner)
    return store

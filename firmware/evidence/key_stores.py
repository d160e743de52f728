"""Choosing, opening and (first key only) creating the device's key store.

`auto` means the TPM whenever the kernel shows one (/dev/tpmrm0, or its sysfs entry for
sandboxed callers), else the software key file. The first key made records its store in
the state directory; that record only ever adds the TPM: a camera whose record says
"tpm" but whose TPM the kernel no longer shows still asks for the TPM (and, failing,
signs that boot with a key held only in RAM, audited and alarmed: device/identity.py),
so neither a TPM that stops answering nor an edited record turns it into a camera with
a copyable key file. A software key is made by first boot (firstboot.py), a TPM key by
the camera program at its first start (the sandboxed first-boot helper cannot reach the
TPM); anything later is an audited re-key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from bodycam.firmware.config.safe_read import read_regular
from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.durable import replace_file
from bodycam.hal.keystore import KeyStore

__all__ = ["KEY_STORE_FILE", "TPM_DEVICE", "KeyStoreChoice", "Kind", "create_key_store",
           "open_key_store", "recorded_kind", "resolve_kind", "tpm_fitted"]

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
    """The configured store; for `auto`, the TPM when the kernel shows one (below `root`:
    tests and image building) or when the first key was made in one, else software."""
    if choice.kind != "auto":
        return choice.kind
    if tpm_fitted(root):
        return "tpm"
    return "tpm" if recorded_kind(choice) == "tpm" else "software"


def recorded_kind(choice: KeyStoreChoice) -> str | None:
    """What the first key's creation recorded ("tpm", "software"), if anything."""
    try:  # root reads it at first boot: no link followed, no FIFO waited on
        recorded = read_regular(choice.state_dir / KEY_STORE_FILE, 64,
                                follow_symlinks=False).decode("ascii").strip()
    except (OSError, ValueError):
        return None
    return recorded if recorded in ("tpm", "software") else None


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
    if recorded_kind(choice) is None:  # the device's first key; never overwritten
        replace_file(choice.state_dir / KEY_STORE_FILE, f"{kind}\n".encode("ascii"), 0o600,
                     owner)
    return store

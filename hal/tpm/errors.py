"""TSS2 failures turned into KeyStoreError messages that say which TPM, what went wrong
and the fix. A raw TSS2 exception ("tcti:IO failure") tells a technician nothing."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Final

from tpm2_pytss import TPM2_RC, TSS2_RC, TSS2_Exception

from bodycam.hal.keystore import KeyStoreError

DEFAULT_TCTI: Final = "device:/dev/tpmrm0"
# The TSS would also load e.g. the `cmd` TCTI, which runs a shell command, and the device
# TCTI writes TPM commands into whatever file it is given: a configured TCTI must not
# become a way to run commands or clobber files (firstboot runs as root).
_SIMULATORS: Final = ("swtpm", "mssim")  # software TPMs: the tests, the bench
_DEVICE_PATH: Final = re.compile(r"/dev/tpm(rm)?[0-9]+")
_LAYER_MASK: Final = 0xFF0000
_TCTI_LAYER: Final = int(TSS2_RC.TCTI_RC_LAYER)
_TPM_LAYER: Final = int(TSS2_RC.TPM_RC_LAYER)


def _tcti_fix(tcti: str) -> str:
    if tcti.startswith("device"):
        return ("check that the TPM board is seated, that /boot/firmware/config.txt has "
                "`dtoverlay=tpm-slb9670` (then reboot) and that `ls -l /dev/tpmrm0` shows "
                "the device")
    if tcti.startswith("swtpm"):
        return "start swtpm (`swtpm socket --tpm2 ...`) on that host and port"
    return ("use a TCTI this camera accepts: `device:/dev/tpmrm0` on the camera, "
            "`swtpm:host=127.0.0.1,port=N` for a software TPM")


def check_tcti(tcti: str) -> None:
    """Accept only a TPM device node or a software TPM; for a device, say plainly whether
    the node is missing or not ours to open."""
    name, _, conf = tcti.partition(":")
    if name in _SIMULATORS:
        return
    if name != "device" or not _DEVICE_PATH.fullmatch(conf):
        raise KeyStoreError(
            f"TPM {tcti!r}: not a TPM this camera uses (only device:/dev/tpmrmN or "
            f"/dev/tpmN, or a software TPM: {', '.join(_SIMULATORS)}). Fix: "
            f"{_tcti_fix('')}")
    path = conf
    if not os.path.exists(path):
        raise KeyStoreError(
            f"TPM {tcti}: no TPM device {path} (no TPM fitted, or its driver is not "
            f"loaded). Fix: {_tcti_fix(tcti)}")
    if not os.access(path, os.R_OK | os.W_OK):
        raise KeyStoreError(
            f"TPM {tcti}: {path} exists but this user may not open it. Fix: add the user "
            "to group tss (`usermod -aG tss bodycam`) and allow the device in the service "
            "unit (`DeviceAllow=/dev/tpmrm0 rw`)")


def _what_and_fix(exc: TSS2_Exception, tcti: str) -> tuple[str, str]:
    rc = int(exc.rc)
    layer = rc & _LAYER_MASK
    if layer == _TCTI_LAYER:
        return "the TPM does not answer", _tcti_fix(tcti)
    error = int(exc.error) if layer == _TPM_LAYER else -1
    if error == TPM2_RC.LOCKOUT:
        return ("the TPM is in dictionary-attack lockout (the camera's own objects are "
                "noDA, so another program's wrong passwords caused it)",
                "wait for the lockout to expire, or clear it with "
                "`tpm2_dictionarylockout --clear-lockout`")
    if error == TPM2_RC.INITIALIZE:
        return ("the TPM was not started",
                "run `tpm2_startup -c` (the kernel normally does this at boot)")
    if error == TPM2_RC.FAILURE:
        return ("the TPM is in failure mode (its self-test failed)",
                "power the camera off and on; if it stays, replace the TPM board (its key "
                "goes with it: the next start is a rekey)")
    if error in (TPM2_RC.NV_SPACE, TPM2_RC.OBJECT_MEMORY):
        return ("the TPM has no room left",
                "list what other programs keep in it (`tpm2_getcap handles-persistent`, "
                "`tpm2_getcap handles-nv-index`) and remove what is not needed")
    return "unexpected TPM error", "check the TPM with `tpm2_getcap properties-fixed`"


@contextlib.contextmanager
def translated(tcti: str, doing: str) -> Iterator[None]:
    """Run a block of TSS2 calls; any TSS2 failure leaves as a KeyStoreError."""
    try:
        yield
    except TSS2_Exception as exc:
        what, fix = _what_and_fix(exc, tcti)
        raise KeyStoreError(
            f"TPM {tcti}: {doing}: {what} ({exc}, rc {int(exc.rc):#x}). Fix: {fix}") from exc

"""Keep the camera program's plaintext in RAM: no core dump, no ptrace, a warning on swap.

The pre-record ring and the encryptor's buffers hold unencrypted media. The unit sets
LimitCORE=0 and MemorySwapMax=0 and the installer switches swap off (M4); this module is
the program's own layer, so a copy started by hand or under another unit is covered too:

- `make_undumpable()`: prctl(PR_SET_DUMPABLE, 0). The kernel then writes no core file
  for this process whatever the core limit or core_pattern (with fs.suid_dumpable=0,
  which the installer sets), and another process of the same user cannot ptrace it or
  read its /proc/PID/mem. The flag holds for the life of the process (execve, which
  this program does not do, would reset it).
- `swap_warning()`: when a swap device that is not RAM (zram) is active and the unit's
  swap limit is not 0 (Raspberry Pi kernels ship without the memory cgroup, so
  MemorySwapMax=0 may be ignored), plaintext pages can reach the card: said in the journal
  with the fix.

Neither stops the program: a camera that refuses to record is worse than the risk each
layer covers alone, and the other layers (unit, installer) stay in place.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PROC_SWAPS = Path("/proc/swaps")
PROC_CGROUP = Path("/proc/self/cgroup")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _prctl(option: int, value: int = 0) -> int:
    """prctl(2) through the C library (no extra package; picamera2's `prctl` module is
    not on every machine the program runs on)."""
    libc = ctypes.CDLL(None, use_errno=True)
    zero = ctypes.c_ulong(0)
    result: int = libc.prctl(ctypes.c_int(option), ctypes.c_ulong(value), zero, zero, zero)
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl({option}): {os.strerror(error)}")
    return result


def is_dumpable() -> bool:
    """The kernel's dumpable flag for this process (False after `make_undumpable`)."""
    return _prctl(PR_GET_DUMPABLE) != 0


def make_undumpable() -> bool:
    """No core dump and no same-user ptrace for this process; False (logged) where the
    kernel has no prctl (not Linux) or refuses it."""
    if not sys.platform.startswith("linux"):
        log.warning("not Linux: cannot mark the process non-dumpable (plaintext media could "
                    "reach a core dump)")
        return False
    try:
        _prctl(PR_SET_DUMPABLE, 0)
    except OSError as exc:
        log.error("could not mark the process non-dumpable (%s): a crash could write "
                  "plaintext media to a core file; fix: keep LimitCORE=0 in the unit", exc)
        return False
    return True


def active_disk_swaps(proc_swaps: Path = PROC_SWAPS) -> list[str]:
    """Swap devices and files in use that are not compressed RAM (zram)."""
    try:
        lines = proc_swaps.read_text().splitlines()[1:]
    except OSError:
        return []
    names = [line.split()[0] for line in lines if line.strip()]
    return [name for name in names if not Path(name).name.startswith("zram")]


def swap_limit(proc_cgroup: Path = PROC_CGROUP, cgroup_root: Path = CGROUP_ROOT) -> str | None:
    """This process's cgroup v2 memory.swap.max ("0", "max", a size), or None when the
    memory controller is not there (the limit is then not enforced)."""
    try:
        unified = [line[3:] for line in proc_cgroup.read_text().splitlines()
                   if line.startswith("0::")]
        if not unified:
            return None
        limit_file = cgroup_root / unified[0].lstrip("/") / "memory.swap.max"
        return limit_file.read_text().strip()
    except OSError:
        return None


def swap_warning(proc_swaps: Path = PROC_SWAPS, proc_cgroup: Path = PROC_CGROUP,
                 cgroup_root: Path = CGROUP_ROOT) -> str | None:
    """The journal line when plaintext pages of this process could be swapped to disk."""
    disks = active_disk_swaps(proc_swaps)
    if not disks or swap_limit(proc_cgroup, cgroup_root) == "0":
        return None
    return (f"swap on {', '.join(disks)} is active and this process's swap limit is not 0: "
            "plaintext media could be written to it; fix: run tools/install/install.sh again "
            "(it switches swap off)")


def harden_process() -> None:
    """Everything above, once at the start of `bodycam run`."""
    make_undumpable()
    warning = swap_warning()
    if warning:
        log.warning("%s", warning)

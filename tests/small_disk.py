"""A real file system that fills up, for the storage-full tests of the server and of the
whole offload: a small tmpfs (mounting needs root, as in CI), and `fill` to take all but
a few bytes of it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["fill", "mounted_small_disk"]


@contextmanager
def mounted_small_disk(where: Path, size_mb: int = 4) -> Iterator[Path]:
    """A `size_mb` tmpfs mounted at `where` (created), unmounted afterwards."""
    where.mkdir()
    if os.geteuid() != 0:
        raise AssertionError("this test mounts a tmpfs to fill a real disk: run the tests "
                             "as root (CI does)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
                   check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Take all but about `leave` bytes of the disk; the filler file (unlink to free)."""
    filler = disk / "filler"
    info = os.statvfs(disk)
    free = info.f_bavail * info.f_frsize
    with filler.open("wb") as stream:
        stream.write(b"\0" * max(0, free - leave))
    return filler

"""Files and directories that survive a power cut at any instant.

POSIX makes a write durable only after fsync of the file, and a new or renamed name
durable only after fsync of the directory holding it. Every module that creates files
the device relies on (evidence, keys, configuration) goes through these helpers, so that
protocol is written down once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["fsync_directory", "make_dirs", "replace_file", "write_all", "write_new_file"]


def fsync_directory(path: Path) -> None:
    """Make a new/renamed directory entry durable (file fsync alone does not, per POSIX)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write until every byte is written (it may write fewer than asked)."""
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view):]


def make_dirs(path: Path, mode: int) -> None:
    """``mkdir -p`` whose new directories survive a power cut (each parent fsync'd)."""
    if path.is_dir():
        return
    make_dirs(path.parent, mode)
    path.mkdir(mode=mode, exist_ok=True)
    fsync_directory(path.parent)


def write_new_file(path: Path, data: bytes, mode: int) -> None:
    """Create `path` (FileExistsError if it exists), write, fsync, fsync its directory.

    On failure the half-written file is left for the caller to judge: for evidence
    nothing is ever deleted.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_directory(path.parent)


def replace_file(path: Path, data: bytes, mode: int,
                 owner: tuple[int, int] | None = None, *, fat: bool = False) -> None:
    """Atomically put `data` at `path`: a cut leaves the old content or the new, never half.

    A uniquely named temporary file in the same directory is written, fsync'd, given
    `mode` (and `owner` (uid, gid) if set), renamed over `path`, and the directory
    fsync'd. `fat=True` is for the FAT boot partition, whose files have no Unix modes.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if owner is not None:
            os.chown(tmp, *owner)
        try:
            os.chmod(tmp, mode)
        except PermissionError:
            if not fat:
                raise  # FAT (the boot partition) has no modes; vfat refuses chmod
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only still there when something failed
    fsync_directory(path.parent)

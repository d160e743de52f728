"""Files and directories that survive a power cut at any instant.

POSIX makes a write durable only after fsync of the file, and a new or renamed name
durable only after fsync of the directory holding it. Every module that creates files
the device relies on (evidence, keys, configuration) goes through these helpers, so that
protocol is written down once.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

_AT_FDCWD: Final = -100
_RENAME_NOREPLACE: Final = 1
_NO_RENAMEAT2: Final = frozenset({errno.ENOSYS, errno.EINVAL})
_MAX_ASIDE: Final = 1000

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


def rename_no_replace(source: Path, target: Path) -> None:
    """Rename `source` to `target`, never over anything at `target` (file, directory or
    link): FileExistsError then, and nothing moved. renameat2(RENAME_NOREPLACE) makes it
    one atomic step; where the kernel or file system lacks it, a check right before the
    rename is the best there is (the window is only other processes of the same user)."""
    function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if function is not None:
        result = function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target),
                          _RENAME_NOREPLACE)
        if result == 0:
            return
        code = ctypes.get_errno()
        if code not in _NO_RENAMEAT2:
            raise OSError(code, os.strerror(code), str(source), None, str(target))
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "exists", str(target))
    os.rename(source, target)


def set_aside(path: Path, name: Callable[[int], str], into: Path | None = None) -> Path:
    """Move `path` (whatever it is) to the first free `name(n)`, n = 0, 1, ..., beside it
    or in the directory `into` (same file system), and fsync the directories: for things
    the device cannot use but must never delete."""
    parent = into if into is not None else path.parent
    for n in range(_MAX_ASIDE):
        target = parent / name(n)
        try:
            rename_no_replace(path, target)
        except FileExistsError:
            continue
        fsync_directory(parent)
        if parent != path.parent:
            fsync_directory(path.parent)
        return target
    raise OSError(f"{path.parent}: {_MAX_ASIDE} things set aside already; inspect it")


def ensure_real_directory(path: Path, mode: int) -> Path | None:
    """Make `path` a directory of its own: something else there (a file, or a link that
    would lead the device's writes elsewhere, e.g. into RAM) is set aside, never followed
    or deleted. Returns where it went, or None when `path` was fine or is new."""
    moved = None
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISDIR(info.st_mode):
        moved = set_aside(path, lambda n: f"{path.name}.not-a-directory-{n}")
    make_dirs(path, mode)
    return moved

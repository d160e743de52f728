"""The provisioning files on the boot partition, as root may touch them.

Anyone with the card can put anything under these names: a directory, a FIFO, a link
to /etc/shadow (on a boot medium other than FAT), a file of a gigabyte. Each name is
read once, without following a link or blocking, into memory (`BootFile.data`); what
cannot be read is kept as the reason (`BootFile.problem`), never as a traceback. A file
is set aside under its `.rejected` name; an entry that cannot be renamed there (that
name is a directory, say) goes to the next free `.rejected-N` name, so the path unit
watching the original name is not triggered again and again.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from bodycam.firmware.config.safe_read import NotRegularFileError, TooLargeError, read_regular

__all__ = ["REJECTED_SUFFIX", "BootFile", "read_boot_file", "remove_file", "set_aside"]

REJECTED_SUFFIX = ".rejected"
_MAX_ASIDE = 20
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BootFile:
    name: str
    path: Path
    data: bytes | None  # the bytes read, once; None when they could not be read
    problem: str | None  # why it cannot be used as a file (a directory, too large, ...)


def read_boot_file(directory: Path, name: str, limit: int) -> BootFile | None:
    """The entry `name` in `directory`, or None when there is none (not even a link)."""
    path = directory / name
    if not os.path.lexists(path):
        return None
    try:
        return BootFile(name, path, read_regular(path, limit, follow_symlinks=False), None)
    except NotRegularFileError as exc:
        problem = f"{name} is {exc.kind}, not a file; delete it and copy the file itself"
    except TooLargeError as exc:
        problem = (f"{name} has {exc.size} bytes, more than the {exc.limit} a provisioning "
                   "file may have: this is not the file bodycam-provision writes")
    except FileNotFoundError:
        return None  # removed between the two looks
    except OSError as exc:
        problem = f"{name} cannot be read ({exc.strerror or exc}); copy it again"
    return BootFile(name, path, None, problem)


def set_aside(path: Path) -> Path | None:
    """Rename `path` (file, link, directory or FIFO: never followed) to NAME.rejected, or
    NAME.rejected-2, -3 ... when that name is taken by something a rename cannot replace.
    None (and a logged error) when nothing worked; the entry then stays where it is."""
    try:
        is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None
    base = path.with_name(path.name + REJECTED_SUFFIX)
    for number in range(1, _MAX_ASIDE + 1):
        target = base if number == 1 else base.with_name(f"{base.name}-{number}")
        if not _replaceable(target, is_dir):
            continue
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return None  # gone already
        except OSError as exc:
            if exc.errno not in (errno.EISDIR, errno.ENOTDIR, errno.ENOTEMPTY, errno.EEXIST,
                                 errno.EBUSY):
                _log.error("could not rename %s to %s: %s", path, target, exc)
                return None
            continue
        return target
    _log.error("could not set %s aside: %s and %d more names are taken; delete them",
               path, base.name, _MAX_ASIDE - 1)
    return None


def _replaceable(target: Path, source_is_dir: bool) -> bool:
    """A rename replaces a file or link by a non-directory, and nothing else."""
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return True
    return not stat.S_ISDIR(mode) and not source_is_dir


def remove_file(path: Path) -> None:
    """Remove a stale file or link; leave (and log) a directory in its place."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:  # IsADirectoryError, EPERM on a directory, read-only medium
        _log.warning("left %s in place (%s); delete it by hand", path, exc.strerror or exc)

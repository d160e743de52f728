"""Read a small file that someone else may have put there: regular files only.

Provisioning and configuration files come from places other people can write (the FAT
boot partition, a technician's folder). A FIFO there would block the reader forever, a
directory or device is not a configuration, and a symbolic link could point a root
process at any file on the system (and its content would then be echoed in an error
message). So the file is checked before it is opened, opened without blocking (and,
for root, without following a link), checked again on the open descriptor (the same
file, still regular) and read up to a limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["NotRegularFileError", "TooLargeError", "describe_mode", "read_regular"]

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class NotRegularFileError(OSError):
    """The path is a directory, link, FIFO, device or socket; `kind` says which."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path} is {kind}, not a regular file")
        self.kind = kind


class TooLargeError(OSError):
    """The file is larger than the reader's limit (a real one is a few KiB)."""

    def __init__(self, path: Path, size: int, limit: int) -> None:
        super().__init__(f"{path} has {size} bytes, more than the {limit} allowed")
        self.size = size
        self.limit = limit


def describe_mode(mode: int) -> str:
    """'a directory', 'a FIFO (named pipe)', ... for a st_mode that is not a regular file."""
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def read_regular(path: Path, limit: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them.

    Raises NotRegularFileError, TooLargeError or the OSError of opening/reading
    (FileNotFoundError when it is absent). follow_symlinks=False refuses a link itself.
    """
    before = os.stat(path, follow_symlinks=follow_symlinks)
    if not stat.S_ISREG(before.st_mode):
        raise NotRegularFileError(path, describe_mode(before.st_mode))
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks
                                                          else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow_symlinks and os.path.islink(path):  # swapped for a link meanwhile
            raise NotRegularFileError(path, "a symbolic link") from exc
        raise
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise NotRegularFileError(path, describe_mode(opened.st_mode))
        if opened.st_size > limit:
            raise TooLargeError(path, opened.st_size, limit)
        chunks: list[bytes] = []
        remaining = limit + 1  # one byte more tells a file that grew past the limit
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise TooLargeError(path, len(data), limit)
    return data

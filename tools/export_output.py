"""Where an export's plaintext MP4 and its report land: created private (mode 0600),
never through a symbolic link, and never over a file that someone else put there.

The output directory may be shared (a case folder): a link planted at OUT.report.json
must not make the export write wherever it points, and a file created at OUT while the
export runs must not be replaced. So every file is created with O_CREAT|O_EXCL (which
never follows a link, dangling or not) and the finished MP4 is moved to OUT by a rename
that refuses an existing name.

That rename is renameat2(RENAME_NOREPLACE): one atomic step that leaves nothing behind
and works on the file systems a custodian hands evidence over on (FAT and exFAT USB
sticks have no hard links, so link + unlink alone would fail there). Where the kernel or
file system lacks the flag (not Linux, some network file systems), link + unlink gives
the same guarantee.
"""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path
from typing import Final

__all__ = ["create_private", "move_no_replace", "write_new_private"]

_AT_FDCWD: Final = -100
_RENAME_NOREPLACE: Final = 1
_NO_RENAMEAT2: Final = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)


def create_private(path: Path) -> int:
    """A descriptor on the new, empty file `path`, mode 0600 whatever the umask.

    FileExistsError if anything, a dangling symbolic link included, has that name."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode is masked by the umask; 0600 never loses bits
    return fd


def write_new_private(path: Path, data: bytes) -> None:
    """Create `path` (as `create_private`) holding `data`, synced; removed on failure."""
    fd = create_private(path)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def move_no_replace(source: Path, target: Path) -> None:
    """Rename `source` to `target`; FileExistsError (and nothing moved) if `target`
    exists, as a file, a directory or a link."""
    if not _renameat2_noreplace(source, target):
        os.link(source, target, follow_symlinks=False)
        os.unlink(source)


def _renameat2_noreplace(source: Path, target: Path) -> bool:
    """True when renamed; False when this system cannot do it (use link + unlink)."""
    function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if function is None:
        return False
    result = function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target),
                      _RENAME_NOREPLACE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_RENAMEAT2:
        return False
    raise OSError(code, os.strerror(code), str(source), None, str(target))

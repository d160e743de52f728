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
import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any, Final

__all__ = [
    "OutputError",
    "check_output",
    "create_private",
    "move_no_replace",
    "partial_path",
    "report_path",
    "write_new_private",
    "written_facts",
]

_AT_FDCWD: Final = -100
_RENAME_NOREPLACE: Final = 1
_NO_RENAMEAT2: Final = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)


class OutputError(Exception):
    """OUT cannot be used as asked (the message names the problem and the fix)."""


def report_path(output: Path) -> Path:
    """OUT.report.json, OUT without a trailing .mp4: `case.v1` and `case.v2` differ."""
    name = output.name
    stem = name[:-4] if name.lower().endswith(".mp4") and len(name) > 4 else name
    return output.with_name(stem + ".report.json")


def partial_path(output: Path) -> Path:
    return output.with_name(output.name + ".partial")


def check_output(output: Path, directory: Path) -> None:
    """Fail as a usage error before verifying, not with a traceback after decrypting.

    The plaintext must not land in the evidence (verify would then fail on the extra
    files). Permission bits alone do not say whether the directory takes new files
    (root ignores them; a read-only or special file system refuses all the same), so a
    nameless temporary file is really created there. A name that is taken, by a
    symbolic link too (dangling or not), is never followed or replaced.
    """
    parent = output.parent
    fix = "Fix: choose -o in an existing directory you can write to"
    if output.is_dir():
        raise OutputError(f"{output} is a directory; give the MP4 file to create in it, "
                         f"e.g. -o {output / 'recording.mp4'}")
    if output.parent.resolve().is_relative_to(directory.resolve()):
        raise OutputError(f"{output}: the output must not be inside the recording directory "
                         f"{directory} (it would put plaintext and a report into the "
                         "evidence); choose -o outside it")
    for path in (output, report_path(output)):
        if os.path.lexists(path):
            link = " (a symbolic link, which export never follows)" if path.is_symlink() \
                else ""
            raise OutputError(f"{path} already exists{link}; choose another OUT or move it "
                             "away")
    if os.path.lexists(partial_path(output)):
        raise OutputError(f"{partial_path(output)} exists: an interrupted export left it "
                         "and it holds plaintext. Fix: delete it securely (e.g. shred -u), "
                         "then export again")
    if not parent.is_dir():
        raise OutputError(f"cannot create {output}: the directory {parent} does not exist. "
                         f"{fix}, or create it first")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise OutputError(f"cannot create {output}: the directory {parent} is not writable "
                         f"({exc.strerror or exc}). {fix}") from None


def written_facts(mp4: io.BufferedReader, partial: Path) -> dict[str, Any]:
    """Size and SHA-256 of the MP4 this export created (read through its own handle),
    after checking that OUT.partial still names it."""
    mine = os.fstat(mp4.fileno())
    named = os.stat(partial, follow_symlinks=False)
    if (named.st_dev, named.st_ino) != (mine.st_dev, mine.st_ino):
        raise OutputError(f"{partial} was replaced while the export ran (something else "
                          f"writes to {partial.parent}); nothing was published. Fix: "
                          "export to a directory only you can write to")
    return {"size": mine.st_size, "sha256": hashlib.file_digest(mp4, "sha256").hexdigest()}


def create_private(path: Path) -> int:
    """A descriptor on the new, empty file `path`, mode 0600 whatever the umask.

    FileExistsError if anything, a dangling symbolic link included, has that name."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    os.fchmod(fd, 0o600)  # the umask may take bits off O_CREAT's mode (0277 gives 0400)
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

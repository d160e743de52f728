"""Reading a recording's files for export: only what the camera writes, from where it
writes it, and every byte checked against the signed manifest before it is used.

Names: the camera names a segment ``NNNNN.age``, or after power-loss recovery
``NNNNN[-N].truncated.age``, always in the recording directory itself, and the number
is the segment's index. A manifest record naming anything else (``../../othercase/x.age``,
``/etc/x``, another segment's file) is refused and never opened: a forced export of a
damaged manifest must not splice another case's file into the court MP4.

Where: files are opened relative to the recording directory's own descriptor, by a
name without ``/``, with O_NOFOLLOW: the file is a direct entry of that directory and
not a symbolic link. That is stronger than resolving a path and checking it lies
inside (which a link swapped in between the check and the open defeats); the camera
never writes a link, so refusing every one loses nothing.

Once: each file is read into memory once and hashed; that one read is what gets
decrypted, hashed in the report and compared with the hash the manifest signed. A
writer racing with the export therefore cannot make the MP4 differ from the report.
The manifest's one read is also what `verify` checks, and verify checks the directory
held open (through /proc/self/fd), not whatever its path names by then: a directory
renamed or swapped after the open cannot lend its VERIFIED to the one exported. A
manifest that changes meanwhile all the same (inode, size, mtime and ctime before and
after verify) stops the export: something is writing to the store.

Bounded: a segment is read up to the size its record signed (and one byte more, to
tell a longer file), and a file no record accounts for up to the largest segment the
camera can write; a file larger than that is refused after fstat, unread. A hostile
manifest naming a huge or sparse file therefore costs no more memory than a real one.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bodycam.firmware.config.rules import FloatRange, IntRange
from bodycam.firmware.config.schema import SETTINGS
from bodycam.firmware.evidence.signed_log import is_record
from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.firmware.evidence.verify_chain import MAX_LINE_BYTES

__all__ = [
    "MAX_MANIFEST_BYTES",
    "MAX_SEGMENT_BYTES",
    "HeldDirectoryError",
    "InputChangedError",
    "Manifest",
    "RecordingFiles",
    "RefusedFileError",
    "SegmentBytes",
    "name_refusal",
    "open_recording",
]

# Held in memory to be parsed, hashed and checked unchanged. Each segment costs about
# 770 bytes of manifest, about 7 MiB a day of recording at the default 10 s segments:
# this only stops a planted giant from exhausting memory.
MAX_MANIFEST_BYTES: Final = 64 << 20


def _highest(key: str) -> float:
    """The largest value the configuration schema allows for the numeric setting `key`."""
    rule = SETTINGS[key].rule
    if not isinstance(rule, IntRange | FloatRange):
        raise TypeError(f"{key} is not a numeric setting")
    return rule.high


# The largest segment the camera can write: the longest segment (the cut waits for the
# next keyframe, at most one more segment length away) at the highest bitrates the
# schema allows, twice over because a bitrate is a target busy scenes exceed (as the
# recorder's pre-record ceiling). About 3.8 GB: bounds what a forced export holds of a
# file the manifest gives no size for, or a size larger than this.
MAX_SEGMENT_BYTES: Final = int(
    2 * 2 * _highest("evidence.segment_seconds")
    * (_highest("video.bitrate_kbps") + _highest("audio.bitrate_kbps")) * 1000 / 8)
_GROWTH_BLOCK: Final = 1 << 20  # read beyond the size fstat gave (a file being written)
# What the camera names a segment file (recovery may add -N before .truncated.age).
_SEGMENT_NAME: Final = re.compile(r"(\d{5})(?:-\d+)?(?:\.age|\.truncated\.age)")
_CAMERA_NAMES: Final = "NNNNN.age or NNNNN[-N].truncated.age, NNNNN the segment's index"


class RefusedFileError(Exception):
    """A file export will not read: a link, or not a regular file (FIFO, device...)."""


class InputChangedError(Exception):
    """A file changed while the export read it: the report could not say what was used."""


class HeldDirectoryError(Exception):
    """The directory held open cannot be reached by path, so it cannot be verified."""


def name_refusal(index: int, name: str) -> str | None:
    """Why the manifest's `name` for segment `index` is refused, or None if acceptable."""
    if "/" in name or name in (".", ".."):
        return (f"it is a path, not a file name in the recording directory (the camera "
                f"writes {_CAMERA_NAMES})")
    match = _SEGMENT_NAME.fullmatch(name)
    if match is None:
        return f"it is not a segment file name (the camera writes {_CAMERA_NAMES})"
    if int(match.group(1)) != index:
        return f"it is the file name of segment {int(match.group(1))}, not of segment {index}"
    return None


@dataclass(frozen=True)
class SegmentBytes:
    """One read of a segment file: the bytes used, their hash, and whether they are
    the bytes the manifest signed."""

    data: bytes
    sha256: str
    mismatch: str | None  # why they differ from the manifest's record (None: they match)


@dataclass(frozen=True)
class Manifest:
    """The manifest as export read it (once), and how to tell it changed since."""

    data: bytes
    identity: tuple[int, ...]  # device, inode, size, mtime, ctime (ns)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def records(self) -> list[dict[str, object]]:
        """The well-formed records in file order; a damaged line (garbled, torn, nested
        too deep or longer than any record, so never parsed) is skipped, as verify
        reports it."""
        return [r for line in self.data.splitlines(keepends=True)
                if len(line) <= MAX_LINE_BYTES and (r := is_record(line)) is not None]


@dataclass
class RecordingFiles:
    """A recording directory held open by descriptor for the length of one export."""

    path: Path
    fd: int
    _seen: dict[str, str] = field(default_factory=dict)  # name -> SHA-256 of its first read

    @property
    def held(self) -> Path:
        """A path to the directory held open, for code that takes paths (verify): the
        very directory export reads, even if `path` names another one by now."""
        return Path(f"/proc/self/fd/{self.fd}")

    def manifest(self) -> Manifest | None:
        """The manifest's bytes (None: there is none). RefusedFileError: a link or not a file."""
        try:
            fd = self._open(MANIFEST_NAME)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as src:
            before = _identity(os.fstat(fd))
            data = src.read(MAX_MANIFEST_BYTES + 1)
            if len(data) > MAX_MANIFEST_BYTES:
                raise RefusedFileError(f"{MANIFEST_NAME} is larger than "
                                       f"{MAX_MANIFEST_BYTES >> 20} MiB, far more than a "
                                       "camera writes (about 7 MiB a day of recording)")
            if _identity(os.fstat(fd)) != before:
                raise InputChangedError(f"{MANIFEST_NAME} changed while it was being read")
        return Manifest(data, before)

    def check_unchanged(self, manifest: Manifest | None) -> None:
        """InputChangedError unless the manifest is still the one read: verify checks that
        read, but a manifest changing meanwhile means something is writing to the store."""
        try:
            now: tuple[int, ...] | None = _identity(
                os.stat(MANIFEST_NAME, dir_fd=self.fd, follow_symlinks=False))
        except FileNotFoundError:
            now = None
        if now != (None if manifest is None else manifest.identity):
            raise InputChangedError(f"{MANIFEST_NAME} changed while the recording was being "
                               "verified")

    def size(self, name: str) -> int:
        """Bytes in `name` (0 when missing), without following a link: progress only."""
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_size
        except FileNotFoundError:
            return 0

    def read_segment(self, name: str, signed_sha256: str | None,
                     signed_size: int | None) -> SegmentBytes:
        """Read `name` once, at most its signed size (see `_read_bounded`).
        FileNotFoundError, RefusedFileError; InputChangedError when an earlier read in
        this export gave other bytes."""
        data, longer = self._read_bounded(name, signed_size)
        digest = hashlib.sha256(data).hexdigest()
        if self._seen.setdefault(name, digest) != digest:
            raise InputChangedError(f"{name} changed while it was being exported")
        mismatch = None
        if longer:
            mismatch = (f"the file is larger than the {signed_size} bytes the manifest "
                        f"signed; only its first {len(data)} bytes were read" + (
                            "" if signed_sha256 is None else
                            ", and they are the bytes it signed (bytes were added after "
                            "them)" if digest == signed_sha256 else
                            ", and even they differ from the bytes it signed"))
        elif signed_size is not None and len(data) != signed_size:
            mismatch = f"{len(data)} bytes, but the manifest signed {signed_size}"
        elif signed_sha256 is not None and digest != signed_sha256:
            mismatch = "its SHA-256 differs from the one the manifest signed"
        return SegmentBytes(data, digest, mismatch)

    def _read_bounded(self, name: str, signed_size: int | None) -> tuple[bytes, bool]:
        """(bytes, whether the file holds more): never more than the signed size, nor
        than MAX_SEGMENT_BYTES. A file larger than its signed size gives that many bytes
        and is not read beyond them; one larger than any segment the camera writes, with
        no smaller signed size to stop at, is refused (RefusedFileError), unread."""
        fd = self._open(name)
        capped = signed_size is None or signed_size >= MAX_SEGMENT_BYTES
        limit = MAX_SEGMENT_BYTES if signed_size is None else \
            max(0, min(signed_size, MAX_SEGMENT_BYTES))
        with os.fdopen(fd, "rb") as src:
            size = os.fstat(fd).st_size
            if capped and size > limit:
                raise RefusedFileError(_too_large(name, size))
            # allocate for the file as it is, not for the limit; then whatever it grew by
            data = src.read(min(size, limit) + 1)
            while len(data) <= limit and (
                    more := src.read(min(_GROWTH_BLOCK, limit + 1 - len(data)))):
                data += more
            if len(data) <= limit:
                return data, False
            if capped:
                raise RefusedFileError(_too_large(name, os.fstat(fd).st_size))
        return data[:limit], True

    def is_link(self, name: str) -> bool:
        try:
            return stat.S_ISLNK(os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            return False

    def _open(self, name: str) -> int:
        """A descriptor on the regular file `name` directly inside the directory."""
        if "/" in name:
            raise RefusedFileError(f"{name!r} is a path, not a file of the recording directory")
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise RefusedFileError(f"{name} is a symbolic link (the camera never writes "
                                  "one; it may point outside the recording)") from None
            raise
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise RefusedFileError(f"{name} is not a regular file")
        return fd


@contextmanager
def open_recording(directory: Path) -> Iterator[RecordingFiles]:
    """The recording directory, held open so every file is read, and verified, from this
    one. HeldDirectoryError when /proc cannot reach it (verify would read another)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        files = RecordingFiles(directory, fd)
        try:
            reachable = os.path.samestat(os.stat(files.held), os.fstat(fd))
        except OSError:
            reachable = False
        if not reachable:
            raise HeldDirectoryError(
                f"{files.held} does not lead to the directory export holds open, so it "
                "could not verify the very directory it exports. Fix: run the export where "
                "/proc is mounted (Linux; `mount -t proc proc /proc`)")
        yield files
    finally:
        os.close(fd)


def _too_large(name: str, size: int) -> str:
    return (f"{name} holds {size} bytes, more than the {MAX_SEGMENT_BYTES} of the largest "
            "segment the camera can write (a planted or sparse file); it was not read")


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

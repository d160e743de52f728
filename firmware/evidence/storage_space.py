"""Free-space guard: refuse a write that would eat into the storage reserve.

Storage full must mean "stop cleanly and alarm", never a half-written file or
overwritten evidence, so writes are refused *before* any byte goes out. `statvfs` is
cheap but not free on an SD card under load, so it runs at most every 256 KiB written or
every second; in between, the bytes written since the last look are subtracted.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from bodycam.firmware.evidence.api import StorageFullError
from bodycam.hal.interfaces import Clock

__all__ = ["FreeSpace", "SpaceGuard", "statvfs_free_bytes"]

FreeSpace = Callable[[Path], int]
RECHECK_BYTES = 256 * 1024
# The camera never deletes evidence itself (by design), and offload through the dock is
# not built yet: space comes back only through the custodian.
FREE_SPACE_FIX = ("hand the camera in: the evidence custodian copies its recordings off "
                  "and clears the card (the camera never deletes evidence itself), or fit a "
                  "larger SD card")
RECHECK_SECONDS = 1.0
_MB = 1024 * 1024


def statvfs_free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system that holds (or will
    hold) `path`: measured at its nearest existing ancestor before the first recording."""
    while not path.exists() and path.parent != path:
        path = path.parent
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class SpaceGuard:
    """Shared by every writer of one data directory so their writes add up."""

    def __init__(self, path: Path, reserve_bytes: int, clock: Clock,
                 free_space: FreeSpace = statvfs_free_bytes) -> None:
        self._path = path
        self._reserve = reserve_bytes
        self._clock = clock
        self._free_space = free_space
        self._lock = threading.Lock()
        self._measured: int | None = None
        self._measured_at = 0.0
        self._since = 0  # bytes written since the last measurement

    @property
    def reserve_bytes(self) -> int:
        return self._reserve

    def free_bytes(self) -> int:
        """A fresh measurement."""
        with self._lock:
            return self._measure()

    def has_room(self, nbytes: int) -> bool:
        """Whether `nbytes` more can be written without going below the reserve."""
        with self._lock:
            stale = (self._measured is None or self._since >= RECHECK_BYTES
                     or self._clock.monotonic() - self._measured_at >= RECHECK_SECONDS)
            if stale:
                self._measure()
            if self._estimate() - nbytes >= self._reserve:
                return True
            if not stale:  # the estimate may be pessimistic: look again before refusing
                self._measure()
            return self._estimate() - nbytes >= self._reserve

    def ensure(self, nbytes: int, what: str) -> None:
        """Raise StorageFullError (having written nothing) unless `nbytes` fit."""
        if not self.has_room(nbytes):
            raise StorageFullError(
                f"storage full: {what} needs {nbytes} bytes but only "
                f"{self._estimate() / _MB:.1f} MB are free in {self._path} and "
                f"{self._reserve / _MB:.1f} MB are reserved; nothing was written. Fix: "
                f"{FREE_SPACE_FIX}"
            )

    def consumed(self, nbytes: int) -> None:
        """Count bytes just written (until the next measurement sees them)."""
        with self._lock:
            self._since += nbytes

    def _estimate(self) -> int:
        return (self._measured or 0) - self._since

    def _measure(self) -> int:
        self._measured = self._free_space(self._path)
        self._measured_at = self._clock.monotonic()
        self._since = 0
        return self._measured

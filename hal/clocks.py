"""Clock implementations: the real one for the device, two scripted ones for sim and tests.

Everything time-dependent receives a `Clock` so the simulator can run faster than real
time and tests can be deterministic. Monotonic time and wall time are kept separate on
purpose: scenarios can jump the wall clock (a dock time sync, a wrong RTC) without
disturbing media timestamps, exactly as on the device.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bodycam.hal.interfaces import Clock

# systemd-timesyncd touches this file once it has synchronised the system clock.
TIMESYNCD_MARKER = Path("/run/systemd/timesync/synchronized")
# bodycam-clock.service writes this once it has set the clock from the evidence server's
# signed time in the dock (firmware/offload/set_clock.py).
DOCK_TIME_MARKER = Path("/run/bodycam-clock/synchronized")


def timesyncd_synchronised(marker: Path = TIMESYNCD_MARKER,
                           dock: Path = DOCK_TIME_MARKER) -> bool:
    """Default sync probe: True once NTP or the dock's signed time set the clock since
    boot (both markers live in /run, gone at the next boot)."""
    return marker.exists() or dock.exists()


class SystemClock(Clock):
    """The device's real clock: time.monotonic(), UTC wall time, NTP status from a probe."""

    def __init__(self, sync_probe: Callable[[], bool] = timesyncd_synchronised) -> None:
        self._sync_probe = sync_probe

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def synchronised(self) -> bool:
        return self._sync_probe()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


DEFAULT_SIM_WALL = datetime(2025, 1, 1, 8, 0, 0, tzinfo=UTC)


class _ScriptedClock(Clock):
    """Shared state of the simulated clocks: a wall clock that scenarios can set or jump.

    Wall time is derived from monotonic time plus an offset, so set_wall() moves the wall
    clock only; monotonic() never jumps.
    """

    def __init__(self, start_wall: datetime, synchronised: bool) -> None:
        if start_wall.tzinfo is None:
            raise ValueError("start_wall must be timezone-aware (UTC); use tzinfo=UTC")
        self._lock = threading.Lock()
        self._synchronised = synchronised
        self._wall_at_zero = start_wall - timedelta(seconds=self.monotonic())

    def wall(self) -> datetime:
        now = self.monotonic()
        with self._lock:
            return self._wall_at_zero + timedelta(seconds=now)

    def set_wall(self, wall: datetime) -> None:
        """Jump the wall clock (e.g. the dock sets the time); monotonic time is unchanged."""
        if wall.tzinfo is None:
            raise ValueError("wall must be timezone-aware (UTC); use tzinfo=UTC")
        now = self.monotonic()
        with self._lock:
            self._wall_at_zero = wall.astimezone(UTC) - timedelta(seconds=now)

    def synchronised(self) -> bool:
        with self._lock:
            return self._synchronised

    def set_synchronised(self, synchronised: bool) -> None:
        with self._lock:
            self._synchronised = synchronised


class SimClock(_ScriptedClock):
    """Simulated time running `speed` times faster than real time (speed=10.0: 10x)."""

    def __init__(self, start_wall: datetime = DEFAULT_SIM_WALL, *, speed: float = 1.0,
                 start_monotonic: float = 0.0, synchronised: bool = True,
                 real_monotonic: Callable[[], float] = time.monotonic,
                 real_sleep: Callable[[float], None] = time.sleep) -> None:
        """`real_monotonic`/`real_sleep` are the host's time, injectable for tests."""
        if not speed > 0:
            raise ValueError(f"speed must be > 0 (simulated seconds per real second), "
                             f"got {speed}")
        self._speed = speed
        self._start_monotonic = start_monotonic
        self._real_monotonic = real_monotonic
        self._real_sleep = real_sleep
        self._real_start = real_monotonic()
        super().__init__(start_wall, synchronised)

    @property
    def speed(self) -> float:
        return self._speed

    def monotonic(self) -> float:
        return self._start_monotonic + (self._real_monotonic() - self._real_start) * self._speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._real_sleep(seconds / self._speed)


class ManualClock(_ScriptedClock):
    """Time moves only through advance() or sleep(): fully deterministic tests.

    sleep() advances the clock itself instead of waiting, so a single thread driven by
    this clock runs as fast as the CPU allows with exact timestamps. Several threads
    sleeping on one ManualClock all push time forward; use SimClock for those.
    """

    def __init__(self, start_wall: datetime = DEFAULT_SIM_WALL, *,
                 start_monotonic: float = 0.0, synchronised: bool = True) -> None:
        self._now = start_monotonic
        self._now_lock = threading.Lock()
        super().__init__(start_wall, synchronised)

    def monotonic(self) -> float:
        with self._now_lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a monotonic clock cannot go backwards (advance({seconds}))")
        with self._now_lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

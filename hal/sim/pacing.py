"""A thread that produces items on a fixed time grid of the injected clock.

The simulated camera (frames) and microphone (PCM chunks) both place item i at media time
i * period on the clock's monotonic timeline. Because the grid is absolute, a whole
second of media time always falls exactly on a video frame and on an audio sample, which
is what makes the flash/beep A/V-sync marks exact; and the produced content depends only
on the grid, not on how fast the host CPU happens to be.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from fractions import Fraction

from bodycam.hal.interfaces import Clock

log = logging.getLogger(__name__)

US_PER_S = 1_000_000


class GridPacer:
    """Calls produce(i) on its own thread when the clock reaches i * period.

    If the producer falls more than `max_backlog_s` behind (overloaded host, too high a
    simulation speed) it skips ahead like a real sensor drops frames, counting `dropped`.
    """

    def __init__(self, name: str, clock: Clock, period: Fraction,
                 produce: Callable[[int], None], *, max_backlog_s: float = 1.0) -> None:
        if period <= 0:
            raise ValueError(f"{name}: period must be positive, got {period}")
        self._name = name
        self._clock = clock
        self._period = period
        self._produce = produce
        self._max_backlog_s = max_backlog_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stall_until = -math.inf
        self._halted = False
        self.dropped = 0

    def pts_us(self, index: int) -> int:
        """Media time of grid point `index` in whole microseconds."""
        return math.floor(index * self._period * US_PER_S)

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                raise RuntimeError(f"{self._name} is already running; stop() it first")
            self._stop.clear()
            self._halted = False  # a pending stall() still applies: it is clock time
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the thread, so no produce() call runs after this returns."""
        with self._lock:
            thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def stall(self, seconds: float) -> None:
        """Produce nothing for `seconds` of clock time from now; grid points are skipped."""
        with self._lock:
            self._stall_until = self._clock.monotonic() + seconds

    def _first_index(self, at: float) -> int:
        # Round to the microsecond first: 0.9 s as a float is a hair above 0.9, which
        # must not push the first grid point one period later.
        return math.ceil(Fraction(round(at * US_PER_S), US_PER_S) / self._period)

    def _run(self) -> None:
        index = self._first_index(self._clock.monotonic())
        while not self._stop.is_set():
            now = self._clock.monotonic()
            with self._lock:
                stall_until, halted = self._stall_until, self._halted
            due = float(index * self._period)  # compared in whole microseconds below
            late_us = round(now * US_PER_S) - self.pts_us(index)
            if halted or stall_until > now:
                # Sleep in short steps so stop() stays responsive.
                step = float(self._period)
                self._clock.sleep(step if halted else min(step, stall_until - now))
                continue
            if due < stall_until:
                index = self._first_index(stall_until)
                continue
            if late_us < 0:
                self._clock.sleep(-late_us / US_PER_S)
                continue
            if late_us > self._max_backlog_s * US_PER_S:
                caught_up = self._first_index(now)
                self.dropped += caught_up - index
                log.warning("%s fell %.2f s behind the clock; dropped %d items",
                            self._name, now - due, caught_up - index)
                index = caught_up
                continue
            try:
                self._produce(index)
            except Exception:
                log.exception("%s stopped: producing item %d failed", self._name, index)
                with self._lock:
                    self._halted = True
            index += 1

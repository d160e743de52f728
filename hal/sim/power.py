"""Simulated battery and dock: scriptable by scenarios, optionally draining over time."""

from __future__ import annotations

import threading

from bodycam.hal.interfaces import Clock, Power, PowerStatus


class SimPower(Power):
    """Battery level, charging and dock state set by scenarios.

    With a clock, the battery drains by `drain_percent_per_hour` of simulated time while
    not charging and fills by `charge_percent_per_hour` while charging (clamped 0-100).
    """

    def __init__(self, clock: Clock, *, battery_percent: float | None = 100.0,
                 docked: bool = False, charging: bool = False,
                 drain_percent_per_hour: float = 0.0,
                 charge_percent_per_hour: float = 0.0) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._drain = drain_percent_per_hour
        self._charge = charge_percent_per_hour
        self._docked = docked
        self._charging = charging
        self._percent = battery_percent
        self._since = clock.monotonic()

    def _level_now(self) -> float | None:
        """Battery level at the clock's current time (caller holds the lock)."""
        if self._percent is None:
            return None
        hours = (self._clock.monotonic() - self._since) / 3600
        rate = self._charge if self._charging else -self._drain
        return min(100.0, max(0.0, self._percent + rate * hours))

    def _rebase(self) -> None:
        """Freeze the level reached so far before a rate or level change."""
        self._percent = self._level_now()
        self._since = self._clock.monotonic()

    def set_battery(self, percent: float | None) -> None:
        """Set the level; None simulates an unreadable fuel gauge."""
        if percent is not None and not 0 <= percent <= 100:
            raise ValueError(f"battery percent must be 0-100 or None, got {percent}")
        with self._lock:
            self._rebase()
            self._percent = percent

    def set_docked(self, docked: bool) -> None:
        with self._lock:
            self._docked = docked

    def set_charging(self, charging: bool) -> None:
        with self._lock:
            self._rebase()
            self._charging = charging

    def read(self) -> PowerStatus:
        with self._lock:
            return PowerStatus(self._level_now(), self._charging, self._docked)

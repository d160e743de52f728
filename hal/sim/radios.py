"""Simulated radios: the state the firmware asked for, which the power model charges.

The simulator has no Wi-Fi; what matters is that the camera asks for the radios off out
of the dock and that the simulated battery pays for them while they are on
(hal/sim/power_probe.py reads `enabled`). `settle` is called before every change, so the
energy up to the switch is integrated at the old state (SimPower.settle).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from bodycam.hal.interfaces import Radios


class SimRadios(Radios):
    """Records every request (for tests and the shift benchmark); on at start, as a Pi
    boots with Wi-Fi unblocked."""

    def __init__(self, settle: Callable[[], None] = lambda: None) -> None:
        self._settle = settle
        self._lock = threading.Lock()
        self._enabled = True
        self.requests: list[tuple[bool, str]] = []

    def settle_with(self, settle: Callable[[], None]) -> None:
        """Set what integrates the battery up to now (the power model is built after the
        probe that reads these radios)."""
        self._settle = settle

    def switch(self, enabled: bool, cause: str) -> str:
        self._settle()
        with self._lock:
            self._enabled = enabled
            self.requests.append((enabled, cause))
        return f"simulated radios {'on' if enabled else 'off'}"

    @property
    def enabled(self) -> bool:
        with self._lock:
            return self._enabled

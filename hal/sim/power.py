"""Simulated battery and dock: scriptable by scenarios, draining by a rate or by the model.

Two ways to drain, chosen at construction:

* a fixed `drain_percent_per_hour` (scenarios and tests that script the level), or
* the power model (`table` + `probe`): at every read the energy the parts drew since the
  last one (the probe's load, held over that interval) comes out of a simulated cell
  (hal/sim/power_battery.py), so the gauge falls as a real one would, the voltage sags
  and the gauge reports a CRATE-like rate. `set_part_state` pins a part's state the
  hardware cannot show (the CPU's pipeline work, card writes, radio traffic) and settles
  the energy first, so a change announced that way is integrated exactly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from bodycam.firmware.power.table import Load, PowerTable
from bodycam.hal.interfaces import Clock, Power, PowerStatus
from bodycam.hal.sim.power_battery import SimCell
from bodycam.hal.sim.power_model import EnergyMeter

S_PER_H = 3600.0


class SimPower(Power):
    """Battery level, charging and dock state set by scenarios, drained over clock time.

    Charging fills the battery by `charge_percent_per_hour` of simulated time (both modes).
    """

    def __init__(self, clock: Clock, *, battery_percent: float | None = 100.0,
                 docked: bool = False, charging: bool = False,
                 drain_percent_per_hour: float = 0.0,
                 charge_percent_per_hour: float = 0.0,
                 table: PowerTable | None = None,
                 probe: Callable[[], Load] | None = None) -> None:
        if table is not None and drain_percent_per_hour:
            raise ValueError("give either drain_percent_per_hour or a power table, not both")
        self._clock = clock
        self._lock = threading.Lock()
        self._drain = drain_percent_per_hour
        self._charge = charge_percent_per_hour
        self._docked = docked
        self._charging = charging
        self._readable = battery_percent is not None
        start = 100.0 if battery_percent is None else battery_percent
        self.meter = EnergyMeter(table) if table is not None else None
        self._cell = SimCell(table.battery, start) if table is not None else None
        self._percent = start
        self._probe = probe if probe is not None else Load
        self._pinned: dict[str, str] = {}
        self._since = clock.monotonic()

    # ------------------------------------------------------------ integration

    def _settle(self) -> None:
        """Bring the level to the clock's current time (caller holds the lock)."""
        now = self._clock.monotonic()
        seconds = max(0.0, now - self._since)
        self._since = now
        if self._cell is None:
            rate = self._charge if self._charging else -self._drain
            self._percent = min(100.0, max(0.0, self._percent + rate * seconds / S_PER_H))
            return
        if self._charging:
            charge_mwh_per_s = self._cell.capacity_mwh * self._charge / 100 / S_PER_H
            self._cell.step(-charge_mwh_per_s * seconds, seconds)
        elif self.meter is not None:
            self._cell.step(self.meter.add(self.load(), seconds), seconds)
        self._percent = self._cell.percent

    def load(self) -> Load:
        """What the parts are doing now: the probe's view, the dock link's radio while
        docked, and the pinned states over both."""
        seen = self._probe()
        if self._docked:
            seen = seen.with_states(radio="idle")
        return seen.with_states(**self._pinned)

    def settle(self) -> None:
        """Integrate up to now (call before a part changes state, for exact energy)."""
        with self._lock:
            self._settle()

    # ------------------------------------------------------------ scenario controls

    def set_battery(self, percent: float | None) -> None:
        """Set the level; None simulates an unreadable fuel gauge."""
        if percent is not None and not 0 <= percent <= 100:
            raise ValueError(f"battery percent must be 0-100 or None, got {percent}")
        with self._lock:
            self._settle()
            self._readable = percent is not None
            if percent is not None:
                self._percent = percent
                if self._cell is not None:
                    self._cell.set_percent(percent)

    def set_docked(self, docked: bool) -> None:
        with self._lock:
            self._settle()
            self._docked = docked

    def set_charging(self, charging: bool) -> None:
        with self._lock:
            self._settle()
            self._charging = charging

    def set_part_state(self, part: str, state: str | None) -> None:
        """Pin `part` to `state` (None: back to what the probe sees), after settling."""
        with self._lock:
            self._settle()
            if state is None:
                self._pinned.pop(part, None)
            else:
                Load({part: state})  # refuses unknown parts/states now, not at the next read
                self._pinned[part] = state

    # ------------------------------------------------------------ the gauge

    @property
    def empty(self) -> bool:
        """True once the modelled cell can no longer hold the camera up (always False
        without a model: a scripted level never kills the camera)."""
        with self._lock:
            self._settle()
            return self._cell is not None and self._cell.empty

    def read(self) -> PowerStatus:
        with self._lock:
            self._settle()
            if not self._readable:
                return PowerStatus(None, self._charging, self._docked)
            if self._cell is None:
                return PowerStatus(self._percent, self._charging, self._docked)
            return PowerStatus(self._percent, self._charging, self._docked,
                               rate_percent_per_hour=self._cell.crate(),
                               cell_volts=self._cell.volts())

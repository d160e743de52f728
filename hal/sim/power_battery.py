"""The simulated cell and its fuel gauge: energy in mWh, a voltage that sags, a rate.

The state of charge is the energy left over the pack's present full capacity (what a
MAX17048 reports, ideally). The voltage follows the table's open-circuit curve minus the
drop across the pack's internal resistance at the present current: near empty the curve
falls steeply, so under load the voltage can reach the cutoff while the percentage still
shows a few percent. That is how real cameras die "suddenly", and the simulator must be
able to show it. The rate imitates the MAX17048's CRATE register: percent per hour,
signed (negative while discharging), smoothed and in the register's 0.208 %/h steps.
"""

from __future__ import annotations

import math

from bodycam.firmware.power.table import Battery

CRATE_PERCENT_PER_HOUR_PER_LSB = 0.208  # MAX17048 datasheet, CRATE register (0x16)
RATE_SMOOTHING_S = 60.0  # the gauge averages the rate over about a minute (estimate)
S_PER_H = 3600.0


class SimCell:
    """One pack: energy left, state of charge, voltage under load, smoothed rate."""

    def __init__(self, battery: Battery, percent: float = 100.0) -> None:
        self.battery = battery
        self.capacity_mwh = battery.capacity_mwh.value
        self.remaining_mwh = 0.0
        self.set_percent(percent)
        self._rate = 0.0  # smoothed, percent per hour, signed
        self._watts = 0.0  # cell power at the last step (positive: discharging)

    def set_percent(self, percent: float) -> None:
        if not 0 <= percent <= 100:
            raise ValueError(f"battery percent must be 0-100, got {percent}")
        self.remaining_mwh = self.capacity_mwh * percent / 100

    @property
    def percent(self) -> float:
        return 100 * self.remaining_mwh / self.capacity_mwh

    def step(self, mwh: float, seconds: float) -> None:
        """Take `mwh` out over `seconds` (negative mwh: charging in); updates the rate."""
        self.remaining_mwh = min(self.capacity_mwh, max(0.0, self.remaining_mwh - mwh))
        if seconds <= 0:
            return
        self._watts = mwh * 3.6 / seconds
        rate = -100 * (mwh / self.capacity_mwh) * S_PER_H / seconds
        weight = 1 - math.exp(-seconds / RATE_SMOOTHING_S)
        self._rate += (rate - self._rate) * weight

    def volts(self) -> float:
        """Terminal voltage at the last step's power: open-circuit minus I x R."""
        ocv = self.battery.open_circuit_volts(self.percent)
        current = max(0.0, self._watts) / ocv
        return ocv - current * self.battery.internal_resistance_ohm.value

    @property
    def empty(self) -> bool:
        """No energy left, or the voltage under load is below the cutoff: the camera dies."""
        return (self.remaining_mwh <= 0
                or self.volts() < self.battery.cutoff_voltage_v.value)

    def crate(self) -> float:
        """The smoothed rate in percent per hour, quantised like the CRATE register."""
        steps = round(self._rate / CRATE_PERCENT_PER_HOUR_PER_LSB)
        return steps * CRATE_PERCENT_PER_HOUR_PER_LSB

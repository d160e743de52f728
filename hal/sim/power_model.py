"""The simulated power model: what the parts draw, integrated over simulated time.

A `Load` (firmware/power/table.py) says what each part is doing; `EnergyMeter` turns a
load held for some seconds into energy, kept per part and state (so a shift's energy can
be broken down), and into the larger energy the battery gives up behind the boost
converter's loss. The figures
come only from the power table (config/power-model.toml), never from code, so a
measured table changes the simulation without a code change.
"""

from __future__ import annotations

from bodycam.firmware.power.table import Load, PowerTable

J_PER_MWH = 3.6
S_PER_H = 3600.0


class EnergyMeter:
    """Integrates loads over time: energy per `part.state` at the 5 V rail, and from the cell."""

    def __init__(self, table: PowerTable) -> None:
        self.table = table
        self.rail_joules: dict[str, float] = {}
        self.battery_joules = 0.0
        self.seconds = 0.0

    def add(self, load: Load, seconds: float) -> float:
        """Hold `load` for `seconds`; returns the cell's energy in mWh for that time."""
        if seconds < 0:
            raise ValueError(f"time cannot run backwards ({seconds} s)")
        for name, watts in self.table.rail_watts(load).items():
            self.rail_joules[name] = self.rail_joules.get(name, 0.0) + watts * seconds
        joules = self.table.cell_watts(load) * seconds
        self.battery_joules += joules
        self.seconds += seconds
        return joules / J_PER_MWH

    def converter_loss_joules(self) -> float:
        """Energy lost in the boost converter so far (cell energy minus rail energy)."""
        return self.battery_joules - sum(self.rail_joules.values())

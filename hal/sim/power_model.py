"""The simulated power model: what the parts draw, integrated over simulated time.

A `Load` says what each part is doing; `EnergyMeter` turns a load held for some seconds
into energy, kept per part and state (so a shift's energy can be broken down), and into
the larger energy the battery gives up behind the boost converter's loss. The figures
come only from the power table (config/power-model.toml), never from code, so a
measured table changes the simulation without a code change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bodycam.firmware.power.table import PARTS, PowerTable

J_PER_MWH = 3.6
S_PER_H = 3600.0


@dataclass(frozen=True)
class Load:
    """Each part's state; `units` scales a part's draw (lit LEDs, or a blink's on share).

    A part left out is at its lowest state (the first in PARTS), which the table counts
    as part of the board's base draw or as nothing.
    """

    states: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for part, state in self.states.items():
            if part not in PARTS or state not in PARTS[part]:
                raise ValueError(f"unknown power state {part}.{state}; the table has "
                                 f"{', '.join(f'{p}.{s}' for p in PARTS for s in PARTS[p])}")
        for part, units in self.units.items():
            if part not in PARTS or units < 0:
                raise ValueError(f"units of {part!r} must be >= 0 for a known part, "
                                 f"got {units}")

    def state(self, part: str) -> str:
        return self.states.get(part, PARTS[part][0])

    def with_states(self, **states: str) -> Load:
        """This load with some parts changed (the rest kept)."""
        return Load({**self.states, **states}, self.units)

    def with_units(self, **units: float) -> Load:
        return Load(self.states, {**self.units, **units})


class EnergyMeter:
    """Integrates loads over time: energy per `part.state` at the 5 V rail, and from the cell."""

    def __init__(self, table: PowerTable) -> None:
        self.table = table
        self.rail_joules: dict[str, float] = {}
        self.battery_joules = 0.0
        self.seconds = 0.0

    def rail_watts(self, load: Load) -> dict[str, float]:
        """Watts by `part.state` for this load (every part, the board's base included)."""
        return {f"{part}.{load.state(part)}":
                self.table.watts(part, load.state(part)) * load.units.get(part, 1.0)
                for part in PARTS}

    def battery_watts(self, load: Load) -> float:
        """What the cell delivers for this load: the rail's watts over the boost efficiency."""
        efficiency = self.table.battery.boost_efficiency.value
        return sum(self.rail_watts(load).values()) / efficiency

    def add(self, load: Load, seconds: float) -> float:
        """Hold `load` for `seconds`; returns the cell's energy in mWh for that time."""
        if seconds < 0:
            raise ValueError(f"time cannot run backwards ({seconds} s)")
        for name, watts in self.rail_watts(load).items():
            self.rail_joules[name] = self.rail_joules.get(name, 0.0) + watts * seconds
        joules = self.battery_watts(load) * seconds
        self.battery_joules += joules
        self.seconds += seconds
        return joules / J_PER_MWH

    def converter_loss_joules(self) -> float:
        """Energy lost in the boost converter so far (cell energy minus rail energy)."""
        return self.battery_joules - sum(self.rail_joules.values())

"""Run shift timelines through the simulator's power model: energy, hours, capacity.

The same EnergyMeter and simulated cell (SimPower with a table) as `bodycam sim` uses:
energy per operating state and per part over the shift, the hours a battery lasts when
the pattern goes on (overtime, then the next shift's pattern) until the cell's voltage
under load reaches the cutoff, and the capacity a shift needs with the firmware's
critical reserve (power.critical_minutes at the recording draw, kept to seal cleanly).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Any

from bodycam.firmware.device.feedback import STATE_LEDS
from bodycam.firmware.power.table import Figure, Load, PowerTable
from bodycam.hal.clocks import ManualClock
from bodycam.hal.sim.power import SimPower
from bodycam.hal.sim.power_model import J_PER_MWH, EnergyMeter
from bodycam.tools.bench.shift import (
    HOUR,
    MINUTE,
    POLICIES,
    Policy,
    Segment,
    ShiftPattern,
    lit_load,
    shift_segments,
)

STEP_S = 60.0  # the battery-life run checks for a dead cell at least this often
MAX_HOURS = 200.0  # give up: lasts longer than this
NOMINAL_VOLTS = 3.6  # for the mAh shown next to mWh (one Li-ion cell's nominal voltage)


def with_capacity(table: PowerTable, capacity_mwh: float) -> PowerTable:
    """The table with another (new) battery of `capacity_mwh`."""
    figure = Figure(capacity_mwh, "command line (--battery-mwh)")
    battery = dataclasses.replace(table.battery, capacity_mwh=figure,
                                  design_capacity_mwh=figure)
    return dataclasses.replace(table, battery=battery)


def shift_energy(table: PowerTable, segments: list[Segment]) -> dict[str, Any]:
    """Energy of one shift: by operating state (from the cell) and by part.state (5 V)."""
    meter = EnergyMeter(table)
    by_state: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for segment in segments:
        mwh = meter.add(segment.load, segment.seconds)
        by_state[segment.state] = by_state.get(segment.state, 0.0) + mwh
        seconds[segment.state] = seconds.get(segment.state, 0.0) + segment.seconds
    total = meter.battery_joules / J_PER_MWH
    return {
        "cell_mwh": total,
        "average_cell_w": meter.battery_joules / meter.seconds,
        "by_state_mwh": by_state,
        "by_state_hours": {k: v / HOUR for k, v in seconds.items()},
        "by_part_mwh": {k: v / J_PER_MWH for k, v in sorted(meter.rail_joules.items()) if v},
        "converter_loss_mwh": meter.converter_loss_joules() / J_PER_MWH,
    }


def hours_lasting(table: PowerTable, segments: list[Segment]) -> float | None:
    """Hours from full until the simulated cell dies, the pattern repeating; None if it
    outlasts MAX_HOURS."""
    clock = ManualClock()
    current: list[Load] = [segments[0].load]
    power = SimPower(clock, table=table, probe=lambda: current[0])
    for segment in itertools.cycle(segments):
        power.settle()
        current[0] = segment.load
        left = segment.seconds
        while left > 0:
            step = min(STEP_S, left)
            clock.advance(step)
            left -= step
            if power.empty:
                return clock.monotonic() / HOUR
            if clock.monotonic() > MAX_HOURS * HOUR:
                return None
    return None  # unreachable: cycle() never ends


def critical_reserve_mwh(table: PowerTable, critical_minutes: float) -> float:
    """What the firmware keeps back to seal a recording: critical_minutes at its draw."""
    load = lit_load("recording", STATE_LEDS["recording"])
    return table.cell_watts(load) * critical_minutes * MINUTE / J_PER_MWH


def run_policy(table: PowerTable, pattern: ShiftPattern, policy: Policy,
               critical_minutes: float) -> dict[str, Any]:
    segments = shift_segments(pattern, policy)
    energy = shift_energy(table, segments)
    needed = energy["cell_mwh"] + critical_reserve_mwh(table, critical_minutes)
    lasts = hours_lasting(table, segments)
    return {
        "label": policy.label,
        "prerecord": policy.prerecord,
        "sleep_after_idle_min": policy.sleep_after_idle_min,
        **energy,
        "hours_lasting": lasts,
        "lasts_the_shift": lasts is None or lasts >= pattern.hours,
        "needed_mwh": needed,
        "needed_mah_at_3v6": needed / NOMINAL_VOLTS,
    }


def run_shift_bench(table: PowerTable, pattern: ShiftPattern,
                    critical_minutes: float) -> dict[str, Any]:
    """Every policy on the same pattern and battery; figures plus what they rest on."""
    started = time.perf_counter()
    policies = {p.name: run_policy(table, pattern, p, critical_minutes) for p in POLICIES}
    elapsed = time.perf_counter() - started
    simulated_h = sum(pattern.hours + (r["hours_lasting"] or MAX_HOURS)
                      for r in policies.values())
    battery = table.battery
    return {
        "board": table.board,
        "table": table.source,
        "battery_mwh": battery.capacity_mwh.value,
        "battery_mah_at_3v6": battery.capacity_mwh.value / NOMINAL_VOLTS,
        "boost_efficiency": battery.boost_efficiency.value,
        "critical_minutes": critical_minutes,
        "shift_hours": pattern.hours,
        "pattern": pattern.describe(),
        "policies": policies,
        "estimates": table.estimates(),
        "wall_s": elapsed,
        "speed_x": simulated_h * HOUR / elapsed if elapsed > 0 else None,
    }

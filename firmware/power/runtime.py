"""Time left instead of percentages: the runtime at the current draw and the shift forecast.

A percentage means nothing to a wearer: 20 % lasts four hours in standby and one while
recording. The camera therefore warns by time left at the current draw, and at boot and
undock says whether the battery lasts the configured shift with the configured share of
recording. The draw is the gauge's own rate where it has one and makes sense, the power
model's figure for the mode otherwise (draw.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from bodycam.firmware.config.model import PowerConfig
from bodycam.firmware.power.draw import FULL, DrawSettings, Mode, percent_per_hour
from bodycam.firmware.power.table import PowerTable

Basis = Literal["gauge", "model"]
MIN_GAUGE_DRAIN = 0.1  # %/h: a slower gauge rate means "not discharging": use the model
# A gauge rate above this many times the model's heaviest draw (recording) is a glitch, not
# the battery: believed, it would power a half-full camera off within minutes.
MAX_GAUGE_DRAIN_FACTOR = 4.0


@dataclass(frozen=True, slots=True)
class Runtime:
    """Minutes the battery lasts at the draw of now, and what that rests on."""

    minutes_left: float  # inf when nothing drains the battery
    drain_percent_per_hour: float
    basis: Basis


def runtime(table: PowerTable, percent: float, mode: Mode,
            gauge_rate: float | None, settings: DrawSettings = FULL) -> Runtime:
    """`gauge_rate`: the gauge's rate in %/h (negative while discharging), None when it has
    none or it cannot be trusted now; a rate no load of this camera can cause is ignored."""
    basis: Basis = "model"
    drain = percent_per_hour(table, mode, settings)
    ceiling = MAX_GAUGE_DRAIN_FACTOR * percent_per_hour(table, "recording", settings)
    if gauge_rate is not None and MIN_GAUGE_DRAIN <= -gauge_rate <= ceiling:
        drain, basis = -gauge_rate, "gauge"
    minutes = math.inf if drain <= 0 else max(0.0, percent) / drain * 60.0
    return Runtime(minutes, drain, basis)


@dataclass(frozen=True, slots=True)
class ShiftForecast:
    """Whether `percent` lasts the configured shift (hours_available >= hours_needed)."""

    percent: float
    hours_available: float
    hours_needed: float
    idle_mode: Mode
    average_watts: float

    @property
    def lasts(self) -> bool:
        return self.hours_available >= self.hours_needed

    def describe(self) -> str:
        verdict = "lasts" if self.lasts else "does NOT last"
        return (f"battery at {self.percent:.0f} % {verdict} a {self.hours_needed:g} h shift: "
                f"about {self.hours_available:.1f} h at {self.average_watts:.2f} W average")


def idle_share_buffering(power: PowerConfig) -> float:
    """Share of the idle time the pre-record buffer runs when sleep mode is on: the
    forecast assumes one wake-up an hour (an encounter), each followed by
    sleep_after_idle_min minutes of buffering before the camera sleeps again."""
    if power.sleep_after_idle_min <= 0:
        return 1.0
    return min(1.0, power.sleep_after_idle_min / 60.0)


def forecast_shift(table: PowerTable, power: PowerConfig, percent: float, *,
                   prerecord: bool, settings: DrawSettings = FULL) -> ShiftForecast:
    """The shift as `recording_share` recording and the rest idle: buffering (pre-record
    on, part of it asleep with sleep mode), or in standby (pre-record off). The last
    `critical_minutes` of recording are not counted: the camera powers off there."""
    share = power.shift_recording_share

    def drain(mode: Mode) -> float:
        return percent_per_hour(table, mode, settings)

    if prerecord:
        buffering = idle_share_buffering(power)
        idle_mode: Mode = "buffering" if buffering >= 1.0 else "sleeping"
        idle_rate = buffering * drain("buffering") + (1 - buffering) * drain("sleeping")
    else:
        idle_mode, idle_rate = "standby", drain("standby")
    rate = share * drain("recording") + (1 - share) * idle_rate
    reserve = power.critical_minutes / 60.0 * drain("recording")
    hours = max(0.0, percent - reserve) / rate
    watts = rate / 100.0 * table.battery.capacity_mwh.value / 1000.0
    return ShiftForecast(percent, hours, power.shift_hours, idle_mode, watts)

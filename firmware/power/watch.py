"""The battery as the controller sees it: warnings by time left, imminent death, forecast.

Every second the controller hands over the gauge reading and the mode the camera is in;
this class answers with conditions.py effects (alarms, `battery_critical`, reports) and
keeps the level it believes:

- A reading the gauge check trusts (gauge_check.py) is the level. Otherwise the level
  is the last trusted one minus what the power model says was used since, so the
  prediction goes on from the model; the fault is audited when it starts and ends.
- `battery_low` when less than `power.low_minutes` are left at the current draw (or the
  level is at `battery_low_percent`), once per discharge: it ends on the charger or when
  the level is clearly back up.
- `battery_critical` (seal, power off) when less than `power.critical_minutes` are left
  at the current draw, or the level is at `battery_critical_percent`. A raw reading at
  or below that percentage counts even when the gauge looks faulty: a cell near empty
  does collapse suddenly, and sealing early costs little against a recording lost.
- The shift forecast (runtime.py) at boot and when taken out of the dock: audited every
  time, and the `shift_short` alarm when the battery will not last the shift.
- On the charger, the discharge's battery-health estimate (health.py) is audited.
"""

from __future__ import annotations

from typing import Literal

from bodycam.firmware.config.model import PowerConfig
from bodycam.firmware.device.conditions import Apply, ClearAlarm, Effect, RaiseAlarm, Report
from bodycam.firmware.power.draw import FULL, DrawSettings, Mode, battery_watts, percent_per_hour
from bodycam.firmware.power.gauge_check import GaugeCheck
from bodycam.firmware.power.health import HealthTracker
from bodycam.firmware.power.runtime import Runtime, forecast_shift, runtime
from bodycam.firmware.power.table import PowerTable
from bodycam.hal.interfaces import PowerStatus

LOW_CLEARS_ABOVE = 5.0  # percent above the level the warning began at: really charged
ForecastCause = Literal["boot", "undock"]


class BatteryWatch:
    """Battery logic of the controller (controller thread only)."""

    def __init__(self, power: PowerConfig, table: PowerTable, *, prerecord: bool,
                 gauge_fitted: bool, settings: DrawSettings = FULL) -> None:
        """`gauge_fitted` False ([power] battery_source = "none"): mains powered, no
        battery to watch; `settings`: brightness and radios, as the draws depend on them."""
        self._power = power
        self._table = table
        self._settings = settings
        self._prerecord = prerecord
        self._fitted = gauge_fitted
        self._gauge = GaugeCheck()
        self._health = HealthTracker(table.battery.design_capacity_mwh.value)
        self._level: float | None = None  # the level believed now (percent)
        self._last_poll: float | None = None
        self._mode: Mode = "standby"
        self._low_at: float | None = None  # level when battery_low began (None: not low)
        self._critical = False
        self.runtime: Runtime | None = None  # the latest estimate (display, reports)

    @property
    def battery_low(self) -> bool:
        return self._low_at is not None

    @property
    def battery_critical(self) -> bool:
        return self._critical

    @property
    def level(self) -> float | None:
        return self._level

    def poll(self, status: PowerStatus, mode: Mode, now: float) -> list[Effect]:
        """One reading while in `mode` (the mode since the last poll is charged for it)."""
        if not self._fitted:
            return []
        hours = 0.0 if self._last_poll is None else max(0.0, now - self._last_poll) / 3600
        used = percent_per_hour(self._table, self._mode, self._settings) * hours
        energy = battery_watts(self._table, self._mode, self._settings) * 1000 * hours
        self._last_poll, self._mode = now, mode
        believed = None if self._level is None else max(0.0, self._level - used)
        verdict = self._gauge.check(status.battery_percent, charging=status.charging,
                                    now=now, model_drop_percent=used, reference=believed)
        effects: list[Effect] = []
        if verdict.ended is not None:
            effects.append(ClearAlarm("gauge_fault", detail=f"{verdict.ended} over: the "
                                      "gauge's readings make sense again"))
        if verdict.started:
            source = "the last good reading" if believed is not None else "nothing"
            effects.append(RaiseAlarm("gauge_fault", f"{verdict.fault}: {verdict.detail}; "
                                      f"the prediction now runs on the power model from "
                                      f"{source}"))
        self._level = status.battery_percent if verdict.trusted else believed
        if status.charging:
            effects += self._on_charger()
        else:
            self._health.discharging(status.battery_percent, verdict.trusted, energy)
        if self._level is None:
            return effects
        rate = status.rate_percent_per_hour if verdict.trusted else None
        self.runtime = runtime(self._table, self._level, mode, rate, self._settings)
        return effects + self._warnings(status, self.runtime)

    def _on_charger(self) -> list[Effect]:
        report = self._health.charging()
        if report is None:
            return []
        return [Report("battery_health", report.fields())]

    def _warnings(self, status: PowerStatus, now: Runtime) -> list[Effect]:
        power, level = self._power, self._level
        assert level is not None
        draining = not status.charging
        effects: list[Effect] = []
        low = draining and (now.minutes_left < power.low_minutes
                            or level <= power.battery_low_percent)
        if low and self._low_at is None:
            self._low_at = level
            effects.append(RaiseAlarm("battery_low", f"{self._left(now, level)}: dock soon",
                                      "battery_low"))
        elif self._low_at is not None and (status.charging
                                           or level > self._low_at + LOW_CLEARS_ABOVE):
            self._low_at = None
            effects.append(ClearAlarm("battery_low", "battery_low"))
        raw = status.battery_percent
        reasons = []
        if draining and now.minutes_left <= power.critical_minutes:
            reasons.append(self._left(now, level))
        if level <= power.battery_critical_percent:
            reasons.append(f"battery at {level:.0f}%")
        elif raw is not None and raw <= power.battery_critical_percent:
            reasons.append(f"the gauge reads {raw:.0f}% (acted on although the gauge "
                           "looks faulty: a cell near empty can collapse at once)")
        critical = bool(reasons)
        if critical and not self._critical:
            effects.append(RaiseAlarm("battery_critical", "; ".join(reasons)))
        self._critical = critical
        if critical:
            effects.append(Apply("battery_critical", f"battery critical ({reasons[0]})"))
        return effects

    @staticmethod
    def _left(now: Runtime, level: float) -> str:
        return (f"{now.minutes_left:.0f} min left at the current draw "
                f"({level:.0f}%, {now.drain_percent_per_hour:.1f} %/h from the {now.basis})")

    def forecast(self, cause: ForecastCause) -> list[Effect]:
        """At boot or undock: will the battery last the shift? Audited either way; the
        shift_short alarm when not (also when the level is not known at all)."""
        if not self._fitted or self._power.shift_hours <= 0:
            return []
        if self._level is None:
            detail = ("battery level unknown (the fuel gauge gives no sensible reading): "
                      "cannot tell whether it lasts the shift; take another camera")
            return [Report("battery_forecast", {"cause": cause, "lasts": None,
                                                "detail": detail}),
                    RaiseAlarm("shift_short", detail, "shift_short")]
        forecast = forecast_shift(self._table, self._power, self._level,
                                  prerecord=self._prerecord, settings=self._settings)
        effects: list[Effect] = [Report("battery_forecast", {
            "cause": cause, "lasts": forecast.lasts, "percent": round(forecast.percent, 1),
            "hours_available": round(forecast.hours_available, 2),
            "hours_needed": forecast.hours_needed,
            "recording_share": self._power.shift_recording_share,
            "idle_mode": forecast.idle_mode,
            "average_watts": round(forecast.average_watts, 3),
            "gauge": self._gauge.fault or "ok"})]
        if not forecast.lasts:
            effects.append(RaiseAlarm("shift_short", f"{forecast.describe()}: charge it or "
                                      "take another camera", "shift_short"))
        return effects

    def docked(self) -> list[Effect]:
        """Back in the dock: the shift warning has done its job."""
        return [ClearAlarm("shift_short", "shift_short")]

"""The battery logic on its own (watch.py, runtime.py, health.py, sleep.py): warnings by
time left at the current draw, the fallback to the power model when the gauge lies,
readings that mean imminent death, the shift forecast and the battery-health estimate.
The whole device is driven in tests/test_power_device.py."""

from __future__ import annotations

import dataclasses
import math

import pytest

from bodycam.firmware.config.loader import load_config
from bodycam.firmware.config.model import PowerConfig
from bodycam.firmware.device.conditions import Apply, ClearAlarm, Effect, RaiseAlarm, Report
from bodycam.firmware.power.draw import MODES, battery_watts, percent_per_hour, rail_watts
from bodycam.firmware.power.health import MIN_DROP_PERCENT, HealthTracker
from bodycam.firmware.power.runtime import forecast_shift, runtime
from bodycam.firmware.power.sleep import SleepTimer
from bodycam.firmware.power.table import PowerTable, load_power_table
from bodycam.firmware.power.watch import BatteryWatch
from bodycam.hal.interfaces import PowerStatus

TABLE = load_power_table()
MINUTE = 60.0


def power(**changes: object) -> PowerConfig:
    return dataclasses.replace(load_config().power, **changes)  # type: ignore[arg-type]


def watch(prerecord: bool = True, **changes: object) -> BatteryWatch:
    return BatteryWatch(power(**changes), TABLE, prerecord=prerecord, gauge_fitted=True)


def reading(percent: float | None, *, charging: bool = False,
            rate: float | None = None) -> PowerStatus:
    return PowerStatus(percent, charging, docked=charging, rate_percent_per_hour=rate)


def kinds(effects: list[Effect]) -> list[str]:
    names = []
    for effect in effects:
        match effect:
            case RaiseAlarm(kind=kind):
                names.append(f"alarm:{kind}")
            case ClearAlarm(kind=kind):
                names.append(f"clear:{kind}")
            case Apply(event=event):
                names.append(f"apply:{event}")
            case Report(event=event):
                names.append(f"report:{event}")
    return names


# ---------------------------------------------------------------------------- the model


def test_every_mode_draws_more_than_the_board_and_recording_draws_most() -> None:
    base = TABLE.watts("board", "base")
    for mode in MODES:
        assert rail_watts(TABLE, mode) > base
        assert battery_watts(TABLE, mode) > rail_watts(TABLE, mode)  # boost converter loss
    assert max(MODES, key=lambda m: battery_watts(TABLE, m)) == "recording"
    assert battery_watts(TABLE, "standby") < battery_watts(TABLE, "buffering")
    assert battery_watts(TABLE, "sleeping") == battery_watts(TABLE, "standby")


def test_the_runtime_uses_the_gauge_rate_when_there_is_one() -> None:
    by_gauge = runtime(TABLE, 50.0, "buffering", gauge_rate=-25.0)
    assert by_gauge.basis == "gauge" and by_gauge.minutes_left == pytest.approx(120.0)
    by_model = runtime(TABLE, 50.0, "buffering", gauge_rate=None)
    assert by_model.basis == "model"
    assert by_model.minutes_left == pytest.approx(
        50.0 / percent_per_hour(TABLE, "buffering") * 60)
    charging = runtime(TABLE, 50.0, "docked", gauge_rate=+30.0)  # not draining: model
    assert charging.basis == "model" and math.isfinite(charging.minutes_left)
    glitch = runtime(TABLE, 50.0, "recording", gauge_rate=-1000.0)  # no load does that
    assert glitch.basis == "model" and glitch.minutes_left > 60


def test_the_shift_forecast_separates_prerecord_all_shift_from_standby() -> None:
    config = power(shift_hours=12.0, shift_recording_share=0.15, sleep_after_idle_min=0.0)
    on = forecast_shift(TABLE, config, 100.0, prerecord=True)
    off = forecast_shift(TABLE, config, 100.0, prerecord=False)
    sleepy = forecast_shift(TABLE, dataclasses.replace(config, sleep_after_idle_min=10.0),
                            100.0, prerecord=True)
    assert on.idle_mode == "buffering" and off.idle_mode == "standby"
    assert off.hours_available > sleepy.hours_available > on.hours_available
    assert on.hours_available == pytest.approx(
        (100 - 5 / 60 * percent_per_hour(TABLE, "recording"))
        / (0.15 * percent_per_hour(TABLE, "recording")
           + 0.85 * percent_per_hour(TABLE, "buffering")))
    assert forecast_shift(TABLE, config, 10.0, prerecord=False).lasts is False


# ---------------------------------------------------------------------------- warnings


def test_low_is_by_time_left_at_the_current_draw() -> None:
    """The same level is fine in standby and low while recording."""
    level = 0.7 * percent_per_hour(TABLE, "recording")  # 42 min of recording
    w = watch(low_minutes=60.0, battery_low_percent=1.0, battery_critical_percent=0.5)
    assert kinds(w.poll(reading(level), "standby", 0.0)) == []
    assert not w.battery_low
    effects = w.poll(reading(level), "recording", 1.0)
    assert kinds(effects) == ["alarm:battery_low"]
    assert "min left at the current draw" in effects[0].detail  # type: ignore[union-attr]
    assert kinds(w.poll(reading(level), "standby", 2.0)) == []  # latched: once per discharge
    assert kinds(w.poll(reading(level + 20, charging=True), "docked", 3.0)) == \
        ["clear:battery_low"]


def test_critical_by_time_seals_early_enough() -> None:
    level = 0.05 * percent_per_hour(TABLE, "recording")  # 3 min of recording left
    w = watch(critical_minutes=5.0, battery_critical_percent=0.5, battery_low_percent=1.0)
    effects = w.poll(reading(level), "recording", 0.0)
    assert kinds(effects) == ["alarm:battery_low", "alarm:battery_critical",
                              "apply:battery_critical"]
    assert w.battery_critical
    assert kinds(w.poll(reading(level), "recording", 1.0)) == ["apply:battery_critical"]


def test_a_gauge_that_jumps_up_is_replaced_by_the_model() -> None:
    w = watch()
    w.poll(reading(30.0, rate=-10.0), "buffering", 0.0)
    effects = w.poll(reading(95.0, rate=-1.0), "buffering", 60.0)
    assert kinds(effects) == ["alarm:gauge_fault"]
    assert "jump_up" in effects[0].detail and "power model" in effects[0].detail  # type: ignore[union-attr]
    expected = 30.0 - percent_per_hour(TABLE, "buffering") / 60
    assert w.level == pytest.approx(expected)
    assert w.runtime is not None and w.runtime.basis == "model"  # its rate is not used
    back = w.poll(reading(29.5, rate=-10.0), "buffering", 120.0)
    assert kinds(back) == ["clear:gauge_fault"]
    assert w.level == 29.5 and w.runtime is not None and w.runtime.basis == "gauge"


def test_a_dead_gauge_keeps_the_prediction_going_on_the_model() -> None:
    w = watch(battery_low_percent=20.0)
    w.poll(reading(21.0), "recording", 0.0)
    assert kinds(w.poll(reading(None), "recording", 1.0)) == ["alarm:gauge_fault"]
    effects: list[Effect] = []
    t = 1.0
    while not effects and t < 3600:  # the model's level falls below 20 %
        t += MINUTE
        effects = w.poll(reading(None), "recording", t)
    assert kinds(effects) == ["alarm:battery_low"]
    assert w.level is not None and w.level <= 20.0


def test_a_reading_near_empty_is_acted_on_even_from_a_faulty_gauge() -> None:
    """The charging pin says "charging" out of the dock (a broken pin) and the gauge reads
    0 %: nonsense while charging, so the model's level stays near 40 %, but the reading
    may be true, and sealing early costs little."""
    w = watch(battery_critical_percent=5.0)
    w.poll(reading(40.0), "recording", 0.0)
    effects = w.poll(PowerStatus(0.0, charging=True, docked=False), "recording", 1.0)
    assert kinds(effects) == ["alarm:gauge_fault", "alarm:battery_critical",
                              "apply:battery_critical"]
    assert w.level is not None and w.level > 39
    assert "acted on although the gauge looks faulty" in effects[1].detail  # type: ignore[union-attr]


def test_a_sudden_collapse_is_critical_although_hours_were_predicted() -> None:
    w = watch()
    w.poll(reading(80.0), "recording", 0.0)
    assert w.runtime is not None and w.runtime.minutes_left > 240
    assert kinds(w.poll(reading(1.0), "recording", 1.0)) == [
        "alarm:battery_low", "alarm:battery_critical", "apply:battery_critical"]


def test_mains_power_has_no_battery_logic() -> None:
    w = BatteryWatch(power(), TABLE, prerecord=True, gauge_fitted=False)
    assert w.poll(reading(None), "standby", 0.0) == []
    assert w.forecast("boot") == []


# ---------------------------------------------------------------------------- forecast


def test_the_forecast_is_audited_and_alarms_when_the_shift_is_not_covered() -> None:
    w = watch(shift_hours=12.0)
    w.poll(reading(100.0), "standby", 0.0)
    assert kinds(w.forecast("boot")) == ["report:battery_forecast", "alarm:shift_short"]
    ok = watch(prerecord=False, shift_hours=12.0)
    ok.poll(reading(100.0), "standby", 0.0)
    effects = ok.forecast("undock")
    assert kinds(effects) == ["report:battery_forecast"]
    assert effects[0].fields["lasts"] is True  # type: ignore[union-attr]
    assert effects[0].fields["cause"] == "undock"  # type: ignore[union-attr]
    assert kinds(ok.docked()) == ["clear:shift_short"]


def test_an_unknown_level_is_a_shift_warning_too() -> None:
    w = watch(shift_hours=8.0)
    w.poll(reading(None), "standby", 0.0)
    effects = w.forecast("boot")
    assert kinds(effects) == ["report:battery_forecast", "alarm:shift_short"]
    assert "unknown" in effects[1].detail  # type: ignore[union-attr]


def test_no_forecast_when_switched_off() -> None:
    w = watch(shift_hours=0.0)
    w.poll(reading(10.0), "standby", 0.0)
    assert w.forecast("boot") == []


# ---------------------------------------------------------------------------- health


def worn_table(share: float) -> PowerTable:
    """The same model, but a pack that only holds `share` of the design capacity."""
    battery = TABLE.battery
    worn = dataclasses.replace(battery, capacity_mwh=dataclasses.replace(
        battery.capacity_mwh, value=battery.design_capacity_mwh.value * share))
    return dataclasses.replace(TABLE, battery=worn)


def test_a_discharge_gives_a_health_report_in_the_dock() -> None:
    """A worn pack loses percent faster for the same energy: its health shows it."""
    w = watch()
    worn = worn_table(0.7)
    drain = percent_per_hour(worn, "buffering")  # how fast the worn pack really falls
    for minute in range(0, 5 * 60 + 1):
        level = 95.0 - drain * minute / 60
        assert kinds(w.poll(reading(level), "buffering", minute * MINUTE)) in ([], [
            "alarm:battery_low"])
    effects = w.poll(reading(level, charging=True), "docked", 301 * MINUTE)
    report = [e for e in effects if isinstance(e, Report)]
    assert [r.event for r in report] == ["battery_health"]
    assert report[0].fields["health_percent"] == pytest.approx(70.0, abs=1.0)
    assert report[0].fields["worn"] is True


def test_a_short_or_untrusted_discharge_gives_no_health_report() -> None:
    tracker = HealthTracker(10_000.0)
    tracker.discharging(90.0, True, 0.0)
    tracker.discharging(90.0 - MIN_DROP_PERCENT / 2, True, 500.0)
    assert tracker.charging() is None
    tracker.discharging(90.0, True, 0.0)
    tracker.discharging(60.0, True, 3000.0)
    tracker.discharging(None, False, 10.0)  # the gauge failed: this discharge is void
    tracker.discharging(50.0, True, 1000.0)
    assert tracker.charging() is None


# ---------------------------------------------------------------------------- sleep


def test_the_sleep_timer_fires_once_after_idle_and_never_without_prerecord() -> None:
    timer = SleepTimer(10.0, prerecord=True)
    timer.idle(0.0)
    assert not timer.due(599.0)
    assert timer.due(600.0) and timer.asleep
    assert not timer.due(700.0)  # once
    assert timer.wake() and not timer.asleep and not timer.wake()
    timer.busy()
    assert not timer.due(10_000.0)  # not idle
    never = SleepTimer(10.0, prerecord=False)
    never.idle(0.0)
    assert not never.enabled and not never.due(1e9)
    assert not SleepTimer(0.0, prerecord=True).enabled

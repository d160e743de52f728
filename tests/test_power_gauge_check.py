"""The fuel gauge's nonsense is recognised (gauge_check.py): each way a gauge lies, and
the honest readings around it that must not be flagged."""

from __future__ import annotations

from bodycam.firmware.power.gauge_check import (
    JUMP_UP_PERCENT,
    STUCK_SECONDS,
    GaugeCheck,
    GaugeVerdict,
)

MINUTE = 60.0
DROP_PER_MINUTE = 0.1  # %: what the model says a minute of idle costs (6 %/h)


def feed(check: GaugeCheck, readings: list[float | None], *, start: float = 0.0,
         charging: bool = False, step: float = MINUTE) -> list[GaugeVerdict]:
    return [check.check(percent, charging=charging, now=start + i * step,
                        model_drop_percent=DROP_PER_MINUTE) for i, percent in enumerate(readings)]


def test_a_falling_battery_is_trusted() -> None:
    verdicts = feed(GaugeCheck(), [80.0 - 0.1 * i for i in range(120)])
    assert all(v.trusted for v in verdicts)


def test_a_jump_up_while_not_charging_is_nonsense_until_it_comes_back() -> None:
    check = GaugeCheck()
    verdicts = feed(check, [50.0, 49.9, 49.9 + JUMP_UP_PERCENT + 10, 65.0, 49.7])
    assert [v.fault for v in verdicts] == [None, None, "jump_up", "jump_up", None]
    assert [v.started for v in verdicts] == [False, False, True, False, False]
    assert verdicts[4].ended == "jump_up"
    assert "49.9" in verdicts[2].detail and "not charging" in verdicts[2].detail


def test_a_small_rise_after_the_charger_stops_is_not_a_jump() -> None:
    check = GaugeCheck()
    feed(check, [95.0, 96.0], charging=True)
    assert all(v.trusted for v in feed(check, [96.0, 97.5, 97.0], start=120.0))


def test_zero_while_charging_is_nonsense() -> None:
    check = GaugeCheck()
    feed(check, [40.0])
    verdict = check.check(0.0, charging=True, now=60.0, model_drop_percent=0.0)
    assert verdict.fault == "zero_while_charging" and verdict.started


def test_a_bus_error_is_a_fault_that_ends_with_the_next_good_reading() -> None:
    check = GaugeCheck()
    verdicts = feed(check, [60.0, None, None, 59.8])
    assert [v.fault for v in verdicts] == [None, "bus_error", "bus_error", None]
    assert [v.started for v in verdicts] == [False, True, False, False]
    assert verdicts[3].ended == "bus_error"


def test_a_value_stuck_for_an_hour_while_the_model_says_it_drains_is_nonsense() -> None:
    minutes = int(STUCK_SECONDS / MINUTE)
    verdicts = feed(GaugeCheck(), [70.0] * (minutes + 2))
    assert all(v.trusted for v in verdicts[:minutes])
    assert verdicts[minutes].fault == "stuck" and verdicts[minutes].started
    assert verdicts[-1].fault == "stuck" and not verdicts[-1].started


def test_a_full_battery_held_on_the_charger_is_not_stuck() -> None:
    minutes = int(STUCK_SECONDS / MINUTE)
    verdicts = feed(GaugeCheck(), [100.0] * (minutes + 2), charging=True)
    assert all(v.trusted for v in verdicts)


def test_a_steady_value_while_the_model_expects_no_drain_is_not_stuck() -> None:
    check = GaugeCheck()
    verdicts = [check.check(70.0, charging=False, now=i * MINUTE, model_drop_percent=0.0)
                for i in range(int(STUCK_SECONDS / MINUTE) + 2)]
    assert all(v.trusted for v in verdicts)


def test_a_sudden_drop_is_believed() -> None:
    """A cell near empty collapses: a low reading is never distrusted (watch.py acts)."""
    verdicts = feed(GaugeCheck(), [60.0, 59.9, 3.0])
    assert all(v.trusted for v in verdicts)


def test_after_a_fault_readings_are_judged_against_the_models_level() -> None:
    check = GaugeCheck()
    feed(check, [50.0, None])
    # the model believes 40 % by now: 49 % is 9 points too optimistic
    verdict = check.check(49.0, charging=False, now=3 * MINUTE, model_drop_percent=0.1,
                          reference=40.0)
    assert verdict.fault == "jump_up" and verdict.started

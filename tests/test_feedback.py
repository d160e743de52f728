"""Wearer feedback patterns, driven into a recording fake of the HAL Indicators."""

from __future__ import annotations

import pytest

from bodycam.firmware.device import feedback as feedback_module
from bodycam.firmware.device.feedback import (
    ALARM_NAMES,
    ALARMS,
    CUE_NAMES,
    CUES,
    STATE_LEDS,
    Feedback,
    pattern_table_markdown,
)
from bodycam.firmware.device.states import STATES, State
from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import LED_NAMES, Blink, Indicators, LedName, LedState


class RecordingIndicators(Indicators):
    """Keeps LED levels and a log of every buzzer and vibration pattern."""

    def __init__(self) -> None:
        self.leds: dict[LedName, LedState] = dict.fromkeys(LED_NAMES, False)
        self.led_calls = 0
        self.beeps: list[Blink] = []
        self.vibrations: list[Blink] = []

    def set_led(self, name: LedName, state: LedState) -> None:
        self.leds[name] = state
        self.led_calls += 1

    def led_state(self, name: LedName) -> LedState:
        return self.leds[name]

    def beep(self, pattern: Blink) -> None:
        assert pattern.n is not None
        self.beeps.append(pattern)

    def vibrate(self, pattern: Blink) -> None:
        assert pattern.n is not None
        self.vibrations.append(pattern)


def make(stealth_allowed: bool = False,
         reminder: float = 120.0) -> tuple[Feedback, RecordingIndicators, ManualClock]:
    out, clock = RecordingIndicators(), ManualClock(start_monotonic=100.0)
    return Feedback(out, clock, stealth_allowed=stealth_allowed,
                    reminder_interval=reminder), out, clock


@pytest.mark.parametrize("state", STATES)
def test_each_state_sets_its_status_leds(state: State) -> None:
    fb, out, _ = make()
    fb.show_state(state)
    assert out.leds == {n: STATE_LEDS[state].get(n) for n in LED_NAMES}


def test_ready_recording_and_fault_are_distinct_at_a_glance() -> None:
    fb, out, _ = make()
    seen = []
    for state in ("idle", "recording", "fault", "docked"):
        fb.show_state(state)
        seen.append(dict(out.leds))
    assert seen[0]["green"] is True and seen[1]["red"] is True
    assert isinstance(seen[2]["red"], Blink) and isinstance(seen[3]["green"], Blink)
    assert len({tuple(map(repr, s.values())) for s in seen}) == 4


def test_start_vibrates_once_and_stop_twice() -> None:
    fb, out, _ = make()
    fb.cue("recording_started")
    fb.cue("recording_stopped")
    assert [v.n for v in out.vibrations] == [1, 2]
    assert [b.n for b in out.beeps] == [1, 2]


def test_refusal_is_a_long_buzz_unlike_a_start() -> None:
    fb, out, _ = make()
    fb.cue("refused")
    started = CUES["recording_started"].vibrate
    assert started is not None
    assert out.vibrations[0].on_s >= 3 * started.on_s


def test_reminder_sounds_every_interval_while_recording_only() -> None:
    fb, out, clock = make(reminder=120.0)
    fb.show_state("recording")
    start = clock.monotonic()
    counts = {}
    for step in range(1, 241):  # four minutes in one-second ticks
        fb.tick(start + step)
        counts[step] = len(out.beeps)
    assert (counts[119], counts[120], counts[239], counts[240]) == (0, 1, 1, 2)
    assert out.beeps == [CUES["reminder"].beep] * 2
    fb.show_state("display_on")
    fb.tick(start + 1000)
    assert len(out.beeps) == 2


def test_reminder_after_a_long_stall_is_one_tone_not_a_burst() -> None:
    fb, out, clock = make(reminder=120.0)
    fb.show_state("recording")
    fb.tick(clock.monotonic() + 1000)
    assert len(out.beeps) == 1
    fb.tick(clock.monotonic() + 1001)
    assert len(out.beeps) == 1  # next one is due at the next whole interval


def test_reminder_zero_is_off_and_tick_uses_the_clock() -> None:
    fb, out, clock = make(reminder=0)
    fb.show_state("recording")
    clock.advance(10_000)
    fb.tick()
    assert out.beeps == []
    with pytest.raises(ValueError, match="0 to switch the reminder off"):
        make(reminder=-1)


def test_alarm_lights_amber_sounds_once_and_repeats_when_configured() -> None:
    fb, out, clock = make()
    fb.show_state("idle")
    fb.set_alarm("battery_low", True)
    fb.set_alarm("battery_low", True)  # already active: nothing new
    assert out.leds["amber"] == ALARMS["battery_low"].amber
    assert out.beeps == [ALARMS["battery_low"].beep]
    fb.tick(clock.monotonic() + 119)
    assert len(out.beeps) == 1
    fb.tick(clock.monotonic() + 120)
    assert len(out.beeps) == 2
    fb.set_alarm("battery_low", False)
    assert out.leds["amber"] is False
    fb.tick(clock.monotonic() + 10_000)
    assert len(out.beeps) == 2


def test_most_important_alarm_owns_the_amber_led_and_the_buzzer() -> None:
    fb, out, clock = make()
    fb.show_state("recording")
    fb.set_alarm("storage_nearly_full", True)
    fb.set_alarm("battery_low", True)
    assert out.leds["amber"] == ALARMS["battery_low"].amber
    assert out.leds["red"] is True  # the alarm never hides the recording LED
    out.beeps.clear()
    fb.tick(clock.monotonic() + 300)  # both repeats due in the same tick
    assert out.beeps == [ALARMS["battery_low"].beep]
    fb.set_alarm("battery_low", False)
    assert out.leds["amber"] == ALARMS["storage_nearly_full"].amber
    assert fb.active_alarms == {"storage_nearly_full"}


def test_clock_unset_alarm_sounds_once_only() -> None:
    fb, out, clock = make()
    fb.set_alarm("clock_unset", True)
    fb.tick(clock.monotonic() + 100_000)
    assert out.beeps == [ALARMS["clock_unset"].beep]


def test_shutting_down_keeps_its_amber_pattern_over_alarms() -> None:
    fb, out, _ = make()
    fb.set_alarm("battery_low", True)
    fb.show_state("shutting_down")
    assert out.leds["amber"] == STATE_LEDS["shutting_down"].amber


def test_stealth_is_refused_unless_allowed() -> None:
    fb, out, _ = make(stealth_allowed=False)
    fb.show_state("recording")
    assert fb.set_stealth(True) is False
    assert not fb.stealth and out.leds["red"] is True


def test_stealth_darkens_and_silences_but_keeps_vibration() -> None:
    fb, out, clock = make(stealth_allowed=True)
    fb.show_state("recording")
    fb.set_alarm("battery_low", True)
    out.beeps.clear()
    assert fb.set_stealth(True) is True
    assert all(v is False for v in out.leds.values())
    fb.cue("recording_stopped")
    fb.tick(clock.monotonic() + 1000)
    assert out.beeps == []
    assert [v.n for v in out.vibrations] == [2]
    fb.show_state("idle")
    assert out.leds["green"] is False
    assert fb.set_stealth(False) is True
    assert out.leds["green"] is True
    assert out.leds["amber"] == ALARMS["battery_low"].amber


def test_unchanged_leds_are_not_rewritten() -> None:
    fb, out, _ = make()
    fb.show_state("idle")
    calls = out.led_calls
    fb.show_state("display_on")  # same LEDs as idle
    assert out.led_calls == calls


def test_every_pattern_is_in_the_generated_table_and_the_docstring() -> None:
    table = pattern_table_markdown()
    for name in (*STATES, *ALARM_NAMES, *CUE_NAMES):
        assert f"| {name} |" in table, name
    assert table in (feedback_module.__doc__ or "")
    assert all(c.beep is None or c.beep.n for c in CUES.values())
    assert all(c.vibrate is None or c.vibrate.n for c in CUES.values())


def test_every_alarm_has_its_own_amber_and_buzzer_pattern() -> None:
    assert set(ALARMS) == set(ALARM_NAMES)
    assert len({ALARMS[a].amber for a in ALARM_NAMES}) == len(ALARM_NAMES)
    assert len({ALARMS[a].beep for a in ALARM_NAMES}) == len(ALARM_NAMES)


def test_provisioning_rejected_tells_the_technician_where_to_look() -> None:
    fb, out, clock = make()
    fb.show_state("idle")
    fb.set_alarm("provisioning_rejected", True)
    assert out.leds["amber"] == ALARMS["provisioning_rejected"].amber
    fb.tick(clock.monotonic() + 100_000)
    assert out.beeps == [ALARMS["provisioning_rejected"].beep]  # once, at boot
    assert "BODYCAM-ERROR.txt" in ALARMS["provisioning_rejected"].meaning
    fb.set_alarm("battery_low", True)  # the wearer's own alarms come first
    assert out.leds["amber"] == ALARMS["battery_low"].amber


def test_storage_fault_outranks_battery_and_repeats_until_restart() -> None:
    fb, out, clock = make()
    fb.show_state("display_on")
    fb.set_alarm("battery_low", True)
    fb.set_alarm("storage_fault", True)
    assert out.leds["amber"] == ALARMS["storage_fault"].amber
    out.beeps.clear()
    repeat = ALARMS["storage_fault"].repeat_s
    assert repeat is not None
    fb.tick(clock.monotonic() + repeat)
    assert out.beeps == [ALARMS["storage_fault"].beep]

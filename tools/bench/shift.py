"""A shift as a timeline of power states: the pattern, the agency's choice, the segments.

The shift benchmark cannot run the whole camera program for 12 simulated hours (the
simulated camera really encodes H.264, which does not run hundreds of times faster than
real time), so it replays a shift as the firmware would live it: the same operating
modes the firmware's prediction uses (firmware/power/draw.py), the same LED patterns and
cues (firmware/device/feedback.py), and the firmware's own SleepTimer deciding when the
camera falls asleep. Each segment is a `Load` held for some seconds; shift_run.py feeds
them through the simulator's power model and cell.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from bodycam.firmware.config.loader import load_config
from bodycam.firmware.device.feedback import ASLEEP_LEDS, CUES, STATE_LEDS, CuePattern, StateLeds
from bodycam.firmware.power.draw import (  # the firmware's modes, one truth
    DrawSettings,
    Mode,
    mode_load,
)
from bodycam.firmware.power.sleep import SleepTimer
from bodycam.firmware.power.table import Load
from bodycam.hal.interfaces import LED_NAMES, Blink
from bodycam.hal.sim.power_probe import led_share

HOUR = 3600.0
MINUTE = 60.0


@dataclass(frozen=True)
class Activity:
    """Something the wearer does: a display-on encounter or a recording."""

    start_s: float
    kind: Literal["encounter", "recording"]
    seconds: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.seconds


@dataclass(frozen=True)
class ShiftPattern:
    """A realistic patrol shift (issue 14): display-on encounters, recordings, markers."""

    hours: float = 12.0
    encounter_hours: tuple[float, ...] = (0.6, 1.5, 2.3, 3.4, 4.6, 5.5, 6.8, 8.0, 9.3, 10.6)
    encounter_seconds: float = 60.0  # the wearer shows the mirror display for a minute
    recordings: tuple[tuple[float, float], ...] = ((1.0, 5.0), (3.9, 12.0), (7.2, 30.0),
                                                   (10.1, 20.0))  # (start hour, minutes)
    marker_every_s: float = 240.0  # the wearer marks a moment every four minutes
    reminder_every_s: float = 300.0  # [alarms] reminder_interval_seconds default

    def activities(self) -> list[Activity]:
        found = [Activity(h * HOUR, "encounter", self.encounter_seconds)
                 for h in self.encounter_hours]
        found += [Activity(h * HOUR, "recording", m * MINUTE) for h, m in self.recordings]
        found.sort(key=lambda a: a.start_s)
        for before, after in itertools.pairwise(found):
            if before.end_s > after.start_s:
                raise ValueError(f"activities overlap at {after.start_s / HOUR:.2f} h")
        if found and found[-1].end_s > self.hours * HOUR:
            raise ValueError(f"an activity runs past the end of the {self.hours:g} h shift")
        return found

    def describe(self) -> str:
        minutes = ", ".join(f"{m:g}" for _, m in self.recordings)
        return (f"{self.hours:g} h: {len(self.encounter_hours)} display-on encounters of "
                f"{self.encounter_seconds:g} s, {len(self.recordings)} recordings "
                f"({minutes} min) with a marker every {self.marker_every_s / 60:g} min "
                f"and the reminder tone every {self.reminder_every_s / 60:g} min")


@dataclass(frozen=True)
class Policy:
    """The agency's pre-record choice, as the [evidence]/[power] settings express it."""

    name: str
    label: str
    prerecord: bool
    sleep_after_idle_min: float = 0.0


POLICIES = (
    Policy("prerecord_all_shift", "pre-record all shift", prerecord=True),
    Policy("prerecord_off", "pre-record off", prerecord=False),
    Policy("sleep_after_10_min", "sleep after 10 min idle", prerecord=True,
           sleep_after_idle_min=10.0),
)


@dataclass(frozen=True)
class Segment:
    """`load` held for `seconds`; `state` names it in the energy breakdown."""

    seconds: float
    state: str
    load: Load


@functools.cache
def shipped_settings() -> DrawSettings:
    """Brightness and radios as the shipped defaults set them (config/defaults.toml)."""
    return DrawSettings.of(load_config())


def lit_load(mode: Mode, leds: StateLeds) -> Load:
    """The firmware's parts for `mode` at the shipped brightness, with the LEDs lit as
    feedback.py lights them."""
    settings = shipped_settings()
    lit = sum(led_share(leds.get(name)) for name in LED_NAMES)
    return mode_load(mode, settings).with_states(led="on").with_units(
        led=lit * settings.led_brightness)


def _pulse_seconds(pattern: Blink | None) -> float:
    return 0.0 if pattern is None else pattern.on_s * (pattern.n or 1)


def _with_cues(seconds: float, state: str, base: Load,
               cues: list[tuple[float, CuePattern]]) -> Iterator[Segment]:
    """`base` for `seconds`, with each cue's buzzer and motor time carved out of it."""
    used = 0.0
    for at, cue in sorted(cues, key=lambda c: c[0]):
        beep, buzz = _pulse_seconds(cue.beep), _pulse_seconds(cue.vibrate)
        start = max(used, min(at, seconds - beep - buzz))
        if start > used:
            yield Segment(start - used, state, base)
        if beep:
            yield Segment(beep, state, base.with_states(buzzer="on"))
        if buzz:
            yield Segment(buzz, state, base.with_states(vibration="on"))
        used = start + beep + buzz
    if seconds > used:
        yield Segment(seconds - used, state, base)


def _recording(activity: Activity, pattern: ShiftPattern) -> Iterator[Segment]:
    length = activity.seconds
    cues = [(0.0, CUES["recording_started"])]
    cues += [(t, CUES["marker"]) for t in _every(pattern.marker_every_s, length)]
    cues += [(t, CUES["reminder"]) for t in _every(pattern.reminder_every_s, length)]
    cues.append((length, CUES["recording_stopped"]))
    yield from _with_cues(length, "recording", lit_load("recording", STATE_LEDS["recording"]),
                          cues)


def _every(period: float, length: float) -> list[float]:
    return [] if period <= 0 else [k * period for k in range(1, int(length // period) + 1)
                                   if k * period < length]


def _idle(start: float, end: float, policy: Policy, timer: SleepTimer) -> Iterator[Segment]:
    """Idle from `start` to `end`: buffering or standby, asleep once the timer says so."""
    awake: Mode = "buffering" if policy.prerecord else "standby"
    awake_load = lit_load(awake, STATE_LEDS["idle"])
    sleep_at = start + timer.after_minutes * MINUTE if timer.enabled else end
    if sleep_at < end and timer.due(sleep_at):
        yield Segment(sleep_at - start, awake, awake_load)
        yield Segment(end - sleep_at, "sleeping", lit_load("sleeping", ASLEEP_LEDS))
    elif end > start:
        yield Segment(end - start, awake, awake_load)


def shift_segments(pattern: ShiftPattern, policy: Policy) -> list[Segment]:
    """The whole shift, from undocking to the end, as segments in order."""
    timer = SleepTimer(policy.sleep_after_idle_min, prerecord=policy.prerecord)
    segments: list[Segment] = []
    now = 0.0
    timer.idle(now)
    for activity in pattern.activities():
        segments += _idle(now, activity.start_s, policy, timer)
        timer.wake()  # any press wakes it; RECORD records at once
        timer.busy()
        if activity.kind == "encounter":
            segments.append(Segment(activity.seconds, "display_on",
                                    lit_load("display_on", STATE_LEDS["display_on"])))
        else:
            segments += _recording(activity, pattern)
        now = activity.end_s
        timer.idle(now)
    segments += _idle(now, pattern.hours * HOUR, policy, timer)
    return segments

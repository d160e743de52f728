"""Wearer feedback: status LEDs, buzzer and vibration patterns for the device's status.

The wearer cannot see the outward display, so every state change they cause must be
felt or seen on top: one vibration pulse when recording starts, two when it stops, a long
buzz when a start was refused (they must never believe they are recording when they are
not), a reminder tone while recording, and alarms for a stuck button, failed storage, a
low battery, a battery that will not last the shift, nearly full storage, a rejected
provisioning file, a never-set clock and a camera that stays dead.

In idle the green LED is steady; it blinks slowly while the camera sleeps (the pre-record
buffer given up to save the battery: firmware/power/sleep.py).

In the dock the green LED also says how the offload goes (offloading, all offloaded,
failing; firmware/offload/), and "offload failing" is an alarm the technician sees at
the dock (it ends when the camera leaves the dock: it is not the wearer's business).

One buzzer, one voice: when an alarm repeat and the reminder fall due together, only the
alarm sounds (it also tells the wearer the camera is alive).

Stealth mode (only when the configuration allows it; the controller audits the switch and
also keeps the front display off) turns off the LEDs and the buzzer. Vibration stays: it
is invisible and silent to others, and it is the wearer's only confirmation that a
recording really started or stopped.

The tables below are generated from the same data the code uses (`pattern_table_markdown`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

from bodycam.firmware.device.states import STATES, State
from bodycam.firmware.offload.status import ACTIVITIES, Activity
from bodycam.hal.interfaces import LED_NAMES, Blink, Clock, Indicators, LedName, LedState

Cue = Literal[
    "ready", "recording_started", "recording_stopped", "marker", "refused", "not_allowed",
    "reminder", "shutdown",
]
CUE_NAMES: tuple[Cue, ...] = get_args(Cue)
Alarm = Literal[
    "button_stuck", "storage_fault", "camera_failed", "integrity", "media_stall",
    "battery_low",
    "storage_nearly_full", "shift_short", "offload_failing", "provisioning_rejected",
    "clock_unset",
]
ALARM_NAMES: tuple[Alarm, ...] = get_args(Alarm)  # highest priority first
DEFAULT_REMINDER_INTERVAL = 120.0  # seconds: often enough that nobody forgets a recording


@dataclass(frozen=True, slots=True)
class StateLeds:
    green: LedState
    red: LedState
    amber: LedState  # False leaves the amber LED to the alarms

    def get(self, name: LedName) -> LedState:
        return {"green": self.green, "red": self.red, "amber": self.amber}[name]


@dataclass(frozen=True, slots=True)
class CuePattern:
    beep: Blink | None
    vibrate: Blink | None
    meaning: str


@dataclass(frozen=True, slots=True)
class AlarmPattern:
    amber: Blink
    beep: Blink  # sounded when the alarm starts and at every repeat
    repeat_s: float | None  # None: sounded once when it starts
    meaning: str


STATE_LEDS: Mapping[State, StateLeds] = MappingProxyType({
    "booting": StateLeds(Blink(0.2, 0.2), False, False),
    "idle": StateLeds(True, False, False),
    "display_on": StateLeds(True, False, False),
    "recording": StateLeds(False, True, False),
    "docked": StateLeds(Blink(1.0, 1.0), False, False),
    "fault": StateLeds(False, Blink(0.2, 0.2), False),
    "shutting_down": StateLeds(False, False, Blink(0.1, 0.1)),
    "off": StateLeds(False, False, False),
})

# Idle while asleep (no pre-record buffer): the green LED says "ready, but asleep".
ASLEEP_LEDS = StateLeds(Blink(0.1, 2.9), False, False)
ASLEEP_MEANING = ("asleep: idle without the pre-record buffer (power.sleep_after_idle_min); "
                  "RECORD records at once, any other press wakes it")

# The docked state's green LED by what the offload does (amber stays with the alarms:
# "offload failing" is one of them).
DOCK_LEDS: Mapping[Activity, StateLeds] = MappingProxyType({
    "waiting": STATE_LEDS["docked"],
    "offloading": StateLeds(Blink(0.25, 0.25), False, False),
    "offloaded": StateLeds(True, False, False),
    "failing": StateLeds(Blink(0.1, 0.9), False, False),
})
DOCK_MEANING: Mapping[Activity, str] = MappingProxyType({
    "waiting": "charging; reaching the evidence server, or no offload configured",
    "offloading": "offloading recordings and the audit log to the evidence server",
    "offloaded": "every sealed recording is on the evidence server (segments removed "
                 "from the card after its signed receipt)",
    "failing": "offload failing: see the offload_failing alarm (amber) and the audit log",
})

CUES: Mapping[Cue, CuePattern] = MappingProxyType({
    "ready": CuePattern(Blink(0.05, 0.05, 1), None, "boot finished, camera ready"),
    "recording_started": CuePattern(Blink(0.1, 0.1, 1), Blink(0.3, 0.2, 1),
                                    "recording started"),
    "recording_stopped": CuePattern(Blink(0.1, 0.1, 2), Blink(0.2, 0.2, 2),
                                    "recording stopped and sealed"),
    "marker": CuePattern(Blink(0.05, 0.05, 1), Blink(0.1, 0.1, 1), "marker set"),
    "refused": CuePattern(Blink(0.1, 0.1, 3), Blink(1.0, 0.2, 1),
                          "recording refused or ended by a failure: NOT recording"),
    "not_allowed": CuePattern(None, Blink(0.1, 0.1, 3),
                              "that is switched off by the configuration (stealth mode); "
                              "nothing else changed"),
    "reminder": CuePattern(Blink(0.05, 0.15, 2), None, "still recording"),
    "shutdown": CuePattern(Blink(0.4, 0.1, 1), Blink(0.4, 0.1, 1), "powering off"),
})

ALARMS: Mapping[Alarm, AlarmPattern] = MappingProxyType({
    "button_stuck": AlarmPattern(Blink(0.1, 0.1), Blink(0.05, 0.05, 5), None,
                                 "a button is held or stuck; it causes nothing more"),
    "storage_fault": AlarmPattern(Blink(1.5, 0.3), Blink(0.4, 0.1, 3), 300.0,
                                  "storage failed: a recording could not be sealed; restart "
                                  "the camera (recovery seals it) and have the SD card "
                                  "checked"),
    "camera_failed": AlarmPattern(Blink(0.75, 0.25), Blink(0.3, 0.1, 3), 60.0,
                                  "the camera delivers no video and reopening it did not "
                                  "help: video is NOT recorded (sound is, if the microphone "
                                  "works); power the camera off and on, then have it "
                                  "checked"),
    "integrity": AlarmPattern(Blink(1.0, 0.2), Blink(0.3, 0.3, 3), 600.0,
                              "evidence integrity: a recording was quarantined, the device "
                              "key changed or the audit log was damaged; the camera records "
                              "normally, have the custodian read its audit log"),
    "media_stall": AlarmPattern(Blink(0.25, 0.25), Blink(0.1, 0.1, 4), 30.0,
                                "camera or microphone delivers nothing (or the microphone is "
                                "missing): the recording goes on with a gap, the source is "
                                "reopened by itself; check the camera/microphone"),
    "battery_low": AlarmPattern(Blink(0.5, 0.5), Blink(0.2, 0.2, 2), 120.0,
                                "battery low: dock soon"),
    "storage_nearly_full": AlarmPattern(Blink(0.5, 1.5), Blink(0.2, 0.2, 3), 300.0,
                                        "storage nearly full: offload soon"),
    "shift_short": AlarmPattern(Blink(0.1, 0.4), Blink(0.6, 0.2, 3), None,
                                "the battery will not last the configured shift (or its "
                                "level is unknown): charge it or take another camera; "
                                "ends in the dock"),
    "offload_failing": AlarmPattern(Blink(0.2, 0.8), Blink(0.5, 0.5, 2), None,
                                    "docked, but the offload fails: the server is "
                                    "unreachable, full, not the pinned one, or refused a "
                                    "recording (damaged, forged receipt); every byte stays "
                                    "on the card; read the camera's audit log "
                                    "(offload_refused / offload_failed) and the server's "
                                    "`recordings`"),
    "provisioning_rejected": AlarmPattern(Blink(2.0, 2.0), Blink(0.6, 0.2, 2), None,
                                          "the provisioning file on the boot partition was "
                                          "rejected: read BODYCAM-ERROR.txt"),
    "clock_unset": AlarmPattern(Blink(0.1, 2.9), Blink(0.6, 0.2, 1), None,
                                "clock never set: dock the camera (it takes the evidence "
                                "server's signed time) or give it network time"),
})


class Feedback:
    """Drives the Indicators from the device status; every call returns at once."""

    def __init__(self, indicators: Indicators, clock: Clock, *, stealth_allowed: bool,
                 reminder_interval: float = DEFAULT_REMINDER_INTERVAL) -> None:
        if reminder_interval < 0:
            raise ValueError(f"reminder interval {reminder_interval} s is negative; "
                             "use 0 to switch the reminder off ([alarms] section)")
        self._out = indicators
        self._clock = clock
        self._stealth_allowed = stealth_allowed
        self._reminder_interval = reminder_interval
        self._stealth = False
        self._state: State = "off"
        self._dock: Activity = "waiting"
        self._asleep = False
        self._next_reminder: float | None = None
        self._alarms: dict[Alarm, float | None] = {}  # active alarm -> next repeat time
        self._applied: dict[LedName, LedState] = {}

    @property
    def stealth(self) -> bool:
        return self._stealth

    @property
    def dock_activity(self) -> Activity:
        return self._dock

    @property
    def active_alarms(self) -> frozenset[Alarm]:
        return frozenset(self._alarms)

    def show_state(self, state: State) -> None:
        """Set the status LEDs for `state`; entering recording restarts the reminder."""
        if state == "recording" and self._state != "recording" and self._reminder_interval:
            self._next_reminder = self._clock.monotonic() + self._reminder_interval
        elif state != "recording":
            self._next_reminder = None
        self._state = state
        self._apply_leds()

    def set_asleep(self, asleep: bool) -> None:
        """Idle without the pre-record buffer (sleep mode) or awake again."""
        self._asleep = asleep
        self._apply_leds()

    def set_dock_activity(self, activity: Activity) -> None:
        """What the docked pattern says (shown while the state is docked)."""
        self._dock = activity
        self._apply_leds()

    def cue(self, cue: Cue) -> None:
        """Play a one-shot confirmation."""
        pattern = CUES[cue]
        if pattern.beep is not None:
            self._beep(pattern.beep)
        if pattern.vibrate is not None:
            self._out.vibrate(pattern.vibrate)

    def set_alarm(self, alarm: Alarm, active: bool) -> None:
        """Raise or clear an alarm; raising sounds it once, repeats come from `tick`."""
        if active == (alarm in self._alarms):
            return
        if active:
            pattern = ALARMS[alarm]
            repeat = pattern.repeat_s
            self._alarms[alarm] = None if repeat is None else self._clock.monotonic() + repeat
            self._beep(pattern.beep)
        else:
            del self._alarms[alarm]
        self._apply_leds()

    def tick(self, now: float | None = None) -> None:
        """Sound the reminder and alarm repeats that are due (call every few 100 ms)."""
        now = self._clock.monotonic() if now is None else now
        reminder_due = self._next_reminder is not None and now >= self._next_reminder
        while self._next_reminder is not None and self._next_reminder <= now:
            self._next_reminder += self._reminder_interval  # after a stall: one tone only
        due: list[Alarm] = []
        for alarm in ALARM_NAMES:  # priority order
            next_t, repeat = self._alarms.get(alarm), ALARMS[alarm].repeat_s
            if next_t is None or repeat is None or now < next_t:
                continue
            while next_t <= now:
                next_t += repeat
            self._alarms[alarm] = next_t
            due.append(alarm)
        if due:  # one buzzer: the most important alarm speaks, it also says "alive"
            self._beep(ALARMS[due[0]].beep)
        elif reminder_due:
            self.cue("reminder")

    def set_stealth(self, on: bool) -> bool:
        """Switch stealth; returns False (and changes nothing) when it is not allowed."""
        if on and not self._stealth_allowed:
            return False
        self._stealth = on
        self._apply_leds()
        return True

    # ------------------------------------------------------------------ internals

    def _beep(self, pattern: Blink) -> None:
        if not self._stealth:
            self._out.beep(pattern)

    def _apply_leds(self) -> None:
        leds = DOCK_LEDS[self._dock] if self._state == "docked" else \
            ASLEEP_LEDS if self._state == "idle" and self._asleep else STATE_LEDS[self._state]
        alarm = next((a for a in ALARM_NAMES if a in self._alarms), None)
        for name in LED_NAMES:
            wanted = leds.get(name)
            if name == "amber" and wanted is False and alarm is not None:
                wanted = ALARMS[alarm].amber
            if self._stealth:
                wanted = False
            if self._applied.get(name) != wanted:
                self._out.set_led(name, wanted)
                self._applied[name] = wanted


# --------------------------------------------------------------------------- documentation


def _led_text(state: LedState) -> str:
    if isinstance(state, Blink):
        return f"blink {state.on_s:g} s on / {state.off_s:g} s off"
    return "on" if state else "off"


def _pulse_text(pattern: Blink | None) -> str:
    if pattern is None:
        return "-"
    times = f"{pattern.n} × " if pattern.n != 1 else ""
    gap = f" ({pattern.off_s:g} s apart)" if pattern.n != 1 else ""
    return f"{times}{pattern.on_s:g} s{gap}"


def pattern_table_markdown() -> str:
    """Markdown tables of every pattern, generated from STATE_LEDS, ALARMS and CUES."""
    lines = ["Status LEDs by state (amber shows the most important alarm unless the state "
             "uses it):", "", "| State | Green | Red | Amber |", "|---|---|---|---|"]
    lines += [f"| {s} | {_led_text(STATE_LEDS[s].green)} | {_led_text(STATE_LEDS[s].red)} "
              f"| {_led_text(STATE_LEDS[s].amber)} |" for s in STATES]
    lines += ["", f"Idle and asleep: green {_led_text(ASLEEP_LEDS.green)} ({ASLEEP_MEANING})."]
    lines += ["", "In the dock, the green LED says what the offload does:", "",
              "| Docked | Green | Meaning |", "|---|---|---|"]
    lines += [f"| {a} | {_led_text(DOCK_LEDS[a].green)} | {DOCK_MEANING[a]} |"
              for a in ACTIVITIES]
    lines += ["", "Alarms, most important first:", "",
              "| Alarm | Amber LED | Buzzer | Repeats | Meaning |", "|---|---|---|---|---|"]
    for name in ALARM_NAMES:
        a = ALARMS[name]
        repeat = f"every {a.repeat_s:g} s" if a.repeat_s else "once"
        lines.append(f"| {name} | {_led_text(a.amber)} | {_pulse_text(a.beep)} | {repeat} "
                     f"| {a.meaning} |")
    lines += ["", "Confirmations:", "", "| Cue | Buzzer | Vibration | Meaning |",
              "|---|---|---|---|"]
    lines += [f"| {c} | {_pulse_text(CUES[c].beep)} | {_pulse_text(CUES[c].vibrate)} "
              f"| {CUES[c].meaning} |" for c in CUE_NAMES]
    lines += ["", "Stealth mode (if allowed): all LEDs off, no buzzer and the front display "
              "off, also while recording; vibration stays.",
              "The reminder tone interval is configurable ([alarms] reminder_interval_seconds,"
              " 0 = off)."]
    return "\n".join(lines) + "\n"


__doc__ = f"{__doc__}\n{pattern_table_markdown()}"

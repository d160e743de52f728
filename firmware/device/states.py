"""The device's state machine, declared as data.

Every (state, event) pair has exactly one rule in `RULES`: a transition, an internal
action (state unchanged, the controller still acts and audits), or an explicit ignore.
The table is checked for completeness and duplicates at import, so an event can never hit
an undefined pair and `transitions` never raises `MachineError` at runtime.

Decisions the table encodes (and why):

- RECORD starts on the *down* edge (`record_down`) from idle, display_on, docked and
  fault: one press, no waiting for release, because late activation is the most common
  body-cam failure. The rest of that press (its `short`/`hold`) is swallowed by the
  gesture recognizer, so starting never also marks or stops (see gestures.py).
- While recording, a short RECORD press (`record_short`) sets a marker and a 3 s hold
  (`record_hold`) stops; the display stays on afterwards (display_on) until the wearer
  turns it off. DISPLAY does nothing while recording: the mark must stay visible.
- Nothing but the wearer's hold, POWER, a critical battery or a storage/recorder failure
  ends a recording. Docking while recording is acknowledged but changes nothing; the
  controller tracks the dock level and re-posts `dock` once the device is idle again.
- A restart while recording (crash, watchdog, power cut) resumes at once: right after
  the boot the controller posts `resume_recording` when the state directory says it was
  recording (resume.py); the same refusal checks as a press apply.
- DISPLAY held while docked shows the device key's fingerprint (enrolment check on a
  second channel). Only in the dock, so it cannot happen on duty, and it never records.
- Refusals (`no_recipient`, `storage_full`, `record_refused`) lead to `fault`, which the
  wearer sees as a pattern. RECORD from fault simply tries again (a transient fault must
  not block evidence); DISPLAY acknowledges the fault.
- Side effects follow from the states, not from hooks: `STATE_INFO` says for each state
  whether a recording must be open and what the front display shows, so the controller
  reconciles (seal on leaving recording, also on the way to shutting_down) after
  `handle()` returns. That keeps the machine free of re-entrant triggers: one controller
  thread calls `handle()` and only then acts, so `queued=False` is correct and
  `Machine.trigger` returns a meaningful result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

from transitions import Machine

State = Literal[
    "booting", "idle", "display_on", "recording", "docked", "fault", "shutting_down", "off",
]
STATES: tuple[State, ...] = get_args(State)
INITIAL_STATE: State = "booting"

Event = Literal[
    "boot_ok", "boot_failed", "resume_recording",
    "record_down", "record_short", "record_hold", "display_press", "display_hold",
    "power_hold", "button_stuck", "stealth_toggle",
    "battery_critical", "storage_full", "no_recipient", "record_refused", "fault_cleared",
    "dock", "undock",
    "recording_sealed", "shutdown_done",
]
EVENTS: tuple[Event, ...] = get_args(Event)

OutcomeKind = Literal["transition", "internal", "ignore"]
# Named commands for internal rules; transitions need none (STATE_INFO implies them).
Action = Literal["add_marker", "stuck_alarm", "toggle_stealth", "show_identity"]
# "identity" (the device key fingerprint, for enrolment) is never a state's own content:
# the controller shows it for a while on top of idle/docked.
DisplayContent = Literal["off", "preview", "fault", "identity"]


@dataclass(frozen=True, slots=True)
class StateInfo:
    """What must be true while the device is in a state (the controller reconciles)."""

    recording: bool  # a recording is open
    display: DisplayContent  # what the front display shows (stealth may still blank it)
    description: str


STATE_INFO: Mapping[State, StateInfo] = MappingProxyType({
    "booting": StateInfo(False, "off", "checking configuration, keys, storage and hardware"),
    "idle": StateInfo(False, "off", "ready, camera present, nothing shown or recorded"),
    "display_on": StateInfo(False, "preview", "front display mirrors the scene, not recording"),
    "recording": StateInfo(True, "preview", "recording evidence, display shows the REC mark"),
    "docked": StateInfo(False, "off", "in the dock for charging, time sync and offload"),
    "fault": StateInfo(False, "fault", "a refusal or failure the wearer must notice"),
    "shutting_down": StateInfo(False, "off", "sealing any recording, then powering off"),
    "off": StateInfo(False, "off", "powered off"),
})


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the table: what `event` does in each of `sources`."""

    event: Event
    sources: tuple[State, ...]
    kind: OutcomeKind
    dest: State | None  # only for kind == "transition"
    note: str
    action: Action | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The defined result of one event in one state."""

    state: State  # the state the event arrived in
    event: Event
    kind: OutcomeKind
    dest: State  # equals `state` unless kind == "transition"
    note: str
    action: Action | None = None

    @property
    def changed(self) -> bool:
        return self.dest != self.state

    @property
    def acted(self) -> bool:
        """True unless the event was ignored (the gesture recognizer uses this)."""
        return self.kind != "ignore"


def go(event: Event, sources: Iterable[State], dest: State, note: str) -> Rule:
    return Rule(event, tuple(sources), "transition", dest, note)


def stay(event: Event, sources: Iterable[State], note: str,
         action: Action | None = None) -> Rule:
    return Rule(event, tuple(sources), "internal", None, note, action)


def ignore(event: Event, sources: Iterable[State], note: str) -> Rule:
    return Rule(event, tuple(sources), "ignore", None, note)


READY: tuple[State, ...] = ("idle", "display_on")
LIVE: tuple[State, ...] = ("booting", "idle", "display_on", "recording", "docked", "fault")
ENDING: tuple[State, ...] = ("shutting_down", "off")


def _others(*excluded: State) -> tuple[State, ...]:
    return tuple(s for s in STATES if s not in excluded)


RULES: tuple[Rule, ...] = (
    # --- boot
    go("boot_ok", ["booting"], "idle", "all checks passed"),
    go("boot_failed", ["booting"], "fault", "a check failed; the reason is logged and shown"),
    ignore("boot_ok", _others("booting"), "boot already finished"),
    ignore("boot_failed", _others("booting"), "boot already finished"),
    go("resume_recording", ["idle", "fault"], "recording",
       "the program restarted while recording: record again at once (resume.py)"),
    ignore("resume_recording", _others("idle", "fault"), "only right after the boot"),
    # --- RECORD button
    go("record_down", (*READY, "docked", "fault"), "recording",
       "one press starts at once (from fault: try again)"),
    ignore("record_down", ["recording"], "this press's short/hold decides: marker or stop"),
    ignore("record_down", ["booting", *ENDING], "not ready / powering off"),
    stay("record_short", ["recording"], "set a marker", action="add_marker"),
    ignore("record_short", _others("recording"), "starting happens on the down edge"),
    go("record_hold", ["recording"], "display_on",
       "hold stops; the display stays on until the wearer turns it off"),
    ignore("record_hold", _others("recording"), "nothing to stop"),
    # --- DISPLAY button
    go("display_press", ["idle"], "display_on", "show the mirror image"),
    go("display_press", ["display_on"], "idle", "display off"),
    go("display_press", ["fault"], "idle", "wearer acknowledges the fault"),
    ignore("display_press", ["recording"], "the REC mark must stay visible"),
    ignore("display_press", ["booting", "docked", *ENDING], "no display in this state"),
    stay("display_hold", ["docked"],
         "show the device key fingerprint for the enrolment check; records nothing",
         action="show_identity"),
    ignore("display_hold", _others("docked"), "the fingerprint is shown only in the dock"),
    # --- POWER button
    go("power_hold", LIVE, "shutting_down", "an open recording is sealed first"),
    ignore("power_hold", ENDING, "already shutting down"),
    stay("button_stuck", LIVE, "alarm; the stuck press causes nothing more",
         action="stuck_alarm"),
    ignore("button_stuck", ENDING, "powering off"),
    stay("stealth_toggle", ("idle", "display_on", "recording", "docked", "fault"),
         "stealth on/off if the configuration allows it; audited either way",
         action="toggle_stealth"),
    ignore("stealth_toggle", ["booting", *ENDING], "not ready / powering off"),
    # --- power and storage conditions
    go("battery_critical", ("booting", *READY, "recording", "fault"), "shutting_down",
       "seal, then power off before the battery browns out"),
    ignore("battery_critical", ["docked"], "charging in the dock"),
    ignore("battery_critical", ENDING, "already shutting down"),
    go("storage_full", ("booting", *READY, "recording"), "fault",
       "stop cleanly (seal) and alarm; never overwrite evidence"),
    ignore("storage_full", ["docked"], "offload in the dock frees space"),
    ignore("storage_full", ["fault", *ENDING], "already signalled / powering off"),
    go("no_recipient", ("booting", *READY, "recording"), "fault",
       "no valid evidence key: recording must not start (no plaintext)"),
    ignore("no_recipient", ["docked", "fault", *ENDING], "already signalled / not relevant"),
    go("record_refused", ["recording"], "fault",
       "the recorder could not start or continue (reason in the log)"),
    ignore("record_refused", _others("recording"), "no recording attempt in progress"),
    go("fault_cleared", ["fault"], "idle", "the condition went away"),
    ignore("fault_cleared", _others("fault"), "no fault to clear"),
    # --- dock
    go("dock", (*READY, "fault"), "docked", "charge, sync time, offload"),
    stay("dock", ["recording"],
         "never stop a recording for the dock; re-posted by the controller after it ends"),
    ignore("dock", ["booting", "docked", *ENDING],
           "the controller posts the dock level after boot"),
    go("undock", ["docked"], "idle", "taken out of the dock: ready"),
    stay("undock", ["recording"], "recording continues; audited"),
    ignore("undock", _others("docked", "recording"), "not docked"),
    # --- confirmations from the controller
    go("recording_sealed", ["recording"], "fault",
       "the recorder ended on its own: the wearer must notice"),
    stay("recording_sealed", _others("recording", "off"),
         "seal confirmed after a stop; audited"),
    ignore("recording_sealed", ["off"], "powered off"),
    go("shutdown_done", ["shutting_down"], "off", "everything flushed and sealed"),
    ignore("shutdown_done", _others("shutting_down"), "not shutting down"),
)


def _index(rules: Iterable[Rule]) -> dict[tuple[State, Event], Outcome]:
    """Expand the rules into one outcome per pair; refuse gaps and double definitions."""
    table: dict[tuple[State, Event], Outcome] = {}
    for rule in rules:
        if (rule.kind == "transition") != (rule.dest is not None):
            raise ValueError(f"rule {rule}: only transitions have a destination")
        for source in rule.sources:
            key = (source, rule.event)
            if key in table:
                raise ValueError(f"state table defines {key} twice; keep one rule")
            table[key] = Outcome(source, rule.event, rule.kind, rule.dest or source,
                                 rule.note, rule.action)
    missing = [(s, e) for s in STATES for e in EVENTS if (s, e) not in table]
    if missing:
        raise ValueError(f"state table has no rule for {missing}; add a go/stay/ignore rule")
    return table


_TABLE: Mapping[tuple[State, Event], Outcome] = MappingProxyType(_index(RULES))


def outcome(state: State, event: Event) -> Outcome:
    """The defined result of `event` arriving in `state` (total over STATES x EVENTS)."""
    return _TABLE[(state, event)]


def machine_transitions() -> list[dict[str, object]]:
    """The transitions-library view of RULES (ignores are handled before the Machine)."""
    return [
        {"trigger": r.event, "source": list(r.sources), "dest": r.dest}
        for r in RULES if r.kind != "ignore"
    ]


class DeviceStateMachine:
    """The live machine: feed events with `handle`, read `state`.

    Not thread-safe by design: only the controller thread calls `handle`.
    """

    state: State  # maintained by the transitions Machine (model attribute)

    def __init__(self, initial: State = INITIAL_STATE) -> None:
        self._machine = Machine(
            model=self, states=list(STATES), transitions=machine_transitions(),
            initial=initial, auto_transitions=False, queued=False,
            ignore_invalid_triggers=False,
        )

    def handle(self, event: Event) -> Outcome:
        """Apply `event` and return its outcome; ignored events never reach the Machine."""
        result = outcome(self.state, event)
        if result.kind != "ignore":
            fired = self._machine.events[event].trigger(self)
            if not fired or self.state != result.dest:
                raise RuntimeError(
                    f"state machine disagrees with its table for {result.state}/{event}: "
                    f"now {self.state}; rebuild the Machine from RULES only")
        return result

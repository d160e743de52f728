"""Every state x every event the hardware can produce, through the real device.

Each case boots a simulated device, brings it into a state using only its simulated
hardware (mock GPIO buttons, battery, dock contact, free space, a configuration without
recipients), produces one event the same way and checks the audit log against
`states.outcome(state, event)`: the device was in `state` when the event arrived, the
transition (or none) that followed is the table's, and nothing else happened until the
test powered the device off. Pairs the hardware cannot produce are listed in
NOT_PRODUCIBLE with the reason; the pure table test (test_states.py) covers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from device_rig import MIB, MakeDevice, RunningSimDevice

from bodycam.firmware.device.states import EVENTS, STATES, Event, State, outcome
from bodycam.firmware.evidence.verify import verify_log

Record = dict[str, Any]
Variant = Literal["recipient", "no_recipient"]
# Where the audit record proving the event sits relative to the state change it causes.
# "after": gestures, dock contact, refusals and cleared alarms are audited after acting;
# "before": alarms and recorder reports are audited first, then acted upon.
EvidenceOrder = Literal["after", "before"]

STUCK_S = 10.0  # the gesture recognizer's stuck time (gestures.GestureRecognizer default)

TRANSIENT_OR_FINAL: dict[State, str] = {
    "booting": "transient: left within the controller's boot step before any hardware "
               "event is read; its two events are checked by test_boot_outcomes",
    "shutting_down": "transient: the controller seals, releases the hardware and reaches "
                     "off in the same step; every power_hold/battery case passes through it",
    "off": "final: the controller loop has ended, so nothing reads the hardware any more "
           "(test_nothing_happens_after_off)",
}

NOT_PRODUCIBLE: dict[tuple[State, Event], str] = {
    **{(s, e): "boot events exist only in booting"
       for s in ("idle", "display_on", "recording", "docked", "fault")
       for e in ("boot_ok", "boot_failed")},
    **{(s, "shutdown_done"): "posted by the controller itself at the end of shutting_down"
       for s in ("idle", "display_on", "recording", "docked", "fault")},
    **{(s, e): "every RECORD press starts with record_down, which acts here and so "
               "swallows the press's short/hold (gestures.py: one press, one action)"
       for s in ("idle", "display_on", "docked") for e in ("record_short", "record_hold")},
    ("recording", "no_recipient"): "recording cannot start without a recipient "
                                   "(refused before the state changes)",
    **{(s, "record_refused"): "the recorder refuses only for an I/O failure of the "
                              "evidence store other than full storage or no recipient, "
                              "which the simulated hardware has no control for"
       for s in ("idle", "display_on", "recording", "docked", "fault")},
    **{(s, "fault_cleared"): "posted only while in a storage fault, when space is freed"
       for s in ("idle", "display_on", "recording", "docked")},
    ("docked", "dock"): "the dock contact is a level: no second edge while docked",
    **{(s, "undock"): "never docked outside docked/recording: the dock level moves "
                      "these states to docked"
       for s in ("idle", "display_on", "fault")},
    ("recording", "recording_sealed"): "the recorder ends a recording on its own only "
                                       "after an internal muxing/encryption failure",
    ("idle", "recording_sealed"): "the seal arrives milliseconds after a stop, which "
                                  "always leaves display_on first",
    ("docked", "recording_sealed"): "the seal arrives before the next dock poll re-posts "
                                    "dock after a stop (a race, not a property)",
    **{(s, "resume_recording"): "posted by the controller only right after the boot, when "
                                "the state directory says it was recording; "
                                "test_device_resume.py drives it from idle and fault"
       for s in ("idle", "display_on", "recording", "docked", "fault")},
    **{(s, "display_hold"): "DISPLAY's down edge acts here, so the press's hold is "
                            "swallowed (gestures.py: one press, one action)"
       for s in ("idle", "display_on", "fault")},
}


# ---------------------------------------------------------------------------- recipes


def enter_idle(rig: RunningSimDevice) -> None:
    rig.wait_state("idle")


def enter_display_on(rig: RunningSimDevice) -> None:
    rig.wait_state("idle")
    rig.tap("display")
    rig.wait_state("display_on")


def enter_recording(rig: RunningSimDevice) -> None:
    rig.wait_state("idle")
    rig.tap("record")
    rig.wait_state("recording")


def enter_docked(rig: RunningSimDevice) -> None:
    rig.hardware.power.set_docked(True)
    rig.wait_state("docked")


def reserve(rig: RunningSimDevice) -> int:
    return rig.config.storage.reserve_mb * MIB


def enter_storage_fault(rig: RunningSimDevice) -> None:
    """Storage full (fault), then space back above the reserve but below the nearly-full
    level: the fault stays (latched until an offload) while recording may start again."""
    rig.wait_state("idle")
    rig.free_space.set(reserve(rig) - MIB)
    rig.wait_state("fault")
    rig.free_space.set(reserve(rig) + 64 * MIB)


def enter_boot_fault(rig: RunningSimDevice) -> None:
    """No recipient configured: the device boots into fault."""
    rig.wait_state("fault")


def enter_norecipient_idle(rig: RunningSimDevice) -> None:
    enter_boot_fault(rig)
    rig.tap("display")  # the wearer acknowledges the fault
    rig.wait_state("idle")


def enter_norecipient_display_on(rig: RunningSimDevice) -> None:
    enter_norecipient_idle(rig)
    rig.tap("display")
    rig.wait_state("display_on")


def enter_norecipient_docked(rig: RunningSimDevice) -> None:
    enter_boot_fault(rig)
    enter_docked(rig)


def then_press_and_keep(button: Literal["record", "display"], expect: State,
                        enter: Callable[[RunningSimDevice], None]
                        ) -> Callable[[RunningSimDevice], None]:
    """`enter`, then press `button` and keep it pressed until the device is in `expect`."""

    def setup(rig: RunningSimDevice) -> None:
        enter(rig)
        rig.hardware.panel.press(button)
        rig.wait_audit(gesture(button, "down"))
        rig.wait_state(expect)

    return setup


def enter_recording_then_stop(rig: RunningSimDevice) -> None:
    enter_recording(rig)
    rig.hold("record", rig.config.buttons.hold_seconds + 0.3)
    rig.wait_state("display_on")


def enter_recording_then_storage_full(rig: RunningSimDevice) -> None:
    enter_recording(rig)
    rig.free_space.set(reserve(rig) - MIB)
    rig.wait_state("fault")


def enter_docked_then_record(rig: RunningSimDevice) -> None:
    enter_docked(rig)
    rig.tap("record")
    rig.wait_state("recording")


# ---------------------------------------------------------------------------- evidence

Match = Callable[[Record], bool]


def gesture(button: str, kind: str) -> Match:
    return lambda r: r["event"] == "gesture" and r["button"] == button and r["gesture"] == kind


def alarm(name: str) -> Match:
    return lambda r: r["event"] == "alarm" and r["alarm"] == name


def dock_contact(docked: bool) -> Match:
    return lambda r: r["event"] == "dock" and r["docked"] is docked


def event_named(name: str) -> Match:
    return lambda r: r["event"] == name


# ---------------------------------------------------------------------------- stimuli

Stimulus = Callable[[RunningSimDevice], None]


def press_record(rig: RunningSimDevice) -> None:
    rig.hardware.panel.press("record")


def tap_record(rig: RunningSimDevice) -> None:
    rig.tap("record")


def tap_display(rig: RunningSimDevice) -> None:
    rig.tap("display")


def press_power(rig: RunningSimDevice) -> None:
    rig.hardware.panel.press("power")


def press_display(rig: RunningSimDevice) -> None:
    rig.hardware.panel.press("display")


def tap_power(rig: RunningSimDevice) -> None:
    rig.tap("power")


def keep_holding(rig: RunningSimDevice) -> None:
    """The button pressed in the setup stays pressed until it counts as stuck."""


def battery_critical(rig: RunningSimDevice) -> None:
    rig.hardware.power.set_battery(rig.config.power.battery_critical_percent - 2)


def storage_full(rig: RunningSimDevice) -> None:
    rig.free_space.set(reserve(rig) - MIB)


def storage_freed(rig: RunningSimDevice) -> None:
    rig.free_space.set(rig.config.storage.nearly_full_mb * MIB + 64 * MIB)


def dock(rig: RunningSimDevice) -> None:
    rig.hardware.power.set_docked(True)


def undock(rig: RunningSimDevice) -> None:
    rig.hardware.power.set_docked(False)


def nothing(rig: RunningSimDevice) -> None:
    """The event follows from the setup (a recorder report)."""


@dataclass(frozen=True)
class Case:
    state: State
    event: Event
    setup: Callable[[RunningSimDevice], None]
    stimulus: Stimulus
    evidence: Match
    order: EvidenceOrder = "after"
    variant: Variant = "recipient"
    action_record: Match | None = None  # an internal rule's action must be audited

    @property
    def id(self) -> str:
        return f"{self.state}-{self.event}"


HOLD = "hold"
STUCK_SETUPS: dict[State, tuple[Callable[[RunningSimDevice], None], Variant]] = {
    "idle": (then_press_and_keep("display", "idle", enter_display_on), "recipient"),
    "display_on": (then_press_and_keep("display", "display_on", enter_idle), "recipient"),
    "recording": (then_press_and_keep("display", "recording", enter_recording), "recipient"),
    "docked": (then_press_and_keep("display", "docked", enter_docked), "recipient"),
    "fault": (then_press_and_keep("record", "fault", enter_boot_fault), "no_recipient"),
}
STUCK_BUTTON: dict[State, str] = {"fault": "record"}

READY_ENTRIES: dict[State, Callable[[RunningSimDevice], None]] = {
    "idle": enter_idle, "display_on": enter_display_on, "recording": enter_recording,
    "docked": enter_docked, "fault": enter_storage_fault,
}


def _cases() -> list[Case]:
    cases: list[Case] = []
    for state, enter in READY_ENTRIES.items():
        cases += [
            Case(state, "record_down", enter, press_record, gesture("record", "down")),
            Case(state, "display_press", enter, tap_display, gesture("display", "down")),
            Case(state, "power_hold", enter, press_power, gesture("power", HOLD)),
            Case(state, "battery_critical", enter, battery_critical,
                 alarm("battery_critical"), order="before"),
        ]
        cases.append(Case(state, "stealth_toggle", enter, tap_power,
                          gesture("power", "short"), action_record=event_named("stealth")))
        setup, variant = STUCK_SETUPS[state]
        button = STUCK_BUTTON.get(state, "display")
        cases.append(Case(state, "button_stuck", setup, keep_holding,
                          gesture(button, "stuck"), variant=variant,
                          action_record=alarm("button_stuck")))
    for state, enter in (("idle", enter_idle), ("display_on", enter_display_on),
                         ("recording", enter_recording), ("docked", enter_docked)):
        cases.append(Case(state, "storage_full", enter, storage_full,
                          alarm("storage_full"), order="before"))
    cases += [
        Case("fault", "storage_full", enter_boot_fault, storage_full, alarm("storage_full"),
             order="before", variant="no_recipient"),
        Case("recording", "record_short", enter_recording, tap_record,
             gesture("record", "short"), action_record=event_named("marker")),
        Case("fault", "record_short", enter_boot_fault, tap_record,
             gesture("record", "short"), variant="no_recipient"),
        Case("recording", "record_hold", enter_recording, press_record,
             gesture("record", HOLD)),
        Case("recording", "display_hold", enter_recording, press_display,
             gesture("display", HOLD)),
        Case("docked", "display_hold", enter_docked, press_display, gesture("display", HOLD),
             action_record=event_named("identity_shown")),
        Case("fault", "record_hold", enter_boot_fault, press_record,
             gesture("record", HOLD), variant="no_recipient"),
        Case("idle", "no_recipient", enter_norecipient_idle, tap_record,
             event_named("refused"), variant="no_recipient"),
        Case("display_on", "no_recipient", enter_norecipient_display_on, tap_record,
             event_named("refused"), variant="no_recipient"),
        Case("docked", "no_recipient", enter_norecipient_docked, tap_record,
             event_named("refused"), variant="no_recipient"),
        Case("fault", "no_recipient", enter_boot_fault, tap_record,
             event_named("refused"), variant="no_recipient"),
        Case("idle", "dock", enter_idle, dock, dock_contact(True)),
        Case("display_on", "dock", enter_display_on, dock, dock_contact(True)),
        Case("recording", "dock", enter_recording, dock, dock_contact(True)),
        Case("fault", "dock", enter_storage_fault, dock, dock_contact(True)),
        Case("docked", "undock", enter_docked, undock, dock_contact(False)),
        Case("recording", "undock", enter_docked_then_record, undock, dock_contact(False)),
        Case("fault", "fault_cleared", enter_storage_fault, storage_freed,
             event_named("alarm_cleared")),
        Case("display_on", "recording_sealed", enter_recording_then_stop, nothing,
             event_named("recording_sealed"), order="before"),
        Case("fault", "recording_sealed", enter_recording_then_storage_full, nothing,
             event_named("recording_sealed"), order="before"),
    ]
    return cases


CASES = _cases()
RESTING_STATES: tuple[State, ...] = tuple(s for s in STATES if s not in TRANSIENT_OR_FINAL)


def test_every_pair_is_either_driven_or_explained() -> None:
    driven = {(c.state, c.event) for c in CASES}
    assert len(driven) == len(CASES), "a (state, event) pair is driven twice"
    assert not driven & NOT_PRODUCIBLE.keys(), "a driven pair is also listed as impossible"
    every = {(s, e) for s in RESTING_STATES for e in EVENTS}
    assert driven | NOT_PRODUCIBLE.keys() == every


# ---------------------------------------------------------------------------- checks


def state_before(records: list[Record], index: int) -> State:
    """The state the device was in just before audit record `index`."""
    states = [r["to"] for r in records[:index] if r["event"] == "state"]
    assert states, "no state record before the event"
    state: State = states[-1]
    return state


def transitions(records: list[Record]) -> list[tuple[str, str]]:
    return [(r["from"], r["to"]) for r in records if r["event"] == "state"]


def power_off_from(state: State) -> list[tuple[str, str]]:
    """The transitions of the test's own shutdown request at the end."""
    return [("shutting_down", "off")] if state == "shutting_down" else \
        [(state, "shutting_down"), ("shutting_down", "off")]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_event_in_state_follows_the_table(case: Case, make_sim_device: MakeDevice) -> None:
    rig = make_sim_device(speed=8.0, recipients=() if case.variant == "no_recipient"
                          else None)
    case.setup(rig)
    assert rig.state == case.state
    mark = len(rig.audit())
    case.stimulus(rig)
    found = rig.wait_audit(case.evidence, after=0 if case.order == "before" else mark)
    expected = outcome(case.state, case.event)
    rig.wait_state("off" if expected.dest == "shutting_down" else expected.dest)
    rig.stop()

    records = rig.audit()
    if case.order == "before":
        assert state_before(records, found) == case.state
        after_event = records[found + 1:]
    else:
        assert state_before(records, mark) == case.state
        after_event = records[mark:]
    caused = [(case.state, expected.dest)] if expected.changed else []
    assert transitions(after_event) == caused + power_off_from(expected.dest)
    if case.action_record is not None:
        assert any(case.action_record(r) for r in after_event)
    assert verify_log(rig.device.audit.path).status == "verified"


def test_boot_outcomes(make_sim_device: MakeDevice) -> None:
    """booting: boot_ok with a recipient, boot_failed (fault) without one."""
    ok = make_sim_device(name="ok")
    failed = make_sim_device(name="failed", recipients=())
    assert ok.transitions[0][:2] == ("booting", outcome("booting", "boot_ok").dest)
    assert failed.transitions[0][:2] == ("booting", outcome("booting", "boot_failed").dest)
    assert "no evidence recipient" in failed.transitions[0][2]


def test_nothing_happens_after_off(sim_device: RunningSimDevice) -> None:
    """off is final: once powered off, no hardware event is read or audited any more."""
    sim_device.hold("power", sim_device.config.buttons.hold_seconds + 0.3)
    sim_device.wait_state("off")
    sim_device.stop()
    before = sim_device.audit()
    sim_device.tap("record")
    sim_device.hardware.power.set_docked(True)
    sim_device.sleep(1.5)
    assert sim_device.audit() == before
    assert transitions(before)[-1] == ("shutting_down", "off")

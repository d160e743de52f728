"""The state table: total over every state x event, the issue's rules, and the diagram."""

from __future__ import annotations

import argparse
import itertools
import re

import pytest

from bodycam.firmware.device import diagram_cmd
from bodycam.firmware.device.states import (
    EVENTS,
    RULES,
    STATE_INFO,
    STATES,
    DeviceStateMachine,
    Event,
    State,
    _index,
    go,
    ignore,
    outcome,
)

PAIRS = list(itertools.product(STATES, EVENTS))

# The rules, written out independently of RULES: (state, event) -> dest.
EXPECTED_TRANSITIONS: dict[tuple[State, Event], State] = {
    ("booting", "boot_ok"): "idle",
    ("booting", "boot_failed"): "fault",
    ("idle", "record_down"): "recording",
    ("display_on", "record_down"): "recording",
    ("recording", "record_hold"): "display_on",
    ("idle", "display_press"): "display_on",
    ("display_on", "display_press"): "idle",
    ("recording", "battery_critical"): "shutting_down",
    ("recording", "storage_full"): "fault",
    ("recording", "no_recipient"): "fault",
    ("recording", "record_refused"): "fault",
    ("idle", "dock"): "docked",
    ("docked", "undock"): "idle",
    ("fault", "fault_cleared"): "idle",
    ("shutting_down", "shutdown_done"): "off",
    **{(s, "power_hold"): "shutting_down" for s in STATES if s not in ("shutting_down", "off")},
}


@pytest.mark.parametrize(("state", "event"), PAIRS, ids=[f"{s}-{e}" for s, e in PAIRS])
def test_every_pair_has_a_defined_outcome_the_machine_obeys(state: State, event: Event) -> None:
    result = outcome(state, event)
    assert (result.state, result.event) == (state, event)
    assert result.kind in ("transition", "internal", "ignore")
    assert result.note
    assert (result.kind == "transition") == (result.dest != state)
    if (state, event) in EXPECTED_TRANSITIONS:
        assert result.dest == EXPECTED_TRANSITIONS[(state, event)]

    machine = DeviceStateMachine(initial=state)
    assert machine.handle(event) == result  # never raises MachineError
    assert machine.state == result.dest


def test_recording_survives_everything_but_hold_power_battery_and_failures() -> None:
    enders = {"record_hold", "power_hold", "battery_critical", "storage_full",
              "no_recipient", "record_refused", "recording_sealed"}
    for event in EVENTS:
        assert (outcome("recording", event).dest == "recording") == (event not in enders), event


def test_short_press_while_recording_is_an_internal_marker() -> None:
    result = outcome("recording", "record_short")
    assert (result.kind, result.action) == ("internal", "add_marker")


def test_docking_never_stops_a_recording() -> None:
    assert outcome("recording", "dock").kind == "internal"
    assert outcome("recording", "undock").kind == "internal"


def test_display_press_while_recording_keeps_the_display_on() -> None:
    assert outcome("recording", "display_press").kind == "ignore"
    assert STATE_INFO["recording"].display == "preview"
    assert STATE_INFO["display_on"].display == "preview"


def test_only_the_recording_state_holds_an_open_recording() -> None:
    assert [s for s in STATES if STATE_INFO[s].recording] == ["recording"]


def test_off_is_terminal() -> None:
    assert all(outcome("off", e).kind == "ignore" for e in EVENTS)


def test_a_full_day_walks_through_the_machine() -> None:
    machine = DeviceStateMachine()
    for event, state in [("boot_ok", "idle"), ("display_press", "display_on"),
                         ("record_down", "recording"), ("record_short", "recording"),
                         ("display_press", "recording"), ("record_hold", "display_on"),
                         ("display_press", "idle"), ("dock", "docked"), ("undock", "idle"),
                         ("record_down", "recording"), ("storage_full", "fault"),
                         ("display_press", "idle"), ("power_hold", "shutting_down"),
                         ("shutdown_done", "off")]:
        machine.handle(event)
        assert machine.state == state, event


def test_table_builder_refuses_gaps_and_duplicates() -> None:
    with pytest.raises(ValueError, match="no rule for"):
        _index(RULES[1:])
    with pytest.raises(ValueError, match="twice"):
        _index((*RULES, ignore("boot_ok", ["booting"], "dup")))
    with pytest.raises(ValueError, match="twice"):
        _index((*RULES, go("boot_ok", ["idle"], "fault", "dup")))


def test_diagram_mentions_every_state_and_every_transition() -> None:
    text = diagram_cmd.mermaid_state_diagram()
    assert text.startswith("stateDiagram-v2\n")
    edges: dict[tuple[str, str], str] = {
        (m[1], m[2]): m[3] for m in re.finditer(r"^\s+(\w+) --> (\w+) : (.+)$", text, re.M)}
    for state in STATES:
        assert re.search(rf"^\s+{state} : {state} ", text, re.M), state
    for rule in RULES:
        if rule.kind == "ignore":
            continue
        for source in rule.sources:
            label = edges[(source, rule.dest or source)]
            events = {part.split(" / ")[0] for part in label.split(", ")}
            assert rule.event in events, (source, rule)
    assert "[*] --> booting" in text


def test_diagram_command_prints_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    diagram_cmd.configure(parser)
    assert diagram_cmd.run(parser.parse_args(["--markdown"])) == 0
    out = capsys.readouterr().out
    assert out.startswith("```mermaid\nstateDiagram-v2\n") and out.endswith("```\n")

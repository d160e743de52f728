"""Gesture recognition: debounce of chattering edges, short/hold/stuck, one press one action."""

from __future__ import annotations

import random

import pytest

from bodycam.firmware.device.gestures import (
    DEFAULT_BINDINGS,
    Gesture,
    GestureRecognizer,
    event_for,
    validate_bindings,
)
from bodycam.firmware.device.states import EVENTS, DeviceStateMachine
from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import ButtonName

DEBOUNCE_MS = 30
HOLD_S = 3.0
TICK_S = 0.05  # the controller ticks at least this often


class Recorder:
    """Collects gestures; `acts` says which (button, kind) pairs report an action."""

    def __init__(self, acts: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.gestures: list[Gesture] = []
        self.acts = acts

    def __call__(self, gesture: Gesture) -> bool:
        self.gestures.append(gesture)
        return (gesture.button, gesture.kind) in self.acts

    def kinds(self, button: str | None = None) -> list[str]:
        return [g.kind for g in self.gestures if button is None or g.button == button]


def make(acts: frozenset[tuple[str, str]] = frozenset()) -> tuple[GestureRecognizer, Recorder]:
    rec = Recorder(acts)
    return GestureRecognizer(ManualClock(), DEBOUNCE_MS, HOLD_S, rec), rec


def run_edges(recognizer: GestureRecognizer, edges: list[tuple[ButtonName, bool, float]],
              until: float) -> None:
    """Feed edges in time order while ticking like the controller loop does."""
    now = 0.0
    for button, pressed, t in sorted(edges, key=lambda e: e[2]):
        while now + TICK_S < t:
            now += TICK_S
            recognizer.tick(now)
        recognizer.feed(button, pressed, t)
    while now < until:
        now += TICK_S
        recognizer.tick(now)


def bounce(level: bool, t: float, rng: random.Random) -> list[tuple[bool, float]]:
    """A real edge to `level` at t followed by chatter that settles well within debounce."""
    toggles = 2 * rng.randint(0, 4)  # even: the burst ends on the real level
    times = sorted(t + rng.uniform(0.0001, DEBOUNCE_MS / 1000 * 0.8) for _ in range(toggles))
    levels = [level] + [level if i % 2 else not level for i in range(toggles)]
    return list(zip(levels, [t, *times], strict=True))


@pytest.mark.parametrize("seed", range(20))
def test_chattering_presses_give_exactly_one_gesture_each(seed: int) -> None:
    rng = random.Random(seed)
    recognizer, rec = make()
    edges: list[tuple[ButtonName, bool, float]] = []
    expected: list[str] = []
    starts: list[float] = []
    t = 0.5
    for _ in range(15):
        held = rng.choice([rng.uniform(0.05, 2.5), rng.uniform(3.2, 6.0)])
        starts.append(t)
        expected.append("short" if held < HOLD_S else "hold")
        edges += [("record", lv, et) for lv, et in bounce(True, t, rng)]
        edges += [("record", lv, et) for lv, et in bounce(False, t + held, rng)]
        t += held + rng.uniform(0.1, 1.0)
    run_edges(recognizer, edges, until=t + 1)

    downs = [g for g in rec.gestures if g.kind == "down"]
    assert [g.t for g in downs] == starts  # acted on the first edge: zero added latency
    assert [g.kind for g in rec.gestures if g.kind in ("short", "hold")] == expected
    assert rec.kinds().count("up") == len(starts)
    assert len({g.press for g in rec.gestures}) == len(starts)


def test_tap_shorter_than_debounce_is_still_press_and_release() -> None:
    recognizer, rec = make()
    recognizer.feed("record", True, 1.0)
    recognizer.feed("record", False, 1.005)  # inside the lock-out
    assert rec.kinds() == ["down"]
    assert recognizer.is_pressed("record")
    recognizer.tick(1.0 + DEBOUNCE_MS / 1000)
    assert rec.kinds() == ["down", "short", "up"]
    assert rec.gestures[1].t == 1.005  # stamped with the real release
    assert not recognizer.is_pressed("record")


def test_hold_fires_while_still_pressed_and_release_adds_no_short() -> None:
    recognizer, rec = make()
    recognizer.feed("power", True, 10.0)
    recognizer.tick(12.99)
    assert rec.kinds() == ["down"]
    recognizer.tick(13.0)
    assert rec.kinds() == ["down", "hold"]
    assert rec.gestures[-1].t == 13.0
    recognizer.feed("power", False, 13.5)
    assert rec.kinds() == ["down", "hold", "up"]


def test_tick_defaults_to_the_injected_clock() -> None:
    clock = ManualClock()
    rec = Recorder()
    recognizer = GestureRecognizer(clock, DEBOUNCE_MS, HOLD_S, rec)
    recognizer.feed("power", True, 0.0)
    clock.advance(3.0)
    recognizer.tick()
    assert rec.kinds() == ["down", "hold"]


def test_stuck_button_fires_one_hold_then_one_stuck_and_never_repeats() -> None:
    recognizer, rec = make()
    run_edges(recognizer, [("display", True, 1.0)], until=60.0)
    assert rec.kinds() == ["down", "hold", "stuck"]
    assert rec.gestures[2].t == 11.0
    recognizer.feed("display", False, 61.0)
    assert rec.kinds() == ["down", "hold", "stuck", "up"]


def test_press_that_acted_on_down_swallows_its_short_and_hold() -> None:
    recognizer, rec = make(acts=frozenset({("record", "down")}))
    run_edges(recognizer, [("record", True, 1.0), ("record", False, 15.0)], until=16.0)
    assert rec.kinds() == ["down", "stuck", "up"]  # stuck and up are reports, never dropped
    # the next press is a new press: when its down does nothing, its short is delivered
    rec.acts = frozenset()
    run_edges(recognizer, [("record", True, 16.0), ("record", False, 16.2)], until=17.0)
    assert rec.kinds()[-3:] == ["down", "short", "up"]


def test_simultaneous_holds_are_emitted_in_time_then_button_order() -> None:
    recognizer, rec = make()
    recognizer.feed("display", True, 0.99)
    recognizer.feed("power", True, 1.0)
    recognizer.feed("record", True, 1.0)
    recognizer.tick(5.0)  # all three holds became due inside one tick
    holds = [g for g in rec.gestures if g.kind == "hold"]
    assert [(g.button, g.t) for g in holds] == [
        ("display", 3.99), ("record", 4.0), ("power", 4.0)]


def test_due_hold_is_emitted_before_a_later_edge_even_without_tick() -> None:
    recognizer, rec = make()
    recognizer.feed("record", True, 0.0)
    recognizer.feed("display", True, 3.02)
    assert [(g.button, g.kind) for g in rec.gestures] == [
        ("record", "down"), ("record", "hold"), ("display", "down")]


def test_late_edge_never_moves_time_backwards() -> None:
    recognizer, rec = make()
    recognizer.tick(5.0)
    recognizer.feed("record", True, 4.0)
    assert rec.gestures[0].t == 5.0


def test_bad_timing_configuration_names_the_fix() -> None:
    with pytest.raises(ValueError, match="debounce_ms / hold_seconds"):
        GestureRecognizer(ManualClock(), 5000, 3.0, Recorder())


def test_default_bindings_name_real_events_and_can_be_replaced() -> None:
    assert set(DEFAULT_BINDINGS.values()) <= set(EVENTS)
    assert validate_bindings(DEFAULT_BINDINGS) == DEFAULT_BINDINGS
    with pytest.raises(ValueError, match="events"):
        validate_bindings({("record", "down"): "explode"})  # type: ignore[dict-item]
    custom = validate_bindings({("display", "short"): "record_short"})
    assert event_for(Gesture("display", "short", 0.0, 1), custom) == "record_short"
    assert event_for(Gesture("display", "short", 0.0, 1)) is None
    assert event_for(Gesture("power", "short", 0.0, 1)) == "stealth_toggle"


def drive(edges: list[tuple[ButtonName, bool, float]], until: float) -> DeviceStateMachine:
    """The gesture recognizer wired to the state machine as the controller does it."""
    machine = DeviceStateMachine(initial="idle")

    def on_gesture(gesture: Gesture) -> bool:
        event = event_for(gesture)
        return event is not None and machine.handle(event).acted

    run_edges(GestureRecognizer(ManualClock(), DEBOUNCE_MS, HOLD_S, on_gesture), edges, until)
    return machine


def test_pressing_and_holding_record_from_idle_keeps_recording() -> None:
    assert drive([("record", True, 1.0)], until=20.0).state == "recording"


def test_record_short_then_hold_marks_then_stops() -> None:
    machine = drive([("record", True, 1.0), ("record", False, 1.2),  # start
                     ("record", True, 2.0), ("record", False, 2.1),  # marker
                     ("record", True, 3.0), ("record", False, 7.0)],  # hold: stop
                    until=8.0)
    assert machine.state == "display_on"

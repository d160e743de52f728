"""Button gestures from raw edges: debounce, down/short/hold/stuck, event bindings.

Design (latency first, because a late start is the worst body-cam failure):

- **Debounce: act on the first edge, ignore chatter after it.** An edge that changes a
  button's level is accepted at once if at least `debounce_ms` passed since that button's
  last accepted edge; edges inside that lock-out only update the raw level. When the
  lock-out ends (checked on the next edge or `tick`), a raw level that still differs from
  the accepted one is accepted then, stamped with the time of its raw edge, so a tap
  shorter than the lock-out is still seen as press + release. Press-to-action latency is
  therefore zero; the price is that a single noise spike counts as a press, which for a
  camera means an unwanted start rather than a missed one. Bounce bursts must be shorter
  than `debounce_ms`.
- **Gestures per press:** `down` on the accepted press edge (immediately), then exactly
  one of `short` (released before `hold_seconds`) or `hold` (fires from `tick` when the
  hold time elapses while still pressed, without waiting for release), then `up` on
  release. A press held past `stuck_seconds` emits `stuck` once; nothing repeats.
- **One press, one action.** `on_gesture` returns whether the gesture did something
  (`Outcome.acted`). Once a gesture of a press did, that press's later `short`/`hold`
  are dropped: the RECORD press that started a recording on `down` can never also set a
  marker (`short`) or stop it (`hold`) — an officer who presses and keeps holding stays
  recording. `stuck` and `up` are reports, always delivered.
- **Determinism:** gestures due by time (holds, stuck reports, releases settled after a
  lock-out) are emitted in time order, ties in `BUTTON_NAMES` order, and always before
  the gestures of a later edge. Simultaneous presses are independent per button.

Threading: the HAL's edge callback runs on the GPIO thread and must not block, so it only
queues `(button, pressed, t)`; the controller thread calls `feed` and `tick` (at least
every 50 ms), and `on_gesture` runs there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

from bodycam.firmware.device.states import EVENTS, Event
from bodycam.hal.interfaces import BUTTON_NAMES, ButtonName, Clock

GestureKind = Literal["down", "short", "hold", "stuck", "up"]
GESTURE_KINDS: tuple[GestureKind, ...] = get_args(GestureKind)
_SWALLOWABLE: frozenset[GestureKind] = frozenset({"short", "hold"})


@dataclass(frozen=True, slots=True)
class Gesture:
    button: ButtonName
    kind: GestureKind
    t: float  # monotonic seconds at which the gesture became true
    press: int  # per-recognizer press counter, shared by all gestures of one press


GestureHandler = Callable[[Gesture], bool]  # returns True when the gesture caused an action

Bindings = Mapping[tuple[ButtonName, GestureKind], Event]

# The product's bindings. DISPLAY acts on down too: a gloved press held a little long must
# still toggle. POWER shuts down only on hold; its short press toggles stealth mode,
# which does nothing unless the configuration allows stealth (and is always audited).
DEFAULT_BINDINGS: Bindings = MappingProxyType({
    ("record", "down"): "record_down",
    ("record", "short"): "record_short",
    ("record", "hold"): "record_hold",
    ("display", "down"): "display_press",
    ("display", "hold"): "display_hold",
    ("power", "hold"): "power_hold",
    ("power", "short"): "stealth_toggle",
    ("record", "stuck"): "button_stuck",
    ("display", "stuck"): "button_stuck",
    ("power", "stuck"): "button_stuck",
})


def validate_bindings(bindings: Bindings) -> Bindings:
    """Return `bindings` frozen, or raise ValueError naming the bad entry and the choices."""
    for (button, kind), event in bindings.items():
        if button not in BUTTON_NAMES or kind not in GESTURE_KINDS or event not in EVENTS:
            raise ValueError(
                f"gesture binding ({button!r}, {kind!r}) -> {event!r} is invalid; buttons: "
                f"{BUTTON_NAMES}, gestures: {GESTURE_KINDS}, events: {EVENTS}")
    return MappingProxyType(dict(bindings))


def event_for(gesture: Gesture, bindings: Bindings = DEFAULT_BINDINGS) -> Event | None:
    """The state-machine event a gesture stands for, or None if it is not bound."""
    return bindings.get((gesture.button, gesture.kind))


@dataclass(slots=True)
class _ButtonTrack:
    """Debounce and press bookkeeping for one button."""

    level: bool = False  # accepted (debounced) level
    raw: bool = False  # last raw level seen
    raw_t: float = 0.0  # time of the last raw edge
    locked_until: float = float("-inf")  # end of the lock-out after the last accepted edge
    down_t: float = 0.0
    press: int = 0
    hold_fired: bool = False
    stuck_fired: bool = False
    acted: bool = False  # a gesture of the current press caused an action


class GestureRecognizer:
    """Turns raw edges of the three buttons into gestures (see the module docstring)."""

    def __init__(self, clock: Clock, debounce_ms: float, hold_seconds: float,
                 on_gesture: GestureHandler, *, stuck_seconds: float = 10.0) -> None:
        if not 0 <= debounce_ms / 1000 < hold_seconds < stuck_seconds:
            raise ValueError(
                f"need 0 <= debounce ({debounce_ms} ms) < hold ({hold_seconds} s) < stuck "
                f"({stuck_seconds} s); fix [buttons] debounce_ms / hold_seconds")
        self._clock = clock
        self._debounce = debounce_ms / 1000
        self._hold = hold_seconds
        self._stuck = stuck_seconds
        self._on_gesture = on_gesture
        self._tracks = {name: _ButtonTrack() for name in BUTTON_NAMES}
        self._presses = 0
        self._now = float("-inf")

    def is_pressed(self, button: ButtonName) -> bool:
        """The debounced level."""
        return self._tracks[button].level

    def feed(self, button: ButtonName, pressed: bool, t: float) -> None:
        """One raw edge from the HAL (same arguments as ButtonEdgeCallback)."""
        t = max(t, self._now)  # a late-delivered edge never moves time backwards
        self._advance(t)
        track = self._tracks[button]
        track.raw, track.raw_t = pressed, t
        if pressed != track.level and t >= track.locked_until:
            self._accept(button, track, t)

    def tick(self, now: float | None = None) -> None:
        """Emit gestures that became due by `now` (default: the clock's monotonic time)."""
        self._advance(self._clock.monotonic() if now is None else now)

    # ------------------------------------------------------------------ internals

    def _advance(self, now: float) -> None:
        """Emit every timed gesture due by `now`, earliest first, ties in button order."""
        self._now = max(self._now, now)
        while True:
            due = [(when, order, name) for order, name in enumerate(BUTTON_NAMES)
                   if (when := self._next_due(self._tracks[name])) is not None
                   and when <= self._now]
            if not due:
                return
            when, _, name = min(due)
            track = self._tracks[name]
            if track.raw != track.level and when >= track.locked_until:
                self._accept(name, track, track.raw_t)
            elif not track.hold_fired:
                track.hold_fired = True
                self._emit(name, track, "hold", when)
            else:
                track.stuck_fired = True
                self._emit(name, track, "stuck", when)

    def _next_due(self, track: _ButtonTrack) -> float | None:
        if track.raw != track.level:  # a change hidden by the lock-out settles when it ends
            return max(track.locked_until, track.raw_t)
        if not track.level:
            return None
        if not track.hold_fired:
            return track.down_t + self._hold
        if not track.stuck_fired:
            return track.down_t + self._stuck
        return None

    def _accept(self, name: ButtonName, track: _ButtonTrack, t: float) -> None:
        track.level = not track.level
        track.locked_until = t + self._debounce
        if track.level:
            self._presses += 1
            track.press, track.down_t = self._presses, t
            track.hold_fired = track.stuck_fired = track.acted = False
            self._emit(name, track, "down", t)
        else:
            if not track.hold_fired:
                self._emit(name, track, "short", t)
            self._emit(name, track, "up", t)

    def _emit(self, name: ButtonName, track: _ButtonTrack, kind: GestureKind,
              t: float) -> None:
        if kind in _SWALLOWABLE and track.acted:
            return
        if self._on_gesture(Gesture(name, kind, t, track.press)):
            track.acted = True

"""Scenario files for the simulator: a timed list of things that happen to the camera.

A scenario is TOML with a list of ``[[event]]`` tables, each with ``at`` (seconds of
simulated time) and exactly one action::

    [[event]]
    at = 2.0
    press = "display"          # short press of record | display | power

    [[event]]
    at = 20.0
    hold = "record"            # press and keep pressed ...
    for = 3.5                  # ... for this many seconds

    battery = 12               # set the simulated battery level (percent)
    dock = true                # put the camera into / take it out of the dock; with an
                               # [offload] server configured it offloads there for real
    stall = "camera"           # camera | microphone delivers nothing ...
    for = 4                    # ... for this many seconds
    end = true                 # stop the simulation (recordings are sealed first)
    end = "offloaded"          # ... as soon as the docked camera has offloaded everything,
                               # or at `at` at the latest

Parsing is strict so a typo in a demo or test scenario fails loudly instead of silently
doing nothing.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from bodycam.hal.interfaces import BUTTON_NAMES

ActionKind = Literal["press", "hold", "battery", "dock", "stall", "end"]
END_WHEN_OFFLOADED = "offloaded"
ACTIONS: tuple[ActionKind, ...] = get_args(ActionKind)
STALL_SOURCES = ("camera", "microphone")
SHORT_PRESS_SECONDS = 0.15


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file, event and fix."""


@dataclass(frozen=True)
class ScenarioEvent:
    at: float  # seconds of simulated time since the program started
    action: ActionKind
    target: str = ""  # button name or stall source
    value: float | bool | str = 0.0  # battery percent, dock state, end condition
    duration: float = 0.0  # hold / stall length (seconds); short press for "press"


@dataclass(frozen=True)
class Scenario:
    source: str
    events: tuple[ScenarioEvent, ...]  # sorted by time

    @property
    def end_time(self) -> float | None:
        ends = [e.at for e in self.events if e.action == "end"]
        return min(ends) if ends else None

    @property
    def ends_when_offloaded(self) -> bool:
        """The first `end` is `end = "offloaded"`: stop early once the offload is done."""
        ends = sorted((e for e in self.events if e.action == "end"), key=lambda e: e.at)
        return bool(ends) and ends[0].value == END_WHEN_OFFLOADED


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario file ({exc.strerror}); "
                            "check the path given to --scenario") from exc
    return parse_scenario(text, str(path))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"event", "description"}
    if unknown:
        raise ScenarioError(f"{source}: unknown top-level key(s) {sorted(unknown)}; "
                            "a scenario holds only [[event]] tables and an optional description")
    raw_events = data.get("event", [])
    if not isinstance(raw_events, list) or not raw_events:
        raise ScenarioError(f"{source}: no [[event]] tables found; add at least one")
    events = [_parse_event(raw, f"{source}: event #{i + 1}") for i, raw in enumerate(raw_events)]
    return Scenario(source, tuple(sorted(events, key=lambda e: e.at)))


def _parse_event(raw: object, where: str) -> ScenarioEvent:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: must be a table")
    allowed = {"at", "for", *ACTIONS}
    for key in raw:
        if key not in allowed:
            near = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ScenarioError(f"{where}: unknown key {key!r}{hint} "
                                f"(allowed: {', '.join(sorted(allowed))})")
    at = _number(raw.get("at"), f"{where}: 'at'", minimum=0.0)
    actions = [a for a in ACTIONS if a in raw]
    if len(actions) != 1:
        raise ScenarioError(f"{where}: needs exactly one action of {', '.join(ACTIONS)}, "
                            f"got {actions or 'none'}")
    action = actions[0]
    value = raw[action]
    duration = raw.get("for")
    if action in ("press", "hold"):
        target = _choice(value, BUTTON_NAMES, f"{where}: '{action}'")
        if action == "press":
            if duration is not None:
                raise ScenarioError(f"{where}: 'for' is only for hold and stall; "
                                    "use hold = ... with for = ... for a long press")
            return ScenarioEvent(at, action, target, duration=SHORT_PRESS_SECONDS)
        return ScenarioEvent(at, action, target,
                             duration=_number(duration, f"{where}: 'for'", minimum=0.01))
    if action == "stall":
        target = _choice(value, STALL_SOURCES, f"{where}: 'stall'")
        return ScenarioEvent(at, action, target,
                             duration=_number(duration, f"{where}: 'for'", minimum=0.01))
    if duration is not None:
        raise ScenarioError(f"{where}: 'for' does not apply to {action!r}")
    if action == "battery":
        percent = _number(value, f"{where}: 'battery'", minimum=0.0)
        if percent > 100:
            raise ScenarioError(f"{where}: 'battery' is a percentage 0-100, got {percent}")
        return ScenarioEvent(at, action, value=percent)
    if action == "end" and value == END_WHEN_OFFLOADED:
        return ScenarioEvent(at, action, value=value)
    if not isinstance(value, bool):
        also = f' (or "{END_WHEN_OFFLOADED}")' if action == "end" else ""
        raise ScenarioError(f"{where}: {action!r} must be true or false{also}, got {value!r}")
    if action == "end" and not value:
        raise ScenarioError(f"{where}: 'end' must be true (remove the event to not end)")
    return ScenarioEvent(at, action, value=value)


def _number(value: object, what: str, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{what} must be a number of seconds/percent, got {value!r}")
    if value < minimum:
        raise ScenarioError(f"{what} must be at least {minimum}, got {value}")
    return float(value)


def _choice(value: object, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ScenarioError(f"{what} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)

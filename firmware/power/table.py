"""The power table (config/power-model.toml): load it, check it, look figures up.

The table is data so that a measurement on real hardware replaces published figures and
estimates without touching code. A wrong table is worse than none: a camera that thinks
it will last the shift leaves the station and dies during an incident. So it is refused
at start, every mistake at once, each naming the file, the key, what was written and the
allowed range (the same ConfigProblem wording as the configuration file).
"""

from __future__ import annotations

import bisect
import difflib
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bodycam.firmware.config.loader import parse_layer, shipped_file
from bodycam.firmware.config.problems import ConfigError, ConfigProblem
from bodycam.firmware.config.safe_read import NotRegularFileError, read_regular

__all__ = [
    "BATTERY_LIMITS",
    "DEFAULT_TABLE_NAME",
    "PARTS",
    "WATTS_LIMIT",
    "Battery",
    "Figure",
    "Load",
    "PowerTable",
    "load_power_table",
    "parse_power_table",
]

DEFAULT_TABLE_NAME = "power-model.toml"
FORMAT = 1
MAX_TABLE_BYTES = 64 * 1024
ESTIMATE = "estimate"

# Every part the simulator and the prediction draw from, and its states (lowest first).
PARTS: Mapping[str, tuple[str, ...]] = {
    "board": ("base",),
    "cpu": ("idle", "prerecord", "recording", "offload"),
    "camera": ("off", "standby", "running"),
    "microphone": ("off", "on"),
    "display": ("off", "on"),
    "display_light": ("off", "full"),  # scaled by display.brightness (Load units)
    "led": ("off", "on"),
    "buzzer": ("off", "on"),
    "vibration": ("off", "on"),
    "card": ("idle", "writing"),
    "radio": ("off", "idle", "transferring"),
}


@dataclass(frozen=True)
class Limit:
    """An allowed range, with the hint shown when a value falls outside it."""

    low: float
    high: float
    unit: str
    hint: str

    def text(self) -> str:
        return f"a number from {self.low:g} to {self.high:g} {self.unit}"


# The whole Raspberry Pi 5 peaks near 10 W; a single camera part above that is a unit slip.
WATTS_LIMIT = Limit(0.0, 10.0, "W", "watts at the 5 V rail, not milliwatts; measure the "
                    "part or mark a reasoned guess with a source starting \"estimate\"")
BATTERY_LIMITS: Mapping[str, Limit] = {
    "design_capacity_mwh": Limit(500, 100_000, "mWh", "a body-worn pack holds about "
                                 "5-40 Wh: write mWh (mAh x nominal volts), e.g. 10800"),
    "capacity_mwh": Limit(500, 100_000, "mWh", "the pack's present full capacity in mWh "
                          "(at most 1.1 x design_capacity_mwh)"),
    "cutoff_voltage_v": Limit(2.5, 3.6, "V", "one Li-ion cell's cutoff under load"),
    "internal_resistance_ohm": Limit(0.0, 1.0, "ohm", "the pack's resistance in ohms "
                                     "(tens of milliohms for a healthy cell)"),
    "boost_efficiency": Limit(0.5, 1.0, "", "a fraction (0.88 for 88 %), never above 1"),
}
CURVE_VOLTS = Limit(2.5, 4.5, "V", "one Li-ion cell's open-circuit voltage")
CAPACITY_OVER_DESIGN = 1.1


@dataclass(frozen=True)
class Figure:
    """One number of the model and where it comes from."""

    value: float
    source: str

    @property
    def estimate(self) -> bool:
        """True for a reasoned guess rather than a measurement or a published figure."""
        return self.source.strip().lower().startswith(ESTIMATE)


@dataclass(frozen=True)
class Battery:
    """The pack: energy to the cutoff, its voltage curve and the boost converter's loss."""

    design_capacity_mwh: Figure
    capacity_mwh: Figure
    cutoff_voltage_v: Figure
    internal_resistance_ohm: Figure
    boost_efficiency: Figure
    curve: tuple[tuple[float, float], ...]  # (percent, volts), percent ascending
    curve_source: str

    def open_circuit_volts(self, percent: float) -> float:
        """The cell's resting voltage at `percent` state of charge (linear between points)."""
        points = self.curve
        percent = min(100.0, max(0.0, percent))
        index = bisect.bisect_left([p for p, _ in points], percent)
        if index == 0:
            return points[0][1]
        (p0, v0), (p1, v1) = points[index - 1], points[index]
        return v0 + (v1 - v0) * (percent - p0) / (p1 - p0)


@dataclass(frozen=True)
class Load:
    """Each part's state; `units` scales a part's draw (lit LEDs, or a blink's on share).

    A part left out is at its lowest state (the first in PARTS), which the table counts
    as part of the board's base draw or as nothing.
    """

    states: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for part, state in self.states.items():
            if part not in PARTS or state not in PARTS[part]:
                raise ValueError(f"unknown power state {part}.{state}; the table has "
                                 f"{', '.join(f'{p}.{s}' for p in PARTS for s in PARTS[p])}")
        for part, units in self.units.items():
            if part not in PARTS or units < 0:
                raise ValueError(f"units of {part!r} must be >= 0 for a known part, "
                                 f"got {units}")

    def state(self, part: str) -> str:
        return self.states.get(part, PARTS[part][0])

    def with_states(self, **states: str) -> Load:
        """This load with some parts changed (the rest kept)."""
        return Load({**self.states, **states}, self.units)

    def with_units(self, **units: float) -> Load:
        return Load(self.states, {**self.units, **units})


@dataclass(frozen=True)
class PowerTable:
    """The checked table: `parts[part][state]` is the watts that state adds at 5 V."""

    source: str
    board: str
    parts: Mapping[str, Mapping[str, Figure]]
    battery: Battery

    def watts(self, part: str, state: str) -> float:
        """Watts at the 5 V rail; KeyError names the part/state (a programming error)."""
        return self.parts[part][state].value

    def rail_watts(self, load: Load) -> dict[str, float]:
        """Watts at 5 V by `part.state` for this load (every part, the board's base too)."""
        return {f"{part}.{load.state(part)}":
                self.watts(part, load.state(part)) * load.units.get(part, 1.0)
                for part in PARTS}

    def cell_watts(self, load: Load) -> float:
        """What the cell delivers for this load: the rail's watts over the boost efficiency."""
        return sum(self.rail_watts(load).values()) / self.battery.boost_efficiency.value

    def rate_percent_per_hour(self, load: Load) -> float:
        """The gauge rate this load should show (negative: discharging), like CRATE."""
        return -100 * self.cell_watts(load) * 1000 / self.battery.capacity_mwh.value

    def estimates(self) -> list[str]:
        """Dotted names of the figures that are estimates, for reports."""
        named = [(f"parts.{p}.{s}", f) for p, states in self.parts.items()
                 for s, f in states.items()]
        named += [(f"battery.{k}", getattr(self.battery, k)) for k in BATTERY_LIMITS]
        return [name for name, figure in named if figure.estimate]


def load_power_table(path: Path | None = None) -> PowerTable:
    """Read and check the table at `path` (the shipped one by default); ConfigError if bad."""
    target = path if path is not None else shipped_file(DEFAULT_TABLE_NAME)
    source = str(target)
    try:
        raw = read_regular(target, MAX_TABLE_BYTES)
    except NotRegularFileError as exc:
        raise ConfigError([ConfigProblem(source, "", exc.kind, "a readable TOML file",
                                         "give the power table file itself")]) from exc
    except OSError as exc:
        hint = (f"restore it from the shipped {DEFAULT_TABLE_NAME} or fix the path"
                if isinstance(exc, FileNotFoundError)
                else f"a power table is a small TOML file like the shipped "
                     f"{DEFAULT_TABLE_NAME}; check the path and its permissions")
        raise ConfigError([ConfigProblem(source, "", str(exc), "a readable TOML file of at "
                                         f"most {MAX_TABLE_BYTES} bytes", hint)]) from exc
    return parse_power_table(source, raw)


def parse_power_table(source: str, raw: bytes) -> PowerTable:
    """Check the TOML bytes `raw` (named `source` in messages); ConfigError lists all problems."""
    problems: list[ConfigProblem] = []
    layer = parse_layer(source, raw, problems)
    if layer is None:
        raise ConfigError(problems)
    checker = _Checker(source, problems)
    table = checker.table(layer.data)
    if problems or table is None:
        raise ConfigError(problems)
    return table


class _Checker:
    """Walks the parsed TOML, collecting every problem instead of stopping at the first."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems

    def problem(self, key: str, given: object, allowed: str, hint: str = "") -> None:
        self.problems.append(ConfigProblem(self.source, key, given, allowed, hint))

    def unknown(self, where: str, data: Mapping[str, object], known: tuple[str, ...]) -> None:
        """Refuse keys the model does not know: a typo would otherwise hide a figure."""
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "remove it"
                self.problem(f"{where}{key}", data[key], "one of: " + ", ".join(known), hint)

    def table(self, data: Mapping[str, object]) -> PowerTable | None:
        self.unknown("", data, ("format", "board", "battery", "parts"))
        if data.get("format") != FORMAT:
            self.problem("format", data.get("format"), f"{FORMAT}",
                         f"this firmware reads power tables of format {FORMAT}")
        board = data.get("board")
        if not isinstance(board, str) or not board.strip():
            self.problem("board", board, "the board's name as text",
                         'e.g. board = "Raspberry Pi Zero 2 W"')
        parts = self.parts(self.section("parts", data))
        battery = self.battery(self.section("battery", data))
        if self.problems or battery is None or not isinstance(board, str):
            return None
        return PowerTable(self.source, board, parts, battery)

    def section(self, key: str, data: Mapping[str, object]) -> Mapping[str, object]:
        value = data.get(key)
        if isinstance(value, dict):
            return value
        self.problem(key, value, f"a [{key}] table",
                     f"copy the [{key}] section of the shipped {DEFAULT_TABLE_NAME}")
        return {}

    def parts(self, data: Mapping[str, object]) -> dict[str, dict[str, Figure]]:
        self.unknown("parts.", data, tuple(PARTS))
        result: dict[str, dict[str, Figure]] = {}
        for part, states in PARTS.items():
            given = data.get(part)
            if not isinstance(given, dict):
                self.problem(f"parts.{part}", given, "a table with the states "
                             + ", ".join(states), f"add [parts.{part}] with every state")
                continue
            self.unknown(f"parts.{part}.", given, states)
            result[part] = {}
            for state in states:
                figure = self.figure(f"parts.{part}.{state}", given.get(state), "watts",
                                     WATTS_LIMIT)
                if figure is not None:
                    result[part][state] = figure
        return result

    def figure(self, key: str, given: object, name: str, limit: Limit) -> Figure | None:
        """`{ <name> = number, source = "..." }` with the number inside `limit`."""
        shape = f'{{ {name} = <number>, source = "<where it comes from>" }}'
        if not isinstance(given, dict):
            self.problem(key, given, shape, "missing or not an inline table; every figure "
                         'names its source ("estimate: ..." for a guess)')
            return None
        self.unknown(f"{key}.", given, (name, "source"))
        value, source = given.get(name), given.get("source")
        ok = True
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or not limit.low <= value <= limit.high:
            self.problem(f"{key}.{name}", value, limit.text(), limit.hint)
            ok = False
        if not isinstance(source, str) or not source.strip():
            self.problem(f"{key}.source", source, "text naming where the figure comes from",
                         'a document, a measurement, or "estimate: <reasoning>"')
            ok = False
        return Figure(float(value), str(source)) if ok else None  # type: ignore[arg-type]

    def battery(self, data: Mapping[str, object]) -> Battery | None:
        self.unknown("battery.", data, (*BATTERY_LIMITS, "curve", "curve_source"))
        figures = {key: self.figure(f"battery.{key}", data.get(key), "value", limit)
                   for key, limit in BATTERY_LIMITS.items()}
        curve = self.curve(data.get("curve"))
        curve_source = data.get("curve_source")
        if not isinstance(curve_source, str) or not curve_source.strip():
            self.problem("battery.curve_source", curve_source, "text naming where the "
                         "curve comes from", 'the cell\'s datasheet, or "estimate: ..."')
        design, capacity = figures["design_capacity_mwh"], figures["capacity_mwh"]
        if design and capacity and capacity.value > design.value * CAPACITY_OVER_DESIGN:
            self.problem("battery.capacity_mwh.value", capacity.value,
                         f"at most {CAPACITY_OVER_DESIGN:g} x design_capacity_mwh "
                         f"({design.value * CAPACITY_OVER_DESIGN:g} mWh)",
                         "a pack never holds much more than its design capacity; "
                         "check both figures' units")
        cutoff = figures["cutoff_voltage_v"]
        if cutoff and curve and cutoff.value >= curve[-1][1]:
            self.problem("battery.cutoff_voltage_v.value", cutoff.value,
                         f"below the curve's full voltage ({curve[-1][1]:g} V)",
                         "the cutoff is the voltage of an empty cell under load")
        if (None in figures.values() or curve is None
                or not isinstance(curve_source, str)):
            return None
        checked = {key: figure for key, figure in figures.items() if figure is not None}
        return Battery(**checked, curve=curve, curve_source=curve_source)

    def curve(self, given: object) -> tuple[tuple[float, float], ...] | None:
        """[[100, 4.2], ..., [0, 3.0]]: percent falling from 100 to 0, volts never rising."""
        allowed = ("[[percent, volts], ...] from 100 % down to 0 %, percent strictly "
                   f"falling, volts never rising, volts {CURVE_VOLTS.low:g}-"
                   f"{CURVE_VOLTS.high:g}")
        points: list[tuple[float, float]] = []
        if isinstance(given, list):
            for item in given:
                if (isinstance(item, list) and len(item) == 2
                        and all(isinstance(x, int | float) and not isinstance(x, bool)
                                and math.isfinite(x) for x in item)):
                    points.append((float(item[0]), float(item[1])))
        if not isinstance(given, list) or len(points) != len(given) or len(points) < 2:
            self.problem("battery.curve", given, allowed, "each point is a pair of numbers; "
                         "copy the shipped curve and change the volts")
            return None
        percents = [p for p, _ in points]
        volts = [v for _, v in points]
        ordered = (percents[0] == 100 and percents[-1] == 0
                   and all(a > b for a, b in itertools.pairwise(percents)))
        falling = all(a >= b for a, b in itertools.pairwise(volts))
        in_range = all(CURVE_VOLTS.low <= v <= CURVE_VOLTS.high for v in volts)
        if not (ordered and falling and in_range):
            self.problem("battery.curve", given, allowed,
                         "a cell's voltage falls as it empties; list points from full to "
                         "empty")
            return None
        return tuple(reversed(points))

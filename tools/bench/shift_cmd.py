"""`bodycam shift [--json] [--battery-mwh N] [--table FILE]`: a 12-hour shift on one battery.

Replays a realistic shift (tools/bench/shift.py) for each pre-record choice through the
simulator's power model (tools/bench/shift_run.py) and prints, per choice, the energy of
the shift by operating state, how many hours the battery lasts, and the capacity a
shift needs. The figures rest on the power table: published figures and estimates
until someone measures a real camera (the estimates are listed at the end).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bodycam.firmware.config.loader import load_config
from bodycam.firmware.config.problems import ConfigError
from bodycam.firmware.power.table import BATTERY_LIMITS, load_power_table
from bodycam.tools.bench.shift import POLICIES, ShiftPattern
from bodycam.tools.bench.shift_run import run_shift_bench, with_capacity

EXIT_OK = 0
EXIT_USAGE = 2
STATES = ("standby", "buffering", "sleeping", "display_on", "recording")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--table", type=Path, default=None, metavar="FILE",
                        help="power table (default: the shipped power-model.toml)")
    parser.add_argument("--battery-mwh", type=float, default=None, metavar="N",
                        help="evaluate another battery of N mWh (mAh x nominal volts)")
    parser.add_argument("--hours", type=float, default=12.0, metavar="H",
                        help="shift length the capacity is computed for (default 12; the "
                             "pattern's activities must fit in it)")


def run(args: argparse.Namespace) -> int:
    try:
        table = load_power_table(args.table)
        critical = load_config().power.critical_minutes
    except ConfigError as exc:
        print(f"bodycam shift: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.battery_mwh is not None:
        limit = BATTERY_LIMITS["capacity_mwh"]
        if not limit.low <= args.battery_mwh <= limit.high:
            print(f"bodycam shift: --battery-mwh {args.battery_mwh:g}: allowed "
                  f"{limit.text()}; {limit.hint}", file=sys.stderr)
            return EXIT_USAGE
        table = with_capacity(table, args.battery_mwh)
    try:
        pattern = ShiftPattern(hours=args.hours)
        pattern.activities()
    except ValueError as exc:
        print(f"bodycam shift: --hours {args.hours:g}: {exc}; the pattern needs at "
              "least 11 h", file=sys.stderr)
        return EXIT_USAGE
    report = run_shift_bench(table, pattern, critical)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return EXIT_OK


def _hours(value: float | None) -> str:
    return "> 200" if value is None else f"{value:.1f}"


def format_report(report: dict[str, Any]) -> str:
    """The human table: one column per pre-record choice."""
    policies = report["policies"]
    names = [p.name for p in POLICIES]
    width = 26
    head = (f"Shift on one battery: {report['board']}, battery {report['battery_mwh']:.0f} mWh "
            f"({report['battery_mah_at_3v6']:.0f} mAh at 3.6 V), boost converter "
            f"{100 * report['boost_efficiency']:.0f} %\n"
            f"pattern: {report['pattern']}\npower table: {report['table']}\n")
    lines = [head, f"{'':24}" + "".join(f"{policies[n]['label']:>{width}}" for n in names)]

    def row(label: str, cell: Any) -> None:
        lines.append(f"{label:24}" + "".join(f"{cell(policies[n]):>{width}}" for n in names))

    row("average draw (cell)", lambda p: f"{p['average_cell_w']:.2f} W")
    row(f"energy per {report['shift_hours']:g} h shift",
        lambda p: f"{p['cell_mwh'] / 1000:.2f} Wh")
    for state in STATES:
        row(f"  {state}", lambda p, s=state: (
            f"{p['by_state_mwh'][s] / 1000:.2f} Wh / {p['by_state_hours'][s]:.1f} h"
            if s in p["by_state_mwh"] else "-"))
    row("  converter loss", lambda p: f"{p['converter_loss_mwh'] / 1000:.2f} Wh")
    row("hours this battery lasts", lambda p: f"{_hours(p['hours_lasting'])} h")
    row("lasts the shift", lambda p: "yes" if p["lasts_the_shift"] else "NO")
    row("capacity for the shift", lambda p: f"{p['needed_mwh']:.0f} mWh")
    row("", lambda p: f"{p['needed_mah_at_3v6']:.0f} mAh at 3.6 V")
    parts = sorted({k for p in policies.values() for k in p["by_part_mwh"]})
    lines.append("\nenergy by part and state at 5 V, Wh per shift:")
    for part in parts:
        row(f"  {part}", lambda p, k=part: f"{p['by_part_mwh'].get(k, 0.0) / 1000:.3f}")
    lines.append(f"\ncapacity for the shift = the shift's energy from the cell + the "
                 f"firmware's critical reserve ({report['critical_minutes']:g} min at the "
                 "recording draw); hours = the pattern repeating until the cell's voltage "
                 "under load reaches the cutoff")
    lines.append("estimates in the power table (not yet measured): "
                 + ", ".join(report["estimates"]))
    speed = report["speed_x"]
    lines.append(f"simulated in {report['wall_s']:.2f} s"
                 + (f" ({speed:,.0f} x real time)" if speed else ""))
    return "\n".join(lines)

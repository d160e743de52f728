"""`bodycam-server bench`: the dock offload benchmark (command.py), or with `--evidence`
the evidence management benchmark (evidence.py)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Final

from bodycam.server.bench import command
from bodycam.server.bench.evidence import FIGURES, EvidencePlan, run_evidence_bench

__all__ = ["configure", "run"]

_DEFAULT: Final = EvidencePlan()
_UNITS: Final = {"_ms": "ms", "_s": "s", "_mb_s": "MB/s"}


def configure(parser: argparse.ArgumentParser) -> None:
    command.configure(parser)
    evidence = parser.add_argument_group(
        "--evidence", "evidence management at scale: pages, audit verify, retention, "
        "offload while people browse, on SQLite and PostgreSQL")
    evidence.add_argument("--evidence", action="store_true",
                          help="run the evidence management benchmark instead")
    whole = command._whole  # the same argument type, not a copy of it
    evidence.add_argument("--recordings", type=whole(10_000_000), metavar="N",
                          default=_DEFAULT.recordings,
                          help=f"recordings to seed (default {_DEFAULT.recordings})")
    evidence.add_argument("--cameras", type=whole(100_000), metavar="N",
                          default=_DEFAULT.cameras,
                          help=f"cameras they come from (default {_DEFAULT.cameras})")
    evidence.add_argument("--requests", type=whole(100_000), metavar="N",
                          default=_DEFAULT.requests,
                          help=f"timed loads of each page kind (default {_DEFAULT.requests})")
    evidence.add_argument("--browsers", type=whole(1000), metavar="N",
                          default=_DEFAULT.browsers,
                          help=f"people browsing during the offload (default "
                          f"{_DEFAULT.browsers})")
    evidence.add_argument("--think-seconds", type=float, metavar="S",
                          default=_DEFAULT.think_s,
                          help="each browsing person's pause between pages (default "
                          f"{_DEFAULT.think_s:g}; 0: back to back, a load test)")
    evidence.add_argument("--ingest-segments", type=whole(1000), metavar="N",
                          default=_DEFAULT.ingest_segments,
                          help="segments (10 s each) per offloaded recording (default "
                          f"{_DEFAULT.ingest_segments})")
    evidence.add_argument("--ingest-repeats", type=whole(100), metavar="N",
                          default=_DEFAULT.ingest_repeats,
                          help="offloads alone and while browsing, alternating, per "
                          f"layout (medians; default {_DEFAULT.ingest_repeats})")
    evidence.add_argument("--people-nice", type=int, choices=range(20), metavar="N",
                          default=_DEFAULT.people_nice,
                          help="niceness (0-19) of the people's serve part and of the "
                          "browsing people's threads (default "
                          f"{_DEFAULT.people_nice}: the administrator guide's "
                          "CPUWeight=10 against the cameras' 100)")
    evidence.add_argument("--dock-mbit", type=whole(10_000), metavar="MBIT",
                          default=_DEFAULT.dock_mbit,
                          help="the paced offloads: the camera sends no faster than this, "
                          f"as over its dock link (default {_DEFAULT.dock_mbit})")
    evidence.add_argument("--backend", action="append", choices=_DEFAULT.backends,
                          help="only this database (repeatable; default both)")


def _format(report: dict[str, Any]) -> str:
    figures: dict[str, dict[str, Any]] = report["figures"]
    names = list(figures)
    lines = [f"{'figure':34}" + "".join(f"{n:>14}" for n in names)]
    for figure in FIGURES:
        cells = []
        for name in names:
            value = figures[name].get(figure)
            cells.append(f"{'-' if value is None else f'{value:.4g}':>14}")
        lines.append(f"{figure:34}" + "".join(cells))
    lines += [f"ERROR {name}: {error}" for name, error in report["errors"].items()]
    plan = report["context"]["plan"]
    lines.append(f"{plan['recordings']} recordings from {plan['cameras']} cameras; "
                 f"{plan['requests']} timed loads per page kind; {plan['browsers']} people "
                 f"browsing ({plan['think_s']:g} s per page, nice {plan['people_nice']}); "
                 f"paced offloads at {plan['dock_mbit']} Mbit/s; "
                 f"{report['context']['elapsed_s']} s")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if not args.evidence:
        return command.run(args)
    plan = EvidencePlan(recordings=args.recordings, cameras=args.cameras,
                        requests=args.requests, browsers=args.browsers,
                        think_s=args.think_seconds,
                        ingest_segments=args.ingest_segments,
                        ingest_repeats=args.ingest_repeats,
                        people_nice=args.people_nice, dock_mbit=args.dock_mbit,
                        backends=tuple(args.backend or _DEFAULT.backends))
    report = run_evidence_bench(plan, progress=None if args.json else _progress)
    print(json.dumps(report, indent=2) if args.json else _format(report))
    return command.EXIT_MEASUREMENT_FAILED if report["errors"] else command.EXIT_OK


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

"""`bodycam diagram`: the state machine as a Mermaid stateDiagram-v2.

Generated from `states.RULES`, the same data the live machine is built from, so the
picture cannot drift from the behaviour. transitions' own Mermaid engine was not used:
its title block is not valid Mermaid front matter and it styles the model's current
state, which would make the document depend on runtime state.
Ignored (state, event) pairs are left out; `outcome()` documents them.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from bodycam.firmware.device.states import INITIAL_STATE, RULES, STATE_INFO, STATES, State


def mermaid_state_diagram() -> str:
    """Mermaid source: one node per state, one edge per (source, dest) with its events."""
    lines = ["stateDiagram-v2", f"    %% generated from {RULES[0].__module__}.RULES"]
    lines += [f"    {state} : {state} ({STATE_INFO[state].description})" for state in STATES]
    lines.append(f"    [*] --> {INITIAL_STATE}")
    labels: defaultdict[tuple[State, State], list[str]] = defaultdict(list)
    for rule in RULES:
        if rule.kind == "ignore":
            continue
        label = rule.event if rule.action is None else f"{rule.event} / {rule.action}"
        for source in rule.sources:
            labels[(source, rule.dest or source)].append(label)
    lines += [f"    {src} --> {dst} : {', '.join(names)}" for (src, dst), names in labels.items()]
    lines.append("    off --> [*]")
    return "\n".join(lines) + "\n"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--markdown", action="store_true",
                        help="wrap the diagram in a ```mermaid fence for Markdown files")
    parser.add_argument("--out", type=Path, default=None,
                        help="write to this file instead of standard output")


def run(args: argparse.Namespace) -> int:
    text = mermaid_state_diagram()
    if args.markdown:
        text = f"```mermaid\n{text}```\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0

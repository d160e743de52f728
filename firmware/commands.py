"""Sub-command dispatch shared by the three console scripts.

Each sub-command lives in its own module exposing ``configure(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so
``--help`` and quick commands stay fast and a custodian's workstation never imports
hardware drivers it does not need.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from bodycam.firmware import __version__


class CommandModule(Protocol):
    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    module: str  # dotted module path implementing configure()/run()


EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # what a shell reports for a process ended by SIGPIPE (128 + 13)


def dispatch(prog: str, description: str, commands: Sequence[Command],
             argv: Sequence[str] | None = None) -> int:
    """Run the chosen command; returns the exit code.

    The one place every console script meets a reader that went away (`... | head`):
    stdout is flushed here, inside the handler, so a BrokenPipeError never surfaces
    at interpreter exit, where Python prints it and exits 120 (stdout to a pipe is
    block-buffered unless PYTHONUNBUFFERED is set, which hid this on machines that set it).
    """
    try:
        try:
            code = _parse_and_run(prog, description, commands, argv)
        except SystemExit:  # argparse after --help, --version or a usage error
            sys.stdout.flush()
            raise
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Not an error of ours, and no traceback. Python's documented recipe: point
        # stdout at devnull so the flush at exit writes the rest there, quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _parse_and_run(prog: str, description: str, commands: Sequence[Command],
                   argv: Sequence[str] | None) -> int:
    """Parse argv, import the chosen command's module and run it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    by_name = {c.name: c for c in commands}
    chosen = next((a for a in argv if a in by_name), None)
    for command in commands:
        sp = sub.add_parser(command.name, help=command.help, description=command.help)
        if command is by_name.get(chosen or ""):
            _load(command).configure(sp)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return _load(by_name[args.command]).run(args)


def _load(command: Command) -> CommandModule:
    return cast(CommandModule, importlib.import_module(command.module))

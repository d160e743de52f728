"""`bodycam-server recordings` and `fetch`: through the same access gate as the web pages
and the API.

`recordings` lists the ingest state (no evidence: see report.py). Without `--as` the
console reads it as the camera operator (device.manage), so an administrator can see
that what the cameras sent arrived; `--as USER` reads it as that person. `fetch` copies
ciphertext out and always names its person (`--as`, password and second-factor code):
the console holds no evidence permission and never fetches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.custody.console import (
    console_work,
    credentials_of,
    person_arguments,
    read_credentials,
)
from bodycam.server.recordings.fetch import FetchResult, plan_fetch, write_out
from bodycam.server.recordings.report import as_json, format_table, list_recordings

__all__ = ["add_recording_commands"]

EXIT_OK, EXIT_FAILED = 0, 1


class _Command(Protocol):
    """bodycam-server's way to add a command with --data-dir."""

    def __call__(self, name: str, run: Callable[[argparse.Namespace], int], text: str
                 ) -> argparse.ArgumentParser: ...


def _recordings(args: argparse.Namespace) -> int:
    credentials = credentials_of(args)
    context = ServerContext.open(args.data_dir)
    try:
        with console_work(context, "recording.list", credentials) as work:
            items = list_recordings(work)
    finally:
        context.close()
    print(as_json(items) if args.json else format_table(items))
    return EXIT_OK


def _report(result: FetchResult) -> bool:
    """Prints what was written and what not; True if the copy is whole."""
    print(f"{result.directory}: {len(result.written)} files written")
    for name in result.missing:
        print(f"MISSING: {name} has not (all) arrived yet: see `bodycam-server recordings`",
              file=sys.stderr)
    for name in result.corrupt:
        print(f"CORRUPT: {name} in the blob store does not hash to its name (storage "
              "damage): restore it from the backup", file=sys.stderr)
    return not (result.missing or result.corrupt)


def _fetch(args: argparse.Namespace) -> int:
    credentials = read_credentials(args.as_user, args.password_stdin)
    ids = list(dict.fromkeys(args.ids))
    context = ServerContext.open(args.data_dir)
    try:  # every recording authorised and on record before a byte is written
        with console_work(context, "recording.fetch", credentials) as work:
            plans = [plan_fetch(work, recording_id, args.out) for recording_id in ids]
        whole = True
        for plan in plans:
            result = write_out(context.blobs, plan)
            if result.corrupt:  # storage damage found on the way out: on record too
                Access.of(context).audit.record(
                    "recording_fetch_corrupt", work.actor.name,
                    recording=plan.recording_id, files=result.corrupt)
            whole = _report(result) and whole
    finally:
        context.close()
    return EXIT_OK if whole else EXIT_FAILED


def add_recording_commands(command: _Command) -> None:
    listing = command("recordings", _recordings, "every recording and its ingest state "
                      "(stored, missing, damaged; no evidence)")
    listing.add_argument("--json", action="store_true", help="machine-readable")
    person_arguments(listing, required=False,
                     console="the console, as camera operator (device.manage)")
    fetch = command("fetch", _fetch, "write recordings out byte for byte (manifest and "
                    "files) for bodycam-evidence verify/export, as a person with "
                    "recording.export (on record)")
    fetch.add_argument("ids", nargs="+", metavar="ID", help="recording id(s)")
    fetch.add_argument("--out", type=Path, required=True, metavar="DIR",
                       help="each recording goes to DIR/ID/ (never over existing files)")
    person_arguments(fetch, required=True)

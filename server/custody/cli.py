"""`bodycam-server assignment|case|hold|note|search ...`: custody from the command line.

Assignments are administration: the console may set them, or an administrator `--as`
themselves (the record then names the person). Cases, holds, notes and the search are
evidence work and always run `--as USER` (console.py says how; `sign-in` opens a session
for several in a row, `sign-out` ends it). Every command goes
through the same services, and so the same access gate, as the web pages and the API.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeAlias

from bodycam.server.access.service import Work
from bodycam.server.context import ServerContext
from bodycam.server.custody import assignments, cases, holds, notes
from bodycam.server.custody.console import (
    SESSION_VARIABLE,
    console_sign_in,
    console_sign_out,
    console_work,
    credentials_of,
    person_arguments,
    read_credentials,
)
from bodycam.server.custody.errors import CustodyError
from bodycam.server.custody.instants import now_instant
from bodycam.server.custody.search import STATES, Page, SearchFilters, search_recordings

__all__ = ["add_custody_commands"]

Run = Callable[[argparse.Namespace], int]
Group: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class _Command(Protocol):
    def __call__(self, name: str, run: Run, text: str, into: Group
                 ) -> argparse.ArgumentParser: ...


def _run(action: str, body: Callable[..., str]) -> Run:
    """A command: open the data directory, do `body(work, args)` as the person (or the
    console), print what it returns."""
    def run(args: argparse.Namespace) -> int:
        credentials = credentials_of(args)
        context = ServerContext.open(args.data_dir)
        try:
            with console_work(context, action, credentials) as work:
                text = body(work, args)
        finally:
            context.close()
        print(text)
        return 0
    return run


def _assignment_line(view: assignments.AssignmentView) -> str:
    return (f"{view.id:6}  {view.device_id:16} {view.username:20} {view.starts} .. "
            f"{view.ends or 'checked out':24}  by {view.assigned_by}")


def _case_text(view: cases.CaseView) -> str:
    state = "open" if view.open else f"closed by {view.closed_by}"
    return "\n".join([f"case {view.reference}: {view.title} ({state}; opened by "
                      f"{view.opened_by})"] + [f"  {rid}" for rid in view.recordings])


def _hold_line(view: holds.HoldView) -> str:
    state = f"lifted by {view.lifted_by}" if view.lifted_by else "IN FORCE"
    return (f"hold {view.id} on {view.recording_id}: {state}; placed by {view.placed_by}: "
            f"{view.reason}")


def _lift(work: Work, args: argparse.Namespace) -> str:
    holds.direct_lift_refused(work, args.id)


def _note_text(args: argparse.Namespace) -> str:
    if args.text_file is not None:
        try:
            text: str = args.text_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CustodyError(f"cannot read {args.text_file}: {exc}. Fix: give a UTF-8 "
                               "text file") from None
        return text
    if args.text is None:
        raise CustodyError("a note needs its text. Fix: --text TEXT or --text-file FILE")
    text_arg: str = args.text
    return text_arg


def _search(work: Work, args: argparse.Namespace) -> str:
    filters = SearchFilters(device=args.device, wearer=args.wearer, since=args.since,
                            until=args.until, state=args.state, case=args.case,
                            on_hold=args.on_hold)
    result = search_recordings(work, filters, Page(args.page, args.size))
    if args.json:
        return json.dumps({"total": result.total, "page": args.page, "pages": result.pages,
                           "recordings": [asdict(row) for row in result.rows]}, indent=2)
    lines = [f"{result.total} recordings; page {args.page} of {result.pages}"]
    for row in result.rows:
        wearers = ", ".join(row.wearers) or "unknown"
        if row.wearers and not row.wearers_complete:
            wearers += " (and a stretch nobody is on record for)"
        extra = "".join([f"  case {', '.join(row.cases)}" if row.cases else "",
                         "  ON HOLD" if row.on_hold else ""])
        lines.append(f"{row.id}  {row.start} .. {row.end}  {row.state}  worn by {wearers}"
                     + extra)
    return "\n".join(lines)


def _assignment_commands(commands: Group, command: _Command) -> None:
    group = commands.add_parser("assignment", help="who wore which camera when"
                                ).add_subparsers(dest="assignment_command", required=True)
    add = command("add", _run("assignment.add", lambda w, a: _assignment_line(
        assignments.add_assignment(w, a.device, a.user, a.starts, a.ends))),
        "record that a person wore a camera from a time until a time (or still does)",
        into=group)
    add.add_argument("device", metavar="DEVICE")
    add.add_argument("user", metavar="USER")
    add.add_argument("--from", dest="starts", required=True, metavar="TIME",
                     help="ISO 8601 with a zone, e.g. 2026-12-06T07:00:00Z")
    add.add_argument("--until", dest="ends", metavar="TIME", help="default: still worn")
    out = command("check-out", _run("assignment.check_out", lambda w, a: _assignment_line(
        assignments.check_out(w, a.device, a.user))), "a person takes a camera now",
        into=group)
    out.add_argument("device", metavar="DEVICE")
    out.add_argument("user", metavar="USER")
    back = command("check-in", _run("assignment.check_in", lambda w, a: _assignment_line(
        assignments.check_in(w, a.device))), "a camera is back now", into=group)
    back.add_argument("device", metavar="DEVICE")
    end = command("end", _run("assignment.end", lambda w, a: _assignment_line(
        assignments.end_assignment(w, a.id, a.at or now_instant(w.now)))),
        "end an open assignment", into=group)
    end.add_argument("id", type=int, metavar="ID")
    end.add_argument("--at", metavar="TIME", help="ISO 8601 with a zone; default: now")
    listing = command("list", _run("assignment.list", lambda w, a: "\n".join(
        _assignment_line(v) for v in assignments.list_assignments(w, a.device, a.user))
        or "no assignments"), "assignments, newest first", into=group)
    listing.add_argument("--device", metavar="DEVICE")
    listing.add_argument("--user", metavar="USER")
    for sub in (add, out, back, end, listing):
        person_arguments(sub, required=False)


def _case_commands(commands: Group, command: _Command) -> None:
    group = commands.add_parser("case", help="cases: recordings kept together while open"
                                ).add_subparsers(dest="case_command", required=True)
    for name, body, text, recording, reason in (
            ("open", lambda w, a: cases.open_case(w, a.reference, a.title), "open a case",
             False, False),
            ("add", lambda w, a: cases.add_to_case(w, a.reference, a.recording),
             "put a recording in a case", True, False),
            ("remove", lambda w, a: cases.remove_from_case(w, a.reference, a.recording,
                                                           a.reason),
             "take a recording out of a case", True, True),
            ("close", lambda w, a: cases.close_case(w, a.reference, a.reason),
             "close a case", False, True),
            ("reopen", lambda w, a: cases.reopen_case(w, a.reference, a.reason),
             "reopen a closed case", False, True),
            ("show", lambda w, a: cases.case_detail(w, a.reference),
             "a case and its recordings", False, False)):
        sub = command(name, _run(f"case.{name}", _shown(body)), text, into=group)
        sub.add_argument("reference", metavar="REFERENCE", help="the case number")
        if recording:
            sub.add_argument("recording", metavar="RECORDING")
        if reason:
            sub.add_argument("--reason", required=True)
        if name == "open":
            sub.add_argument("--title", required=True)
        person_arguments(sub, required=True)
    listing = command("list", _run("case.list", lambda w, a: "\n".join(
        _case_text(v) for v in cases.list_cases(w, open_only=a.open)) or "no cases"),
        "cases, newest first", into=group)
    listing.add_argument("--open", action="store_true", help="open cases only")
    person_arguments(listing, required=True)


def _shown(body: Callable[[Work, argparse.Namespace], cases.CaseView]
           ) -> Callable[[Work, argparse.Namespace], str]:
    return lambda work, args: _case_text(body(work, args))


def _hold_commands(commands: Group, command: _Command) -> None:
    group = commands.add_parser("hold", help="legal holds: no deletion while in force"
                                ).add_subparsers(dest="hold_command", required=True)
    place = command("place", _run("hold.place", lambda w, a: _hold_line(
        holds.place_hold(w, a.recording, a.reason))), "place a legal hold", into=group)
    place.add_argument("recording", metavar="RECORDING")
    place.add_argument("--reason", required=True)
    listing = command("list", _run("hold.list", lambda w, a: "\n".join(
        _hold_line(v) for v in holds.holds_of(w, a.recording)) or "no holds"),
        "the holds on a recording", into=group)
    listing.add_argument("recording", metavar="RECORDING")
    lift = command("lift", _run("hold.lift", _lift), "always refused: lifting a hold "
                   "needs a two-person approval", into=group)
    lift.add_argument("id", type=int, metavar="HOLD")
    for sub in (place, listing, lift):
        person_arguments(sub, required=True)


def _note_commands(commands: Group, command: _Command) -> None:
    group = commands.add_parser("note", help="notes on recordings").add_subparsers(
        dest="note_command", required=True)
    add = command("add", _run("note.add", lambda w, a: (
        f"note {notes.add_note(w, a.recording, _note_text(a)).id} added")),
        "add a note to a recording (notes are never edited)", into=group)
    add.add_argument("recording", metavar="RECORDING")
    add.add_argument("--text")
    add.add_argument("--text-file", type=Path, metavar="FILE")
    listing = command("list", _run("note.list", lambda w, a: "\n".join(
        f"note {n.id} by {n.author} at {now_instant(n.at)}:\n  "
        + n.text.replace("\n", "\n  ") for n in notes.read_notes(w, a.recording))
        or "no notes"), "a recording's notes, oldest first", into=group)
    listing.add_argument("recording", metavar="RECORDING")
    for sub in (add, listing):
        person_arguments(sub, required=True)


def _search_command(commands: Group, command: _Command) -> None:
    search = command("search", _run("recordings.search", _search), "find recordings by "
                     "camera, wearer, time, state, case, hold (newest first)",
                     into=commands)
    search.add_argument("--device", metavar="DEVICE")
    search.add_argument("--wearer", metavar="USER")
    search.add_argument("--since", metavar="TIME", help="still running at or after TIME")
    search.add_argument("--until", metavar="TIME", help="started at or before TIME")
    search.add_argument("--state", choices=STATES)
    search.add_argument("--case", metavar="REFERENCE")
    held = search.add_mutually_exclusive_group()
    held.add_argument("--on-hold", dest="on_hold", action="store_const", const=True)
    held.add_argument("--not-on-hold", dest="on_hold", action="store_const", const=False)
    search.add_argument("--page", type=int, default=1)
    search.add_argument("--size", type=int, default=50)
    search.add_argument("--json", action="store_true", help="machine-readable")
    person_arguments(search, required=True)


def _sign_in(args: argparse.Namespace) -> int:
    credentials = read_credentials(args.as_user, args.password_stdin, session=False)
    context = ServerContext.open(args.data_dir)
    try:
        token, signed_in = console_sign_in(context, credentials)
    finally:
        context.close()
    until = datetime.fromtimestamp(signed_in.expires_at, UTC).isoformat(timespec="seconds")
    print(f"export {SESSION_VARIABLE}={token}")
    print(f"signed in as {signed_in.username} until {until} at the latest (ends sooner when "
          f"idle): run it as eval \"$(bodycam-server sign-in --as {signed_in.username})\"; "
          f"commands with --as {signed_in.username} in this shell then use the session; "
          "bodycam-server sign-out ends it", file=sys.stderr)
    return 0


def _sign_out(args: argparse.Namespace) -> int:
    token = os.environ.get(SESSION_VARIABLE, "")
    if not token:
        raise ValueError(f"${SESSION_VARIABLE} is not set in this shell: there is no "
                         "session to end here")
    context = ServerContext.open(args.data_dir)
    try:
        who = console_sign_out(context, token)
    finally:
        context.close()
    print(f"signed out {who}" if who else "that session had already ended",
          f"(now run: unset {SESSION_VARIABLE})")
    return 0


def _session_commands(commands: Group, command: _Command) -> None:
    sign_in = command("sign-in", _sign_in, "open a session for several commands in a row "
                      "(prints export BODYCAM_SESSION=...: use with eval)", into=commands)
    person_arguments(sign_in, required=True)
    command("sign-out", _sign_out, "end the session in $BODYCAM_SESSION", into=commands)


def add_custody_commands(commands: Group, command: _Command) -> None:
    """The assignment, case, hold, note and search commands, and the console sessions
    they may share, on bodycam-server's parser."""
    _session_commands(commands, command)
    _assignment_commands(commands, command)
    _case_commands(commands, command)
    _hold_commands(commands, command)
    _note_commands(commands, command)
    _search_command(commands, command)

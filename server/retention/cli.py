"""`bodycam-server retention|deletion|approval ...`: retention and two-person approvals
from the command line, through the same services (and the same Access gate) as the web
pages and the JSON API.

Administration (categories, the pending window, a run of the job) works as the console.
Everything that touches evidence, and every two-person step, is done as a person:
`--as USER` signs them in with their password and second factor (asked on the
terminal, or two lines on stdin: password, then code), exactly like the web sign-in
(throttled, audited), and the command runs with their roles; the console itself never
touches evidence and can never be one of the two people.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeAlias

from sqlalchemy import func, select

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import CONSOLE, Actor
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.custody.target import recording_target
from bodycam.server.people.sessions import close_session
from bodycam.server.people.signin import SignInError, sign_in
from bodycam.server.retention import approvals
from bodycam.server.retention.categories import (
    DAY,
    categories,
    categorise,
    create_category,
    restore,
)
from bodycam.server.retention.job import run_retention
from bodycam.server.retention.models import RecordingRetention
from bodycam.server.retention.window import pending_days, set_pending_days

__all__ = ["add_retention_commands"]

Run = Callable[[argparse.Namespace], int]
Parsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class _Command(Protocol):
    def __call__(self, name: str, run: Run, text: str, into: Parsers
                 ) -> argparse.ArgumentParser: ...


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _credentials(username: str) -> tuple[str, str]:
    if sys.stdin.isatty():
        return (getpass.getpass(f"password for {username}: "),
                getpass.getpass("second-factor code: ").strip())
    password = sys.stdin.readline().rstrip("\r\n")
    return password, sys.stdin.readline().strip()


@contextmanager
def _opened(args: argparse.Namespace) -> Iterator[tuple[ServerContext, Access]]:
    context = ServerContext.open(args.data_dir)
    try:
        yield context, Access.of(context)
    except LookupError as exc:  # an unknown recording: its message names the fix
        raise ValueError(str(exc).strip("'\"")) from None
    finally:
        context.close()


@contextmanager
def _person(access: Access, username: str | None) -> Iterator[Actor]:
    """The person `--as` names, signed in for this one command (then signed out)."""
    if not username:
        raise ValueError("this is done by a person, not the console. Fix: add --as USER "
                         "(you are asked for your password and second-factor code)")
    password, code = _credentials(username)
    try:
        token, signed_in = sign_in(access, username, password, code, "console")
    except SignInError as exc:
        raise ValueError(f"--as {username}: {exc.message}") from None
    try:
        with access.database.transaction() as session:
            actor = access.actor(session, signed_in.user_id)
        yield actor
    finally:
        with access.database.transaction() as session:
            close_session(session, token)


def _print(data: Any, as_json: bool, lines: list[str]) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if as_json else "\n".join(lines))


def _categories(args: argparse.Namespace) -> int:
    with _opened(args) as (context, _access), context.database.transaction() as session:
        views = categories(session)
        window = pending_days(session)
    _print({"categories": [v.__dict__ for v in views], "pending_days": window}, args.json,
           [f"{v.name:20} {v.period_days:6} days {v.recordings:8} recordings  "
            f"{v.description}" for v in views] + [f"pending window: {window} days"])
    return 0


def _add_category(args: argparse.Namespace) -> int:
    with _opened(args) as (_context, access), access.work(CONSOLE, "retention.add") as work:
        create_category(work, args.name, args.days, args.description)
    print(f"category {args.name}: {args.days} days")
    return 0


def _window(args: argparse.Namespace) -> int:
    with _opened(args) as (_context, access), access.work(CONSOLE, "retention.window") as w:
        set_pending_days(w, args.days)
    print(f"expired recordings now wait {args.days} days (restorable) before deletion")
    return 0


def _run(args: argparse.Namespace) -> int:
    with _opened(args) as (context, access):
        report = run_retention(context.database, context.blobs, access.audit, access.clock)
    if report.held_by is not None:
        print(f"another process is running the retention job ({report.held_by}); "
              "nothing done", file=sys.stderr)
        return 1
    skipped = {rule: len(ids) for rule, ids in report.skipped.items()}
    _print(report.to_json(), args.json, [
        f"retention run: {report.registered} recordings registered, "
        f"{len(report.pending)} now pending, {len(report.deleted)} deleted, "
        f"skipped {skipped or 'none'}, failed {len(report.failed)}",
        *(f"FAILED {key}: {error}" for key, error in report.failed.items())])
    return 1 if report.failed else 0


def _status(args: argparse.Namespace) -> int:
    with _opened(args) as (context, _access), context.database.transaction() as session:
        counts: dict[str, int] = {state: count for state, count in session.execute(
            select(RecordingRetention.state, func.count())
            .group_by(RecordingRetention.state))}
        window = pending_days(session) * DAY
        pending = [(r, c, p) for r, c, p in session.execute(select(
            RecordingRetention.recording_id, RecordingRetention.category,
            RecordingRetention.pending_since).where(RecordingRetention.state == "pending")
            .order_by(RecordingRetention.pending_since).limit(args.limit))]
    rows = [{"recording": r, "category": c, "deleted_after": (p or 0.0) + window}
            for r, c, p in pending]
    _print({"states": counts, "pending": rows}, args.json,
           [f"{state}: {count}" for state, count in sorted(counts.items())] +
           [f"pending {r} ({c}): deleted after {_when((p or 0.0) + window)} unless "
            "restored" for r, c, p in pending])
    return 0


def _categorise(args: argparse.Namespace) -> int:
    with _opened(args) as (_context, access), _person(access, args.as_user) as actor, \
            access.work(actor, "recording.categorise") as work:
        target = recording_target(work.session, args.recording)
        if args.reason is None:
            row = categorise(work, target, args.category)
        else:
            row = restore(work, target, args.category, args.reason)
        print(f"{row.recording_id}: {row.category}, kept until {_when(row.expires_at)} "
              f"({row.state})")
    return 0


def _request(args: argparse.Namespace) -> int:
    with _opened(args) as (_context, access), _person(access, args.as_user) as actor, \
            access.work(actor, f"{args.kind}.request") as work:
        if args.kind == approvals.DELETION:
            view = approvals.request_deletion(work, args.subject, args.reason)
        elif args.kind == approvals.CATEGORY_PERIOD:
            view = approvals.request_period_change(work, args.subject, args.days,
                                                   args.reason)
        else:
            view = approvals.request_hold_lift(work, args.subject, args.reason)
    print(f"request {view.id} ({view.kind} of {view.subject}) waits for a second person: "
          f"bodycam-server approval approve {view.id} --as OTHER")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _opened(args) as (_context, access), _person(access, args.as_user) as actor, \
            access.work(actor, "approval.list") as work:
        work.authorise(Permission.APPROVE_DELETION)
        views = approvals.list_approvals(work.session, None if args.all else "pending")
    _print([v.to_json() for v in views], args.json, [
        f"{v.id:6} {v.state:9} {v.kind:16} {v.subject:34} by {v.requested_by} "
        f"{_when(v.requested_at)}: {v.reason}" for v in views] or ["nothing waiting"])
    return 0


def _decide(approve: bool) -> Run:
    def run(args: argparse.Namespace) -> int:
        with _opened(args) as (context, access), _person(access, args.as_user) as actor:
            done = approvals.decide(access, context.blobs, actor, args.id, approve=approve,
                                    note=args.note or "")
        print(f"request {args.id}: {done.approval.state}")
        if done.deleted is not None:
            print(f"deleted {done.deleted.recording_id}: {done.deleted.removed} blobs "
                  "removed; its tombstone is in the audit log")
        if done.pending_blobs is not None:
            print(done.pending_blobs, file=sys.stderr)
            return 1
        return 0
    return run


def add_retention_commands(commands: Parsers, command: _Command) -> None:
    """The `retention`, `deletion` and `approval` groups on bodycam-server's parser."""
    def as_user(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--as", dest="as_user", metavar="USER", required=True,
                         help="the person doing it (asked for password and code)")
        return sub

    retention = commands.add_parser("retention", help="retention categories and the "
                                    "retention job").add_subparsers(
        dest="retention_command", required=True)
    listing = command("categories", _categories, "the categories, their periods and the "
                      "pending window", into=retention)
    listing.add_argument("--json", action="store_true")
    add = command("add-category", _add_category, "a new category (administrator)",
                  into=retention)
    add.add_argument("name", metavar="NAME")
    add.add_argument("--days", type=int, required=True, help="its retention period")
    add.add_argument("--description", default="")
    period = as_user(command("change-period", _request, "request a category's new period "
                             "(a second person approves; nothing is deleted at once)",
                             into=retention))
    period.add_argument("subject", metavar="CATEGORY")
    period.add_argument("--days", type=int, required=True)
    period.add_argument("--reason", required=True)
    period.set_defaults(kind=approvals.CATEGORY_PERIOD)
    window = command("pending-window", _window, "days an expired recording waits, "
                     "restorable, before deletion (1 to 90)", into=retention)
    window.add_argument("days", type=int, metavar="DAYS")
    run = command("run", _run, "run the retention job now (serve runs it hourly)",
                  into=retention)
    run.add_argument("--json", action="store_true")
    status = command("status", _status, "recordings by retention state, and the pending "
                     "ones with their deletion date", into=retention)
    status.add_argument("--json", action="store_true")
    status.add_argument("--limit", type=int, default=100)
    for name, text in (("categorise", "put a recording in a category"),
                       ("restore", "bring back a pending recording, into a category")):
        sub = as_user(command(name, _categorise, text, into=retention))
        sub.add_argument("recording", metavar="RECORDING")
        sub.add_argument("category", metavar="CATEGORY")
        sub.add_argument("--reason", required=name == "restore", default=None)

    deletion = commands.add_parser("deletion", help="two-person deletion").add_subparsers(
        dest="deletion_command", required=True)
    ask = as_user(command("request", _request, "request a recording's deletion (a "
                          "second person approves: bodycam-server approval)", into=deletion))
    ask.add_argument("subject", metavar="RECORDING")
    ask.add_argument("--reason", required=True)
    ask.set_defaults(kind=approvals.DELETION)

    approval = commands.add_parser("approval", help="two-person approvals: deletions, "
                                   "retention periods, lifting legal holds").add_subparsers(
        dest="approval_command", required=True)
    waiting = as_user(command("list", _list, "requests waiting for a decision",
                              into=approval))
    waiting.add_argument("--all", action="store_true", help="decided ones too")
    waiting.add_argument("--json", action="store_true")
    for name, approve in (("approve", True), ("reject", False)):
        sub = as_user(command(name, _decide(approve), f"{name} a request (a different "
                              "person than the requester; never the wearer)", into=approval))
        sub.add_argument("id", type=int, metavar="ID")
        sub.add_argument("--note", required=not approve, default=None)
    lift = as_user(command("lift-hold", _request, "request lifting a legal hold (a second "
                           "person approves)", into=approval))
    lift.add_argument("subject", metavar="HOLD")
    lift.add_argument("--reason", required=True)
    lift.set_defaults(kind=approvals.HOLD_LIFT)

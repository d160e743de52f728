"""`bodycam-server user ...`: people from the command line (the first administrator;
everything after can be done by administrators signed in). The console acts as an
administrator and goes through the same access service as every other entry point."""

from __future__ import annotations

import argparse
import getpass
import io
import sys
from collections.abc import Callable
from typing import Protocol

import segno
from sqlalchemy import select

from bodycam.server.access.models import UserRole
from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.people.accounts import (
    AccountError,
    add_user,
    disable_user,
    enable_user,
    normalise_username,
    reset_second_factor,
    unlock_user,
)
from bodycam.server.people.models import User
from bodycam.server.people.totp import provisioning_uri

__all__ = ["add_user_commands"]

Run = Callable[[argparse.Namespace], int]


class _Command(Protocol):
    def __call__(self, name: str, run: Run, text: str,
                 into: argparse._SubParsersAction[argparse.ArgumentParser]
                 ) -> argparse.ArgumentParser: ...


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise AccountError("no terminal to ask for the password on. Fix: pass "
                           "--password-stdin and write the password as one line to stdin")
    first = getpass.getpass(f"password for {args.username}: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ; run the command again")
    return first


def _second_factor_setup(context: ServerContext, username: str, secret: str) -> str:
    issuer = f"bodycam evidence server {context.settings.host}"
    uri = provisioning_uri(secret, username, issuer)
    qr = io.StringIO()
    segno.make(uri, error="m").terminal(out=qr, compact=True)
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return ("second factor (TOTP, RFC 6238): add it to an authenticator app NOW; it is "
            "shown only this once.\n"
            f"  scan the QR code below, or type the key: {grouped}\n"
            f"  (time-based, 6 digits, every 30 s; account {username}, issuer {issuer})\n"
            f"  {uri}\n{qr.getvalue()}")


def _add(args: argparse.Namespace) -> int:
    password = _password(args)
    context = ServerContext.open(args.data_dir)
    try:
        with Access.of(context).work(CONSOLE, "user.add") as work:
            added = add_user(work, args.username, args.name, password, roles=args.role,
                             second_factor=not args.no_second_factor)
        print(f"added user {added.username} ({args.name}), roles: "
              f"{', '.join(args.role) or 'none'}")
        if added.totp_secret is not None:
            print(_second_factor_setup(context, added.username, added.totp_secret))
    finally:
        context.close()
    return 0


def _reset(args: argparse.Namespace) -> int:
    context = ServerContext.open(args.data_dir)
    try:
        with Access.of(context).work(CONSOLE, "user.reset-second-factor") as work:
            secret = reset_second_factor(work, args.username)
            username = normalise_username(args.username)
        print(f"{username}: new second factor; the old one no longer works and every "
              "session of theirs has ended")
        print(_second_factor_setup(context, username, secret))
    finally:
        context.close()
    return 0


def _on_user(action: str, change: Callable[..., None], done: str) -> Run:
    def run(args: argparse.Namespace) -> int:
        context = ServerContext.open(args.data_dir)
        try:
            with Access.of(context).work(CONSOLE, action) as work:
                change(work, args.username)
        finally:
            context.close()
        print(f"{args.username}: {done}")
        return 0
    return run


def _list(args: argparse.Namespace) -> int:
    context = ServerContext.open(args.data_dir)
    try:
        with context.database.transaction() as session:
            users = list(session.scalars(select(User).order_by(User.username)))
            roles = {u.id: sorted(session.scalars(select(UserRole.role).where(
                UserRole.user_id == u.id))) for u in users}
    finally:
        context.close()
    for user in users:
        state = "disabled" if user.disabled else "active"
        factor = "TOTP" if user.totp_secret else "no second factor"
        print(f"{user.username:24} {state:8} {factor:16} {', '.join(roles[user.id]) or '-':30}"
              f" {user.display_name}")
    return 0


def add_user_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                      command: _Command) -> None:
    """The `user` command group, on bodycam-server's parser."""
    group = commands.add_parser("user", help="people who sign in").add_subparsers(
        dest="user_command", required=True)
    add = command("add", _add, "add a person (prints the second factor's one-time setup)",
                  into=group)
    add.add_argument("username", metavar="USERNAME")
    add.add_argument("--name", required=True, help="the person's full name")
    add.add_argument("--role", action="append", default=[], metavar="ROLE",
                     help="a role to hold (repeatable): wearer, reviewer, custodian, "
                     "approver, administrator, auditor, or the agency's own")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password as one line from stdin (else: asked twice)")
    add.add_argument("--no-second-factor", action="store_true",
                     help="no TOTP (only for an account holding no permission, a wearer)")
    for name, change, done, text in (
            ("unlock", unlock_user, "failed sign-ins cleared, unlocked",
             "clear failed sign-ins and a lockout"),
            ("disable", disable_user, "disabled; every session of theirs has ended",
             "stop a person signing in (ends their sessions)"),
            ("enable", enable_user, "enabled: may sign in again",
             "let a disabled person sign in again")):
        sub = command(name, _on_user(f"user.{name}", change, done), text, into=group)
        sub.add_argument("username", metavar="USERNAME")
    reset = command("reset-second-factor", _reset, "a new TOTP key for a lost or replaced "
                    "phone (prints its one-time setup; ends the person's sessions)",
                    into=group)
    reset.add_argument("username", metavar="USERNAME")
    command("list", _list, "everyone who can sign in, with roles", into=group)

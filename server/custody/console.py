"""Evidence work from the server's command line, as a signed-in person.

The console itself administers and never touches evidence (access/rules.py CONSOLE), so
an evidence command names its person: `--as USER` signs them in with password and
second-factor code (asked on the terminal, or two lines on stdin with
`--password-stdin`), through the same sign-in as the web (throttled, locked out, on
record), and the work goes through the same access gate. The sign-in session ends
with the command.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access, Work
from bodycam.server.context import ServerContext
from bodycam.server.people.sessions import close_session
from bodycam.server.people.signin import SignInError, sign_in

__all__ = ["Credentials", "console_work", "credentials_of", "person_arguments",
           "read_credentials"]

ADDRESS = "console"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    code: str


def read_credentials(username: str, password_stdin: bool) -> Credentials:
    """Password and code: two lines on stdin with `password_stdin`, else asked."""
    if password_stdin:
        return Credentials(username, sys.stdin.readline().rstrip("\r\n"),
                           sys.stdin.readline().strip())
    if not sys.stdin.isatty():
        raise ValueError("no terminal to ask for the password on. Fix: pass "
                         "--password-stdin and write the password and the second-factor "
                         "code as two lines to stdin")
    return Credentials(username, getpass.getpass(f"password for {username}: "),
                       input("second-factor code: ").strip())


def person_arguments(sub: argparse.ArgumentParser, *, required: bool,
                     console: str = "the console, as administrator") -> None:
    """`--as USER` and `--password-stdin` on a command (`console`: who acts without)."""
    sub.add_argument("--as", dest="as_user", required=required, metavar="USER",
                     help="who does it (asked for password and second-factor code)"
                     + ("" if required else f"; default: {console}"))
    sub.add_argument("--password-stdin", action="store_true",
                     help="read the password and the code as two lines from stdin")


def credentials_of(args: argparse.Namespace) -> Credentials | None:
    """The person named by person_arguments, or None for the console."""
    if args.as_user is None:
        return None
    return read_credentials(args.as_user, args.password_stdin)


@contextlib.contextmanager
def console_work(context: ServerContext, action: str, credentials: Credentials | None
                 ) -> Iterator[Work]:
    """Work as the signed-in person, or as the console (administration only) without
    credentials. A failed sign-in is a ValueError naming the fix (and is on record)."""
    access = Access.of(context)
    if credentials is None:
        with access.work(CONSOLE, action) as work:
            yield work
        return
    try:
        token, signed_in = sign_in(access, credentials.username, credentials.password,
                                   credentials.code, ADDRESS)
    except SignInError as exc:
        raise ValueError(f"--as {credentials.username}: {exc.message}") from None
    try:
        with access.work(signed_in.user_id, action) as work:
            yield work
    finally:
        with access.database.transaction() as session:
            close_session(session, token)

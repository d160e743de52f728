"""Evidence work from the server's command line, as a signed-in person.

The console itself administers and never touches evidence (access/rules.py CONSOLE), so
an evidence command names its person: `--as USER` signs them in with password and
second-factor code (asked on the terminal, or two lines on stdin with
`--password-stdin`), through the same sign-in as the web (throttled, locked out, on
record), and the work goes through the same access gate. The sign-in session ends
with the command.

A second-factor code counts once, so several commands in a row would each wait for the
next code: `bodycam-server sign-in --as USER` opens a session instead and prints it as
`export BODYCAM_SESSION=...` for the person's own shell. Commands with `--as USER` then
use it (it must be USER's, live: the web's expiry, idle limit and revocation apply)
until `bodycam-server sign-out` or its expiry. The token lives in that shell only, not
in a file the service account (shared by the staff who run these commands) could read.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access, Work
from bodycam.server.context import ServerContext
from bodycam.server.people.sessions import SessionError, SignedIn, close_session, find_session
from bodycam.server.people.signin import SignInError, sign_in

__all__ = ["SESSION_VARIABLE", "Credentials", "console_sign_in", "console_sign_out",
           "console_work", "credentials_of", "person_arguments", "read_credentials"]

ADDRESS = "console"
SESSION_VARIABLE: Final = "BODYCAM_SESSION"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = ""
    code: str = ""
    session_token: str = ""  # from `bodycam-server sign-in`: nothing is asked


def read_credentials(username: str, password_stdin: bool, *, session: bool = True
                     ) -> Credentials:
    """The session in $BODYCAM_SESSION if there is one (and `session`); else password
    and code: two lines on stdin with `password_stdin`, else asked."""
    token = os.environ.get(SESSION_VARIABLE, "") if session else ""
    if token and not password_stdin:
        return Credentials(username, session_token=token)
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
    if credentials.session_token:  # the shell's session stays open after the command
        with access.work(_resumed(context, credentials).user_id, action) as work:
            yield work
        return
    token, signed_in = console_sign_in(context, credentials)
    try:
        with access.work(signed_in.user_id, action) as work:
            yield work
    finally:
        with access.database.transaction() as session:
            close_session(session, token)


def console_sign_in(context: ServerContext, credentials: Credentials
                    ) -> tuple[str, SignedIn]:
    """A new session for password and code (a ValueError naming the fix if refused)."""
    try:
        return sign_in(Access.of(context), credentials.username, credentials.password,
                       credentials.code, ADDRESS)
    except SignInError as exc:
        raise ValueError(f"--as {credentials.username}: {exc.message}") from None


def _resumed(context: ServerContext, credentials: Credentials) -> SignedIn:
    """The live session of $BODYCAM_SESSION, which must be the named person's."""
    again = (f"sign in again: eval \"$(bodycam-server sign-in --as "
             f"{credentials.username})\", or unset {SESSION_VARIABLE}")
    try:
        signed_in = find_session(context.database, credentials.session_token,
                                 context.clock())
    except SessionError as exc:
        raise ValueError(f"--as {credentials.username}: ${SESSION_VARIABLE}: {exc}; "
                         f"{again}") from None
    if signed_in.username != credentials.username:
        raise ValueError(f"--as {credentials.username}: ${SESSION_VARIABLE} is the "
                         f"session of {signed_in.username}, not of "
                         f"{credentials.username}: {again}")
    return signed_in


def console_sign_out(context: ServerContext, token: str) -> str:
    """End the session of `token` (on record); who it was, or "" if it had ended."""
    try:
        signed_in = find_session(context.database, token, context.clock())
    except SessionError:
        return ""
    access = Access.of(context)
    with access.database.transaction() as session:
        close_session(session, token)
        access.audit.add(session, "sign_out", signed_in.username, address=ADDRESS)
    return signed_in.username

"""`bodycam-server fetch` in the server tests, as a fresh custodian (custodian_rig)."""

from __future__ import annotations

import io
import sys

from custodian_rig import new_custodian
from server_fixtures import Server

__all__ = ["fetch_as_custodian", "run_with_stdin"]


def run_with_stdin(server: Server, text: str, *args: str, check: bool = True
                   ) -> tuple[int, str, str]:
    """server.run with `text` as stdin (the commands run in this process)."""
    saved, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        return server.run(*args, check=check)
    finally:
        sys.stdin = saved


def fetch_as_custodian(server: Server, *args: str, check: bool = True
                       ) -> tuple[int, str, str]:
    """`fetch ARGS` signed in as a custodian added for it; (exit code, stdout, stderr)."""
    person = new_custodian()
    _, added, _ = run_with_stdin(server, person.password_line(), *person.add_args())
    return run_with_stdin(server, person.sign_in_lines(added), *person.fetch_args(*args),
                          check=check)

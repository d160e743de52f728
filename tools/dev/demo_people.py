"""The demo's people: one account per default role on the demo server, and the minute
at the end of `make demo` in which a newcomer can sign in as each of them.

The password is made fresh for each demo run (the server listens on loopback only, and
a fixed password in a repository ends up on real servers). The second-factor keys are
kept in a DEMO-ONLY file beside the demo key; while the server lingers, the current
code of each account is printed every 30 s, so no authenticator app is needed.
"""

from __future__ import annotations

import os
import secrets
import select
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.people.accounts import add_user
from bodycam.server.people.totp import STEP_S, code_at

__all__ = ["DEMO_PEOPLE", "SIGN_INS_NAME", "DemoPerson", "add_demo_people", "linger",
           "sign_in_lines"]

SIGN_INS_NAME: Final = "DEMO-ONLY-sign-ins.txt"
# (username, name, role): one person per role of SYSTEM.md's starting point
DEMO_PEOPLE: Final = (
    ("admin.demo", "Alex Admin (demo)", "administrator"),
    ("reviewer.demo", "Robin Reviewer (demo)", "reviewer"),
    ("custodian.demo", "Casey Custodian (demo)", "custodian"),
    ("approver.demo", "Avery Approver (demo)", "approver"),
    ("auditor.demo", "Ari Auditor (demo)", "auditor"),
    ("wearer.demo", "Wren Wearer (demo)", "wearer"),
)


@dataclass(frozen=True)
class DemoPerson:
    user_id: int
    username: str
    role: str
    totp_secret: str


def add_demo_people(data_dir: Path, out: Path) -> tuple[str, list[DemoPerson]]:
    """The accounts, through the same access gate as `bodycam-server user add`; the
    password and keys are written to out/SIGN_INS_NAME (mode 0600)."""
    password = "demo-" + secrets.token_urlsafe(12)
    people: list[DemoPerson] = []
    context = ServerContext.open(data_dir)
    try:
        access = Access.of(context)
        for username, name, role in DEMO_PEOPLE:
            with access.work(CONSOLE, "user.add") as work:
                added = add_user(work, username, name, password, roles=[role])
            assert added.totp_secret is not None  # second_factor defaults to True
            people.append(DemoPerson(added.user_id, added.username, role,
                                     added.totp_secret))
    finally:
        context.close()
    lines = ["# DEMO ONLY - made by `make demo`; these accounts exist only on the demo "
             "server.", f"password (every account): {password}"]
    lines += [f"{p.username:16} {p.role:14} TOTP key {p.totp_secret}" for p in people]
    fd = os.open(out / SIGN_INS_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"demo accounts, one per role: {', '.join(p.username for p in people)} "
          f"(sign-ins in {out / SIGN_INS_NAME})")
    return password, people


def sign_in_lines(password: str, person: DemoPerson, clock: Callable[[], float] = time.time
                  ) -> str:
    """What `--password-stdin` reads: the password and the person's code of the time
    step before this one (still accepted: a phone's clock may lag), so the current code,
    which linger() prints, stays unused for the newcomer (a code never counts twice)."""
    return f"{password}\n{code_at(person.totp_secret, clock() - STEP_S)}\n"


def _codes(people: list[DemoPerson], now: float) -> str:
    left = STEP_S - int(now) % STEP_S
    rows = [f"  {p.username:16} {p.role:14} {code_at(p.totp_secret, now)}" for p in people]
    return f"codes now (valid {left} s more, then the next ones follow):\n" + "\n".join(rows)


def _pressed_enter(stdin: TextIO, timeout: float) -> bool:
    """True if a line was typed within `timeout` (a terminal only; else just waits)."""
    if not stdin.isatty():
        time.sleep(timeout)
        return False
    ready, _, _ = select.select([stdin], [], [], timeout)
    if ready:
        stdin.readline()
    return bool(ready)


def linger(url: str, ca_file: Path, password: str, people: list[DemoPerson], seconds: float,
           *,
           clock: Callable[[], float] = time.time, stdin: TextIO = sys.stdin) -> None:
    """Keep the caller's server up for `seconds` (or until Enter) and show how to sign in."""
    if seconds <= 0:
        return
    print(f"\n--- the evidence server stays up for {seconds:g} s: {url}/ ---\n"
          f"  your browser will warn once: the demo made its own certificate authority "
          f"({ca_file})\n  password for every demo account: {password}")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        now = clock()
        print(_codes(people, now), flush=True)
        if stdin.isatty():
            print("  press Enter to stop the server now", flush=True)
        if _pressed_enter(stdin, min(left, STEP_S - now % STEP_S)):
            return

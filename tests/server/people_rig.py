"""Helpers of the people/sign-in/roles tests: a real server data directory on SQLite or
on the harness's PostgreSQL, a clock the test moves, accounts, and TOTP codes computed
with cryptography's RFC 6238 code directly (not through the server's module)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from server_rig import run_server

from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.people.accounts import NewUser, add_user

PASSWORD = "correct horse battery staple"
START = 1_800_000_000.0  # a time step boundary is at every multiple of 30


@dataclass
class Clock:
    now: float = START

    def __call__(self) -> float:
        return self.now


def database_args(name: str, request: pytest.FixtureRequest) -> list[str]:
    if name == "postgresql":
        cluster = request.getfixturevalue("postgres")  # the harness's one cluster
        return ["--database", cluster.create_database(f"p{secrets.token_hex(4)}")]
    return []


def make_context(directory: Path, args: list[str], clock: Clock) -> ServerContext:
    run_server("init", "--data-dir", str(directory), "--url", "https://127.0.0.1:8443", *args)
    context = ServerContext.open(directory)
    context.clock = clock
    return context


DATABASES = ("sqlite", "postgresql")


def open_people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    """The body of each test module's `people` fixture (params=DATABASES)."""
    clock = Clock()
    context = make_context(tmp_path / "server", database_args(request.param, request), clock)
    yield People(context, clock, Access.of(context))
    context.close()


def code(secret: str, at: float) -> str:
    """The TOTP code of `secret` at time `at` (6 digits, 30 s, SHA-1)."""
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return TOTP(raw, 6, SHA1(), 30, enforce_key_length=False).generate(at).decode()


def wrong_code(secret: str, at: float) -> str:
    """Six digits that are none of the codes accepted at `at` (one step either side)."""
    taken = {code(secret, at + drift) for drift in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in taken)


@dataclass
class People:
    context: ServerContext
    clock: Clock
    access: Access

    def add(self, username: str, *roles: str, second_factor: bool = True) -> NewUser:
        with self.access.work(CONSOLE, "user.add") as work:
            return add_user(work, username, username.title(), PASSWORD, roles=list(roles),
                            second_factor=second_factor)

    def events(self, kind: str | None = None) -> list[tuple[str, str, str | None]]:
        return [(e.kind, e.actor, e.rule) for e in self.access.audit.events(kind)]

"""People browsing a running server over HTTPS, for the evidence benchmark: signed in
through the JSON session API like anyone (password and TOTP code), timing each page,
and many of them at once in the background while cameras offload.

The people stand for browsers on other machines; here they share the benchmark's cores,
so their threads can run at a lower CPU priority (`nice`, Linux: a thread's own), as the
people's `serve` part does in the recommended layout, so that what they cost the offload
is the server's work for them, not the benchmark's own TLS clients.

A person reads a page before the next click (`think_s`; 5 s by default): twenty people
clicking back to back with no pause would be a load test of hundreds of people, not
what the issue's "20 people browse" measures.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final

import httpx

from bodycam.server.people.totp import code_at

__all__ = ["Account", "Browsing", "page_times", "signed_in"]

COOKIE: Final = "__Host-bodycam-session"
TIMEOUT_S: Final = 120.0


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    totp_secret: str

    def code(self, at: float) -> str:
        return code_at(self.totp_secret, at)


def signed_in(url: str, ca: Path, account: Account) -> httpx.Client:
    """A client holding a session of `account` (RuntimeError with the server's answer)."""
    client = httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=ca),
                          timeout=TIMEOUT_S)
    answer = client.post("/api/v1/session", json={
        "username": account.username, "password": account.password,
        "code": account.code(time.time())})
    token = answer.cookies.get(COOKIE)
    if answer.status_code != 200 or token is None:
        client.close()
        raise RuntimeError(f"sign-in of {account.username} failed: {answer.status_code} "
                           f"{answer.text[:300]}")
    client.headers["Cookie"] = f"{COOKIE}={token}"
    return client


def _get(client: httpx.Client, path: str) -> float:
    """Seconds from request to the whole page; RuntimeError unless it is a 200."""
    began = time.perf_counter()
    answer = client.get(path)
    took = time.perf_counter() - began
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return took


def page_times(client: httpx.Client, paths: Sequence[str]) -> list[float]:
    """Each path once, one after the other (one person clicking)."""
    return [_get(client, path) for path in paths]


class Browsing:
    """`clients` people loading `paths` round and round, each in a thread, pausing
    `think_s` after each page, until the block ends, each thread at niceness `nice`;
    `seconds` has each page served, `errors` the first failures."""

    def __init__(self, clients: Sequence[httpx.Client], paths: Sequence[str],
                 think_s: float, nice: int = 0) -> None:
        self._clients = clients
        self._paths = paths
        self._think_s = think_s
        self._nice = nice
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []
        self.seconds: list[float] = []  # each page served, request to last byte

    def _browse(self, client: httpx.Client, offset: int) -> None:
        if self._nice:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)
        n = offset
        while not self._stop.is_set():
            try:
                took = _get(client, self._paths[n % len(self._paths)])
            except (RuntimeError, httpx.HTTPError) as exc:
                with self._lock:
                    if len(self.errors) < 5:
                        self.errors.append(str(exc))
                self._stop.wait(0.5)
                continue
            with self._lock:
                self.seconds.append(took)
            n += 1
            self._stop.wait(self._think_s)

    def __enter__(self) -> Browsing:
        for index, client in enumerate(self._clients):
            thread = threading.Thread(target=self._browse, args=(client, index * 7),
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(TIMEOUT_S)

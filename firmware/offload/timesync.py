"""Authenticated time from the evidence server, and the request to correct the clock.

At every dock the camera asks the server for its signed time with a fresh nonce, checks
the statement under the pinned server key and that it answers this nonce, and measures
its own clock's offset (audited as `time_sync`). From then on it signs requests with the
server's time carried forward on its monotonic clock, so an unset clock never makes the
server refuse it.

Correcting the clock needs CAP_SYS_TIME, which the camera program never has
(ProtectClock=yes, no capabilities). It hands the verified statement to a helper unit
instead: `ClockRequestFile` writes it where `bodycam-clock.path` watches, and
`bodycam-clock.service` verifies it again, on its own, and sets the clock (set_clock.py;
docs/technician.md "The clock"). The simulator sets its simulated clock directly.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Protocol

from bodycam.firmware.evidence.durable import replace_file
from bodycam.firmware.evidence.receipts import TIME_FORMAT, StatementError, verify_statement
from bodycam.firmware.offload.connection import WrongServerError
from bodycam.firmware.offload.protocol import OffloadClient
from bodycam.hal.clocks import _ScriptedClock
from bodycam.hal.interfaces import Clock

__all__ = ["CLOCK_REQUEST_FORMAT", "CORRECT_ABOVE_S", "ClockCorrector", "ClockRequestFile",
           "SimClockSetter", "TimeSync", "parse_statement_time", "take_server_time"]

CLOCK_REQUEST_FORMAT: Final = "bodycam-clock-request/1"
CORRECT_ABOVE_S: Final = 2.0  # like the clock records: a larger offset is a wrong clock
DEFAULT_REQUEST_FILE: Final = Path("/run/bodycam/clock-request.json")


@dataclass(frozen=True)
class TimeSync:
    """One verified time statement and what the camera's clocks read around it."""

    raw: bytes
    statement: dict[str, Any]
    server_time: float  # Unix seconds, as signed
    round_trip: float  # seconds from asking to the answer, on the monotonic clock
    received_monotonic: float
    offset: float  # server minus camera wall clock, seconds (positive: camera is behind)

    def server_now(self, clock: Clock) -> float:
        """The server's time now, as this statement and the monotonic clock tell it."""
        return self.server_time + self.round_trip / 2 + clock.monotonic() - \
            self.received_monotonic


def parse_statement_time(text: object) -> float:
    """`2026-12-06T08:00:00.000Z` as Unix seconds; ValueError for anything else."""
    if not isinstance(text, str) or not text.endswith("Z"):
        raise ValueError(f"time {text!r} is not UTC ISO 8601 ending in Z")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC).timestamp()


def take_server_time(client: OffloadClient, server_key: str, clock: Clock) -> TimeSync:
    """Ask, verify, measure. WrongServerError when the statement is not the pinned server's
    answer to this very request."""
    nonce = secrets.token_hex(16)
    sent = clock.monotonic()
    wall_sent = clock.wall().timestamp()
    raw = client.get_time(nonce)
    received = clock.monotonic()
    try:
        statement = verify_statement(raw, TIME_FORMAT, server_key)
    except StatementError as exc:
        raise WrongServerError(f"the server's time statement: {exc}") from None
    if statement.get("nonce") != nonce:
        raise WrongServerError("the time statement answers another nonce than the one this camera "
                          "sent (a replayed statement)")
    try:
        server_time = parse_statement_time(statement.get("time"))
    except ValueError as exc:
        raise WrongServerError(f"the time statement: {exc}") from None
    round_trip = received - sent
    return TimeSync(raw, statement, server_time, round_trip, received,
                    server_time - (wall_sent + round_trip / 2))


class ClockCorrector(Protocol):
    """Sets the camera's clock from a verified statement; returns what it did (audited)."""

    def correct(self, sync: TimeSync, clock: Clock) -> str: ...


class ClockRequestFile:
    """On the camera: hand the statement to bodycam-clock.service (set_clock.py).

    The request says when the statement arrived on CLOCK_BOOTTIME, which both processes
    share, so the helper can add the time since and refuse a stale request."""

    def __init__(self, path: Path = DEFAULT_REQUEST_FILE) -> None:
        self._path = path

    def correct(self, sync: TimeSync, clock: Clock) -> str:
        since = clock.monotonic() - sync.received_monotonic
        request = {"format": CLOCK_REQUEST_FORMAT, "statement": sync.statement,
                   "round_trip": round(sync.round_trip, 6),
                   "received_boottime": time.clock_gettime(time.CLOCK_BOOTTIME) - since}
        try:
            replace_file(self._path, json.dumps(request, sort_keys=True).encode(), 0o640)
        except OSError as exc:
            return f"not requested: {self._path} cannot be written ({exc.strerror or exc})"
        return f"requested from bodycam-clock.service ({self._path})"


class SimClockSetter:
    """In the simulator: the simulated wall clock takes the server's time at once."""

    def correct(self, sync: TimeSync, clock: Clock) -> str:
        if not isinstance(clock, _ScriptedClock):
            return "not set: this clock cannot be set from here"
        clock.set_wall(datetime.fromtimestamp(0, UTC) + timedelta(seconds=sync.server_now(clock)))
        clock.set_synchronised(True)
        return "set (simulated clock)"

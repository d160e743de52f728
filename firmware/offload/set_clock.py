"""`bodycam-clock.service`: set the system clock from the evidence server's signed time.

The camera program cannot set the clock (no CAP_SYS_TIME, ProtectClock=yes), and
should not be able to: whoever took it over could then date evidence at will. It writes
the server's time statement, as it received it, to /run/bodycam/clock-request.json;
`bodycam-clock.path` starts this unit, which holds CAP_SYS_TIME and nothing else, and
trusts nothing the camera program says without checking it again:

- the statement must verify under the server key of the camera's own configuration
  (/etc/bodycam/bodycam.toml, written only by the signed provisioning import);
- the request must be fresh: it names when the statement arrived on CLOCK_BOOTTIME,
  which the camera program cannot move, and is refused after MAX_AGE_S;
- the statement must be newer than the last one this unit applied (kept in its own
  state directory, out of the camera program's reach): an old statement replayed
  cannot set the clock back past a time already taken.

So the most a taken-over camera program can do is apply a genuine, recent statement of
the pinned server a little late (at most MAX_AGE_S). The clock is set to the signed time
plus half the round trip plus the time since it arrived; a marker file then tells the
camera program (hal/clocks.py) that the clock is synchronised.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from bodycam.firmware.config.device_rules import load_device_config
from bodycam.firmware.config.loader import DEVICE_CONFIG_FILE, ConfigError
from bodycam.firmware.config.safe_read import read_regular
from bodycam.firmware.evidence.durable import replace_file
from bodycam.firmware.evidence.receipts import TIME_FORMAT, StatementError, verify_statement
from bodycam.firmware.offload.timesync import (
    CLOCK_REQUEST_FORMAT,
    DEFAULT_REQUEST_FILE,
    parse_statement_time,
)
from bodycam.hal.clocks import DOCK_TIME_MARKER

__all__ = ["ClockRequestError", "Paths", "apply_request", "main"]

MAX_AGE_S: Final = 120.0  # from the statement's arrival to this unit setting the clock
MAX_ROUND_TRIP_S: Final = 30.0  # a slower answer says too little about the server's time
MAX_REQUEST_BYTES: Final = 16 * 1024
DEFAULT_STATE: Final = Path("/var/lib/bodycam-clock/last-statement-time")
log = logging.getLogger("bodycam.clock")


class ClockRequestError(ValueError):
    """The request is not one this unit may act on; the message says why."""


@dataclass(frozen=True)
class Paths:
    request: Path = DEFAULT_REQUEST_FILE
    config: Path = DEVICE_CONFIG_FILE
    state: Path = DEFAULT_STATE
    marker: Path = DOCK_TIME_MARKER


def apply_request(paths: Paths, *, boottime: Callable[[], float],
                  set_time: Callable[[float], None]) -> tuple[float, float]:
    """Check the request and set the clock; (old, new) Unix time. Raises ClockRequestError."""
    server_key = _server_key(paths.config)
    request = _read_json(paths.request)
    if request.get("format") != CLOCK_REQUEST_FORMAT:
        raise ClockRequestError(f"{paths.request} is not a {CLOCK_REQUEST_FORMAT}")
    try:
        statement = verify_statement(request.get("statement") or {}, TIME_FORMAT, server_key)
        signed = parse_statement_time(statement.get("time"))
    except (StatementError, ValueError) as exc:
        raise ClockRequestError(f"the time statement: {exc}") from None
    round_trip, arrived = _seconds(request.get("round_trip")), _seconds(
        request.get("received_boottime"))
    if round_trip is None or not 0 <= round_trip <= MAX_ROUND_TRIP_S:
        raise ClockRequestError(f"round trip {request.get('round_trip')!r} s is not "
                                f"0-{MAX_ROUND_TRIP_S:g} s")
    if arrived is None:
        raise ClockRequestError("the request does not say when the statement arrived")
    age = boottime() - arrived
    if not 0 <= age <= MAX_AGE_S:
        raise ClockRequestError(f"the statement arrived {age:.1f} s ago (boot time); only a "
                                f"request younger than {MAX_AGE_S:g} s is applied: a new "
                                "dock brings one")
    last = _last_applied(paths.state)
    if last is not None and signed <= last:
        raise ClockRequestError(f"the statement's time {statement['time']} is not newer than the "
                           "last one applied: a replayed statement never sets the clock back")
    new = signed + round_trip / 2 + age
    old = time.time()
    set_time(new)
    replace_file(paths.state, repr(signed).encode(), 0o600)
    replace_file(paths.marker, statement["time"].encode(), 0o644)
    return old, new


def _server_key(config_file: Path) -> str:
    try:
        config = load_device_config(config_file)
    except ConfigError as exc:
        raise ClockRequestError(f"the configuration {config_file} is not valid:\n{exc}") from None
    if not config.offload.enabled:
        raise ClockRequestError(f"{config_file} names no evidence server ([offload] server_url): "
                           "no statement can be checked")
    return config.offload.server_key


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = read_regular(path, MAX_REQUEST_BYTES, follow_symlinks=False)
        value = json.loads(data)
    except (OSError, ValueError, RecursionError) as exc:
        raise ClockRequestError(f"{path} cannot be read as a request ({exc})") from None
    if not isinstance(value, dict):
        raise ClockRequestError(f"{path} is not a JSON object")
    return value


def _last_applied(state: Path) -> float | None:
    try:
        return float(state.read_text(encoding="ascii"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ClockRequestError(f"{state} (the last applied time) is unreadable ({exc}); remove it "
                           "only if the unit's state was lost") from None


def _seconds(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _set_realtime(seconds: float) -> None:
    time.clock_settime(time.CLOCK_REALTIME, seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0: the clock was set; 1: refused (the journal says why)."""
    parser = argparse.ArgumentParser(prog="python -m bodycam.firmware.offload.set_clock",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--request", type=Path, default=Paths.request)
    parser.add_argument("--config", type=Path, default=Paths.config)
    parser.add_argument("--state", type=Path, default=Paths.state)
    parser.add_argument("--marker", type=Path, default=Paths.marker)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths = Paths(args.request, args.config, args.state, args.marker)
    try:
        old, new = apply_request(paths, boottime=lambda: time.clock_gettime(
            time.CLOCK_BOOTTIME), set_time=_set_realtime)
    except (ClockRequestError, OSError) as exc:
        log.error("clock not set: %s", exc)
        return 1
    log.info("clock set from the evidence server's signed time: %s -> %s (%+.3f s)",
             _iso(old), _iso(new), new - old)
    return 0


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


if __name__ == "__main__":
    sys.exit(main())

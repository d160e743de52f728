"""`bodycam-radio.service`: switch Wi-Fi and Bluetooth as the camera program asks.

Out of the dock nothing on the camera uses a radio (the dock link is USB gadget Ethernet,
or the dock room's Wi-Fi while docked), and an associated Wi-Fi chip costs about 0.1 W,
a fifth of the idle camera (config/power-model.toml, parts.radio). The camera program
is unprivileged and cannot block a radio; it writes what it wants to
/run/bodycam/radio-request.json (hal/pi/radios.py) and `bodycam-radio.path` starts this
unit, which may write /dev/rfkill and nothing else of value.

It trusts the request only as far as it must: the file is read without following links
and size-bounded, and it may say no more than "on" or "off" for the two radio types
named here. The worst a taken-over camera program can do with it is switch the camera's
own radios, which it could already keep busy. The switch is util-linux `rfkill`
(`rfkill block wlan`), the tool NetworkManager and BlueZ respect; `[power]
radios_undocked = true` makes the camera never ask for "off".
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bodycam.firmware.config.safe_read import read_regular

__all__ = ["RADIO_REQUEST_FORMAT", "RADIO_TYPES", "RadioRequest", "RadioRequestError",
           "apply_request", "main", "parse_request"]

RADIO_REQUEST_FORMAT: Final = "bodycam-radio-request/1"
DEFAULT_REQUEST_FILE: Final = Path("/run/bodycam/radio-request.json")
RFKILL: Final = "/usr/sbin/rfkill"
RADIO_TYPES: Final = ("wlan", "bluetooth")  # rfkill's names; never "all" (not GPS, WWAN...)
MAX_REQUEST_BYTES: Final = 4096
RFKILL_TIMEOUT_S: Final = 10.0
log = logging.getLogger("bodycam.radio")

Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


class RadioRequestError(ValueError):
    """The request is not one this unit acts on; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class RadioRequest:
    enabled: bool
    cause: str


def parse_request(data: bytes, source: str = str(DEFAULT_REQUEST_FILE)) -> RadioRequest:
    """The request in `data`, or RadioRequestError naming the problem."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise RadioRequestError(f"{source} is not JSON ({exc}); the camera program writes "
                                "it, so restart bodycam.service to write a new one") from None
    if not isinstance(value, dict) or value.get("format") != RADIO_REQUEST_FORMAT:
        raise RadioRequestError(f"{source} is not a {RADIO_REQUEST_FORMAT} request; only the "
                                "camera program of this firmware writes it")
    enabled, cause = value.get("enabled"), value.get("cause", "")
    if not isinstance(enabled, bool):
        raise RadioRequestError(f"{source}: enabled is {enabled!r}; allowed: true or false")
    if not isinstance(cause, str) or len(cause) > 200:
        raise RadioRequestError(f"{source}: cause must be text of at most 200 characters")
    return RadioRequest(enabled, cause)


def read_request(path: Path) -> RadioRequest:
    try:
        data = read_regular(path, MAX_REQUEST_BYTES, follow_symlinks=False)
    except OSError as exc:
        raise RadioRequestError(f"{path} cannot be read ({exc}); it must be a regular file "
                                f"of at most {MAX_REQUEST_BYTES} bytes") from None
    return parse_request(data, str(path))


def apply_request(request: RadioRequest, run: Runner) -> list[str]:
    """Block or unblock each radio type; the problems (empty: all switched)."""
    verb = "unblock" if request.enabled else "block"
    problems = []
    for kind in RADIO_TYPES:
        command = [RFKILL, verb, kind]
        try:
            done = run(command)
        except (OSError, subprocess.SubprocessError) as exc:
            problems.append(f"`{' '.join(command)}` could not run ({exc})")
            continue
        if done.returncode != 0:
            problems.append(f"`{' '.join(command)}` failed ({done.returncode}): "
                            f"{(done.stderr or '').strip() or 'no message'}")
    return problems


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False,
                          timeout=RFKILL_TIMEOUT_S)


def main(argv: Sequence[str] | None = None, run: Runner = _run) -> int:
    """Exit 0: switched; 1: refused or failed (the journal says why and the fix)."""
    parser = argparse.ArgumentParser(prog="python -m bodycam.firmware.power.radio_switch",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--request", type=Path, default=DEFAULT_REQUEST_FILE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        request = read_request(args.request)
    except RadioRequestError as exc:
        log.error("radios not switched: %s", exc)
        return 1
    problems = apply_request(request, run)
    state = "on" if request.enabled else "off"
    for problem in problems:
        log.error("radios not switched %s: %s. Fix: install the rfkill package "
                  "(tools/install/install.sh does) and check that /dev/rfkill exists",
                  state, problem)
    if problems:
        return 1
    log.info("radios (%s) switched %s: %s", ", ".join(RADIO_TYPES), state, request.cause)
    return 0


if __name__ == "__main__":
    sys.exit(main())

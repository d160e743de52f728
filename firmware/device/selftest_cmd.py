"""`bodycam selftest`: test every hardware part and say which one fails and why.

On the Raspberry Pi each part is opened on its own, so a camera that is missing does not
hide whether the display or the buttons work: a part that cannot be opened is replaced
by a stand-in that re-raises its HardwareError when tested, which the self test reports
for that part. With --sim it tests the simulated hardware, with storage in a temporary
directory that is removed afterwards.

Exit status: 0 when every part is OK, 1 when any part failed or the configuration is
invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn, TypeVar

from PIL import Image

from bodycam.firmware.config.loader import DEVICE_CONFIG_FILE as DEVICE_CONFIG
from bodycam.firmware.config.loader import ConfigError, load_config, shipped_file
from bodycam.firmware.config.model import Config
from bodycam.firmware.device.selftest import PartResult, run_selftest
from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.hal.clocks import SimClock, SystemClock
from bodycam.hal.interfaces import (
    AudioCallback,
    Blink,
    ButtonEdgeCallback,
    ButtonName,
    Buttons,
    Camera,
    FrontDisplay,
    Hardware,
    HardwareError,
    Indicators,
    LedName,
    LedState,
    Microphone,
    PanelMode,
    Power,
    PowerStatus,
    PreviewCallback,
    VideoCallback,
)
from bodycam.hal.pi.hardware import PiParts
from bodycam.hal.sim.hardware import build_sim_hardware

DEFAULT_SECONDS = 3.0
MAX_SECONDS = 60.0  # the test keeps what camera and microphone deliver in memory
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help=f"device configuration (default {DEVICE_CONFIG}; with --sim "
                             "the shipped simulator settings)")
    parser.add_argument("--sim", action="store_true",
                        help="test the simulated hardware instead of the Raspberry Pi's")
    parser.add_argument("--recipient", action="append", default=[], metavar="AGE1...",
                        help="with --sim: evidence recipient to check (repeatable), as for "
                             "`bodycam sim`; the simulator's settings name none")
    parser.add_argument("--json", action="store_true",
                        help="print the results as a JSON list of {part, ok, detail, fix}")
    parser.add_argument("--power-table", type=Path, default=None, metavar="FILE",
                        help="power model to compare the gauge's measured rate with "
                             "(default: the shipped power-model.toml)")
    parser.add_argument("--seconds", type=_positive_seconds, default=DEFAULT_SECONDS,
                        metavar="N", help="how long to run camera and microphone "
                                          f"(default {DEFAULT_SECONDS:g})")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds in (0, {MAX_SECONDS:g}]")
    return value


def run(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        try:
            if args.recipient and not args.sim:
                print("--recipient is only for --sim; on the camera the recipients come "
                      "from its configuration", file=sys.stderr)
                return EXIT_USAGE
            config = (_load_sim_config(args.config, args.recipient, stack) if args.sim
                      else load_config(args.config or DEVICE_CONFIG))
        except ConfigError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            print("FAIL: the configuration is invalid; no part was tested", file=sys.stderr)
            return EXIT_FAILED
        if args.sim:
            hardware: Hardware = build_sim_hardware(config, SimClock())
            stack.callback(hardware.close)
        else:
            hardware = open_pi_parts(config, stack)  # `stack` releases every opened part
        results = run_selftest(hardware, config, args.seconds, args.power_table)
    print(json.dumps([asdict(r) for r in results], indent=2) if args.json
          else format_results(results))
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


def _load_sim_config(device_file: Path | None, recipients: list[str],
                     stack: ExitStack) -> Config:
    """sim.toml (+ FILE), with storage in a fresh temporary directory.

    The simulated device gets its signing key there as on its first start, so the
    device-key check tests the same load path as on the camera.
    """
    root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bodycam-selftest-")))
    data, state = root / "data", root / "state"
    data.mkdir()
    files = [shipped_file("sim.toml"), *([device_file] if device_file else [])]
    overrides = [f'storage.data_dir="{data}"', f'storage.state_dir="{state}"']
    if recipients:
        overrides.append("evidence.recipients=[" + ", ".join(f'"{r}"' for r in recipients)
                         + "]")
    config = load_config(*files, overrides=overrides)
    SoftwareKeyStore.create(state)
    return config


def format_results(results: list[PartResult]) -> str:
    """One line per part: "OK   camera      30.0 fps, ..." / "FAIL microphone  ... Fix: ..."."""
    width = max(len(r.part) for r in results)
    lines = []
    for r in results:
        text = r.detail if r.ok else f"{r.detail}. Fix: {r.fix}"
        lines.append(f"{'OK' if r.ok else 'FAIL':<4} {r.part:<{width}}  {text}")
    return "\n".join(lines)


# ------------------------------------------------------------------ the Pi, part by part

_P = TypeVar("_P")


def _open(build: Callable[[], _P]) -> _P | HardwareError:
    try:
        return build()
    except HardwareError as exc:
        return exc


def open_pi_parts(config: Config, stack: ExitStack) -> Hardware:
    """Open each Pi device on its own; a part that fails becomes an Unavailable* stand-in.

    Every part that did open is released by `stack`, so the returned Hardware must not be
    closed as well.
    """
    parts = PiParts(config, SystemClock(), stack)
    buttons = _open(parts.buttons)
    indicators = _open(parts.indicators)
    power = _open(parts.power)
    display = _open(parts.display)
    microphone = _open(parts.microphone)
    camera = _open(parts.camera)
    return Hardware(
        camera=UnavailableCamera(camera) if isinstance(camera, HardwareError) else camera,
        microphone=(UnavailableMicrophone(microphone)
                    if isinstance(microphone, HardwareError) else microphone),
        display=UnavailableDisplay(display) if isinstance(display, HardwareError) else display,
        buttons=UnavailableButtons(buttons) if isinstance(buttons, HardwareError) else buttons,
        indicators=(UnavailableIndicators(indicators)
                    if isinstance(indicators, HardwareError) else indicators),
        power=UnavailablePower(power) if isinstance(power, HardwareError) else power,
        clock=parts.clock,
    )


class _Unavailable:
    """A part that could not be opened: using it raises the error from opening it."""

    def __init__(self, error: HardwareError) -> None:
        self.error = error

    def _raise(self) -> NoReturn:
        raise self.error

    def close(self) -> None:
        """Nothing was opened, so nothing to release."""


class _UnavailableSource(_Unavailable):
    """A camera or microphone that could not be opened never runs, so stopping is a no-op."""

    def stop(self) -> None:
        """Never started."""

    @property
    def running(self) -> bool:
        return False


class UnavailableCamera(_UnavailableSource, Camera):
    def start(self, on_video: VideoCallback, on_preview: PreviewCallback) -> None:
        self._raise()


class UnavailableMicrophone(_UnavailableSource, Microphone):
    def start(self, on_audio: AudioCallback) -> None:
        self._raise()


class UnavailableDisplay(_Unavailable, FrontDisplay):
    @property
    def size(self) -> tuple[int, int]:
        self._raise()

    @property
    def mode(self) -> PanelMode:
        self._raise()

    def show(self, image: Image.Image) -> None:
        self._raise()

    def off(self) -> None:
        self._raise()

    @property
    def is_on(self) -> bool:
        return False


class UnavailableButtons(_Unavailable, Buttons):
    def start(self, on_edge: ButtonEdgeCallback) -> None:
        self._raise()

    def is_pressed(self, name: ButtonName) -> bool:
        self._raise()


class UnavailableIndicators(_Unavailable, Indicators):
    def set_led(self, name: LedName, state: LedState) -> None:
        self._raise()

    def led_state(self, name: LedName) -> LedState:
        self._raise()

    def beep(self, pattern: Blink) -> None:
        self._raise()

    def vibrate(self, pattern: Blink) -> None:
        self._raise()


class UnavailablePower(_Unavailable, Power):
    def read(self) -> PowerStatus:
        self._raise()

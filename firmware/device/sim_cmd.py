"""`bodycam sim`: the device program on the simulated hardware.

Same controller, recorder, evidence store and audit log as `bodycam run`; only the
hardware differs (hal/sim). A scenario file drives buttons, battery, dock and stalls on a
simulated clock; without one, and with a terminal, the keyboard does.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from bodycam.firmware.config.loader import ConfigError, load_config, shipped_file
from bodycam.firmware.config.model import Config
from bodycam.firmware.device.display_frames import PngFrameWriter
from bodycam.firmware.device.firstboot import DeviceLayout
from bodycam.firmware.device.program import Device, assemble
from bodycam.firmware.device.scenario import ScenarioError, load_scenario
from bodycam.firmware.device.sim_driver import ScenarioDriver, interactive_loop
from bodycam.firmware.device.states import State
from bodycam.firmware.offload.timesync import SimClockSetter
from bodycam.firmware.power.table import load_power_table
from bodycam.hal.clocks import SimClock
from bodycam.hal.sim.hardware import build_sim_hardware

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 30.0  # real seconds for boot (key generation, encoder start)
STOP_TIMEOUT_S = 30.0  # real seconds for sealing and releasing the hardware


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=Path("sim-data"),
                        help="where evidence and audit log go (default: ./sim-data); the "
                             "device key goes beside it, in DATA_DIR-state (the two are "
                             "kept apart, as on the camera)")
    parser.add_argument("--config", type=Path, action="append", default=[],
                        help="configuration file layered above the simulator defaults "
                             "(repeatable)")
    parser.add_argument("--recipient", action="append", default=[], metavar="AGE1...",
                        help="evidence recipient (repeatable); overrides the configuration")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        dest="overrides", help="override one setting (repeatable)")
    parser.add_argument("--scenario", type=Path,
                        help="TOML scenario of timed button presses, battery, dock, stalls")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="simulated seconds per real second (default 1; the simulated "
                             "camera keeps up to about 6 on one core)")
    parser.add_argument("--display-out", type=Path,
                        help="write a PNG whenever the front display changes, named by "
                             "simulated milliseconds (00012345.png)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level of the program's own messages (default INFO; "
                             "--quiet implies WARNING)")


def sim_state_dir(data_dir: Path) -> Path:
    """Where the simulator keeps a camera's key: beside its data, never inside it (the
    loader refuses storage directories inside each other, as on the camera)."""
    return data_dir.with_name(f"{data_dir.name}-state")


def sim_config(args: argparse.Namespace) -> Config:
    data_dir = args.data_dir.resolve()
    state_dir = sim_state_dir(data_dir)
    overrides = [f'storage.data_dir="{data_dir}"', f'storage.state_dir="{state_dir}"']
    if args.recipient:
        listed = ", ".join(f'"{r}"' for r in args.recipient)
        overrides.append(f"evidence.recipients=[{listed}]")
    overrides.extend(args.overrides)
    return load_config(shipped_file("sim.toml"), *args.config, overrides=overrides)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING if args.quiet else args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)
    if not args.speed > 0:
        print("bodycam sim: --speed must be a positive number, e.g. --speed 2",
              file=sys.stderr)
        return 2
    try:
        config = sim_config(args)
        power_table = load_power_table(config.power.model_file)
        scenario = load_scenario(args.scenario) if args.scenario else None
    except (ConfigError, ScenarioError) as exc:
        print(f"bodycam sim: {exc}", file=sys.stderr)
        return 2
    clock = SimClock(datetime.now(UTC), speed=args.speed)
    hardware = build_sim_hardware(config, clock, power_table=power_table)
    frames = (PngFrameWriter(args.display_out, hardware.display.size, clock)
              if args.display_out else None)
    states: list[State] = []

    def note_state(source: State, dest: State, cause: str) -> None:
        states.append(dest)
        if not args.quiet:
            print(f"[{clock.monotonic():8.2f} s] {source} -> {dest}  ({cause})", flush=True)

    # The simulated camera's own little root: its boot partition and /etc live under the
    # data directory, so a developer's machine's /etc/bodycam is never read.
    layout = DeviceLayout(root=config.storage.data_dir / "root")
    device = assemble(config, hardware, on_display_frame=frames, on_state=note_state,
                      device_layout=layout, clock_corrector=SimClockSetter(),
                      power_table=power_table)
    with _forward_signals(device):
        thread = device.start_in_thread()
        if not _wait_ready(device, READY_TIMEOUT_S):
            if not device.controller.finished.is_set():
                print(f"bodycam sim: the device did not become ready within "
                      f"{READY_TIMEOUT_S:g} s", file=sys.stderr)
                device.controller.request_shutdown("sim start timeout")
        elif scenario is not None:
            ScenarioDriver(scenario, hardware, clock,
                           offloaded=lambda: device.controller.dock_activity == "offloaded",
                           ).run(device.controller.finished)
            device.controller.request_shutdown("scenario end")
        elif sys.stdin.isatty():
            interactive_loop(device, hardware, clock)
        else:  # runs until SIGINT/SIGTERM
            device.controller.finished.wait()
        thread.join(STOP_TIMEOUT_S)
    if thread.is_alive():
        print(f"bodycam sim: the device did not stop within {STOP_TIMEOUT_S:g} s; giving up "
              "(its threads end with the process)", file=sys.stderr)
        return 1
    _print_summary(device, states)
    if device.failure is not None:
        print(f"bodycam sim: the device program failed: {device.failure!r}; open recordings "
              "were sealed (see the log above)", file=sys.stderr)
        return 1
    return 0


def _wait_ready(device: Device, timeout: float) -> bool:
    """True once booted; False on timeout or when the program ended before that."""
    controller = device.controller
    deadline = time.monotonic() + timeout
    while not controller.ready.wait(0.05):
        if controller.finished.is_set() or time.monotonic() > deadline:
            return False
    return True


@contextlib.contextmanager
def _forward_signals(device: Device) -> Iterator[None]:
    """SIGINT/SIGTERM ask the device to seal and power off; a second signal gets the
    default behaviour (Ctrl-C twice forces the exit). Previous handlers come back after,
    so running `sim` in-process (tests) leaves the caller's handlers intact."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # getsignal() is None for a handler installed outside Python: restore the default.
    previous = {sig: signal.getsignal(sig) or signal.SIG_DFL
                for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, _frame: FrameType | None) -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)
        device.controller.request_shutdown(signal.Signals(signum).name)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _print_summary(device: Device, states: list[State]) -> None:
    evidence = device.store.evidence_dir
    recordings = sorted(p for p in evidence.iterdir() if p.is_dir()) if evidence.is_dir() else []
    print(f"states visited: {' -> '.join(states)}")
    print(f"audit log: {device.audit.path}")
    for directory in recordings:
        print(f"recording: {directory}")

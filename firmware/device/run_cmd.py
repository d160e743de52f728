"""`bodycam run`: the camera's service program on the Raspberry Pi hardware.

Started by systemd (Type=notify): READY=1 once booted, STATUS= on state changes,
watchdog pings from the controller loop while it and the recorder make progress (never
gated on the camera or microphone: health.py), and a clean stop on SIGTERM (an open
recording is sealed first). A camera or microphone that cannot be opened does not stop
the program: it records without it, alarms, and keeps trying (hal/pi/reopen.py).
"""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from types import FrameType

from bodycam.firmware.config.device_rules import load_device_config
from bodycam.firmware.config.loader import DEVICE_CONFIG_FILE as DEVICE_CONFIG
from bodycam.firmware.config.loader import ConfigError
from bodycam.firmware.device.process_hardening import harden_process
from bodycam.firmware.device.program import assemble
from bodycam.firmware.device.sdnotify import SystemdNotifier
from bodycam.firmware.device.states import State
from bodycam.firmware.offload.timesync import ClockRequestFile
from bodycam.firmware.power.table import load_power_table
from bodycam.hal.interfaces import HardwareError
from bodycam.hal.pi.hardware import build_pi_hardware  # imports Pi libraries lazily

log = logging.getLogger("bodycam")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, action="append", default=[],
                        help=f"configuration file (default {DEVICE_CONFIG}); repeat to "
                             "layer more, e.g. the evidence server's camera-offload.toml, "
                             "above the first")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        dest="overrides", help="override one setting (repeatable)")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def run(args: argparse.Namespace) -> int:
    # journald adds time and unit; keep lines short and free of personal data.
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)
    harden_process()  # plaintext media never in a core dump or swap (M4)
    notifier = SystemdNotifier()
    try:
        first, *layered = args.config or [DEVICE_CONFIG]
        if not first.exists():
            log.warning("%s not found: running on the shipped defaults (no recipients, so "
                        "recording is refused until the camera is provisioned)", first)
        files = [first] if first.exists() else []
        config = load_device_config(*files, *layered, overrides=args.overrides)
        power_table = load_power_table(config.power.model_file)
    except ConfigError as exc:
        log.error("configuration invalid, not starting:\n%s", exc)
        notifier.status("configuration invalid")
        return 1
    try:
        hardware = build_pi_hardware(config)
    except HardwareError as exc:
        log.error("%s", exc)
        notifier.status(f"hardware error: {exc.device}")
        return 1
    for source, problem in hardware.missing.items():
        log.error("%s; running without the %s until it can be opened", problem, source)

    def on_state(source: State, dest: State, cause: str) -> None:
        notifier.status(f"{dest} ({cause})")

    device = assemble(config, hardware, notifier=notifier, on_state=on_state,
                      missing_sources=hardware.missing, clock_corrector=ClockRequestFile(),
                      power_table=power_table)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        device.controller.request_shutdown(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    device.run()
    return 0


"""`bodycam check-config FILE`: validate a device file on top of the shipped defaults.

The camera's own rules apply (storage below /var/lib/bodycam, as `bodycam run` checks).
Exit 0 and a short summary when the device could start with it, exit 1 and every problem
on stderr otherwise. An empty recipient list is only a warning (the camera refuses to
record but otherwise works, e.g. on a bench) unless --require-recipients is given, which
provisioning uses before a camera goes into service.

The power table ([power] model_file, or the shipped one) is checked too, since a bad
one refuses the start just like a bad key, and the summary says whether a full battery
lasts the configured shift on it (the same forecast the camera makes at boot).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bodycam.firmware.config.device_rules import load_device_config
from bodycam.firmware.config.loader import ConfigError, ConfigProblem
from bodycam.firmware.config.model import Config
from bodycam.firmware.power.draw import DrawSettings
from bodycam.firmware.power.runtime import forecast_shift
from bodycam.firmware.power.table import PowerTable, load_power_table

EXIT_OK = 0
EXIT_INVALID = 1
UNSET_ID = "UNSET"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", type=Path, nargs="+", metavar="FILE",
                        help="device configuration, e.g. /etc/bodycam/bodycam.toml; more "
                             "files (e.g. the server's camera-offload.toml) are layered "
                             "above it as `bodycam run --config` does")
    parser.add_argument("--require-recipients", action="store_true",
                        help="fail (not just warn) when evidence.recipients is empty")


def run(args: argparse.Namespace) -> int:
    files: list[Path] = args.files
    path = files[0] if len(files) == 1 else Path(" + ".join(map(str, files)))
    try:
        config = load_device_config(*files)
        table = load_power_table(config.power.model_file)
    except ConfigError as exc:
        return _fail(path, exc.problems)
    if not config.evidence.recipients:
        if args.require_recipients:
            return _fail(path, [ConfigProblem(
                str(path), "evidence.recipients", [], "at least one age1... recipient",
                "add the evidence authority's public key(s); without one the camera "
                "refuses to record")])
        _warn("evidence.recipients is empty: the camera will refuse to record until the "
              "evidence authority's age1... key is added")
    if config.device.id == UNSET_ID:
        _warn(f'device.id is "{UNSET_ID}": set the camera\'s serial before deployment')
    print(f"OK: {path}")
    print(_summary(config))
    print(f"  power:      {_power_summary(config, table)}")
    return EXIT_OK


def _fail(path: Path, problems: list[ConfigProblem]) -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    count = len(problems)
    print(f"INVALID: {path} ({count} problem{'s' if count != 1 else ''})", file=sys.stderr)
    return EXIT_INVALID


def _warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr)


def _power_summary(config: Config, table: PowerTable) -> str:
    """Which table, and whether a full battery lasts the shift on it."""
    power = config.power
    source = table.source if power.model_file is not None else "shipped table"
    if power.shift_hours <= 0:
        return f"{source}; no shift forecast (power.shift_hours = 0)"
    forecast = forecast_shift(table, power, 100.0,
                              prerecord=config.evidence.prerecord_seconds > 0,
                              settings=DrawSettings.of(config))
    if not forecast.lasts:
        _warn(f"a full battery does not last power.shift_hours = {power.shift_hours:g} on "
              "this configuration: set power.sleep_after_idle_min (sleep mode), pre-record "
              "off, or fit a bigger battery (its capacity in the power table)")
    return f"{source}; {forecast.describe()}"


def _summary(config: Config) -> str:
    video, display, evidence = config.video, config.display, config.evidence
    audio = (f"{config.audio.sample_rate} Hz x{config.audio.channels}"
             if config.audio.enabled else "off")
    lines = (
        f"device:     {config.device.id} ({config.device.unit or 'no unit'})",
        f"recipients: {len(evidence.recipients)}",
        f"video:      {video.width}x{video.height} @ {video.fps} fps, "
        f"{video.bitrate_kbps} kbit/s; audio {audio}",
        f"evidence:   segments {evidence.segment_seconds:g} s, "
        f"pre-record {evidence.prerecord_seconds:g} s",
        f"display:    {display.driver} {display.width}x{display.height}",
        f"battery:    {config.power.battery_source}",
        f"storage:    {config.storage.data_dir}",
        "offload:    " + (f"{config.offload.server_url}, "
                          + (f"{config.offload.bandwidth_kbps} kbit/s"
                             if config.offload.bandwidth_kbps else "unlimited")
                          if config.offload.enabled else "off (no server_url)"),
        f"digest:     {config.digest}",
    )
    return "\n".join(f"  {line}" for line in lines)

"""`bodycam identity`: print the device id and its signing public key.

The technician runs it once after provisioning and hands the public key (or at least
its fingerprint) to the evidence custodian, who pins it when verifying recordings. The
key is made at first boot; `--create` makes it here instead (never by accident).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bodycam.firmware.config.loader import DEVICE_CONFIG_FILE as DEVICE_CONFIG
from bodycam.firmware.config.loader import ConfigError, load_config
from bodycam.firmware.evidence.device_key import KEY_FILE_NAME, DeviceKey, DeviceKeyError

EXIT_OK = 0
EXIT_FAILED = 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--public-key", action="store_true",
                        help="print only the base64 public key (for --device-key on the "
                             "custodian's `bodycam-evidence verify`)")
    parser.add_argument("--config", type=Path, action="append", default=[], metavar="FILE",
                        help="device configuration file(s), layered on the shipped defaults "
                             f"(default: {DEVICE_CONFIG} when it exists)")
    parser.add_argument("--state-dir", type=Path, metavar="DIR",
                        help="directory holding the device key (default: storage.state_dir)")
    parser.add_argument("--create", action="store_true",
                        help="generate the key if there is none yet (first boot does this; "
                             "without --create a missing key is an error, so a mistyped "
                             "--state-dir never yields a key nobody uses)")


def run(args: argparse.Namespace) -> int:
    files = args.config or ([DEVICE_CONFIG] if DEVICE_CONFIG.exists() else [])
    try:
        config = load_config(*files)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_FAILED
    state_dir: Path = args.state_dir or config.storage.state_dir
    if not args.create and not (state_dir / KEY_FILE_NAME).exists():
        print(f"no device key in {state_dir}. Fix: check --state-dir / storage.state_dir; "
              "a new camera gets its key at first boot (or pass --create)", file=sys.stderr)
        return EXIT_FAILED
    try:
        key = DeviceKey.load_or_create(state_dir)
    except PermissionError:
        print(f"cannot read or create the device key in {state_dir}: permission denied. "
              "Fix: run as the bodycam service user (sudo -u bodycam bodycam identity) or "
              "pass --state-dir", file=sys.stderr)
        return EXIT_FAILED
    except (DeviceKeyError, OSError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILED
    if args.public_key:
        print(key.public_key_b64)
        return EXIT_OK
    print(f"device id:   {config.device.id}")
    print(f"unit:        {config.device.unit}")
    print(f"public key:  {key.public_key_b64}")
    print(f"fingerprint: {key.fingerprint}")
    return EXIT_OK

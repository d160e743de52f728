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
from bodycam.firmware.evidence.key_stores import (
    KeyStoreChoice,
    create_key_store,
    open_key_store,
    resolve_kind,
)
from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.hal.keystore import KeyMissingError, KeyStoreError

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
    choice = KeyStoreChoice(config.device.key_store, args.state_dir or config.storage.state_dir,
                            config.device.tpm_tcti)
    kind = resolve_kind(choice)
    try:
        try:
            key = open_key_store(choice, kind)
        except KeyMissingError as exc:
            if not args.create:
                print(f"{exc}. Fix: check --state-dir / storage.state_dir; a new camera gets "
                      "its key at first boot (or pass --create)", file=sys.stderr)
                return EXIT_FAILED
            key = create_key_store(choice, kind)
    except PermissionError:
        print(f"cannot read or create the device key in {choice.state_dir}: permission "
              "denied. Fix: run as the bodycam service user (sudo -u bodycam bodycam "
              "identity) or pass --state-dir", file=sys.stderr)
        return EXIT_FAILED
    except (KeyStoreError, OSError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILED
    try:
        public = DevicePublicKey(key.algorithm, key.public_key_bytes())
    finally:
        key.close()
    if args.public_key:
        print(public.b64)
        return EXIT_OK
    print(f"device id:   {config.device.id}")
    print(f"unit:        {config.device.unit}")
    print(f"key store:   {key.kind} ({public.algorithm})")
    print(f"public key:  {public.b64}")
    print(f"fingerprint: {public.fingerprint}")
    return EXIT_OK

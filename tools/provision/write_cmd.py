"""`bodycam-provision write FILE TARGET`: put a checked, signed provisioning file on a card.

TARGET is a Raspberry Pi OS image file, the SD card device (e.g. /dev/sdb), or the
mounted boot folder. Images and cards are written with mtools through the partition
table: no root, no mounting. Invalid input is refused before the target is opened.
`--recipients FILE` also writes an age recipients file as bodycam-recipients.txt.
`--sign-key KEY` signs the files with the agency's provisioning key; without it the
signatures made earlier with `bodycam-provision sign` (FILE.sig) are taken along. The
camera accepts no unsigned file, so neither does this command.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

from bodycam.firmware.device.firstboot import BOOT_CONFIG_NAME, ERROR_FILE_NAME
from bodycam.tools.provision.check_cmd import (
    EXIT_INVALID,
    EXIT_OK,
    add_recipients_option,
    checked,
)
from bodycam.tools.provision.partitions import PartitionError
from bodycam.tools.provision.signing import (
    Input,
    SigningError,
    add_signing_options,
    signature_files,
)
from bodycam.tools.provision.targets import BootTarget, TargetError, open_target

# Present on every Raspberry Pi OS boot partition: guards against writing to the wrong
# FAT disk (a USB stick, a camera card).
BOOT_MARKER = "config.txt"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="the bodycam.toml to write")
    add_target_options(parser)
    add_recipients_option(parser)
    add_signing_options(parser, key_option="--sign-key")


def add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", type=Path, metavar="TARGET",
                        help="image file, SD card device (/dev/sdX) or mounted boot folder")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and show what would be written; write nothing")
    parser.add_argument("--force", action="store_true",
                        help=f"write even if the FAT partition has no {BOOT_MARKER}")


def run(args: argparse.Namespace) -> int:
    inputs = checked(args.file, args.recipients)
    if inputs is None:
        return EXIT_INVALID
    try:
        signatures = signature_files(inputs, args)
    except SigningError as exc:
        print(f"ERROR: {exc}; nothing was written", file=sys.stderr)
        return EXIT_INVALID
    # Signatures first, then the recipients file: bodycam.toml appearing is what a running
    # camera reacts to (bodycam-provision.path), and it must find the rest already there.
    code = write_files(args, [*signatures, *inputs])
    if code == EXIT_OK and not args.dry_run:
        print(f"done: the camera installs {BOOT_CONFIG_NAME} at its next boot and writes "
              "BODYCAM-IDENTITY.txt beside it")
    return code


def write_files(args: argparse.Namespace, files: Sequence[Input]) -> int:
    """Write `files` (in order) onto args.target, each read back; honours --dry-run and
    --force. Exit code."""
    try:
        target = open_target(args.target)
        _check_is_boot(target, args.force)
        print(f"target: {target.describe()}")
        for item in files:
            print(f"{'would write' if args.dry_run else 'writing'} {item.name}: "
                  f"{len(item.data)} bytes, sha256 {hashlib.sha256(item.data).hexdigest()}")
        if args.dry_run:
            print("dry run: nothing written")
            return EXIT_OK
        for item in files:
            _write_checked(target, item.name, item.data)
        stale = ERROR_FILE_NAME.lower() in target.names()
    except (TargetError, PartitionError, OSError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if stale:
        print(f"note: the old {ERROR_FILE_NAME} there is removed once this file is accepted")
    return EXIT_OK


def _write_checked(target: BootTarget, name: str, data: bytes) -> None:
    target.write(name, data)
    if target.read(name) != data:
        raise TargetError(f"read-back of {name} differs from what was written. Fix: the "
                          "card may be failing; try another card")


def _check_is_boot(target: BootTarget, force: bool) -> None:
    if not force and BOOT_MARKER not in target.names():
        raise TargetError(f"{target.describe()} has no {BOOT_MARKER}, so it is not a "
                          "Raspberry Pi boot partition. Fix: check you chose the right card "
                          "or image; --force writes anyway")

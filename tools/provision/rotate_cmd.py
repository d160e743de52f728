"""`bodycam-provision rotate --key OLD --new-key NEW.pub TARGET`: change the agency key.

Writes NEW.pub as bodycam-provisioning-key.pub, signed with the key the cameras trust
now (OLD). A camera that verifies it pins NEW.pub in its place; from then on it accepts
only files signed with the new key. (A camera whose pinned key was lost or stolen cannot
be moved this way by anyone but the holder of that key: reinstall its image instead.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bodycam.firmware.config.safe_read import read_regular
from bodycam.firmware.device.firstboot import NEW_KEY_NAME
from bodycam.firmware.device.provisioning_signature import (
    KeyFileError,
    fingerprint,
    parse_public_key_file,
)
from bodycam.tools.provision.signing import (
    Input,
    SigningError,
    add_signing_options,
    signature_files,
)
from bodycam.tools.provision.write_cmd import add_target_options, write_files

EXIT_OK = 0
EXIT_FAILED = 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--new-key", type=Path, required=True, metavar="NEW.pub",
                        help="the new agency public key (KEY.pub from keygen)")
    add_target_options(parser)
    add_signing_options(parser, key_option="--key")


def run(args: argparse.Namespace) -> int:
    if args.sign_key is None:
        print("ERROR: give the key the cameras trust now with --key OLD", file=sys.stderr)
        return EXIT_FAILED
    try:
        data = read_regular(args.new_key, 4096)
        new = parse_public_key_file(data)
        item = Input(NEW_KEY_NAME, args.new_key, data)
        signatures = signature_files([item], args)
    except (OSError, KeyFileError, SigningError) as exc:
        print(f"ERROR: {args.new_key}: {exc}; nothing was written", file=sys.stderr)
        return EXIT_FAILED
    code = write_files(args, [*signatures, item])
    if code == EXIT_OK and not args.dry_run:
        print(f"done: at its next boot the camera replaces its provisioning key with "
              f"{fingerprint(new)}")
    return code

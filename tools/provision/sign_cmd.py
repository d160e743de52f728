"""`bodycam-provision sign --key KEY FILE...`: sign provisioning files for the camera.

Writes FILE.sig beside each FILE. The signature names the file as the camera will read
it: FILE's own name when it is one (bodycam.toml, bodycam-recipients.txt,
bodycam-provisioning-key.pub), else the name given with --as. Each file is checked
first, so nothing invalid gets signed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bodycam.firmware.config.loader import ConfigError
from bodycam.firmware.device.firstboot import BOOT_CONFIG_NAME, NEW_KEY_NAME
from bodycam.firmware.device.provisioning_signature import KeyFileError, parse_public_key_file
from bodycam.firmware.device.provisioning_validate import (
    read_input,
    validate_config,
)
from bodycam.firmware.device.recipients_file import RECIPIENTS_FILE_NAME, read_recipients
from bodycam.firmware.evidence.durable import replace_file
from bodycam.tools.provision.signing import (
    Input,
    SigningError,
    add_signing_options,
    read_signature,
    signature_files,
)

EXIT_OK = 0
EXIT_FAILED = 1
NAMES = (BOOT_CONFIG_NAME, RECIPIENTS_FILE_NAME, NEW_KEY_NAME)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", type=Path, nargs="+", metavar="FILE",
                        help="provisioning file(s) to sign")
    parser.add_argument("--as", dest="name", choices=NAMES,
                        help="the name the camera reads the (single) FILE under, when "
                             "FILE is called otherwise")
    add_signing_options(parser, key_option="--key")


def run(args: argparse.Namespace) -> int:
    if args.sign_key is None:
        print("ERROR: give the agency's provisioning key with --key KEY (make one with "
              "`bodycam-provision keygen -o KEY`)", file=sys.stderr)
        return EXIT_FAILED
    if args.name is not None and len(args.files) != 1:
        print("ERROR: --as names a single FILE; sign the others separately", file=sys.stderr)
        return EXIT_FAILED
    try:
        inputs = [_checked_input(path, args.name or path.name) for path in args.files]
        signatures = signature_files(inputs, args)
    except (SigningError, ConfigError) as exc:
        problems = exc.problems if isinstance(exc, ConfigError) else [exc]
        for problem in problems:
            print(f"ERROR: {problem}", file=sys.stderr)
        print("nothing was signed", file=sys.stderr)
        return EXIT_FAILED
    for item, signature in zip(inputs, signatures, strict=True):
        replace_file(signature.path, signature.data, 0o644)
        checked = read_signature(item)
        assert checked is not None  # just written
        print(f"{signature.path}: {item.path} signed as {item.name} by key "
              f"{checked.signer} (serial {checked.serial}, device {checked.device})")
    return EXIT_OK


def _checked_input(path: Path, name: str) -> Input:
    """`path` as the boot file `name`, validated as the camera will validate it."""
    if name not in NAMES:
        raise SigningError(f"{path}: the camera reads no file called {name}; say which one "
                           f"this is with --as ({', '.join(NAMES)})")
    text = read_input(path, "a provisioning text file", "give the file itself")
    if name == BOOT_CONFIG_NAME:
        validate_config(text)
    elif name == RECIPIENTS_FILE_NAME:
        read_recipients(text.source, text.data)
    else:
        try:
            parse_public_key_file(text.data)
        except KeyFileError as exc:
            raise SigningError(f"{path}: {exc}") from None
    return Input(name, path, text.data)

"""`bodycam-provision check FILE`: would the camera accept this provisioning file?

Runs exactly the validation the camera runs at boot (provisioning_validate), so a file
that passes here is installed there. With `--recipients FILE` the age recipients file
is merged in exactly as the camera merges bodycam-recipients.txt. A signature beside a
file (FILE.sig) is verified and its key named; `--trusted-key` also requires that it is
the agency's key. Exit 0 valid, 1 invalid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bodycam.firmware.config.loader import ConfigError
from bodycam.firmware.config.model import Config
from bodycam.firmware.config.safe_read import read_regular
from bodycam.firmware.device.firstboot import BOOT_CONFIG_NAME, RECIPIENTS_FILE_NAME
from bodycam.firmware.device.provisioning_signature import (
    KeyFileError,
    fingerprint,
    parse_public_key_file,
)
from bodycam.firmware.device.provisioning_validate import (
    read_input,
    read_recipients_input,
    validate_config,
    validate_with_recipients,
)
from bodycam.tools.provision.signing import Input, SigningError, describe, read_signature

EXIT_OK = 0
EXIT_INVALID = 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="the bodycam.toml to check")
    add_recipients_option(parser)
    parser.add_argument("--trusted-key", type=Path, metavar="PUB",
                        help="the agency's public provisioning key (KEY.pub from keygen): "
                             "the files must be signed with it")


def add_recipients_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipients", type=Path, metavar="RECIPIENTS",
                        help="an age recipients file (one age1pq1... or age1... per line) "
                             f"whose keys are added to FILE's, written as "
                             f"{RECIPIENTS_FILE_NAME}")


def run(args: argparse.Namespace) -> int:
    inputs = checked(args.file, args.recipients)
    if inputs is None:
        return EXIT_INVALID
    return EXIT_OK if signatures_ok(inputs, args.trusted_key) else EXIT_INVALID


def checked(path: Path, recipients: Path | None = None) -> list[Input] | None:
    """The files as they go onto the boot partition, if valid; else None after printing
    every problem to stderr."""
    try:
        config_text = read_input(path, "a TOML text file", "this is not a bodycam.toml; "
                                 "copy the configuration text file")
        inputs = [Input(BOOT_CONFIG_NAME, path, config_text.data)]
        if recipients is None:
            config: Config = validate_config(config_text)
        else:
            recipients_text = read_recipients_input(recipients)
            config = validate_with_recipients(config_text, recipients_text, keep=True)[0]
            inputs.insert(0, Input(RECIPIENTS_FILE_NAME, recipients, recipients_text.data))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(f"INVALID: {path} ({count} problem{'s' if count != 1 else ''}); "
              "nothing was written", file=sys.stderr)
        return None
    print(f"OK: {path} (device {config.device.id}, "
          f"{len(config.evidence.recipients)} recipient(s), digest {config.digest[:16]})")
    return inputs


def signatures_ok(inputs: list[Input], trusted: Path | None) -> bool:
    """Report each file's signature; False when one is wrong, or missing/by another key
    while `trusted` names the agency's key."""
    try:
        expected = (None if trusted is None
                    else fingerprint(parse_public_key_file(read_regular(trusted, 4096))))
    except (OSError, KeyFileError) as exc:
        print(f"INVALID: --trusted-key {trusted}: {exc}", file=sys.stderr)
        return False
    ok = True
    for item in inputs:
        try:
            signature = read_signature(item)
        except SigningError as exc:
            print(f"INVALID: {exc}", file=sys.stderr)
            ok = False
            continue
        if signature is None:
            print(f"{'INVALID' if expected else 'NOTE'}: {item.path} is not signed; the "
                  "camera refuses unsigned files: sign it (bodycam-provision sign, or "
                  "write --sign-key)", file=sys.stderr)
            ok = ok and expected is None
        elif expected is not None and signature.signer != expected:
            print(f"INVALID: {item.path} is {describe(signature)}, not by the trusted key "
                  f"{expected}", file=sys.stderr)
            ok = False
        else:
            print(f"{item.path}: {describe(signature)}")
    return ok

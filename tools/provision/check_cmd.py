"""`bodycam-provision check FILE`: would the camera accept this provisioning file?

Runs exactly the validation the camera runs at boot (firstboot.validate_provisioning),
so a file that passes here is installed there. With `--recipients FILE` the age
recipients file is merged in exactly as the camera merges bodycam-recipients.txt.
Exit 0 valid, 1 invalid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bodycam.firmware.config.loader import ConfigError
from bodycam.firmware.config.model import Config
from bodycam.firmware.device.firstboot import (
    RECIPIENTS_FILE_NAME,
    validate_provisioning,
    validate_with_recipients,
)

EXIT_OK = 0
EXIT_INVALID = 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="the bodycam.toml to check")
    add_recipients_option(parser)


def add_recipients_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipients", type=Path, metavar="RECIPIENTS",
                        help="an age recipients file (one age1... per line) whose keys are "
                             f"added to FILE's, written as {RECIPIENTS_FILE_NAME}")


def run(args: argparse.Namespace) -> int:
    return EXIT_OK if checked(args.file, args.recipients) is not None else EXIT_INVALID


def checked(path: Path, recipients: Path | None = None) -> Config | None:
    """The validated configuration, or None after printing every problem to stderr."""
    try:
        if recipients is None:
            config = validate_provisioning(path)
        else:
            config = validate_with_recipients(path, recipients, keep=True)[0]
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(f"INVALID: {path} ({count} problem{'s' if count != 1 else ''}); "
              "nothing was written", file=sys.stderr)
        return None
    print(f"OK: {path} (device {config.device.id}, "
          f"{len(config.evidence.recipients)} recipient(s), digest {config.digest[:16]})")
    return config

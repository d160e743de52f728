"""The technician's side of provisioning signatures: make them, find them, judge them.

A signature binds the name the camera reads (bodycam.toml, bodycam-recipients.txt, ...),
not the name on the laptop, so `authority.txt` signed as bodycam-recipients.txt cannot
be installed as a bodycam.toml. The serial is the UTC signing time unless given.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodycam.firmware.config.safe_read import read_regular
from bodycam.firmware.device.provisioning_signature import (
    FLEET,
    MAX_SIGNATURE_BYTES,
    SIGNATURE_SUFFIX,
    KeyFileError,
    Signature,
    SignatureFormatError,
    load_private_key,
    parse_signature,
    serial_at,
    sign,
)

__all__ = ["Input", "SigningError", "add_signing_options", "describe", "existing_signature",
           "read_signature", "signature_files", "signing_key"]


class SigningError(RuntimeError):
    """A signature cannot be made or is wrong; the message says how to fix it."""


@dataclass(frozen=True)
class Input:
    """One file to put on the boot partition: its name there, where it is, its bytes."""

    name: str
    path: Path
    data: bytes


def add_signing_options(parser: argparse.ArgumentParser, *, key_option: str) -> None:
    parser.add_argument(key_option, type=Path, metavar="KEY", dest="sign_key",
                        help="the agency's provisioning key (from `bodycam-provision "
                             "keygen`) to sign with")
    parser.add_argument("--device", default=FLEET, metavar="ID",
                        help="sign for this camera's device id only (default: * = any "
                             "camera of the agency)")
    parser.add_argument("--serial", type=int, metavar="N",
                        help="signature serial (default: the UTC time, YYYYMMDDHHMMSS); "
                             "a camera refuses serials older than the last it accepted")


def signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        return load_private_key(path)
    except OSError as exc:
        raise SigningError(f"cannot read the provisioning key {path}: "
                           f"{exc.strerror or exc}") from None
    except KeyFileError as exc:
        raise SigningError(str(exc)) from None


def _serial(args: argparse.Namespace) -> int:
    serial = args.serial if args.serial is not None else serial_at(datetime.now(UTC))
    if serial < 0:
        raise SigningError(f"--serial {serial}: a serial is a number from 0 up")
    return int(serial)


def signature_files(inputs: Sequence[Input], args: argparse.Namespace) -> list[Input]:
    """The NAME.sig file for each input: made with --sign-key (one serial for all), or
    else the FILE.sig found beside each file, checked. Raises SigningError."""
    if args.sign_key is None:
        return [existing_signature(item) for item in inputs]
    key = signing_key(args.sign_key)
    serial = _serial(args)
    try:
        made = [sign(key, item.name, item.data, serial, args.device) for item in inputs]
    except ValueError as exc:
        raise SigningError(f"cannot sign: {exc}") from None
    return [Input(item.name + SIGNATURE_SUFFIX, _sig_path(item.path), sig.render())
            for item, sig in zip(inputs, made, strict=True)]


def _sig_path(path: Path) -> Path:
    return path.with_name(path.name + SIGNATURE_SUFFIX)


def read_signature(item: Input) -> Signature | None:
    """The signature beside `item.path`, checked against `item`; None when there is none.
    Raises SigningError when it is there but wrong."""
    path = _sig_path(item.path)
    try:
        raw = read_regular(path, MAX_SIGNATURE_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SigningError(f"{path}: {exc}") from None
    try:
        signature = parse_signature(raw)
    except SignatureFormatError as exc:
        raise SigningError(f"{path} is not a provisioning signature ({exc}); sign again "
                           "with `bodycam-provision sign`") from None
    problem = signature.problem(item.name, item.data)
    if problem is not None:
        raise SigningError(f"{path}: {problem}")
    return signature


def existing_signature(item: Input) -> Input:
    """The checked signature file beside `item`. Raises SigningError when missing/wrong."""
    signature = read_signature(item)
    if signature is None:
        raise SigningError(
            f"{item.path} is not signed ({_sig_path(item.path).name} not found): the "
            "camera accepts only files signed with the agency's provisioning key. Fix: "
            "add --sign-key AGENCY.key, or sign first with `bodycam-provision sign --key "
            f"AGENCY.key{'' if item.path.name == item.name else f' --as {item.name}'} "
            f"{item.path}`")
    return Input(item.name + SIGNATURE_SUFFIX, _sig_path(item.path), signature.render())


def describe(signature: Signature) -> str:
    device = "any camera" if signature.device == FLEET else f"camera {signature.device}"
    return (f"signed as {signature.file} by key {signature.signer} (serial "
            f"{signature.serial}, for {device})")

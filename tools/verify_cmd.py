"""`bodycam-evidence verify DIR`: check a recording directory or an audit log.

Exit 0 verified (sealed, also after power-loss recovery), 1 integrity failure, 2 usage
error, 3 untampered but not sealed. See docs/formats.md for what is checked.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bodycam.firmware.evidence.device_key import parse_public_key
from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.firmware.evidence.verify import (
    EXIT_USAGE,
    VerifyReport,
    verify_log,
    verify_recording,
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="DIR",
                        help="evidence/<recording-id>/ directory, an audit log file, or the "
                             "audit/ directory")
    parser.add_argument("--device-key", metavar="KEY",
                        help="pin the device's public key (base64 as printed by `bodycam "
                             "identity --public-key`, or a file containing it)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")


def run(args: argparse.Namespace) -> int:
    path: Path = args.path
    try:
        pinned = _pinned_key(args.device_key)
        report = _verify(path, pinned)
    except UsageError as exc:
        print(f"bodycam-evidence verify: {exc}", file=sys.stderr)
        if args.json:  # a machine reading stdout gets an answer too
            print(json.dumps({"status": "usage_error", "exit_code": EXIT_USAGE,
                              "error": str(exc)}, ensure_ascii=False))
        return EXIT_USAGE
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print(report.summary())
    return report.exit_code


class UsageError(Exception):
    pass


def _starts_like_a_signed_log(path: Path) -> bool:
    """A file given by mistake (a segment, a video) is a usage error, not tampering.

    Only for names other than *.jsonl (every log the camera writes is one, and a damaged
    log must still be reported as the integrity failure it is): such a file counts as a
    log when its first line is a JSON record carrying seq, prev or sig."""
    with path.open("rb") as handle:
        first = handle.readline(64 * 1024)
    try:
        record = json.loads(first)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(record, dict) and bool({"seq", "prev", "sig"} & record.keys())

def _pinned_key(text: str | None) -> Ed25519PublicKey | None:
    if text is None:
        return None
    candidate = Path(text)
    if candidate.is_file():
        text = candidate.read_text(encoding="utf-8", errors="replace")
    try:
        return parse_public_key(text)
    except ValueError as exc:
        raise UsageError(f"--device-key: {exc}") from None


def _verify(path: Path, pinned: Ed25519PublicKey | None) -> VerifyReport:
    if path.is_file():
        if path.name == MANIFEST_NAME:
            return verify_recording(path, pinned)
        if path.suffix != ".jsonl" and not _starts_like_a_signed_log(path):
            raise UsageError(
                f"{path} is not a manifest or audit log (its first line is not a signed "
                "record); give a recording directory (evidence/<recording-id>/), its "
                f"{MANIFEST_NAME}, an audit log file or the audit/ directory")
        return verify_log(path, pinned)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} is not a regular file or a directory; give a recording "
                         "directory (evidence/<recording-id>/), an audit log file or the "
                         "audit/ directory")
    if not path.is_dir():
        raise UsageError(f"{path} does not exist; give a recording directory "
                         "(evidence/<recording-id>/), an audit log file or the audit/ directory")
    if (path / MANIFEST_NAME).exists() or any(path.glob("*.age*")):
        return verify_recording(path, pinned)
    if any(path.glob("*.jsonl")):
        return verify_log(path, pinned)
    raise UsageError(f"{path} is neither a recording directory (no {MANIFEST_NAME}, no .age "
                     "files) nor an audit log directory (no *.jsonl)")

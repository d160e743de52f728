"""`bodycam-evidence package`: build a prosecutor package (see build.py for what is in it).

Offline, from files the custodian already holds (each recording's directory, the JSON
answer of a "disclose" grant for the prosecutor's key, the server's custody report):

    bodycam-evidence package --keys KEYDIR -i custodian.key --out OUT \
        --recording DIR --disclosure GRANT.json --custody CUSTODY.json [--recording ...]

`--recording`, `--disclosure` and `--custody` are given once per recording, in the same
order; a receipt.json in the recording directory goes into the package too.
Exit 0 built, 1 failed (nothing is left at OUT), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bodycam.firmware.evidence.age.keys import Identity, read_identity_file
from bodycam.tools.custody.package.build import (
    Disclosure,
    PackageError,
    RecordingInput,
    build_package,
    private_umask,
)
from bodycam.tools.custody.package.keys import ExportKeyError, ExportKeys, load

TOOL = "bodycam-evidence package"


class UsageError(Exception):
    pass


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keys", type=Path, required=True, metavar="KEYDIR",
                        help="the export key directory (`export-key init`)")
    parser.add_argument("-i", "--identity", type=Path, action="append", required=True,
                        metavar="IDENTITY", help="the custodian's age identity, to make "
                        "the MP4 (the custodian's own export grant, or the authority's)")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT",
                        help="the package directory to create (must not exist)")
    parser.add_argument("--recording", type=Path, action="append", default=[],
                        metavar="DIR", help="a recording directory (manifest.jsonl, *.age)")
    parser.add_argument("--disclosure", type=Path, action="append", default=[],
                        metavar="GRANT.json", help="the disclose grant's answer for it")
    parser.add_argument("--custody", type=Path, action="append", default=[],
                        metavar="CUSTODY.json", help="its chain-of-custody report")
    parser.add_argument("--case", metavar="CASE", help="the case the package is for")
    parser.add_argument("--tsa-url", metavar="URL",
                        help="an RFC 3161 timestamp authority; default: the agency's own "
                             "(the timestamp key in KEYDIR, served on loopback meanwhile)")


def _inputs(args: argparse.Namespace) -> list[RecordingInput]:
    if not args.recording:
        raise UsageError("give at least one --recording DIR (with its --disclosure and "
                         "--custody)")
    if not len(args.recording) == len(args.disclosure) == len(args.custody):
        raise UsageError("give one --disclosure and one --custody per --recording, in the "
                         "same order")
    items = []
    for directory, grant, custody in zip(args.recording, args.disclosure, args.custody,
                                         strict=True):
        try:
            body = json.loads(grant.read_bytes())
            report = custody.read_bytes()
            json.loads(report)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {exc}: give the JSON files the server "
                             "returned") from None
        if not isinstance(body, dict):
            raise UsageError(f"{grant} is not a grant answer (a JSON object)")
        receipt = directory / "receipt.json"
        items.append(RecordingInput(directory, Disclosure.from_json(body), report,
                                    receipt.read_bytes() if receipt.is_file() else None))
    return items


def identities_of(paths: list[Path]) -> list[Identity]:
    try:
        return [key for path in paths for key in read_identity_file(path)]
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the identity file: {exc}") from None


def run(args: argparse.Namespace) -> int:
    private_umask()
    try:
        keys: ExportKeys = load(args.keys)
        items = _inputs(args)
        identities = identities_of(args.identity)
    except (UsageError, ExportKeyError, PackageError) as exc:
        print(f"{TOOL}: {exc}", file=sys.stderr)
        return 2
    try:
        result = build_package(items, identities, keys, args.out, case=args.case,
                               tsa_url=args.tsa_url)
    except PackageError as exc:
        print(f"{TOOL}: error: {exc}", file=sys.stderr)
        return 1
    print(f"package {result.out}: {len(result.index['files'])} files, index signed; "
          f"check it with `bodycam-evidence verify --ca agency-ca.pem {result.out}`",
          file=sys.stderr)
    return 0

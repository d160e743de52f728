"""`bodycam-evidence package`: build a prosecutor package (see build.py for what is in it).

From the evidence server, every recording of a case (signed in with `bodycam-evidence
server sign-in`, or --server/--ca and $BODYCAM_SERVER_TOKEN):

    bodycam-evidence package --case CASE --prosecutor age1... --reason TEXT \
        --keys KEYDIR -i custodian.key --out OUT

asks the server for an export grant (the custodian's key: the MP4) and a disclose grant
(the prosecutor's key) per recording, both recorded by the server and the key holder.

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
import tempfile
from pathlib import Path

from bodycam.firmware.evidence.age.keys import Identity, parse_recipient, read_identity_file
from bodycam.tools.custody.package.build import (
    Disclosure,
    PackageError,
    RecordingInput,
    build_package,
    private_umask,
)
from bodycam.tools.custody.package.from_server import case_inputs
from bodycam.tools.custody.package.keys import ExportKeyError, ExportKeys, load
from bodycam.tools.custody.server_client import EvidenceServer, ServerError, load_config

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
    parser.add_argument("--case", metavar="CASE", help="the case the package is for (with "
                        "--prosecutor: every recording of this case on the server)")
    parser.add_argument("--prosecutor", metavar="AGE1",
                        help="the prosecutor's age recipient (age1... or age1pq1...): fetch "
                             "the case from the evidence server")
    parser.add_argument("--reason", help="why it is disclosed (recorded by the server)")
    parser.add_argument("--server", metavar="URL", help="the evidence server (default: the "
                        "one signed in to with `bodycam-evidence server sign-in`)")
    parser.add_argument("--ca", type=Path, metavar="FILE",
                        help="pin the server's TLS certificate (its identity/tls-ca.pem)")
    parser.add_argument("--tsa-url", metavar="URL",
                        help="an RFC 3161 timestamp authority; default: the agency's own "
                             "(the timestamp key in KEYDIR, served on loopback meanwhile)")


def _inputs(args: argparse.Namespace) -> list[RecordingInput]:
    if not args.recording:
        raise UsageError("give --case CASE --prosecutor AGE1 --reason TEXT (from the "
                         "server), or --recording DIR with its --disclosure and --custody")
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


def _server_usage(args: argparse.Namespace) -> None:
    if args.recording:
        raise UsageError("--prosecutor fetches the case from the server: give no "
                         "--recording (or leave out --prosecutor to package files)")
    if not args.case or not args.reason:
        raise UsageError("--prosecutor needs --case CASE and --reason TEXT (the reason is "
                         "recorded with the disclosure)")
    try:
        parse_recipient(args.prosecutor)
    except ValueError as exc:
        raise UsageError(f"--prosecutor: {exc}") from None


def run(args: argparse.Namespace) -> int:
    private_umask()
    try:
        keys: ExportKeys = load(args.keys)
        identities = identities_of(args.identity)
        if args.prosecutor:
            _server_usage(args)
        items = [] if args.prosecutor else _inputs(args)
    except (UsageError, ExportKeyError, PackageError) as exc:
        print(f"{TOOL}: {exc}", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="bodycam-package-") as scratch:
            if args.prosecutor:
                with EvidenceServer(load_config(args.server, args.ca)) as server:
                    items = case_inputs(server, args.case, prosecutor=args.prosecutor,
                                        reason=args.reason, identities=identities,
                                        scratch=Path(scratch))
            result = build_package(items, identities, keys, args.out, case=args.case,
                                   tsa_url=args.tsa_url)
    except (PackageError, ServerError) as exc:
        print(f"{TOOL}: error: {exc}", file=sys.stderr)
        return 1
    print(f"package {result.out}: {len(result.index['files'])} files, index signed; "
          f"check it with `bodycam-evidence verify --ca agency-ca.pem {result.out}`",
          file=sys.stderr)
    return 0

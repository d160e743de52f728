"""`bodycam-server audit ...`: check the server's audit log in place, export it for
`bodycam-evidence verify`, and print a recording's chain-of-custody report.

`verify` and `export` run as the console, which holds the database and the signing key
already (hiding the log from it would protect nothing); both are on record. `report`
shows evidence handling of one recording, so it needs a person who may read it (an
auditor, or someone who may view the recording): `--as USER` signs them in with
password and second factor, through the same access gate as the web pages.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from bodycam.firmware.evidence.public_keys import DevicePublicKey, parse_public_key
from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access
from bodycam.server.audit.custody import read_custody_report
from bodycam.server.audit.custody_page import render_custody_html
from bodycam.server.audit.verify import export_log, verify_log
from bodycam.server.context import ServerContext
from bodycam.server.custody.console import console_work, read_credentials
from bodycam.server.identity.signing_key import public_b64

__all__ = ["add_audit_commands"]

Run = Callable[[argparse.Namespace], int]


class _Command(Protocol):
    def __call__(self, name: str, run: Run, text: str,
                 into: argparse._SubParsersAction[argparse.ArgumentParser]
                 ) -> argparse.ArgumentParser: ...


def _keys(context: ServerContext, extra: list[str]) -> list[DevicePublicKey]:
    current = parse_public_key(public_b64(context.signing_key))
    try:
        return [current, *(parse_public_key(text) for text in extra)]
    except ValueError as exc:
        raise ValueError(f"--key: {exc}") from None


def _verify(args: argparse.Namespace) -> int:
    context = ServerContext.open(args.data_dir)
    try:
        check = verify_log(context.database, _keys(context, args.key))
        Access.of(context).audit.record(
            "audit_verified", CONSOLE.name, records=check.records, head=check.head_seq,
            problems=len(check.problems))
    finally:
        context.close()
    print(check.summary())
    return 0 if check.ok else 1


def _export(args: argparse.Namespace) -> int:
    context = ServerContext.open(args.data_dir)
    try:
        try:
            check = export_log(context.database, args.out)
        except FileExistsError:
            raise ValueError(f"--out {args.out} exists; an export never overwrites a file. "
                             "Fix: choose a new name") from None
        key = public_b64(context.signing_key)
        Access.of(context).audit.record("audit_exported", CONSOLE.name, out=str(args.out),
                                        records=check.records, head=check.head_seq)
    finally:
        context.close()
    print(f"{args.out}: {check.records} records, head seq {check.head_seq} hash "
          f"{check.head_hash}\ncheck it anywhere with: bodycam-evidence verify {args.out} "
          f"--device-key {key}")
    for problem in check.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 0 if check.ok else 1


def _report(args: argparse.Namespace) -> int:
    credentials = read_credentials(args.as_user, args.password_stdin)
    context = ServerContext.open(args.data_dir)
    try:  # the same sign-in as every evidence command; its session ends with it
        with console_work(context, "custody.report", credentials) as work:
            report = read_custody_report(work, args.recording, blobs=context.blobs)
    finally:
        context.close()
    if args.html is not None:
        with open(args.html, "x", encoding="utf-8") as out:
            out.write(render_custody_html(report))
    print(json.dumps(report.to_json(), indent=2, ensure_ascii=False) if args.json
          else _text(report.to_json()))
    return 0


def _text(report: dict[str, object]) -> str:
    lines = [f"chain of custody: recording {report['recording_id']} (made "
             f"{report['generated']}, audit log head {report['audit_head']})"]
    for name in ("device_id", "device_key", "start", "end", "received", "manifest_sha256",
                 "manifest_seq", "manifest_hash"):
        lines.append(f"  {name}: {report[name]}")
    files = report["files"]
    assert isinstance(files, list)
    lines.append(f"  files ({len(files)}):")
    lines += [f"    {f['name']} {f['size']} {f['sha256']} "
              f"{'stored' if f['stored'] else 'NOT STORED'}" for f in files]
    events = report["events"]
    assert isinstance(events, list)
    lines.append(f"  audit records ({len(events)}):")
    lines += [f"    {e['seq']} {e['time']} {e['kind']} by {e['actor']} {e['outcome']}"
              f"{' (' + e['rule'] + ')' if e['rule'] else ''} hash {e['hash']}"
              for e in events]
    cameras = report["camera_records"]
    assert isinstance(cameras, list)
    lines.append(f"  the camera's audit records ({len(cameras)}):")
    lines += [f"    {c['seq']} {c['time']} {c['event']} hash {c['hash']}" for c in cameras]
    notes = report["notes"]
    assert isinstance(notes, list)
    lines += [f"  note: {note}" for note in notes]
    return "\n".join(lines)


def add_audit_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                       command: _Command) -> None:
    """The `audit` command group, on bodycam-server's parser."""
    group = commands.add_parser("audit", help="the server's signed audit log").add_subparsers(
        dest="audit_command", required=True)
    verify = command("verify", _verify, "check every record of the audit log in the "
                     "database: chain, signatures, nothing edited, deleted or reordered",
                     into=group)
    verify.add_argument("--key", action="append", default=[], metavar="KEY",
                        help="also trust this earlier server key (base64), for a log "
                        "begun under a key since replaced; repeatable")
    export = command("export", _export, "write the audit log as a signed log file for "
                     "`bodycam-evidence verify FILE --device-key SERVER_KEY`", into=group)
    export.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="a new file (never overwritten), e.g. server-audit.jsonl")
    report = command("report", _report, "a recording's chain-of-custody report: every "
                     "audit record that touched it, with hashes", into=group)
    report.add_argument("recording", metavar="RECORDING", help="the recording id")
    report.add_argument("--as", dest="as_user", required=True, metavar="USER",
                        help="who reads it: an auditor, or someone who may view the "
                        "recording (asked for password and second-factor code)")
    report.add_argument("--password-stdin", action="store_true",
                        help="read the password and the code as two lines from stdin")
    report.add_argument("--json", action="store_true", help="machine-readable")
    report.add_argument("--html", type=Path, metavar="FILE",
                        help="also write the printable page to FILE (a new file)")

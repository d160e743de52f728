"""`bodycam-server keyholder connect|status|pull|grant`: this server's side of the key
holder (grant: the offline path, a signed grant request as a file)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bodycam.firmware.evidence.durable import write_new_file
from bodycam.firmware.evidence.public_keys import parse_public_key
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.custody.console import console_work, read_credentials
from bodycam.server.keyholder.client import KeyholderClient, KeyholderUnavailableError
from bodycam.server.keyholder.issue import issue_grant
from bodycam.server.keyholder.link import KeyholderLink
from bodycam.server.keyholder.log import MAX_PULL
from bodycam.server.keyholder.pull import pull_log
from bodycam.server.settings import ServerSettings

__all__ = ["add_keyholder_commands"]

_Command = Callable[..., argparse.ArgumentParser]


def _connect(args: argparse.Namespace) -> int:
    settings = ServerSettings.load(args.data_dir)
    pinned = parse_public_key(args.log_key)
    hello = KeyholderClient(args.socket).hello()
    if hello.get("log_key") != pinned.b64:
        raise KeyholderUnavailableError(
            f"the key holder at {args.socket} signs its log with key "
            f"{hello.get('log_key_fingerprint')}, not {pinned.fingerprint} as given. Fix: "
            "compare with what `bodycam-keyholder init` or `show` printed on the key holder")
    KeyholderLink(args.socket, pinned).save(settings.identity_dir)
    print(f"connected: key holder at {args.socket}, log key {pinned.fingerprint}, holding "
          f"recipients {', '.join(hello.get('recipients', []))}")
    return 0


def _status(args: argparse.Namespace) -> int:
    link = KeyholderLink.load(ServerSettings.load(args.data_dir).identity_dir)
    hello = link.client().hello()
    print(f"key holder at {link.socket}: running, log key {hello.get('log_key_fingerprint')}, "
          f"recipients {', '.join(hello.get('recipients', []))}, at most "
          f"{hello.get('max_segments')} segments and {hello.get('max_lifetime_seconds')} s "
          "per grant")
    return 0


def _lines_from(path: Path) -> Callable[[int], list[str]]:
    """A carried copy of the key holder's log (`bodycam-keyholder log --out FILE`)."""
    lines = path.read_text(encoding="utf-8").splitlines()

    def after(seq: int) -> list[str]:
        return [line for line in lines if json.loads(line).get("seq", -1) > seq][:MAX_PULL]

    return after


def _pull(args: argparse.Namespace) -> int:
    context = ServerContext.open(args.data_dir)
    try:
        link = KeyholderLink.load(context.settings.identity_dir)
        source = _lines_from(args.source) if args.source else link.client()
        count = pull_log(Access.of(context), source, link.log_key)
    finally:
        context.close()
    print(f"{count} new key holder log records in the audit trail")
    return 0


def _grant(args: argparse.Namespace) -> int:
    """Offline: the signed grant request as a file for an air-gapped key holder."""
    context = ServerContext.open(args.data_dir)
    try:
        credentials = read_credentials(args.as_user, args.password_stdin)
        with console_work(context, "recording.view", credentials) as work:
            request = issue_grant(work, context, args.recording, args.viewer, args.reason,
                                  segments=args.segment or None,
                                  lifetime=timedelta(minutes=args.minutes))
        write_new_file(args.out, request.dumps(), 0o640)
    finally:
        context.close()
    print(f"{args.out}: a grant for {len(request.preambles)} segments of {args.recording}, "
          f"valid until {request.grant['expires']}. Next: on the key holder, "
          f"bodycam-keyholder unwrap --dir DIR --grant {args.out.name} --out HEADERS")
    return 0


def add_keyholder_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                           command: _Command) -> None:
    group = commands.add_parser("keyholder", help="the key holder that opens recordings "
                                "for viewers").add_subparsers(dest="keyholder_command",
                                                              required=True)
    connect = command("connect", _connect, "pin the key holder's socket and log key",
                      into=group)
    connect.add_argument("--socket", type=Path, required=True, metavar="PATH")
    connect.add_argument("--log-key", required=True, metavar="KEY",
                         help="the log key `bodycam-keyholder init` printed (base64)")
    command("status", _status, "is the key holder running, and what does it hold", into=group)
    pull = command("pull", _pull, "bring the key holder's new log records into the audit "
                   "trail (checked line by line)", into=group)
    pull.add_argument("--from", dest="source", type=Path, metavar="FILE",
                      help="offline: a copy written by `bodycam-keyholder log --out`")
    grant = command("grant", _grant, "offline: sign a grant for the key holder as a file "
                    "(as a signed-in person, through the access rules)", into=group)
    grant.add_argument("recording", metavar="RECORDING", help="the recording id")
    grant.add_argument("--as", dest="as_user", required=True, metavar="USER",
                       help="who views (asked for password and second-factor code)")
    grant.add_argument("--password-stdin", action="store_true",
                       help="read the password and the code as two lines from stdin")
    grant.add_argument("--viewer", required=True, metavar="AGE1",
                       help="the viewer's own age recipient (age1... or age1pq1...)")
    grant.add_argument("--reason", required=True, help="why (recorded with the unlock)")
    grant.add_argument("--segment", action="append", default=[], metavar="NAME",
                       help="only this segment (repeatable; default: all stored)")
    grant.add_argument("--minutes", type=int, default=60, choices=range(1, 24 * 60 + 1),
                       metavar="N", help="valid for N minutes (default 60)")
    grant.add_argument("--out", type=Path, required=True, metavar="FILE")

"""`bodycam-keyholder`: the key holder's commands (init, serve, unwrap, show, log, bench).

It runs as its own Unix user on its own host (or at least apart from the evidence
server's user), needs no network, and never reads the evidence server's data directory.
Each failure prints what is wrong and the fix and exits 1; a wrong invocation exits 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bodycam.firmware.evidence.durable import write_new_file
from bodycam.hal.keystore import KeyStoreError
from bodycam.server.keyholder import bench
from bodycam.server.keyholder.config import (
    DEFAULT_SOCKET,
    KeyholderError,
    parse_server_key,
)
from bodycam.server.keyholder.errors import RefusedError
from bodycam.server.keyholder.holder import KeyHolder
from bodycam.server.keyholder.service import KeyholderService
from bodycam.server.keyholder.setup import initialise

EXIT_OK = 0
EXIT_FAILED = 1


def _init(args: argparse.Namespace) -> int:
    result = initialise(args.dir, parse_server_key(args.server_key), identity=args.identity,
                        post_quantum=args.pq, socket=args.socket, group=args.socket_group)
    print(f"key holder initialised in {args.dir}")
    for recipient in result.recipients:
        print(f"  cameras encrypt to: {recipient}")
    print(f"  log key:            {result.log_key} ({result.log_key_fingerprint})\n"
          f"next: bodycam-keyholder serve --dir {args.dir}; on the evidence server: "
          f"bodycam-server keyholder connect --data-dir DIR --socket {args.socket} "
          f"--log-key {result.log_key}")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    holder = KeyHolder.open(args.dir)
    try:
        KeyholderService(holder).run()
    finally:
        holder.close()
    return EXIT_OK


def _unwrap(args: argparse.Namespace) -> int:
    """Offline: a grant file in, a headers file out (an air-gapped key holder)."""
    holder = KeyHolder.open(args.dir)
    try:
        data = args.grant.read_bytes()
        peer = {"offline": args.grant.name[:100], "uid": os.getuid()}
        try:
            response = holder.unwrap(data, peer)
        except RefusedError as refusal:
            print(f"bodycam-keyholder unwrap: refused ({refusal.rule}): {refusal.message}",
                  file=sys.stderr)
            return EXIT_FAILED
    finally:
        holder.close()
    write_new_file(args.out, json.dumps(response.to_json(), sort_keys=True).encode(), 0o640)
    print(f"{args.out}: headers for {len(response.segments)} segments of "
          f"{response.recording_id} (key holder log seq {response.log_seq}); carry it back "
          "to the viewer, and the log to the server (bodycam-keyholder log)")
    return EXIT_OK


def _log(args: argparse.Namespace) -> int:
    """The log's lines after a seq, for a server that cannot reach the socket."""
    holder = KeyHolder.open(args.dir)
    try:
        lines, after = [], args.after
        while batch := holder.log.lines_after(after):
            lines += batch
            after += len(batch)
    finally:
        holder.close()
    text = "".join(line + "\n" for line in lines)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_new_file(args.out, text.encode("utf-8"), 0o640)
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    holder = KeyHolder.open(args.dir)
    try:
        print(json.dumps({"log_key": holder.log.key.b64,
                          "log_key_fingerprint": holder.log.key.fingerprint,
                          "recipients": holder.recipients(),
                          "socket": str(holder.settings.socket)}, indent=2))
    finally:
        holder.close()
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bodycam-keyholder", description="The evidence authority's key holder: opens "
        "segment headers for a viewer, only on a grant the evidence server signed, and "
        "records every unlock and refusal in its own signed log (docs/keyholder.md).")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, run: Callable[[argparse.Namespace], int], text: str
                ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--dir", type=lambda t: Path(t).expanduser().absolute(),
                         required=True, metavar="DIR", help="the key holder's directory")
        sub.set_defaults(run=run)
        return sub

    init = command("init", _init, "create DIR: the authority identity, the log key, "
                   "keyholder.toml (never overwrites)")
    init.add_argument("--server-key", required=True, metavar="KEY",
                      help="the evidence server's signing key (base64, as `bodycam-server "
                      "init` prints it; server_key in its camera-offload.toml)")
    source = init.add_mutually_exclusive_group()
    source.add_argument("--identity", type=Path, metavar="FILE",
                        help="the existing authority identity file to hold (copied in; "
                        "then remove the original)")
    source.add_argument("--pq", action="store_true",
                        help="make a new post-quantum (age1pq1...) identity instead of X25519")
    init.add_argument("--socket", type=Path, default=Path(DEFAULT_SOCKET), metavar="PATH")
    init.add_argument("--socket-group", metavar="GROUP",
                      help="the group the evidence server's user is in (socket mode 0660)")
    command("serve", _serve, "listen on the Unix socket (SIGTERM stops)")
    unwrap = command("unwrap", _unwrap, "offline: open a grant file the evidence server "
                     "wrote, write the viewer's headers")
    unwrap.add_argument("--grant", type=Path, required=True, metavar="FILE")
    unwrap.add_argument("--out", type=Path, required=True, metavar="FILE")
    log = command("log", _log, "print (or write) the log's lines after a seq, for "
                  "`bodycam-server keyholder pull --from FILE`")
    log.add_argument("--after", type=int, default=-1, metavar="SEQ")
    log.add_argument("--out", type=Path, metavar="FILE")
    command("show", _show, "the log key and the recipients held (public)")
    bench_parser = commands.add_parser("bench", help=bench.HELP, description=bench.HELP)
    bench.configure(bench_parser)
    bench_parser.set_defaults(run=bench.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # everything the key holder writes is its own
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except (KeyholderError, KeyStoreError, OSError, ValueError) as exc:
        print(f"bodycam-keyholder {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())

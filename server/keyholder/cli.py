"""`bodycam-keyholder`: the key holder's commands (init, serve, unwrap, show, log, bench),
and `apply`, which the viewer runs on the headers it hands out.

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

from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.durable import write_new_file
from bodycam.firmware.evidence.signed_log import is_record
from bodycam.hal.keystore import KeyStoreError
from bodycam.server.keyholder import bench
from bodycam.server.keyholder.apply import apply_headers
from bodycam.server.keyholder.config import (
    DEFAULT_SOCKET,
    HolderSettings,
    KeyholderError,
    parse_server_key,
    recipient_fingerprints,
)
from bodycam.server.keyholder.errors import RefusedError
from bodycam.server.keyholder.holder import KeyHolder
from bodycam.server.keyholder.log import LOG_FILE, LOG_KEY_DIR
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
    """The log's lines after a seq, for a server that cannot reach the socket (read
    only: safe while the service runs)."""
    HolderSettings.load(args.dir)
    text = "".join(line for line in (args.dir / LOG_FILE).read_text(encoding="utf-8")
                   .splitlines(keepends=True)
                   if (record := is_record(line.encode("utf-8"))) is not None
                   and record["seq"] > args.after)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_new_file(args.out, text.encode("utf-8"), 0o640)
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    """Public facts only, read without opening the log (safe while the service runs)."""
    settings = HolderSettings.load(args.dir)
    key = SoftwareKeyStore.open(args.dir / LOG_KEY_DIR).public_key
    print(json.dumps({"log_key": key.b64, "log_key_fingerprint": key.fingerprint,
                      "recipients": recipient_fingerprints(settings.identities()),
                      "socket": str(settings.socket)}, indent=2))
    return EXIT_OK


def _apply(args: argparse.Namespace) -> int:
    written = apply_headers(args.headers, args.recording, args.out)
    print(f"{len(written)} segments in {args.out} open with the viewer's identity: "
          "bodycam-evidence decrypt -i VIEWER.key FILE (or age -d)")
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
    apply_text = ("on the viewer's side: put the headers on the fetched ciphertext (each "
                  "segment checked against the grant first); no key holder directory needed")
    apply = commands.add_parser("apply", help=apply_text, description=apply_text)
    apply.add_argument("--headers", type=Path, required=True, metavar="FILE")
    apply.add_argument("--recording", type=Path, required=True, metavar="DIR",
                       help="the recording as `bodycam-server fetch` wrote it")
    apply.add_argument("--out", type=Path, required=True, metavar="DIR")
    apply.set_defaults(run=_apply)
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

"""`bodycam-server`: the evidence server's commands (init, serve, device enrol,
recordings, fetch, migrate, bench). Each failure prints what is wrong and the fix, and exits 1;
a wrong invocation exits 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError

from bodycam.server.access.rules import CONSOLE, AccessError
from bodycam.server.access.service import Access
from bodycam.server.app import PARTS
from bodycam.server.audit.cli import add_audit_commands
from bodycam.server.bench import main as bench_command
from bodycam.server.context import ServerContext
from bodycam.server.custody.cli import add_custody_commands
from bodycam.server.database.engine import Database
from bodycam.server.database.migrate import SchemaError, upgrade
from bodycam.server.devices.battery_cli import add_battery_command
from bodycam.server.devices.service import EnrolError, enrol, parse_identity
from bodycam.server.identity.signing_key import public_b64
from bodycam.server.identity.tls import TlsError
from bodycam.server.keyholder.server_cli import add_keyholder_commands
from bodycam.server.people.cli import add_user_commands
from bodycam.server.people.secret_box import KEY_FILE as BOX_KEY
from bodycam.server.people.secret_box import create_box_key
from bodycam.server.recordings.cli import add_recording_commands
from bodycam.server.recordings.fetch import FetchError
from bodycam.server.retention.cli import add_retention_commands
from bodycam.server.serve import serve
from bodycam.server.settings import ServerSettings, SettingsError
from bodycam.server.setup import InitRequest, initialise
from bodycam.server.storage.blobs import StorageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
_EXPECTED = (SettingsError, TlsError, StorageError, SchemaError, EnrolError, FetchError,
             SQLAlchemyError, CommandError, ValueError, OSError, AccessError)


def _init(args: argparse.Namespace) -> int:
    settings = initialise(InitRequest(
        data_dir=args.data_dir, url=args.url, database=args.database, blobs=args.blobs,
        s3_endpoint=args.s3_endpoint, tls_cert=args.tls_cert, tls_key=args.tls_key,
        tls_ca=args.tls_ca))
    context = ServerContext.open(settings.data_dir)
    key = public_b64(context.signing_key)
    context.close()
    print(f"evidence server initialised in {settings.data_dir}\n"
          f"  url:         {settings.url}\n"
          f"  database:    {Database(settings.database).engine.url.render_as_string()}\n"
          f"  blobs:       {settings.blobs}\n"
          f"  signing key: {key}\n"
          f"  cameras:     add {settings.offload_file} to each camera's provisioning file\n"
          f"next: bodycam-server device enrol --data-dir {settings.data_dir} "
          "BODYCAM-IDENTITY.txt, then bodycam-server serve")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    serve(args.data_dir, args.listen, args.part)
    return EXIT_OK


def _migrate(args: argparse.Namespace) -> int:
    settings = ServerSettings.load(args.data_dir)
    database = Database(settings.database)
    try:
        upgrade(database)
    finally:
        database.dispose()
    if create_box_key(settings.identity_dir):
        print(f"made {settings.identity_dir / BOX_KEY} (seals the second factors: back it up "
              "with the signing key)")
    print("the database schema is up to date")
    return EXIT_OK


def _enrol(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EnrolError(f"cannot read {args.file}: {exc}") from None
    device_id, key = parse_identity(text, args.device_id)
    context = ServerContext.open(args.data_dir)
    try:
        with Access.of(context).work(CONSOLE, "device.enrol") as work:
            done = enrol(work, device_id, key)
    finally:
        context.close()
    what = ("enrolled" if done.new_device else "added a key to" if done.new_key
            else "already enrolled:")
    print(f"{what} device {device_id}, key {key.fingerprint} ({key.algorithm}). Compare "
          "the fingerprint with the one the camera shows on its display.")
    return EXIT_OK


def _absolute(text: str) -> Path:
    """--data-dir as an absolute path: the blob folder and the SQLite URL are made from
    it, and both need one (a relative DIR failed with "relative path can't be expressed
    as a file URI")."""
    return Path(text).expanduser().absolute()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bodycam-server", description="The agency's evidence server: receives, "
        "verifies and keeps what cameras offload (ciphertext only).")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, run: Callable[[argparse.Namespace], int], text: str,
                into: argparse._SubParsersAction[argparse.ArgumentParser] = commands
                ) -> argparse.ArgumentParser:
        sub = into.add_parser(name, help=text, description=text)
        sub.add_argument("--data-dir", type=_absolute, required=True, metavar="DIR",
                         help="the server's data directory")
        sub.set_defaults(run=run)
        return sub

    init = command("init", _init, "create the data directory: signing key, TLS, schema, "
                   "camera-offload.toml (never overwrites)")
    init.add_argument("--url", required=True, help="https://HOST:PORT cameras reach")
    init.add_argument("--database", help="postgresql://USER@HOST/DB (default: SQLite in DIR)")
    init.add_argument("--blobs", help="s3://BUCKET/PREFIX (default: a folder in DIR)")
    init.add_argument("--s3-endpoint", help="S3 endpoint URL (default: boto3's, e.g. "
                      "AWS_ENDPOINT_URL_S3)")
    init.add_argument("--tls-cert", type=Path, help="the agency's own certificate (chain)")
    init.add_argument("--tls-key", type=Path, help="its private key (PEM, unencrypted)")
    init.add_argument("--tls-ca", type=Path, help="the CA cameras pin for it")
    serve_cmd = command("serve", _serve, "serve HTTPS (TLS 1.3) to docked cameras")
    serve_cmd.add_argument("--listen", metavar="HOST:PORT",
                           help="default: all addresses, the URL's port")
    serve_cmd.add_argument("--part", choices=PARTS, default="all",
                           help="serve only the cameras' routes (server time, offload, "
                           "their audit logs) or only the people's (pages, player, "
                           "/api/v1); run one process of each, e.g. on the dock network "
                           "and on the office network, so browsing never slows an "
                           "offload (default: all)")
    command("migrate", _migrate, "bring the database schema up to date (stop serve first)")
    device = commands.add_parser("device", help="cameras").add_subparsers(
        dest="device_command", required=True)
    enrol_cmd = command("enrol", _enrol, "pin a camera by its BODYCAM-IDENTITY.txt or "
                        "`bodycam identity` output", into=device)
    enrol_cmd.add_argument("file", type=Path, metavar="FILE")
    enrol_cmd.add_argument("--device-id", help="the device id, when FILE is a bare key")
    add_battery_command(device, command)
    add_recording_commands(command)
    add_user_commands(commands, command)
    add_keyholder_commands(commands, command)
    add_audit_commands(commands, command)
    add_retention_commands(commands, command)
    add_custody_commands(commands, command)
    bench_text = ("measure the dock offload: MB/s, against curl, on a shaped 50 Mbit/s "
                  "link, eight cameras at once (needs root and curl)")
    bench = commands.add_parser("bench", help=bench_text, description=bench_text)
    bench_command.configure(bench)
    bench.set_defaults(run=bench_command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o027)  # the database and blobs are the agency's: not world-readable
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except _EXPECTED as exc:
        print(f"bodycam-server {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())

"""`bodycam-evidence server sign-in|sign-out|verify|export`: a recording on the agency's
evidence server, checked and exported on the custodian's workstation with the
custodian's own age key. The authority's identity never leaves the key holder: the
server asks it to re-wrap each segment's header for the custodian's key (on record, with
the reason), and the custodian's workstation joins those headers to the ciphertext.

Nothing the server sends is taken on trust: the files are downloaded exactly as stored
into OUT/<recording id>/ and `verify`'s and `export`'s own checks run on them (the
camera's signatures over the manifest, every segment's signed hash), so a segment
altered on the server fails the check and is named. Exit codes as `verify` and `export`
(0 done, 1 integrity or decryption failure, 2 usage, 3 unsealed), and 4 when the server
could not be reached or refused (the message names the rule and the fix).
"""

from __future__ import annotations

import argparse
import getpass
import json
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

from bodycam.firmware.evidence.age.keys import Identity, format_recipient, read_identity_file
from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.verify import EXIT_USAGE, verify_recording
from bodycam.tools.custody.export.command import ExportError, ExportJob
from bodycam.tools.custody.export.mp4 import UnreadableSegmentError
from bodycam.tools.custody.server_client import (
    TOKEN_ENV,
    EvidenceServer,
    ServerError,
    check_recording_id,
    config_path,
    download_recording,
    forget_config,
    load_config,
    sign_in,
)
from bodycam.tools.custody.verify_cmd import UsageError, _pinned_key, _server_key

EXIT_SERVER: Final = 4
TOOL: Final = "bodycam-evidence server"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="server_command", metavar="ACTION", required=True)
    signin = sub.add_parser("sign-in", help="sign in (password + authenticator code) and "
                            f"keep an API token in {config_path()} (0600)")
    _where(signin)
    signin.add_argument("--user", required=True, metavar="NAME", help="your username")
    signin.add_argument("--password-stdin", action="store_true",
                        help="read the password and the code as two lines from stdin")
    signin.add_argument("--days", type=int, default=30, choices=range(1, 366), metavar="N",
                        help="the token lives N days (default 30)")
    signin.set_defaults(action=_sign_in)
    signout = sub.add_parser("sign-out", help="revoke the kept API token and forget it")
    signout.set_defaults(action=_sign_out)
    verify = sub.add_parser("verify", help="download a recording's ciphertext and manifest "
                            "and verify them against the camera's signatures")
    _where(verify)
    _recording(verify)
    verify.add_argument("--server-key", metavar="KEY",
                        help="pin the server's receipt key (base64 server_key, or the "
                        "server's camera-offload.toml), as for `verify`")
    verify.add_argument("--json", action="store_true", help="a machine-readable report")
    verify.set_defaults(action=_verify)
    export = sub.add_parser("export", help="ask for a grant for your own key (with a "
                            "reason, on record), download, verify, decrypt and join into "
                            "one MP4 with its report")
    _where(export)
    _recording(export)
    export.add_argument("-i", "--identity", type=Path, action="append", required=True,
                        metavar="IDENTITY", help="your own age identity file (never the "
                        "authority's): the grant is for its recipient")
    export.add_argument("--reason", required=True,
                        help="why you export it (recorded by the server and the key holder)")
    export.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="a new or empty directory: gets <recording>/ (the ciphertext "
                        "and manifest exactly as downloaded), <recording>.mp4 and its "
                        "<recording>.mp4.report.json")
    export.add_argument("--force", action="store_true", help="as for `export`: go on past "
                        "a failed verification or a damaged segment, and say so in the report")
    export.set_defaults(action=_export)


def _where(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", metavar="URL",
                        help="the evidence server (https://HOST:PORT); default: the one "
                        "signed in to")
    parser.add_argument("--ca", type=Path, metavar="FILE",
                        help="pin the server's TLS certificate: its CA file (the server's "
                        "identity/tls-ca.pem) or its certificate; default: the one kept "
                        "at sign-in, else the system's trust store")


def _recording(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", metavar="RECORDING", help="the recording id")
    parser.add_argument("--device-key", metavar="KEY",
                        help="pin the camera's public signing key (base64 as `bodycam "
                        "identity --public-key` prints it, or a file holding it); without "
                        "it the key the manifest names is checked against itself only")


def run(args: argparse.Namespace) -> int:
    action: Callable[[argparse.Namespace], int] = args.action
    try:
        return action(args)
    except ServerError as exc:
        print(f"{TOOL}: {exc}", file=sys.stderr)
        return EXIT_SERVER
    except UsageError as exc:
        print(f"{TOOL}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _read_secrets(user: str, from_stdin: bool) -> tuple[str, str]:
    if from_stdin:
        lines = sys.stdin.read().splitlines()
        if len(lines) < 2:
            raise UsageError("--password-stdin: give the password and the authenticator code "
                         "as two lines")
        return lines[0], lines[1].strip()
    return (getpass.getpass(f"password of {user}: "),
            input("code from your authenticator app: ").strip())


def _sign_in(args: argparse.Namespace) -> int:
    if not args.server:
        raise UsageError("sign-in needs --server https://HOST:PORT")
    password, code = _read_secrets(args.user, args.password_stdin)
    config = sign_in(args.server, args.ca, args.user, password, code,
                     token_name=f"bodycam-evidence on {socket.gethostname()}"[:100],
                     days=args.days)
    path = config.save()
    print(f"signed in to {config.url} as {args.user}; the API token is kept in {path} "
          f"(mode 0600; or set ${TOKEN_ENV}). `{TOOL} sign-out` revokes it")
    return 0


def _sign_out(args: argparse.Namespace) -> int:
    config = load_config(None, None)
    if config.token_id and config.token:
        with EvidenceServer(config) as server:
            server.revoke(config.token_id)
    removed = forget_config()
    print(f"signed out of {config.url}" + ("" if removed else " (nothing was kept)"))
    return 0


def _pinned(text: str | None) -> list[DevicePublicKey]:
    return [] if text is None else [_pinned_key(text)]


def _verify(args: argparse.Namespace) -> int:
    check_recording_id(args.recording)
    pinned = _pinned(args.device_key)
    server_key = _server_key(args.server_key) if args.server_key else None
    with (EvidenceServer(load_config(args.server, args.ca)) as server,
          tempfile.TemporaryDirectory(prefix="bodycam-verify-") as temp):
        directory = download_recording(server, args.recording, Path(temp))
        report = verify_recording(directory, pinned, server_key=server_key)
    report.path = Path(args.recording)
    report.notes.append(f"its files as {server.config.url} serves them, checked here")
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print(report.summary())
    return report.exit_code


def _identities(paths: list[Path]) -> list[Identity]:
    try:
        return [key for path in paths for key in read_identity_file(path)]
    except OSError as exc:
        raise UsageError(f"cannot read identity file {exc.filename}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _check_out(path: Path) -> None:
    """Checked before the grant is asked for, made only once it is given."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"--out {path} exists and is not an empty directory; nothing is "
                         "written over. Fix: give a new directory")


def _export(args: argparse.Namespace) -> int:
    check_recording_id(args.recording)
    identities = _identities(args.identity)
    pinned = _pinned(args.device_key)
    out: Path = args.out
    _check_out(out)
    recipient = format_recipient(identities[0].public_key())
    with EvidenceServer(load_config(args.server, args.ca)) as server:
        grant = server.grant(args.recording, recipient, args.reason, "export")
        print(f"grant {grant.nonce[:16]}... for {len(grant.headers)} segment(s), valid "
              f"until {grant.expires}", file=sys.stderr)
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory = download_recording(server, args.recording, out)
    job = ExportJob(directory, out / f"{args.recording}.mp4", identities,
                    pinned[0] if pinned else None, args.force, headers=grant.headers)
    try:
        job.run()
    except (ExportError, UnreadableSegmentError) as exc:
        print(f"{TOOL} export: error: {exc}", file=sys.stderr)
        return 1
    print(f"exported {job.output} ({job.report_path.name}); the ciphertext as downloaded "
          f"is in {directory}", file=sys.stderr)
    return 0

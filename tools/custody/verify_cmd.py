"""`bodycam-evidence verify PATH...`: check recordings, audit logs, or a whole camera.

Exit 0 verified (sealed, also after power-loss recovery), 1 integrity failure, 2 usage
error, 3 untampered but not sealed; with several reports the worst one counts (1 before
3 before 0). See docs/formats.md for what is checked.

Given an audit log (`--audit`, or a camera's data directory holding audit/ and
evidence/), the recordings and the audit log are also checked against each other
(firmware/evidence/verify_links.py): missing recordings, manifests cut back, an audit
log rolled back, counter gaps.

Given a prosecutor package (a directory with index.json and index.sig), checks that
instead (tools/custody/package/verify.py; --ca pins the agency CA), same exit codes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bodycam.firmware.config.offload_rules import Ed25519Key
from bodycam.firmware.config.problems import ConfigError
from bodycam.firmware.config.rules import InvalidValueError
from bodycam.firmware.device.recipients_file import read_recipients
from bodycam.firmware.evidence.age.keys import recipient_fingerprint
from bodycam.firmware.evidence.anchor import check_anchor, heads_document, read_anchor
from bodycam.firmware.evidence.public_keys import DevicePublicKey, parse_public_key
from bodycam.firmware.evidence.recovery import QUARANTINE_DIR
from bodycam.firmware.evidence.store import EVIDENCE_DIR, MANIFEST_NAME
from bodycam.firmware.evidence.verify import (
    EXIT_FAILED,
    EXIT_UNSEALED,
    EXIT_USAGE,
    EXIT_VERIFIED,
    UNSEALED_NOTE,
    VerifyReport,
    verify_log,
    verify_recording,
)
from bodycam.firmware.evidence.verify_links import audit_file, check_links, check_recipients
from bodycam.tools.custody.package.index import is_package, verify_package_dir

_WHAT = ("give a recording directory (evidence/<recording-id>/), its manifest, an audit "
         "log file, the audit/ directory, or a camera's data directory (audit/ and "
         "evidence/)")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", type=Path, nargs="+", metavar="PATH",
                        help="evidence/<recording-id>/ directory, an audit log file, the "
                             "audit/ directory, or a camera's data directory")
    parser.add_argument("--audit", type=Path, metavar="LOG",
                        help="the camera's audit log (file or audit/ directory): check the "
                             "recordings and it against each other")
    parser.add_argument("--device-key", metavar="KEY", action="append", default=[],
                        help="pin the device's public key (base64 as printed by `bodycam "
                             "identity --public-key`, or a file containing it); repeat for "
                             "a camera that was re-keyed")
    parser.add_argument("--expect-recipient", metavar="AGE1", action="append", default=[],
                        help="fail unless every recording is encrypted to exactly these age "
                             "recipients (age1pq1... or age1...; repeat for each), or to those "
                             "in a recipients file named here")
    parser.add_argument("--anchor", type=Path, metavar="HEADS",
                        help="a heads document kept earlier (--heads-out, or an offload "
                             "receipt's heads): fail if any log it holds was cut back or "
                             "rewritten since")
    parser.add_argument("--heads-out", type=Path, metavar="FILE",
                        help="write the chain heads of what was verified (JSON) to keep "
                             "outside the camera, for a later --anchor")
    parser.add_argument("--server-key", metavar="KEY",
                        help="pin the evidence server whose receipts may cover segments an "
                             "offload removed (base64 server_key, or its camera-offload.toml)")
    parser.add_argument("--ca", type=Path, metavar="CA.pem",
                        help="a prosecutor package: the agency CA to trust (else its own copy)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")


class UsageError(Exception):
    pass


def run(args: argparse.Namespace) -> int:
    if len(args.paths) == 1 and is_package(args.paths[0]):
        return verify_package_dir(args.paths[0], args.ca, args.json)
    try:
        pinned = [_pinned_key(text) for text in args.device_key]
        expected = [fingerprint for text in args.expect_recipient
                    for fingerprint in _expected_recipients(text)]
        anchor = _read_anchor(args.anchor) if args.anchor else None
        server_key = _server_key(args.server_key) if args.server_key else None
        reports = _verify_all(args.paths, args.audit, pinned, server_key)
        if anchor is not None:
            _check_against_anchor(anchor, args.anchor, reports)
        if args.heads_out is not None:
            _write_heads(args.heads_out, reports)
    except UsageError as exc:
        print(f"bodycam-evidence verify: {exc}", file=sys.stderr)
        if args.json:  # a machine reading stdout gets an answer too
            print(json.dumps({"status": "usage_error", "exit_code": EXIT_USAGE,
                              "error": str(exc)}, ensure_ascii=False))
        return EXIT_USAGE
    if expected:
        for report in reports:
            if report.kind == "recording":
                check_recipients(report, expected)
    code = worst_exit(reports)
    if args.json:
        body = reports[0].to_json() if len(reports) == 1 else {
            "status": {EXIT_VERIFIED: "verified", EXIT_FAILED: "failed",
                       EXIT_UNSEALED: "unsealed"}[code],
            "exit_code": code, "reports": [r.to_json() for r in reports]}
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print("\n".join(report.summary() for report in reports))
    return code


def _read_anchor(path: Path) -> dict[str, Any]:
    try:
        return read_anchor(path)
    except ValueError as exc:
        raise UsageError(f"--anchor: {exc}") from None


def _check_against_anchor(anchor: dict[str, Any], path: Path,
                          reports: list[VerifyReport]) -> None:
    audit = next((r for r in reports if r.kind == "log"), None)
    recordings = [r for r in reports if r.kind == "recording"]
    links = next((r for r in reports if r.kind == "links"), None)
    if links is None:
        links = VerifyReport(path=path, kind="links", key_pinned=bool(reports) and
                             reports[0].key_pinned)
        links.records = audit.records if audit else 0
        links.segments = len(recordings)
        reports.append(links)
    links.problems += check_anchor(anchor, audit, recordings)
    links.notes.append(f"checked against the heads kept in {path}")


def _write_heads(path: Path, reports: Sequence[VerifyReport]) -> None:
    audit = next((r for r in reports if r.kind == "log"), None)
    recordings = [r for r in reports if r.kind == "recording"]
    if audit is None and not recordings:
        raise UsageError("--heads-out: nothing was verified to take heads from")
    document = heads_document(audit, recordings)
    try:
        with path.open("x", encoding="utf-8") as out:
            json.dump(document, out, indent=2, sort_keys=True)
            out.write("\n")
    except FileExistsError:
        raise UsageError(f"--heads-out {path} exists; an anchor is never overwritten, "
                         "choose a new name") from None


def worst_exit(reports: Sequence[VerifyReport]) -> int:
    codes = {report.exit_code for report in reports}
    for code in (EXIT_FAILED, EXIT_UNSEALED):
        if code in codes:
            return code
    return EXIT_VERIFIED


def _verify_all(paths: Sequence[Path], audit: Path | None,
                pinned: Sequence[DevicePublicKey], server_key: str | None = None
                ) -> list[VerifyReport]:
    if len(paths) == 1 and _is_data_dir(paths[0]) and audit is None:
        return _verify_camera(paths[0], pinned, server_key)
    reports = [_verify(path, pinned, server_key) for path in paths]
    if audit is None:
        if all(r.kind == "log" for r in reports):
            reports[-1].notes.append(
                "the recordings were not checked against this log: give the camera's data "
                "directory, or the recordings with --audit")
        return reports
    if not audit_file(audit).is_file():
        raise UsageError(f"--audit {audit}: no audit log there; give the audit.jsonl file or "
                         "the audit/ directory")
    audit_report = verify_log(audit, pinned)  # a directory: logs set aside checked too
    recordings = [r for r in reports if r.kind == "recording"]
    return [audit_report, *reports, check_links(audit_report, recordings)]


def _is_data_dir(path: Path) -> bool:
    return (path / "audit").is_dir() and (path / EVIDENCE_DIR).is_dir()


def _verify_camera(data_dir: Path, pinned: Sequence[DevicePublicKey],
                   server_key: str | None = None) -> list[VerifyReport]:
    """Everything on a camera's data partition: audit log, every recording, the links,
    and what recovery quarantined (reported, never counted as evidence)."""
    audit_report = verify_log(data_dir / "audit", pinned)  # with logs set aside as damaged
    recordings = [verify_recording(d, pinned, server_key=server_key)
                  for d in _recording_dirs(data_dir / EVIDENCE_DIR)]
    held = [verify_recording(d, pinned, server_key=server_key)
            for d in _recording_dirs(data_dir / QUARANTINE_DIR)]
    for report in held:  # recovery will never seal these: say so instead
        report.notes = [n for n in report.notes if n != UNSEALED_NOTE]
        report.notes.append("quarantined by the camera's recovery, which would not vouch for "
                            "it (see its recovery_refused audit record)")
    links = check_links(audit_report, [*recordings, *held])
    return [audit_report, *recordings, *held, links]


def _recording_dirs(parent: Path) -> list[Path]:
    if not parent.is_dir():
        return []
    return sorted(d for d in parent.iterdir() if d.is_dir() and not d.name.startswith("."))


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


def _pinned_key(text: str) -> DevicePublicKey:
    candidate = Path(text)
    if candidate.is_file():
        text = candidate.read_text(encoding="utf-8", errors="replace")
    try:
        return parse_public_key(text)
    except ValueError as exc:
        raise UsageError(f"--device-key: {exc}") from None


def _server_key(text: str) -> str:
    """--server-key: the base64 key itself, or a file holding it (e.g. the server's
    camera-offload.toml)."""
    candidate = Path(text)
    if candidate.is_file():
        try:
            found = tomllib.loads(candidate.read_text(encoding="utf-8"))
            text = str(found.get("offload", {}).get("server_key", ""))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            text = candidate.read_text(encoding="utf-8", errors="replace").strip()
    try:
        key = str(Ed25519Key().convert(text.strip()))
    except InvalidValueError as exc:
        raise UsageError(f"--server-key: {exc.issues[0][1]}") from None
    if not key:
        raise UsageError("--server-key: no key given; give the base64 server_key of the "
                         "server's camera-offload.toml, or that file")
    return key


def _expected_recipients(text: str) -> list[str]:
    """Fingerprints of one recipient, or of every recipient in a recipients file (an
    age1pq1... key is 1959 characters: a file is easier to hand over than to paste)."""
    candidate = Path(text)
    if not text.startswith("age1") and candidate.is_file():
        try:
            return list(map(recipient_fingerprint, read_recipients(
                text, candidate.read_bytes())))
        except ConfigError as exc:
            raise UsageError(f"--expect-recipient: {exc}") from None
    try:
        return [recipient_fingerprint(text.strip())]
    except ValueError as exc:
        raise UsageError(f"--expect-recipient: {exc}") from None


def _verify(path: Path, pinned: Sequence[DevicePublicKey],
            server_key: str | None = None) -> VerifyReport:
    if path.is_file():
        if path.name == MANIFEST_NAME:
            return verify_recording(path, pinned, server_key=server_key)
        if path.suffix != ".jsonl" and not _starts_like_a_signed_log(path):
            raise UsageError(f"{path} is not a manifest or audit log (its first line is not a "
                             f"signed record); {_WHAT}")
        return verify_log(path, pinned)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} is not a regular file or a directory; {_WHAT}")
    if not path.is_dir():
        raise UsageError(f"{path} does not exist; {_WHAT}")
    if (path / MANIFEST_NAME).exists() or any(path.glob("*.age*")):
        return verify_recording(path, pinned, server_key=server_key)
    if any(path.glob("*.jsonl")):
        return verify_log(path, pinned)
    if _is_data_dir(path):
        raise UsageError(f"{path} is a camera's data directory: give it alone (without other "
                         "paths or --audit) to check all of it")
    raise UsageError(f"{path} is neither a recording directory (no {MANIFEST_NAME}, no .age "
                     "files) nor an audit log directory (no *.jsonl)")

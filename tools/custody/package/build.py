"""Build a prosecutor package for one or more recordings.

Per recording (recordings/<id>/): the MP4 from the existing export (verified, joined
without re-encoding) signed with C2PA, its verification report, the chain-of-custody
report, the server's receipt, the camera's signed manifest, each segment re-wrapped to
the prosecutor's age key (`prosecutor/NNNNN.age`, opens with `age -d`) and the camera's
original age header of each segment (`camera/NNNNN.age.header`): original header + the
prosecutor file's payload = the file the camera signed, so the camera's signatures stay
checkable without any key. Then README.txt, the CA and export chain, and index.json
signed by the export key. Built in OUT.partial and renamed: a package at OUT is whole.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization

from bodycam.firmware import __version__
from bodycam.firmware.evidence.age import AgeError
from bodycam.firmware.evidence.age.header import header_length as age_header_length
from bodycam.firmware.evidence.age.keys import Identity
from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.tools.custody.export.command import ExportError, ExportJob
from bodycam.tools.custody.package import readme
from bodycam.tools.custody.package.c2pa_manifest import EKUS, TRUST_CONFIG, sign_mp4
from bodycam.tools.custody.package.index import CHAIN, INDEX, TOKEN, write_index
from bodycam.tools.custody.package.keys import CA_CERT, ExportKeys
from bodycam.tools.custody.package.provenance import provenance
from bodycam.tools.custody.package.timestamp import TimestampError, request_token
from bodycam.tools.custody.package.tsa import TimestampServer

HEADER_SUFFIX: Final = ".header"


class PackageError(Exception):
    """The package cannot be built (names the problem and the fix); nothing is left."""


@dataclass(frozen=True)
class Disclosure:
    """A "disclose" grant's answer (the grant endpoint's 201 body): re-wrapped headers."""

    recipient: str
    headers: dict[str, bytes]
    grant: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Disclosure:
        try:
            headers = {name: base64.b64decode(value, validate=True)
                       for name, value in body["headers"].items()}
            return cls(str(body["recipient"]), headers, body.get("grant"))
        except (KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise PackageError(f"the disclosure is not a grant answer ({exc}); give the "
                               "JSON the grant endpoint returned for purpose "
                               "\"disclose\"") from None


@dataclass(frozen=True)
class RecordingInput:
    directory: Path  # the recording as the camera wrote it (ciphertext + manifest)
    disclosure: Disclosure
    custody: bytes  # the server's chain-of-custody report (JSON)
    receipt: bytes | None = None
    # the custodian's export grant (re-wrapped headers for their own key), if any
    export_headers: dict[str, bytes] = field(default_factory=dict)


@dataclass
class BuildResult:
    out: Path
    index: dict[str, Any]
    timestamp_url: str | None
    notes: list[str] = field(default_factory=list)


def build_package(recordings: Sequence[RecordingInput], identities: Sequence[Identity],
                  keys: ExportKeys, out: Path, *, case: str | None = None,
                  tsa_url: str | None = None, own_tsa: bool = True,
                  c2pa: bool = True) -> BuildResult:
    """Build OUT. `tsa_url` None with `own_tsa`: the agency TSA of `keys` on loopback.
    `c2pa` False only for the benchmark's baseline (plain export, no C2PA manifest)."""
    if out.exists() or out.with_name(out.name + ".partial").exists():
        raise PackageError(f"{out} (or {out.name}.partial) exists; a package is never "
                           "written over: choose a new OUT")
    partial = out.with_name(out.name + ".partial")
    partial.mkdir(mode=0o700, parents=True)
    try:
        with ExitStack() as stack:
            if tsa_url is None and own_tsa and c2pa:
                tsa_url = stack.enter_context(TimestampServer(keys.tsa)).url
            for item in recordings:
                _add_recording(partial, item, identities, keys, tsa_url=tsa_url, c2pa=c2pa)
            index = _finish(partial, recordings, keys, case=case, tsa_url=tsa_url, c2pa=c2pa)
        partial.rename(out)
    except TimestampError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise PackageError(str(exc)) from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BuildResult(out, index, tsa_url)


def _finish(partial: Path, recordings: Sequence[RecordingInput], keys: ExportKeys, *,
            case: str | None, tsa_url: str | None, c2pa: bool) -> dict[str, Any]:
    """The CA, chain, trust config, README, the signed index and its timestamp."""
    (partial / CA_CERT).write_bytes(keys.ca.public_bytes(serialization.Encoding.PEM))
    (partial / CHAIN).write_bytes(keys.export.chain_pem)
    (partial / TRUST_CONFIG).write_text(EKUS)
    ids = [item.directory.name for item in recordings]
    recipients = sorted({item.disclosure.recipient for item in recordings})
    (partial / readme.NAME).write_text(readme.text(ids, recipients, case, keys.ca))
    index = write_index(partial, keys.export, {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "case": case, "recordings": ids, "recipients": recipients,
        "tool": f"bodycam-evidence {__version__}", "c2pa": c2pa,
        "timestamp_authority": tsa_url})
    if tsa_url is not None:
        (partial / TOKEN).write_bytes(request_token(tsa_url, (partial / INDEX).read_bytes()))
    return index


def _add_recording(root: Path, item: RecordingInput, identities: Sequence[Identity],
                   keys: ExportKeys, *, tsa_url: str | None, c2pa: bool) -> None:
    rid = item.directory.name
    target = root / "recordings" / rid
    (target / "camera").mkdir(parents=True)
    (target / "prosecutor").mkdir()
    manifest = (item.directory / MANIFEST_NAME).read_bytes()
    with tempfile.TemporaryDirectory(prefix="bodycam-package-") as scratch:
        plain = Path(scratch) / f"{rid}.mp4"
        job = ExportJob(item.directory, plain, list(identities), None, False,
                        headers=item.export_headers)
        try:
            job.run()
        except ExportError as exc:
            raise PackageError(f"{rid}: {exc}") from None
        report = json.loads(job.report_path.read_bytes())
        shutil.copyfile(job.report_path, target / f"{rid}.report.json")
        if c2pa:
            facts = provenance(manifest, item.receipt, report["verification"].get(
                "device_keys", []))
            sign_mp4(plain, target / f"{rid}.mp4", facts, keys.export,
                     keys.ca.public_bytes(serialization.Encoding.PEM).decode("ascii"),
                     tsa_url=tsa_url)
        else:
            shutil.copyfile(plain, target / f"{rid}.mp4")
    (target / "custody.json").write_bytes(item.custody)
    if item.receipt is not None:
        (target / "receipt.json").write_bytes(item.receipt)
    (target / "camera" / MANIFEST_NAME).write_bytes(manifest)
    segments = sorted(p.name for p in item.directory.glob("*.age"))
    missing = [n for n in segments if n not in item.disclosure.headers]
    if missing:
        raise PackageError(f"{rid}: the disclosure has no header for {', '.join(missing)}; "
                           "ask for a disclose grant covering every segment")
    for name in segments:
        data = (item.directory / name).read_bytes()
        length = header_length(data, f"{rid}/{name}")
        (target / "camera" / (name + HEADER_SUFFIX)).write_bytes(data[:length])
        (target / "prosecutor" / name).write_bytes(item.disclosure.headers[name] +
                                                   data[length:])


def header_length(data: bytes, what: str) -> int:
    """Bytes of the age header at the start of `data` (the payload nonce follows)."""
    try:
        return age_header_length(data)
    except AgeError as exc:
        raise PackageError(f"{what}: not an age file ({exc})") from None


def private_umask() -> None:
    """Package files are evidence: readable by the custodian only (the prosecutor's
    copy goes by the agency's own transport)."""
    os.umask(0o077)

"""`bodycam-evidence verify PACKAGE`: is this prosecutor package as the agency built it?

Checks, each failure naming the file: the index signature (export chain -> the agency
CA: the one given with --ca, else the package's own copy, which only proves the package
is self-consistent, so the report says the CA was not pinned); every file listed, none
extra, each file's SHA-256; per recording, the camera's files rebuilt from the original
headers and the prosecutor's ciphertext verify against the camera's signed manifest;
the MP4's C2PA manifest is Trusted under the agency CA and its provenance assertion
equals the one recomputed from the camera manifest and receipt in the package.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from bodycam.firmware.evidence.salvage import sha256_file
from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.firmware.evidence.verify import verify_recording
from bodycam.tools.custody.package.build import HEADER_SUFFIX, PackageError, header_length
from bodycam.tools.custody.package.c2pa_manifest import read_mp4
from bodycam.tools.custody.package.index import (
    INDEX,
    TOKEN,
    check_signature,
    package_files,
)
from bodycam.tools.custody.package.keys import CA_CERT
from bodycam.tools.custody.package.provenance import provenance
from bodycam.tools.custody.package.timestamp import check_token


@dataclass
class PackageReport:
    path: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "package", "path": str(self.path),
                "status": "failed" if self.problems else "verified",
                "exit_code": 1 if self.problems else 0,
                "problems": self.problems, "notes": self.notes,
                "recordings": self.recordings}


def verify_package(root: Path, ca_file: Path | None = None) -> PackageReport:
    report = PackageReport(root)
    if ca_file is None:
        ca_file = root / CA_CERT
        report.notes.append(f"agency CA not pinned: checked against the package's own "
                            f"{CA_CERT}; compare its fingerprint with the agency's (--ca)")
    try:
        ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    except (OSError, ValueError) as exc:
        report.problems.append(f"{ca_file}: not a readable CA certificate ({exc})")
        return report
    try:
        index = json.loads((root / INDEX).read_bytes())
        listed: dict[str, str] = index["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"{INDEX}: unreadable ({exc})")
        return report
    stamped = None
    if (root / TOKEN).is_file():
        stamped, problems = check_token((root / TOKEN).read_bytes(),
                                        (root / INDEX).read_bytes(), ca)
        report.problems += problems
    elif index.get("timestamp_authority"):
        report.problems.append(f"{TOKEN}: missing, though {INDEX} names a timestamp authority")
    else:
        report.notes.append(f"{TOKEN}: none; the export certificate is checked at the time "
                            f"{INDEX} claims, not at a timestamp authority's")
    report.problems += check_signature(root, ca, stamped)
    present = set(package_files(root))
    for name in sorted(present - set(listed)):
        report.problems.append(f"{name}: not in the signed index (added after signing)")
    for name, digest in sorted(listed.items()):
        if name not in present:
            report.problems.append(f"{name}: listed in the index but missing")
        elif sha256_file(root / name) != digest:
            report.problems.append(f"{name}: SHA-256 differs from the signed index "
                                   "(the file was changed)")
    ca_pem = ca_file.read_text(encoding="ascii", errors="replace")
    for rid in index.get("recordings", []):
        report.recordings.append(rid)
        _check_recording(root / "recordings" / rid, rid, ca_pem, bool(index.get("c2pa")),
                         report)
    return report


def _check_recording(folder: Path, rid: str, ca_pem: str, c2pa: bool,
                     report: PackageReport) -> None:
    where = f"recordings/{rid}"
    try:
        manifest = (folder / "camera" / MANIFEST_NAME).read_bytes()
    except OSError:
        report.problems.append(f"{where}/camera/{MANIFEST_NAME}: missing")
        return
    with tempfile.TemporaryDirectory(prefix="bodycam-verify-") as scratch:
        rebuilt = Path(scratch) / rid
        rebuilt.mkdir()
        (rebuilt / MANIFEST_NAME).write_bytes(manifest)
        for header in sorted((folder / "camera").glob("*" + HEADER_SUFFIX)):
            name = header.name.removesuffix(HEADER_SUFFIX)
            try:
                data = (folder / "prosecutor" / name).read_bytes()
                start = header_length(data, f"{where}/prosecutor/{name}")
            except (OSError, PackageError) as exc:
                report.problems.append(f"{where}/prosecutor/{name}: {exc}")
                continue
            (rebuilt / name).write_bytes(header.read_bytes() + data[start:])
        camera = verify_recording(rebuilt, name=rid)
    for problem in camera.problems:
        report.problems.append(f"{where} (camera files rebuilt from camera/ and prosecutor/): "
                               f"{problem}")
    if not camera.sealed:
        report.problems.append(f"{where}: the camera manifest is not sealed")
    if not c2pa:
        report.notes.append(f"{where}: built without C2PA (benchmark baseline)")
        return
    mp4 = folder / f"{rid}.mp4"
    reading = read_mp4(mp4, ca_pem)
    report.problems += [f"{where}/{mp4.name}: {p}" for p in reading.problems]
    receipt_path = folder / "receipt.json"
    receipt = receipt_path.read_bytes() if receipt_path.exists() else None
    expected = provenance(manifest, receipt, camera.device_keys)
    if reading.provenance != expected:
        report.problems.append(f"{where}/{mp4.name}: the C2PA provenance assertion does not "
                               "match the camera manifest and receipt in the package")
    if not reading.timestamped:
        report.notes.append(f"{where}/{mp4.name}: no trusted timestamp: the C2PA manifest "
                            "turns invalid when the export certificate expires")


def check_package(root: Path, ca_file: Path | None, as_json: bool) -> int:
    """Verify and print; exit 0 intact, 1 any problem (as `verify` for recordings)."""
    report = verify_package(root, ca_file)
    if as_json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        status = "FAILED" if report.problems else "VERIFIED"
        lines = [f"{report.path}: package {status} ({len(report.recordings)} recording(s))"]
        lines += [f"  problem: {p}" for p in report.problems]
        lines += [f"  note: {n}" for n in report.notes]
        print("\n".join(lines))
    return 1 if report.problems else 0

"""The package index: every file with its SHA-256, signed by the export key.

`index.json` (canonical JSON) lists every other file of the package; `index.sig` is the
export key's ECDSA P-256 signature (DER, base64) over index.json's bytes; the export
certificate chain travels in the package (`export-chain.pem`) and must lead to the
agency CA the verifier trusts. Anyone can re-check it with openssl:
`openssl dgst -sha256 -verify <(openssl x509 -in export-chain.pem -pubkey -noout)
-signature <(base64 -d index.sig) index.json`.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bodycam.firmware.evidence.salvage import sha256_file
from bodycam.tools.custody.package.keys import DOCUMENT_SIGNING, Credential

INDEX: Final = "index.json"
SIGNATURE: Final = "index.sig"
CHAIN: Final = "export-chain.pem"
FORMAT: Final = "bodycam-package/1"
TOKEN: Final = "index.tsr"  # RFC 3161 token over index.json (timestamp.py)
UNLISTED: Final = frozenset({INDEX, SIGNATURE, TOKEN})


def is_package(path: Path) -> bool:
    return (path / INDEX).is_file() and (path / SIGNATURE).is_file()


def verify_package_dir(root: Path, ca_file: Path | None, as_json: bool) -> int:
    """`verify PACKAGE`, importing c2pa-python only when a package is given (it is the
    custody extra: `pip install 'bodycam[custody]'`)."""
    try:
        from bodycam.tools.custody.package.verify import check_package  # noqa: PLC0415
    except ImportError as exc:
        print(f"bodycam-evidence verify: {root} is a prosecutor package, and checking its "
              f"C2PA manifests needs c2pa-python ({exc}). Fix: pip install "
              "'bodycam[custody]'", file=sys.stderr)
        return 2
    return check_package(root, ca_file, as_json)


def package_files(root: Path) -> Iterator[str]:
    """Every file under `root` (relative, '/'-separated), index and signature excepted."""
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if (path.is_file() or path.is_symlink()) and name not in UNLISTED:
            yield name


def write_index(root: Path, export: Credential, fields: dict[str, Any]) -> dict[str, Any]:
    """Hash every file, write index.json and its signature; returns the index."""
    index = {"format": FORMAT, **fields,
             "files": {name: sha256_file(root / name) for name in package_files(root)}}
    data = json.dumps(index, sort_keys=True, indent=1).encode("utf-8") + b"\n"
    (root / INDEX).write_bytes(data)
    signature = export.key.sign(data, ec.ECDSA(hashes.SHA256()))
    (root / SIGNATURE).write_text(base64.b64encode(signature).decode("ascii") + "\n")
    return index


def check_signature(root: Path, ca: x509.Certificate, stamped: datetime | None
                    ) -> list[str]:
    """Problems with index.sig: the chain must lead to `ca`, the leaf must be an export
    certificate (documentSigning) valid when the index was made: at the time the
    timestamp authority vouches for (`stamped`), else the time the index claims."""
    try:
        data = (root / INDEX).read_bytes()
        signature = base64.b64decode((root / SIGNATURE).read_bytes().strip(), validate=True)
        chain = x509.load_pem_x509_certificates((root / CHAIN).read_bytes())
        created = stamped or datetime.fromisoformat(json.loads(data)["created"])
    except (OSError, ValueError, KeyError, binascii.Error) as exc:
        return [f"{INDEX}/{SIGNATURE}/{CHAIN}: unreadable ({exc})"]
    leaf = chain[0]
    problems = []
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        problems.append(f"{CHAIN}: the export certificate is not issued by the trusted "
                        f"agency CA ({ca.subject.rfc4514_string()})")
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if DOCUMENT_SIGNING not in usages:
            problems.append(f"{CHAIN}: the leaf is not an export (documentSigning) certificate")
    except x509.ExtensionNotFound:
        problems.append(f"{CHAIN}: the leaf has no extended key usage")
    if not leaf.not_valid_before_utc <= created <= leaf.not_valid_after_utc:
        problems.append(f"{INDEX}: {'stamped' if stamped else 'made'} "
                        f"{created.isoformat()}, outside the export certificate's validity")
    public = leaf.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        return [*problems, f"{CHAIN}: the export key is not ECDSA"]
    try:
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        problems.append(f"{SIGNATURE}: the signature over {INDEX} does not verify with the "
                        "export certificate: the index was changed after signing")
    return problems

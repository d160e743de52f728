"""C2PA on an exported MP4: sign with the export key (c2pa-python Builder + a callback
signer), read back and judge (Reader with the agency CA as the only trust anchor).

The custom assertion `org.bodycam.provenance` carries the camera's own proof (the head
of its signed manifest chain, the device's signature on that line, the device and
recording ids) and the server receipt's hash, so a C2PA reader sees provenance reaching
back to the camera, and `bodycam-evidence verify PACKAGE` can check it against the
camera manifest shipped beside the MP4. The timestamp (RFC 3161, `tsa_url`) keeps the
manifest valid after the export certificate expires.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import c2pa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bodycam.firmware import __version__
from bodycam.tools.custody.package.keys import DOCUMENT_SIGNING, Credential

ASSERTION: Final = "org.bodycam.provenance"
# what the reader accepts as a signer's extended key usage: ours (documentSigning) and
# the timestamp authority's (timeStamping); shipped in the package for c2patool
TRUST_CONFIG: Final = "c2pa-trust.cfg"
EKUS: Final = f"{DOCUMENT_SIGNING.dotted_string}\n1.3.6.1.5.5.7.3.8\n"
# validation states c2pa reports; only "Trusted" means signature, hashes and chain hold
TRUSTED: Final = "Trusted"


def _settings(ca_pem: str) -> dict[str, Any]:
    return {"builder": {"thumbnail": {"enabled": False}},
            "verify": {"verify_after_sign": False, "ocsp_fetch": False,
                       "remote_manifest_fetch": False},
            "trust": {"trust_anchors": ca_pem, "trust_config": EKUS}}


def sign_mp4(source: Path, target: Path, provenance: dict[str, Any], export: Credential,
             ca_pem: str, *, tsa_url: str | None) -> None:
    """Write `target`: `source` with a signed C2PA manifest (actions + provenance)."""
    manifest = {
        "claim_generator_info": [{"name": "bodycam-evidence", "version": __version__}],
        "title": target.name, "format": "video/mp4",
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created",
                 "digitalSourceType":
                     "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
                 "description": "recorded by a body-worn camera; joined without "
                                "re-encoding from its encrypted, signed segments"}]}},
            {"label": ASSERTION, "data": provenance}]}

    def sign(data: bytes) -> bytes:
        return export.key.sign(data, ec.ECDSA(hashes.SHA256()))

    with (c2pa.Context.from_dict(_settings(ca_pem)) as context,
          c2pa.Signer.from_callback(sign, c2pa.C2paSigningAlg.ES256,
                                    export.chain_pem.decode("ascii"), tsa_url) as signer,
          c2pa.Builder(manifest, context) as builder):
        builder.sign_file(str(source), str(target), signer)


@dataclass
class C2paReading:
    """What a C2PA reader says about one MP4."""

    state: str | None = None
    provenance: dict[str, Any] | None = None
    timestamped: bool = False
    problems: list[str] = field(default_factory=list)


def read_mp4(path: Path, ca_pem: str) -> C2paReading:
    """The active manifest's validation state, failure codes and our assertion."""
    reading = C2paReading()
    try:
        with (c2pa.Context.from_dict(_settings(ca_pem)) as context,
              c2pa.Reader(str(path), context=context) as reader):
            store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        reading.problems.append(f"no readable C2PA manifest ({exc})")
        return reading
    reading.state = store.get("validation_state")
    active = store.get("validation_results", {}).get("activeManifest", {})
    reading.problems += [f"{item.get('code')}: {item.get('explanation')}"
                         for item in active.get("failure", [])]
    reading.timestamped = any(item.get("code") == "timeStamp.trusted"
                              for item in active.get("success", []))
    manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
    for assertion in manifest.get("assertions", []):
        if assertion.get("label") == ASSERTION:
            reading.provenance = assertion.get("data")
    if reading.state != TRUSTED:
        reading.problems.append(f"C2PA validation state is {reading.state}, not {TRUSTED} "
                                "under the agency CA")
    return reading

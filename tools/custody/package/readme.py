"""README.txt of a package: what is in it and how to check it with open tools."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes

NAME: Final = "README.txt"


def text(recordings: Sequence[str], recipients: Sequence[str], case: str | None,
         ca: x509.Certificate) -> str:
    fingerprint = ca.fingerprint(hashes.SHA256()).hex(":").upper()
    listed = "\n".join(f"  recordings/{r}/" for r in recordings)
    return f"""Evidence package{f' for case {case}' if case else ''}
{'=' * 60}

Recordings:
{listed}

Encrypted to (your age key): {', '.join(recipients)}

What each recording folder holds
  <id>.mp4              the video as the camera recorded it (joined without re-encoding),
                        with a C2PA manifest signed by the agency's export key
  <id>.report.json      the export's verification report (hashes of every input)
  custody.json          the evidence server's chain-of-custody report
  receipt.json          the server's signed receipt from the upload (when present)
  camera/manifest.jsonl the camera's own signed manifest (hash chain, device signatures)
  camera/*.age.header   the camera's original age header of each segment
  prosecutor/*.age      each segment's original ciphertext, re-wrapped to your age key

1. First, compare the agency CA's SHA-256 fingerprint with the one the agency gave you
   by another channel (phone, letter):
     openssl x509 -in agency-ca.pem -noout -fingerprint -sha256
   It must read: {fingerprint}

2. Check the whole package (every file's hash, the signed index, the C2PA manifests,
   the camera's signatures):
     bodycam-evidence verify --ca agency-ca.pem PACKAGE-DIR
   Exit 0 = intact; 1 = something was changed (the file is named).

3. Without our tool:
   - the index signature:
       openssl x509 -in export-chain.pem -pubkey -noout > export.pub
       base64 -d index.sig > index.sig.der
       openssl dgst -sha256 -verify export.pub -signature index.sig.der index.json
   - every file's hash against index.json:  sha256sum FILE
   - when it was signed (RFC 3161 token over index.json):
       openssl ts -reply -in index.tsr -token_in -text
   - the C2PA manifest of an MP4 (trust the agency CA and its certificate purposes):
       c2patool recordings/<id>/<id>.mp4 trust --trust_anchors agency-ca.pem \
           --trust_config c2pa-trust.cfg
     The manifest's assertion "org.bodycam.provenance" names the camera, the recording
     and the last line of the camera's signed manifest (its SHA-256 and signature).
   - decrypt the original camera segments with your own key (age >= 1.3 for age1pq1
     keys):  age -d -i prosecutor.key -o 00000.ts prosecutor/00000.age
     Each segment is MPEG-TS; play it with any player (ffplay, VLC).
   - the camera's own hashes: camera/NNNNN.age.header followed by prosecutor/NNNNN.age
     minus its first header is the file the camera signed in camera/manifest.jsonl.
"""

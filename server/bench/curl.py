"""The same upload by `curl`: what the protocol costs without the camera's code.

curl cannot sign, so the requests' RFC 9421 headers are made here first, by the
protocol's own `sign_request` with a session key of the same device (and the body
digests hashed here too); then one curl process sends exactly the camera's sequence on
one kept-alive TLS 1.3 connection: the time request (not timed, like the camera's), the
manifest PUT, one PATCH per chunk of at most the camera's CHUNK bytes, the receipt POST.
The time is the sum of curl's own `time_total` of the timed transfers, so neither
process start nor TLS handshake counts on either side. The camera hashes and signs
while it uploads; curl's figure leaves that out, so the ratio errs against the camera.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from bodycam.firmware.evidence.offloaded import check_receipt
from bodycam.firmware.evidence.signed_log import Signer
from bodycam.firmware.offload.card import CardRecording
from bodycam.firmware.offload.protocol import API, OCTETS
from bodycam.firmware.offload.signature import sign_request
from bodycam.firmware.offload.upload import CHUNK

__all__ = ["CURL_MISSING", "CurlTarget", "curl_upload", "transfers"]

CURL_MISSING: Final = ("curl is not installed: the offload_vs_curl_ratio needs it "
                       "(Debian: apt-get install curl)")
_WRITE_OUT: Final = "%{http_code} %{time_total}\\n"
_EXPECTED: Final = ("200", "201", "204")


@dataclass(frozen=True)
class CurlTarget:
    """The server as a camera is provisioned for it."""

    url: str  # https://host:port, what requests are signed for
    ca_file: Path
    server_key: str


@dataclass(frozen=True)
class _Transfer:
    method: str
    path: str
    body: Path | None  # None: an empty body
    headers: dict[str, str]
    out: str = "/dev/null"


def _chunks(recording: CardRecording, scratch: Path) -> list[tuple[str, int, Path]]:
    """(file name, offset, body file) per PATCH; files over CHUNK are cut into pieces
    in `scratch` beforehand (curl sends whole files)."""
    pieces = []
    for listed in recording.manifest.files:
        path = recording.directory / listed.name
        if listed.size <= CHUNK:
            pieces.append((listed.name, 0, path))
            continue
        with path.open("rb") as stream:
            for offset in range(0, listed.size, CHUNK):
                piece = scratch / f"{listed.name}.{offset}"
                piece.write_bytes(stream.read(CHUNK))
                pieces.append((listed.name, offset, piece))
    return pieces


def transfers(recording: CardRecording, signer: Signer, device_id: str, url: str, *,
              scratch: Path, receipt: Path) -> list[_Transfer]:
    """The camera's request sequence for `recording`, signed now."""
    base = f"{API}/recordings/{quote(recording.recording_id, safe='')}"
    manifest = scratch / "manifest.jsonl"
    manifest.write_bytes(recording.manifest_bytes)

    def signed(method: str, path: str, body: bytes | None = None,
               digest: bytes | None = None) -> dict[str, str]:
        return sign_request(signer, device_id, method, url + path, now=time.time(),
                            body=body, body_sha256=digest)

    items = [_Transfer("PUT", f"{base}/manifest", manifest,
                       {"Content-Type": "application/jsonl",
                        **signed("PUT", f"{base}/manifest", recording.manifest_bytes)})]
    for name, offset, body in _chunks(recording, scratch):
        path = f"{base}/files/{quote(name, safe='')}"
        digest = hashlib.sha256(body.read_bytes()).digest()
        items.append(_Transfer("PATCH", path, body, {
            "Upload-Offset": str(offset), "Content-Type": OCTETS,
            **signed("PATCH", path, digest=digest)}))
    items.append(_Transfer("POST", f"{base}/receipt", None, {
        "Content-Type": "application/json", **signed("POST", f"{base}/receipt", b"")},
        out=str(receipt)))
    return items


def _arguments(target: CurlTarget, item: _Transfer) -> list[str]:
    args = ["--http1.1", "--tlsv1.3", "--cacert", str(target.ca_file), "--silent",
            "--show-error", "--output", item.out, "--write-out", _WRITE_OUT,
            "--header", "Expect:", "--request", item.method]
    for name, value in item.headers.items():
        args += ["--header", f"{name}: {value}"]
    args += ["--upload-file", str(item.body)] if item.body is not None else ["--data-binary", ""]
    return [*args, target.url + item.path]


def curl_upload(recording: CardRecording, signer: Signer, device_id: str,
                target: CurlTarget, scratch: Path) -> dict[str, Any]:
    """Upload `recording` with curl; its bytes and timed seconds. Raises RuntimeError if
    curl is missing, a request is refused or the receipt does not verify."""
    curl = shutil.which("curl")
    if curl is None:
        raise RuntimeError(CURL_MISSING)
    scratch.mkdir(parents=True, exist_ok=True)
    receipt = scratch / "receipt.json"
    items = transfers(recording, signer, device_id, target.url, scratch=scratch,
                      receipt=receipt)
    command: list[str] = [curl, "--silent", "--show-error", "--http1.1", "--tlsv1.3",
                          "--cacert", str(target.ca_file), "--output", "/dev/null",
                          "--write-out", _WRITE_OUT,
                          f"{target.url}{API}/time?nonce={secrets.token_hex(16)}"]
    for item in items:
        command += ["--next", *_arguments(target, item)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    results = [line.split() for line in done.stdout.splitlines() if line.strip()]
    codes = [code for code, _seconds in results]
    if done.returncode != 0 or len(results) != len(items) + 1 or \
            any(code not in _EXPECTED for code in codes):
        raise RuntimeError(f"curl's upload of {recording.recording_id} failed (exit "
                           f"{done.returncode}, answers {codes}): {done.stderr.strip()[-500:]}")
    check_receipt(receipt.read_bytes(), recording.manifest, target.server_key)
    sent = sum(body.stat().st_size for item in items[1:-1] if (body := item.body) is not None)
    return {"recording_id": recording.recording_id, "bytes": sent,
            "requests": len(items), "wall_s": sum(float(s) for _c, s in results[1:])}

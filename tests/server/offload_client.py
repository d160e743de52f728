"""A minimal signed client of the offload protocol for the server's tests.

The camera's real offload worker is firmware/offload/ (engineer C); this speaks the same
protocol with the same signing code (firmware/offload/signature.py) so the server is
tested against real signatures over real HTTPS, without depending on the worker.
"""

from __future__ import annotations

import secrets
import ssl
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx

from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.offload.signature import sign_request

API = "/api/v1/offload"


def tls_context(ca: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    return context


class OffloadClient:
    """Connects to `url`; signs for `origin` (the URL the server was set up with: several
    processes behind one name, as a load balancer would put them)."""

    def __init__(self, url: str, ca: Path, key: SessionKey, device_id: str, *,
                 skew: float = 0.0, origin: str | None = None) -> None:
        self.url = url
        self.origin = origin or url
        self.key = key
        self.device_id = device_id
        self.skew = skew
        self.http = httpx.Client(verify=tls_context(ca), timeout=60.0)

    def close(self) -> None:
        self.http.close()

    def signed(self, method: str, path: str, *, body: bytes | None = None,
               body_sha256: bytes | None = None) -> dict[str, str]:
        return sign_request(self.key, self.device_id, method, self.origin + path,
                            now=time.time() + self.skew, body=body, body_sha256=body_sha256)

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None,
                content: bytes | Iterable[bytes] | None = None,
                body_sha256: bytes | None = None) -> httpx.Response:
        signed = self.signed(method, path, body=body, body_sha256=body_sha256)
        return self.http.request(method, self.url + path, headers={**signed, **(headers or {})},
                                 content=body if content is None else content)

    # ---------------------------------------------------------------- protocol steps

    def time(self, nonce: str | None = None) -> httpx.Response:
        return self.http.get(f"{self.url}{API}/time",
                             params={"nonce": nonce or secrets.token_hex(16)})

    def put_manifest(self, recording_id: str, data: bytes) -> httpx.Response:
        return self.request("PUT", f"{API}/recordings/{recording_id}/manifest", body=data)

    def head(self, recording_id: str, name: str) -> httpx.Response:
        return self.request("HEAD", f"{API}/recordings/{recording_id}/files/{name}")

    def patch(self, recording_id: str, name: str, offset: int, data: bytes,
              content: Iterable[bytes] | None = None) -> httpx.Response:
        import hashlib

        headers = {"Upload-Offset": str(offset),
                   "Content-Type": "application/offset+octet-stream"}
        if content is not None:
            headers["Content-Length"] = str(len(data))
        return self.request("PATCH", f"{API}/recordings/{recording_id}/files/{name}",
                            headers=headers, content=content if content is not None else data,
                            body_sha256=hashlib.sha256(data).digest())

    def receipt(self, recording_id: str) -> httpx.Response:
        return self.request("POST", f"{API}/recordings/{recording_id}/receipt")

    def audit_head(self) -> httpx.Response:
        return self.request("GET", f"{API}/audit")

    def audit_patch(self, after: str, lines: bytes) -> httpx.Response:
        return self.request("PATCH", f"{API}/audit", body=lines,
                            headers={"Audit-After": after})

    def upload(self, recording: Path) -> dict[str, Any]:
        """Every step for one recording directory; the receipt."""
        recording_id = recording.name
        answer = self.put_manifest(recording_id, (recording / "manifest.jsonl").read_bytes())
        assert answer.status_code in (200, 201), answer.text
        for item in answer.json()["files"]:
            data = (recording / item["name"]).read_bytes()
            if not item["complete"]:
                sent = self.patch(recording_id, item["name"], item["offset"],
                                  data[item["offset"]:])
                assert sent.status_code == 204, sent.text
        receipt = self.receipt(recording_id)
        assert receipt.status_code == 200, receipt.text
        result: dict[str, Any] = receipt.json()
        return result


def trickle(data: bytes, first: int, wait: Iterator[None]) -> Iterator[bytes]:
    """A body that sends `first` bytes, then waits (next(wait)) before the rest."""
    yield data[:first]
    next(wait, None)
    yield data[first:]

"""The offload protocol's requests, as the camera makes them (docs/offload-protocol.md).

Every request but the time is signed with the boot's session key (signature.py); the
signature's `created` is the server's time as the camera knows it (taken first, then
carried forward on the monotonic clock), so a camera with an unset clock is not refused.
Answers are turned into values or into the refusal they are; nothing here decides what
to do about one (upload.py and worker.py do).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from bodycam.firmware.evidence.signed_log import Signer
from bodycam.firmware.offload.connection import Connection, OffloadError, RefusedError, Response
from bodycam.firmware.offload.signature import sign_request

__all__ = ["API", "OffloadClient", "PatchBody", "ServerFile"]

API: Final = "/api/v1/offload"
PIECE: Final = 64 * 1024  # a PATCH body is sent in pieces this size (pacing, undock)
OCTETS: Final = "application/offset+octet-stream"


@dataclass(frozen=True)
class ServerFile:
    """What the server holds of one file of a recording (the manifest PUT's answer)."""

    name: str
    size: int
    sha256: str
    offset: int
    complete: bool


@dataclass(frozen=True)
class PatchBody:
    """A PATCH body streamed in pieces; its length and SHA-256 (the signed
    Content-Digest) are known before the first piece is sent."""

    length: int
    sha256: bytes
    pieces: Iterable[bytes]


@dataclass(frozen=True)
class FileState:
    offset: int
    length: int
    complete: bool


class OffloadClient:
    """The requests of one dock session. `server_now` gives Unix time by the server's
    clock (timesync.py); a PATCH body's pieces come from the caller, which paces them
    and may raise between them to stop a body midway."""

    def __init__(self, connection: Connection, signer: Signer, device_id: str,
                 server_now: Callable[[], float]) -> None:
        self._conn = connection
        self._signer = signer
        self._device_id = device_id
        self._server_now = server_now

    def get_time(self, nonce: str) -> bytes:
        """The server's signed time statement for `nonce` (unsigned request)."""
        answer = self._conn.request("GET", f"{API}/time?nonce={nonce}", {})
        return _expect(answer, 200).body

    # ------------------------------------------------------------------ recordings

    def put_manifest(self, recording_id: str, manifest: bytes) -> list[ServerFile]:
        answer = self._signed("PUT", f"{_recording(recording_id)}/manifest", manifest,
                              {"Content-Type": "application/jsonl"})
        body = _expect(answer, 200, 201).json()
        files = body.get("files")
        if not isinstance(files, list):
            raise OffloadError("the manifest PUT's answer lists no files")
        return [_server_file(item) for item in files]

    def head_file(self, recording_id: str, name: str) -> FileState:
        answer = self._signed("HEAD", _file(recording_id, name))
        _expect(answer, 200)
        return _file_state(answer)

    def patch_file(self, recording_id: str, name: str, offset: int,
                   body: PatchBody) -> FileState:
        """Append `body` at `offset`; a 409 answer (another offset stored) comes back as
        RefusedError with `offset` in its body."""
        headers = {"Upload-Offset": str(offset), "Content-Type": OCTETS,
                   "Content-Length": str(body.length)}
        answer = self._signed("PATCH", _file(recording_id, name), None, headers,
                              body_sha256=body.sha256, stream=body.pieces)
        _expect(answer, 204, 200)
        return _file_state(answer)

    def post_receipt(self, recording_id: str) -> bytes:
        answer = self._signed("POST", f"{_recording(recording_id)}/receipt", b"",
                              {"Content-Type": "application/json"})
        return _expect(answer, 200, 201).body

    # ------------------------------------------------------------------ audit log

    def audit_head(self) -> tuple[int, str] | None:
        body = _expect(self._signed("GET", f"{API}/audit"), 200).json()
        seq, digest = body.get("seq"), body.get("hash")
        if seq is None:
            return None
        if type(seq) is not int or not isinstance(digest, str):
            raise OffloadError("the server's audit head is not {seq, hash}")
        return seq, digest

    def patch_audit(self, after: tuple[int, str] | None, lines: bytes) -> bytes:
        headers = {"Audit-After": "none" if after is None else f"{after[0]}:{after[1]}",
                   "Content-Type": "application/jsonl"}
        return _expect(self._signed("PATCH", f"{API}/audit", lines, headers), 200).body

    # ------------------------------------------------------------------ signing

    def _signed(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, *, body_sha256: bytes | None = None,
                stream: Iterable[bytes] | None = None) -> Response:
        signature = sign_request(self._signer, self._device_id, method, self._conn.url(path),
                                 now=self._server_now(), body=body, body_sha256=body_sha256)
        return self._conn.request(method, path, {**(headers or {}), **signature},
                                  stream if stream is not None else body)


def _recording(recording_id: str) -> str:
    return f"{API}/recordings/{quote(recording_id, safe='')}"


def _file(recording_id: str, name: str) -> str:
    return f"{_recording(recording_id)}/files/{quote(name, safe='')}"


def _expect(answer: Response, *ok: int) -> Response:
    if answer.status not in ok:
        raise answer.refusal()
    return answer


def _server_file(item: Any) -> ServerFile:
    try:
        return ServerFile(str(item["name"]), int(item["size"]), str(item["sha256"]),
                          int(item["offset"]), bool(item["complete"]))
    except (KeyError, TypeError, ValueError):
        raise OffloadError(f"the server's file entry {str(item)[:200]} lacks name, size, "
                           "sha256, offset or complete") from None


def _file_state(answer: Response) -> FileState:
    headers = answer.headers
    try:
        offset = int(headers["upload-offset"])
        length = int(headers.get("upload-length", "-1"))
    except (KeyError, ValueError):
        raise OffloadError(f"the server's answer {answer.status} has no Upload-Offset") from None
    return FileState(offset, length, headers.get("upload-complete", "?0") == "?1")


def refused_offset(refusal: RefusedError) -> int | None:
    """The offset a 409 names (the server holds another offset than the PATCH said)."""
    offset = refusal.body.get("offset")
    return offset if refusal.status == 409 and type(offset) is int else None

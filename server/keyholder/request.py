"""What travels to the key holder (socket or file) and what comes back.

A request is the grant plus what the key holder needs to check it against the camera's
own signatures: the recording's signed manifest (as the server stores it) and, per
segment, its preamble (the age header and payload nonce, the file's first bytes). None
of it is secret; the server holds all of it already. The answer gives, per segment, a
new age header for the viewer: the viewer replaces the segment's first `header_bytes`
bytes with it and decrypts the result with their own identity.

Offline, the same two documents are files (`bodycam-keyholder unwrap --grant F --out G`).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Final

from bodycam.firmware.evidence.age.header import header_length
from bodycam.firmware.evidence.age.stream import PAYLOAD_NONCE_SIZE
from bodycam.server.keyholder.errors import RefusedError

__all__ = ["MAX_REQUEST", "REQUEST_FORMAT", "RESPONSE_FORMAT", "Rewrapped", "UnwrapRequest",
           "UnwrapResponse", "apply_header", "preamble_of"]

REQUEST_FORMAT: Final = "bodycam-unwrap-request/1"
RESPONSE_FORMAT: Final = "bodycam-unwrap-response/1"
# A manifest of a long recording plus a 1.6 kB preamble per segment: far below this.
MAX_REQUEST: Final = 32 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise RefusedError("malformed", f"the request's {what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RefusedError("malformed", f"the request's {what} is not base64") from None


@dataclass(frozen=True)
class UnwrapRequest:
    grant: dict[str, Any]
    manifest: bytes
    preambles: dict[str, bytes]

    def to_json(self) -> dict[str, Any]:
        return {"format": REQUEST_FORMAT, "grant": self.grant,
                "manifest": _b64(self.manifest),
                "preambles": {name: _b64(data) for name, data in self.preambles.items()}}

    def dumps(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, document: object) -> UnwrapRequest:
        """RefusedError("malformed") naming what is wrong; the grant itself is checked later."""
        if not isinstance(document, dict) or document.get("format") != REQUEST_FORMAT:
            raise RefusedError("malformed", f"not a {REQUEST_FORMAT} document. Fix: give the "
                               "grant file the evidence server wrote")
        preambles = document.get("preambles")
        if not isinstance(preambles, dict):
            raise RefusedError("malformed", "the request carries no segment preambles")
        grant = document.get("grant")
        if not isinstance(grant, dict):
            raise RefusedError("malformed", "the request carries no grant statement")
        return cls(grant,
                   _unb64(document.get("manifest"), "manifest"),
                   {str(name): _unb64(data, f"preamble of {str(name)[:40]!r}")
                    for name, data in preambles.items()})

    @classmethod
    def loads(cls, data: bytes) -> UnwrapRequest:
        if len(data) > MAX_REQUEST:
            raise RefusedError("malformed", f"a request of {len(data)} bytes is larger than any "
                               f"grant request ({MAX_REQUEST})")
        try:
            return cls.from_json(json.loads(data))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise RefusedError("malformed", "the request is not JSON") from None


@dataclass(frozen=True)
class Rewrapped:
    """One segment's new header: put it in place of the first `header_bytes` bytes."""

    file: str
    sha256: str
    header: bytes
    header_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256, "header": _b64(self.header),
                "header_bytes": self.header_bytes}


@dataclass(frozen=True)
class UnwrapResponse:
    """The headers, and where the unlock stands in the key holder's log."""

    recording_id: str
    segments: tuple[Rewrapped, ...]
    log_seq: int
    log_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"format": RESPONSE_FORMAT, "recording_id": self.recording_id,
                "segments": [s.to_json() for s in self.segments],
                "log": {"seq": self.log_seq, "hash": self.log_hash}}

    @classmethod
    def from_json(cls, document: object) -> UnwrapResponse:
        """ValueError when `document` is not a response (a viewer reads it)."""
        if not isinstance(document, dict) or document.get("format") != RESPONSE_FORMAT:
            raise ValueError(f"not a {RESPONSE_FORMAT} document")
        try:
            segments = tuple(Rewrapped(str(s["file"]), str(s["sha256"]),
                                       base64.b64decode(s["header"], validate=True),
                                       int(s["header_bytes"])) for s in document["segments"])
            log = document["log"]
            return cls(str(document["recording_id"]), segments, int(log["seq"]),
                       str(log["hash"]))
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise ValueError(f"not a {RESPONSE_FORMAT} document") from None


def apply_header(rewrapped: Rewrapped, segment: bytes) -> bytes:
    """The segment as an age file for the viewer: the new header, then the original
    payload nonce and chunks, untouched."""
    return rewrapped.header + segment[rewrapped.header_bytes:]


def preamble_of(start: bytes) -> bytes:
    """A segment's preamble (age header and payload nonce) from its first bytes (at least
    the header and 16 more); AgeError when they do not begin an age file."""
    return start[:header_length(start) + PAYLOAD_NONCE_SIZE]

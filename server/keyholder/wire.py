"""Framing on the key holder's socket: a 4-byte big-endian length, then that many bytes of
JSON; one request and one answer per connection. Bounded both ways, so a peer can make
neither side read without end."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any, Final

from bodycam.server.keyholder.request import MAX_REQUEST

__all__ = ["FrameError", "receive", "send"]

_LENGTH: Final = struct.Struct(">I")


class FrameError(OSError):
    """The other side sent no whole frame (closed early, too large, not JSON)."""


def send(sock: socket.socket, document: dict[str, Any]) -> None:
    data = json.dumps(document, sort_keys=True).encode("utf-8")
    sock.sendall(_LENGTH.pack(len(data)) + data)


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(size - got, 1 << 20))
        if not chunk:
            raise FrameError(f"the connection closed after {got} of {size} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def receive_bytes(sock: socket.socket) -> bytes:
    (size,) = _LENGTH.unpack(_exactly(sock, _LENGTH.size))
    if size > MAX_REQUEST:
        raise FrameError(f"a frame of {size} bytes is larger than any request ({MAX_REQUEST})")
    return _exactly(sock, size)


def receive(sock: socket.socket) -> dict[str, Any]:
    try:
        document = json.loads(receive_bytes(sock))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FrameError("the frame is not JSON") from None
    if not isinstance(document, dict):
        raise FrameError("the frame is not a JSON object")
    return document

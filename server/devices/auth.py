"""Who is asking: every offload request but /time is signed by an enrolled camera.

The signature covers `@target-uri`, which is rebuilt from the URL the server was set up
with (what the camera signs for), not from the Host header a proxy may have rewritten.
Requests with a body are checked by their headers first, before a byte of the body is
read: an unenrolled camera costs the server no storage at all.
"""

from __future__ import annotations

import hashlib
from typing import Final

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.offload.signature import (
    RequestView,
    SignatureError,
    SignedRequest,
    verify_request,
)
from bodycam.server.context import ServerContext
from bodycam.server.devices.service import DatabaseNonceStore, enrolled_keys
from bodycam.server.errors import ApiError

__all__ = ["context_of", "read_signed_body", "signed_request"]

_BODY_METHODS: Final = frozenset({"PUT", "PATCH"})


def context_of(request: Request) -> ServerContext:
    context = request.app.state.context
    assert isinstance(context, ServerContext)
    return context


def _verify(context: ServerContext, view: RequestView, streamed: bool) -> SignedRequest:
    def keys(device_id: str) -> list[DevicePublicKey]:
        with context.database.transaction() as session:
            return list(enrolled_keys(session, device_id))

    try:
        return verify_request(view, enrolled=keys,
                              nonces=DatabaseNonceStore(context.database),
                              now=context.clock(), streamed=streamed)
    except SignatureError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None


async def signed_request(request: Request) -> SignedRequest:
    """FastAPI dependency: the verified signer, or the refusal (401/403)."""
    context = context_of(request)
    target = context.settings.url + request.url.path
    if request.url.query:
        target += "?" + request.url.query
    view = RequestView(request.method, target, request.headers.items())
    return await run_in_threadpool(_verify, context, view, request.method in _BODY_METHODS)


async def read_signed_body(request: Request, signed: SignedRequest, limit: int) -> bytes:
    """The whole body, if it is at most `limit` bytes and matches the signed digest."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if hashlib.sha256(body).digest() != signed.content_sha256:
        raise ApiError(400, "digest_mismatch", "the body does not match its signed "
                       "Content-Digest (cut short or altered on the way); nothing was kept: "
                       "send it again")
    return body

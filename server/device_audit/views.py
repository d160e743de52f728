"""The camera-facing routes of the audit log (docs/offload-protocol.md, The audit log)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from bodycam.firmware.offload.signature import SignedRequest
from bodycam.server.device_audit.service import MAX_AUDIT_BYTES, append_audit, audit_head
from bodycam.server.devices.auth import context_of, read_signed_body, signed_request

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/offload/audit")
Signed = Annotated[SignedRequest, Depends(signed_request)]


@router.get("")
async def head(request: Request, signed: Signed) -> dict[str, Any]:
    return await run_in_threadpool(audit_head, context_of(request), signed)


@router.patch("")
async def append(request: Request, signed: Signed) -> dict[str, Any]:
    body = await read_signed_body(request, signed, MAX_AUDIT_BYTES)
    return await run_in_threadpool(append_audit, context_of(request), signed,
                                   request.headers.get("audit-after"), body)

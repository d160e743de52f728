"""The camera-facing routes of the upload path (docs/offload-protocol.md, Recordings)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bodycam.firmware.offload.signature import SignedRequest
from bodycam.server.devices.auth import context_of, read_signed_body, signed_request
from bodycam.server.ingest.manifests import MAX_MANIFEST_BYTES, put_manifest
from bodycam.server.ingest.receipts import issue_receipt
from bodycam.server.ingest.uploads import file_for_head, patch_file
from bodycam.server.recordings.service import FileState

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/offload/recordings/{recording_id}")
Signed = Annotated[SignedRequest, Depends(signed_request)]


def _upload_headers(state: FileState) -> dict[str, str]:
    return {"Upload-Offset": str(state.stored), "Upload-Length": str(state.size),
            "Upload-Complete": "?1" if state.complete else "?0", "Cache-Control": "no-store"}


@router.put("/manifest")
async def manifest(recording_id: str, request: Request, signed: Signed) -> JSONResponse:
    body = await read_signed_body(request, signed, MAX_MANIFEST_BYTES)
    answer = await run_in_threadpool(put_manifest, context_of(request), signed,
                                     recording_id, body)
    return JSONResponse(answer.body, status_code=answer.status)


@router.head("/files/{name}")
async def file_offset(recording_id: str, name: str, request: Request,
                      signed: Signed) -> Response:
    state = await run_in_threadpool(file_for_head, context_of(request), signed,
                                    recording_id, name)
    return Response(status_code=200, headers=_upload_headers(state))


@router.patch("/files/{name}")
async def file_bytes(recording_id: str, name: str, request: Request,
                     signed: Signed) -> Response:
    state = await patch_file(context_of(request), signed, request, recording_id, name)
    return Response(status_code=204, headers=_upload_headers(state))


@router.post("/receipt")
async def receipt(recording_id: str, request: Request, signed: Signed) -> dict[str, Any]:
    return await run_in_threadpool(issue_receipt, context_of(request), signed, recording_id)

"""The player's three doors: its page, the view request, and a granted segment's
ciphertext. Each goes through the access gate; the view itself is `view_recording`
(authorise, sign a grant, ask the key holder, pull its log), so the rules and the record
are the same as for the CLI and the JSON API."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError
from bodycam.server.access.service import Access
from bodycam.server.custody.target import UnknownRecordingError, recording_target
from bodycam.server.devices.auth import context_of
from bodycam.server.keyholder.client import KeyholderRefusedError, KeyholderUnavailableError
from bodycam.server.keyholder.issue import ViewError
from bodycam.server.keyholder.view import view_recording
from bodycam.server.people.sessions import SignedIn
from bodycam.server.people.web_session import signed_in
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.viewing.assets import asset
from bodycam.server.viewing.grants import active_grant
from bodycam.server.viewing.page import player_page
from bodycam.server.viewing.timeline import view_timeline
from bodycam.server.web.frame import Visitor, visitor

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_NO_STORE: Final = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class ViewAsk(BaseModel):
    """What the browser sends: its throwaway key as an age recipient, and the reason."""

    viewer_key: str = Field(max_length=2000)
    reason: str = Field(max_length=2000)


def _refusal(status: int, rule: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "rule": rule}, status_code=status,
                        headers=_NO_STORE)


@router.get("/recordings/{recording_id}/play")
def play_page(person: Annotated[Visitor, Depends(visitor)],
              recording_id: str) -> HTMLResponse:
    return player_page(person, recording_id)


def _view(access: Access, request: Request, who: SignedIn, recording_id: str,
          ask: ViewAsk) -> JSONResponse:
    context = context_of(request)
    try:
        response = view_recording(access, context, who.user_id, recording_id,
                                  viewer_key=ask.viewer_key, reason=ask.reason)
    except AccessError as exc:
        return _refusal(403, exc.rule, exc.message)
    except ViewError as exc:
        return _refusal(400, "bad_view_request", str(exc))
    except KeyholderUnavailableError as exc:
        return _refusal(503, "keyholder_unavailable", str(exc))
    except KeyholderRefusedError as exc:
        return _refusal(403, exc.rule, str(exc))
    with access.database.transaction() as session:
        grant = active_grant(session, who.username, recording_id, access.clock())
        recording = session.get_one(Recording, recording_id)
    timeline = view_timeline(context.blobs.read_all(recording.manifest_sha256))
    body: dict[str, Any] = {
        "recording_id": response.recording_id, "viewer": who.username,
        "expires": grant.expires if grant else access.clock(),
        "now": access.clock(), "timeline": timeline,
        "log": {"seq": response.log_seq, "hash": response.log_hash},
        "segments": [{"file": s.file, "sha256": s.sha256,
                      "header": base64.b64encode(s.header).decode("ascii"),
                      "header_bytes": s.header_bytes,
                      "url": f"/recordings/{recording_id}/ciphertext/{s.file}"}
                     for s in response.segments]}
    return JSONResponse(body, headers=_NO_STORE)


@router.post("/recordings/{recording_id}/view")
async def view(request: Request, who: Annotated[SignedIn, Depends(signed_in)],
               recording_id: str, ask: ViewAsk) -> JSONResponse:
    """The re-wrapped headers for the browser's key (CSRF: the X-CSRF-Token header)."""
    access = Access.of(context_of(request))
    return await run_in_threadpool(_view, access, request, who, recording_id, ask)


def _ciphertext(access: Access, request: Request, who: SignedIn, recording_id: str,
                name: str) -> Response:
    try:
        with access.work(who.user_id, "ciphertext.read") as work:
            work.authorise(Permission.VIEW, recording_target(work.session, recording_id))
            if active_grant(work.session, who.username, recording_id, work.now,
                            segment=name) is None:
                return _refusal(403, "no_active_grant", (
                    f"no unexpired grant of yours covers segment {name[:80]!r} of "
                    f"{recording_id}: press play again with a reason"))
            sha256 = work.session.scalar(select(RecordingFile.sha256).where(
                RecordingFile.recording_id == recording_id, RecordingFile.name == name,
                RecordingFile.complete))
            if sha256 is None:
                return _refusal(404, "no_segment", f"{recording_id} has no stored segment "
                                f"{name[:80]!r}")
            work.record("ciphertext_sent", recording=recording_id, segment=name)
    except UnknownRecordingError as exc:
        return _refusal(404, "no_recording", str(exc))
    except AccessError as exc:
        return _refusal(403, exc.rule, exc.message)
    blobs = context_of(request).blobs
    return StreamingResponse(blobs.read(sha256), media_type="application/octet-stream",
                             headers=_NO_STORE)


@router.get("/recordings/{recording_id}/ciphertext/{name}")
async def ciphertext(request: Request, who: Annotated[SignedIn, Depends(signed_in)],
                     recording_id: str, name: str) -> Response:
    """A granted segment exactly as the camera wrote it (age ciphertext), never cached."""
    access = Access.of(context_of(request))
    return await run_in_threadpool(_ciphertext, access, request, who, recording_id, name)


@router.get("/player/{name}")
def player_asset(name: str) -> Response:
    return asset(name)

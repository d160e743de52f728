"""POST /api/v1/recordings/{id}/grants: the key holder's re-wrapped age headers of a
recording's segments for a key its caller names, with the camera's signed manifest.

What the custodian CLI (tools/custody/server_client.py) exports with its own key
("export", recording.export) and the prosecutor package discloses to a prosecutor's key
("disclose", recording.export, the recipient recorded in full). The view itself is the
player's (`grant_recording`: the rules in `Access.work`, a signed grant, the key holder's
re-wrap and its log pulled into the audit trail); the rules are asked first here, so a
wearer, an administrator or an auditor is refused by name whether or not the key holder
runs. The ciphertext comes from GET /api/v1/recordings/{id}/files/{name}.
"""

from __future__ import annotations

import base64
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from bodycam.server.access.service import Work
from bodycam.server.api.auth import Caller, CallerDep
from bodycam.server.api.routes.common import RecordingId
from bodycam.server.api.work import ERRORS, ErrorBody, access_of, perform, refusals
from bodycam.server.custody.target import recording_target
from bodycam.server.devices.auth import context_of
from bodycam.server.errors import ApiError
from bodycam.server.keyholder.client import KeyholderRefusedError, KeyholderUnavailableError
from bodycam.server.keyholder.grant import MAX_REASON
from bodycam.server.keyholder.issue import PURPOSES, Purpose
from bodycam.server.keyholder.view import grant_recording

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"], responses=ERRORS)
# An age1pq1... recipient is 1959 characters. A list of segments is bounded by the key
# holder's default max_segments (no list is needed for all of them): a longer one is a
# 422 naming the limit, never a body past the API's size limit (413).
_MAX_RECIPIENT: Final = 2100
_MAX_SEGMENTS: Final = 1000


class GrantAsk(BaseModel):
    """Whose key, why, for what, and (optionally) which segments."""

    model_config = ConfigDict(extra="forbid")

    recipient: str = Field(max_length=_MAX_RECIPIENT, description="the age recipient the "
                           "headers are for: age1... (X25519) or age1pq1... (post-quantum)")
    reason: str = Field(max_length=MAX_REASON * 4, description="why (3 to 500 characters; "
                        "recorded with the grant and in the key holder's log)")
    purpose: Literal["export", "disclose"] = Field(description="export: the custodian's "
                                                   "own key; disclose: a prosecutor's key")
    segments: list[Annotated[str, Field(min_length=1, max_length=255)]] | None = Field(
        default=None, max_length=_MAX_SEGMENTS,
        description="segment file names (default: every stored segment, however many)")


class GrantOut(BaseModel):
    grant: str = Field(description="the grant's nonce (each grant opens once)")
    expires: str = Field(description="ISO 8601 UTC: the grant's expiry")
    recipient: str
    purpose: str
    headers: dict[str, str] = Field(description="segment file name: base64 of its new age "
                                    "header; put it in place of the stored file's header")
    manifest: str = Field(description="base64 of the camera's signed manifest.jsonl")


def _check_rules(work: Work, purpose: Purpose, recording_id: str) -> None:
    work.authorise(purpose.permission, recording_target(work.session, recording_id))


def _grant(request: Request, caller: Caller, recording_id: str, ask: GrantAsk) -> GrantOut:
    purpose = PURPOSES[ask.purpose]
    perform(request, caller, f"recording.{purpose.name}",
            lambda work: _check_rules(work, purpose, recording_id))
    try:  # a wrong request (ViewError, a ValueError) is refusals()' 422
        with refusals():
            sent, answer = grant_recording(
                access_of(request), context_of(request), caller.user_id, recording_id,
                viewer_key=ask.recipient, reason=ask.reason, segments=ask.segments,
                purpose=purpose)
    except KeyholderUnavailableError as exc:
        raise ApiError(503, "keyholder_unavailable", str(exc)) from None
    except KeyholderRefusedError as exc:
        raise ApiError(403, exc.rule, str(exc)) from None
    return GrantOut(
        grant=str(sent.grant["nonce"]), expires=str(sent.grant["expires"]),
        recipient=ask.recipient.strip(), purpose=purpose.name,
        headers={s.file: base64.b64encode(s.header).decode("ascii")
                 for s in answer.segments},
        manifest=base64.b64encode(sent.manifest).decode("ascii"))


@router.post("/{recording_id}/grants", status_code=201, responses={
    503: {"model": ErrorBody, "description": "the key holder is not connected or not "
          "running: nothing can be exported or disclosed now"}})
def grants(recording_id: RecordingId, ask: GrantAsk, request: Request,
           caller: CallerDep) -> GrantOut:
    """Re-wrapped headers of the recording's segments for `recipient`, on record (export:
    recording.export; disclose: recording.export, the recipient recorded in full)."""
    return _grant(request, caller, recording_id, ask)

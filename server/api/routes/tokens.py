"""/api/v1/tokens: a person's API tokens (make one, list them, revoke one).

A token is made only from a signed-in session (password and second factor just given),
never with another token: a leaked token cannot breed more.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from bodycam.server.access.service import Work
from bodycam.server.api.auth import CallerDep
from bodycam.server.api.tokens import (
    MAX_DAYS,
    TokenError,
    TokenInfo,
    create_token,
    list_tokens,
    revoke_token,
)
from bodycam.server.api.work import ERRORS, perform
from bodycam.server.errors import ApiError

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"], responses=ERRORS)
TokenId = Annotated[str, Path(min_length=1, max_length=40, description="the token's id")]


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="what uses it")
    days: int = Field(default=90, ge=1, le=MAX_DAYS, description="how long it lives")


class TokenOut(BaseModel):
    id: str
    name: str
    created_at: float
    expires_at: float
    last_used: float | None

    @classmethod
    def of(cls, info: TokenInfo) -> TokenOut:
        return cls(id=info.id, name=info.name, created_at=info.created_at,
                   expires_at=info.expires_at, last_used=info.last_used)


class NewTokenOut(BaseModel):
    id: str
    name: str
    expires_at: float
    token: str = Field(description="shown only this once: keep it like a password")


def _refused(exc: TokenError) -> ApiError:
    status = 403 if exc.rule == "no_person" else 404
    return ApiError(status, exc.rule, exc.message)


@router.post("", status_code=201)
def make(body: TokenRequest, request: Request, caller: CallerDep) -> NewTokenOut:
    """A new token for yourself (from a session only)."""
    if caller.token_id is not None:
        raise ApiError(403, "token_from_token", "an API token cannot make another: sign "
                       "in (POST /api/v1/session) and make it from that session")

    def job(work: Work) -> NewTokenOut:
        made = create_token(work, body.name, body.days)
        return NewTokenOut(id=made.id, name=made.name, expires_at=made.expires_at,
                           token=made.token)

    return perform(request, caller, "api_token.create", job)


@router.get("")
def mine(request: Request, caller: CallerDep) -> list[TokenOut]:
    """Your live tokens, oldest first (never their secrets)."""
    return perform(request, caller, "api_token.list",
                   lambda work: [TokenOut.of(info) for info in list_tokens(work)])


@router.delete("/{token_id}", status_code=204)
def revoke(token_id: TokenId, request: Request, caller: CallerDep) -> Response:
    """End one of your tokens now."""
    try:
        perform(request, caller, "api_token.revoke", lambda work: revoke_token(work, token_id))
    except TokenError as exc:
        raise _refused(exc) from None
    return Response(status_code=204)

"""/api/v1/session: sign in (POST), who am I (GET), sign out (DELETE), and
/api/v1/session/password (POST): change one's own password.

Sign-in answers 200 with the CSRF token and sets the session cookie; a wrong username,
password or code is 401 with one message for all; a slowed-down or locked account 429
with Retry-After. Sign-in itself refuses a request from another origin (login CSRF).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bodycam.server.access.service import Access, permissions_of
from bodycam.server.audit.trail import REFUSED
from bodycam.server.devices.auth import context_of
from bodycam.server.errors import ApiError
from bodycam.server.people.models import User
from bodycam.server.people.password_change import PasswordChangeError, change_password
from bodycam.server.people.passwords import PasswordError
from bodycam.server.people.sessions import SignedIn, close_session
from bodycam.server.people.signin import SignInError, sign_in
from bodycam.server.people.web_session import (
    COOKIE,
    address_of,
    check_origin,
    clear_cookie,
    set_cookie,
    signed_in,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/session")
SignedInDep = Annotated[SignedIn, Depends(signed_in)]


class SignIn(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    code: str = Field(default="", max_length=16, description="the TOTP code, 6 digits")


def _me(access: Access, who: SignedIn) -> dict[str, Any]:
    with access.database.transaction() as session:
        user = session.get(User, who.user_id)
        assert user is not None
        permissions = sorted(p.value for p in permissions_of(session, who.user_id))
        return {"username": user.username, "name": user.display_name,
                "permissions": permissions, "csrf_token": who.csrf_token,
                "expires_at": who.expires_at}


@router.post("")
async def start(body: SignIn, request: Request) -> Response:
    context = context_of(request)
    access = Access.of(context)
    address = address_of(request)
    problem = check_origin(context, request)
    if problem is not None:
        await run_in_threadpool(access.audit.record, "sign_in_failed", body.username[:64],
                                outcome=REFUSED, rule="csrf_origin", address=address)
        raise ApiError(403, "csrf_origin", problem)
    try:
        token, who = await run_in_threadpool(sign_in, access, body.username, body.password,
                                             body.code, address)
    except SignInError as exc:
        status = 401 if exc.retry_after is None else 429
        headers = ({} if exc.retry_after is None
                   else {"Retry-After": str(math.ceil(exc.retry_after))})
        return JSONResponse({"error": exc.rule if status == 429 else "sign_in_failed",
                             "message": exc.message}, status_code=status, headers=headers)
    response = JSONResponse(await run_in_threadpool(_me, access, who))
    set_cookie(response, token)
    return response


@router.get("")
async def current(request: Request, who: SignedInDep) -> dict[str, Any]:
    return await run_in_threadpool(_me, Access.of(context_of(request)), who)


def _end(access: Access, token: str, who: SignedIn, address: str) -> None:
    with access.database.transaction() as session:
        close_session(session, token)
        access.audit.add(session, "sign_out", who.username, address=address)


class PasswordChange(BaseModel):
    current: str = Field(min_length=1, max_length=1024)
    new: str = Field(min_length=1, max_length=1024)


@router.post("/password", status_code=204)
async def new_password(body: PasswordChange, request: Request, who: SignedInDep) -> Response:
    """Change one's own password; every session ends (sign in again with the new one)."""
    access = Access.of(context_of(request))
    try:
        await run_in_threadpool(change_password, access, who, body.current, body.new,
                                address_of(request))
    except PasswordChangeError as exc:
        raise ApiError(exc.status, exc.rule, str(exc)) from None
    except PasswordError as exc:
        raise ApiError(422, "weak_password", str(exc)) from None
    response = Response(status_code=204)
    clear_cookie(response)
    return response


@router.delete("", status_code=204)
async def end(request: Request, who: SignedInDep) -> Response:
    access = Access.of(context_of(request))
    await run_in_threadpool(_end, access, request.cookies[COOKIE], who, address_of(request))
    response = Response(status_code=204)
    clear_cookie(response)
    return response

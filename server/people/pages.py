"""The sign-in pages: GET/POST /sign-in and POST /sign-out (the start page, /, is the
web interface's dashboard: server/web/dashboard.py).

Forms work without JavaScript. The sign-in form is protected against login CSRF by a
token in a `__Host-` cookie that the form repeats (double submit) and by the Origin
check; the sign-out form carries the session's CSRF token. Every refusal has the same
audit record as through the JSON API (both call people.signin and web_session).
"""

from __future__ import annotations

import math
import secrets
from typing import Annotated, Final

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from bodycam.server.access.service import Access
from bodycam.server.audit.trail import REFUSED
from bodycam.server.devices.auth import context_of
from bodycam.server.errors import ApiError
from bodycam.server.people.sessions import SignedIn, close_session
from bodycam.server.people.signin import SignInError, sign_in
from bodycam.server.people.web_session import (
    COOKIE,
    address_of,
    check_change,
    check_origin,
    clear_cookie,
    session_of,
    set_cookie,
)
from bodycam.server.web.pages import render
from bodycam.server.web.refusals import FormRefusedError

__all__ = ["router"]

router = APIRouter()
_FORM_COOKIE: Final = "__Host-bodycam-form"
_FORM_S: Final = 3600


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers={"Cache-Control": "no-store"})


def _form(status: int = 200, error: str = "", username: str = "", notice: str = "",
          headers: dict[str, str] | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    page = render("sign_in.html", status, headers, form_token=token, error=error,
                  username=username, notice=notice, who=None)
    page.set_cookie(_FORM_COOKIE, token, max_age=_FORM_S, path="/", secure=True,
                    httponly=True, samesite="strict")
    return page


async def _who(request: Request) -> SignedIn | None:
    try:
        return await session_of(request) if request.cookies.get(COOKIE) else None
    except ApiError:
        return None


@router.get("/sign-in", include_in_schema=False)
async def sign_in_page(request: Request) -> Response:
    if await _who(request) is not None:
        return _see("/")
    signed_out = request.query_params.get("signed-out") == "1"
    return _form(notice="You have signed out." if signed_out else "")


@router.post("/sign-in", include_in_schema=False)
async def sign_in_form(request: Request, username: Annotated[str, Form(max_length=200)] = "",
                       password: Annotated[str, Form(max_length=1024)] = "",
                       code: Annotated[str, Form(max_length=16)] = "",
                       form_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    context = context_of(request)
    access = Access.of(context)
    cookie = request.cookies.get(_FORM_COOKIE, "")
    problem = check_origin(context, request)
    if problem is None and not (cookie and secrets.compare_digest(cookie.encode(),
                                                                 form_token.encode())):
        problem = ("the sign-in form has expired or was not sent from this server's page: "
                   "sign in again on this page")
    if problem is not None:
        await run_in_threadpool(access.audit.record, "sign_in_failed", username[:64] or "-",
                                outcome=REFUSED, rule="csrf", address=address_of(request))
        return _form(403, problem, username[:64])
    try:
        token, _ = await run_in_threadpool(sign_in, access, username, password, code,
                                               address_of(request))
    except SignInError as exc:
        if exc.retry_after is None:
            return _form(401, exc.message[0].upper() + exc.message[1:] + ".", username[:64])
        return _form(429, exc.message[0].upper() + exc.message[1:] + ".", username[:64],
                     headers={"Retry-After": str(math.ceil(exc.retry_after))})
    response = _see("/")
    set_cookie(response, token)
    response.delete_cookie(_FORM_COOKIE, path="/", secure=True, httponly=True,
                           samesite="strict")
    return response


@router.post("/sign-out", include_in_schema=False)
async def sign_out(request: Request,
                   csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    who = await _who(request)
    if who is None:
        return _see("/sign-in")
    try:
        await check_change(request, who, csrf_token)
    except ApiError as exc:
        raise FormRefusedError.of(exc) from None
    access = Access.of(context_of(request))

    def end() -> None:
        with access.database.transaction() as session:
            close_session(session, request.cookies[COOKIE])
            access.audit.add(session, "sign_out", who.username, address=address_of(request))

    await run_in_threadpool(end)
    response = _see("/sign-in?signed-out=1")
    clear_cookie(response)
    return response

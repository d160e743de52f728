"""Who is signed in on a request: the session cookie, checked against the database, and
for every request that changes something, the CSRF token and the Origin.

The cookie is `__Host-` prefixed, Secure, HttpOnly and SameSite=Strict: only this
origin over HTTPS sets or sends it, and scripts cannot read it. A request that changes
state must also carry the session's CSRF token (header X-CSRF-Token, which the JSON API
sends and forms put in a hidden field), and, when the browser says where it comes from,
come from this server's own origin.
"""

from __future__ import annotations

import secrets
from typing import Final

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from bodycam.server.access.service import Access
from bodycam.server.audit.trail import REFUSED
from bodycam.server.context import ServerContext
from bodycam.server.devices.auth import context_of
from bodycam.server.errors import ApiError
from bodycam.server.people.sessions import LIFETIME_S, SessionError, SignedIn, find_session

__all__ = ["COOKIE", "CSRF_HEADER", "address_of", "check_change", "check_origin", "clear_cookie",
           "session_of", "set_cookie", "signed_in"]

COOKIE: Final = "__Host-bodycam-session"
CSRF_HEADER: Final = "X-CSRF-Token"
_SAFE: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def address_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def set_cookie(response: Response, token: str) -> None:
    response.set_cookie(COOKIE, token, max_age=LIFETIME_S, path="/", secure=True,
                        httponly=True, samesite="strict")


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")


def check_origin(context: ServerContext, request: Request) -> str | None:
    """The refusal's message if the browser says the request comes from elsewhere."""
    origin = request.headers.get("origin")
    allowed = {context.settings.url, context.settings.url.removesuffix(":443")}
    if origin is None or origin.rstrip("/") in allowed:
        return None
    return (f"this request comes from {origin[:100]}, not from this server's pages "
            f"({context.settings.url}): refused as cross-site request forgery")


def _lookup(access: Access, token: str, address: str) -> SignedIn:
    try:
        return find_session(access.database, token, access.clock())
    except SessionError as exc:
        access.audit.record("session_refused", exc.user, outcome=REFUSED, rule=exc.rule,
                            address=address)
        raise ApiError(401, exc.rule, str(exc)) from None


def _forged(access: Access, who: SignedIn, rule: str, message: str, address: str) -> ApiError:
    access.audit.record("request_refused", who.username, outcome=REFUSED, rule=rule,
                        address=address, message=message)
    return ApiError(403, rule, message)


async def session_of(request: Request) -> SignedIn:
    """The signed-in person of a request, or 401 (no, unknown or dead session)."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise ApiError(401, "not_signed_in", "sign in first (POST /api/v1/session)")
    return await run_in_threadpool(_lookup, Access.of(context_of(request)), token,
                                   address_of(request))


async def check_change(request: Request, who: SignedIn, sent: str) -> None:
    """403 unless a state-changing request carries the session's CSRF token (`sent`)
    and, if the browser names its origin, comes from this server."""
    context = context_of(request)
    access = Access.of(context)
    address = address_of(request)
    if not secrets.compare_digest(sent.encode(), who.csrf_token.encode()):
        raise await run_in_threadpool(
            _forged, access, who, "csrf", f"this request lacks the session's {CSRF_HEADER} "
            "(or the form's csrf_token): refused as cross-site request forgery. Fix: send "
            "the token the sign-in returned", address)
    problem = check_origin(context, request)
    if problem is not None:
        raise await run_in_threadpool(_forged, access, who, "csrf_origin", problem, address)


async def signed_in(request: Request) -> SignedIn:
    """FastAPI dependency of the JSON API: session_of(), and for every request that
    changes something check_change() with the X-CSRF-Token header."""
    who = await session_of(request)
    if request.method not in _SAFE:
        await check_change(request, who, request.headers.get(CSRF_HEADER, ""))
    return who

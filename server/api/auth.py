"""Who calls the JSON API: an API token (`Authorization: Bearer ...`) or the session
cookie of POST /api/v1/session (with the X-CSRF-Token header on every change).

A token is not sent by a browser on its own, so a cross-site page cannot use it: a call
with a token needs no CSRF token. A call with a cookie goes through web_session's checks
(CSRF token, Origin). A token that signs nobody in is refused (401) and recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from bodycam.server.access.service import Access
from bodycam.server.api.tokens import TokenError, TokenUser, find_token
from bodycam.server.audit.trail import REFUSED
from bodycam.server.devices.auth import context_of
from bodycam.server.errors import ApiError
from bodycam.server.people.web_session import COOKIE, address_of, signed_in

__all__ = ["Caller", "CallerDep", "caller"]

_BEARER: Final = HTTPBearer(auto_error=False, scheme_name="token",
                            description="an API token from POST /api/v1/tokens")
_COOKIE: Final = APIKeyCookie(name=COOKIE, auto_error=False, scheme_name="session",
                              description="the session cookie of POST /api/v1/session; "
                              "a change also needs its X-CSRF-Token header")
_MAX_HEADER: Final = 200


@dataclass(frozen=True)
class Caller:
    """A signed-in person, and how (`token_id` None: the session cookie)."""

    user_id: int
    username: str
    token_id: str | None = None


def _by_token(access: Access, token: str, address: str) -> TokenUser:
    try:
        return find_token(access.database, token, access.clock())
    except TokenError as exc:
        access.audit.record("token_refused", exc.user, outcome=REFUSED, rule=exc.rule,
                            address=address, token=exc.token_id)
        raise ApiError(401, exc.rule, exc.message) from None


async def caller(request: Request,
                 bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
                 _cookie: Annotated[str | None, Security(_COOKIE)]) -> Caller:
    """FastAPI dependency of every API call but sign-in, health and the description."""
    header = request.headers.get("authorization")
    if header is not None:
        if bearer is None or len(header) > _MAX_HEADER:
            raise ApiError(401, "bad_authorization", "the Authorization header must be "
                           "`Bearer TOKEN` with an API token (POST /api/v1/tokens makes one)")
        access = Access.of(context_of(request))
        found = await run_in_threadpool(_by_token, access, bearer.credentials,
                                        address_of(request))
        return Caller(found.user_id, found.username, found.token_id)
    who = await signed_in(request)
    return Caller(who.user_id, who.username)


CallerDep = Annotated[Caller, Depends(caller)]

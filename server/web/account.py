"""A person's own account: changing their password (the current one asked again; every
session of theirs ends, this one included, so they sign in with the new one). The same
service as the JSON API's /api/v1/session/password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, Response

from bodycam.server.people.password_change import change_password
from bodycam.server.people.passwords import MIN_LENGTH
from bodycam.server.people.web_session import clear_cookie
from bodycam.server.web.frame import Visitor, poster, see, visitor

__all__ = ["router"]

router = APIRouter(prefix="/account", include_in_schema=False)
_Password = Annotated[str, Form(max_length=1024)]


@router.get("")
def account(person: Annotated[Visitor, Depends(visitor)]) -> HTMLResponse:
    return person.page("account.html", min_length=MIN_LENGTH)


@router.post("/password")
def new_password(person: Annotated[Visitor, Depends(poster)], current: _Password,
                 new: _Password, again: _Password) -> Response:
    if new != again:
        return person.page("account.html", 400, min_length=MIN_LENGTH, error="the two new "
                           "passwords differ; type the new one twice")
    try:
        change_password(person.access, person.who, current, new, person.address)
    except ValueError as exc:  # PasswordChangeError (wrong, slowed down), PasswordError
        return person.page("account.html", getattr(exc, "status", 400),
                           min_length=MIN_LENGTH, error=str(exc))
    answer = see("/sign-in?signed-out=1")  # every session ended: sign in with the new one
    clear_cookie(answer)
    return answer

"""The administrator's people pages: everyone who can sign in, adding a person (the
second factor's one-time setup is shown once, as a QR code and as text), granting and
revoking roles, unlocking, a new second factor, disabling and enabling again. Every
change goes through the services of people/accounts.py and access/roles.py, so the hard
rules and the audit record are the same as from the command line and the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.access.models import UserRole
from bodycam.server.access.permissions import Permission
from bodycam.server.access.roles import grant_role, revoke_role, role_names
from bodycam.server.access.service import Work
from bodycam.server.devices.auth import context_of
from bodycam.server.people import throttle
from bodycam.server.people.accounts import (
    add_user,
    disable_user,
    enable_user,
    find_user,
    reset_second_factor,
    unlock_user,
)
from bodycam.server.people.models import User
from bodycam.server.people.totp import provisioning_uri
from bodycam.server.web.frame import Visitor, poster, visitor

__all__ = ["router"]

router = APIRouter(prefix="/admin/users", include_in_schema=False)


@dataclass(frozen=True)
class Person:
    username: str
    name: str
    roles: list[str]
    disabled: bool
    second_factor: bool
    locked: bool


@dataclass(frozen=True)
class Setup:
    """A second factor's one-time setup: shown once, never stored in the clear."""

    username: str
    key: str
    uri: str
    qr_svg: str


def _people(session: Session, now: float) -> list[Person]:
    users = list(session.scalars(select(User).order_by(User.username)))
    held: dict[int, list[str]] = {u.id: [] for u in users}
    for user_id, role in session.execute(select(UserRole.user_id, UserRole.role)
                                         .order_by(UserRole.role)):
        held[user_id].append(role)
    locked = {u.username for u in users if throttle.waiting(
        session, [throttle.ACCOUNT.key(u.username)], now) is not None}
    return [Person(u.username, u.display_name, held[u.id], u.disabled,
                   u.totp_secret is not None, u.username in locked) for u in users]


def _read(work: Work) -> dict[str, Any]:
    return {"people": _people(work.session, work.now), "roles": role_names(work.session)}


def _listing(person: Visitor, **outcome: Any) -> HTMLResponse:
    return person.listing(Permission.USERS, "users.html", _read, **outcome)


def _setup(request: Request, username: str, key: str) -> Setup:
    issuer = f"bodycam evidence server {context_of(request).settings.host}"
    uri = provisioning_uri(key, username, issuer)
    grouped = " ".join(key[i:i + 4] for i in range(0, len(key), 4))
    svg = segno.make(uri, error="m").svg_inline(scale=4, title="QR code of the second "
                                                 "factor's setup")
    return Setup(username, grouped, uri, svg)


def _attempt(person: Visitor, action: str, change: Callable[[Work], dict[str, Any]]
             ) -> HTMLResponse:
    return person.attempt(action, change, lambda **outcome: _listing(person, **outcome))


@router.get("")
def users(person: Annotated[Visitor, Depends(visitor)]) -> HTMLResponse:
    return _listing(person)


class NewPerson(BaseModel):
    """The add-a-person form."""

    username: str = Field(max_length=200)
    display_name: str = Field(max_length=200)
    password: str = Field(max_length=1024)
    roles: list[str] = Field(default_factory=list, max_length=64)
    no_second_factor: str = Field(default="", max_length=10)


@router.post("")
def add(request: Request, person: Annotated[Visitor, Depends(poster)],
        form: Annotated[NewPerson, Form()]) -> HTMLResponse:
    def change(work: Work) -> dict[str, Any]:
        added = add_user(work, form.username, form.display_name, form.password,
                         roles=form.roles, second_factor=not form.no_second_factor)
        key = added.totp_secret
        return {"notice": f"Added {added.username}.",
                "setup": _setup(request, added.username, key) if key else None}
    return _attempt(person, "user.add", change)


def _done(text: str) -> dict[str, Any]:
    return {"notice": text}


@router.post("/{username}/roles")
def grant(person: Annotated[Visitor, Depends(poster)], username: str,
          role: Annotated[str, Form(max_length=64)]) -> HTMLResponse:
    def change(work: Work) -> dict[str, Any]:
        grant_role(work, find_user(work.session, username), role)
        return _done(f"{username} now holds role {role}.")
    return _attempt(person, "role.grant", change)


@router.post("/{username}/roles/{role}/revoke")
def revoke(person: Annotated[Visitor, Depends(poster)], username: str,
           role: str) -> HTMLResponse:
    def change(work: Work) -> dict[str, Any]:
        revoke_role(work, find_user(work.session, username), role)
        return _done(f"{username} no longer holds role {role}.")
    return _attempt(person, "role.revoke", change)


@router.post("/{username}/second-factor")
def new_second_factor(request: Request, person: Annotated[Visitor, Depends(poster)],
                      username: str) -> HTMLResponse:
    def change(work: Work) -> dict[str, Any]:
        key = reset_second_factor(work, username)
        name = find_user(work.session, username).username
        return {"notice": f"{name} has a new second factor; the old one no longer works "
                "and their sessions have ended.", "setup": _setup(request, name, key)}
    return _attempt(person, "user.reset-second-factor", change)


_ON_ACCOUNT: Final[dict[str, tuple[Callable[[Work, str], None], str]]] = {
    "unlock": (unlock_user, "is unlocked: failed sign-ins cleared"),
    "disable": (disable_user, "is disabled; every session of theirs has ended"),
    "enable": (enable_user, "is enabled again and may sign in"),
}


@router.post("/{username}/{step}")
def on_account(person: Annotated[Visitor, Depends(poster)], username: str,
               step: Literal["unlock", "disable", "enable"]) -> HTMLResponse:
    """Unlock (failed sign-ins cleared), disable or enable again an account."""
    apply, done = _ON_ACCOUNT[step]

    def change(work: Work) -> dict[str, Any]:
        apply(work, username)
        return _done(f"{username} {done}.")
    return _attempt(person, f"user.{step}", change)

"""/api/v1/users: people (administrators: user.manage). Adding one answers its second
factor's one-time setup; granting a role, disabling, unlocking and a new second factor
each go through the same service (and hard rules) as the command line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from bodycam.server.access.models import UserRole
from bodycam.server.access.permissions import Permission
from bodycam.server.access.roles import grant_role
from bodycam.server.access.service import Work
from bodycam.server.api.auth import Caller, CallerDep
from bodycam.server.api.work import ERRORS, perform
from bodycam.server.errors import ApiError
from bodycam.server.people.accounts import (
    AccountError,
    add_user,
    disable_user,
    enable_user,
    find_user,
    reset_second_factor,
    unlock_user,
)
from bodycam.server.people.models import User
from bodycam.server.people.totp import provisioning_uri

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=ERRORS)
Username = Annotated[str, Path(min_length=1, max_length=64)]
_ROLE = Field(min_length=1, max_length=64)


class UserOut(BaseModel):
    username: str
    name: str
    disabled: bool
    second_factor: bool
    roles: list[str]


class NewUserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200, description="the person's full name")
    password: str = Field(min_length=1, max_length=1024)
    roles: list[Annotated[str, _ROLE]] = Field(default_factory=list, max_length=20)
    second_factor: bool = Field(default=True, description="false only for an account "
                                "without permissions (a wearer)")


class SecondFactorOut(BaseModel):
    """Shown only this once: the person adds it to an authenticator app."""

    secret: str
    uri: str


class NewUserOut(BaseModel):
    user: UserOut
    second_factor: SecondFactorOut | None


class RoleIn(BaseModel):
    role: str = _ROLE


def _out(work: Work, user: User) -> UserOut:
    roles = sorted(work.session.scalars(select(UserRole.role).where(
        UserRole.user_id == user.id)))
    return UserOut(username=user.username, name=user.display_name, disabled=user.disabled,
                   second_factor=user.totp_secret is not None, roles=roles)


def _user(work: Work, username: str) -> User:
    """The account, after the caller is found allowed to manage accounts at all (no
    answer tells a stranger which usernames exist)."""
    work.authorise(Permission.USERS)
    try:
        return find_user(work.session, username)
    except AccountError as exc:
        raise ApiError(404, "no_user", str(exc)) from None


def _setup(request: Request, username: str, secret: str) -> SecondFactorOut:
    issuer = f"bodycam evidence server {request.app.state.context.settings.host}"
    return SecondFactorOut(secret=secret, uri=provisioning_uri(secret, username, issuer))


@router.get("")
def everyone(request: Request, caller: CallerDep) -> list[UserOut]:
    def job(work: Work) -> list[UserOut]:
        work.authorise(Permission.USERS)
        users = work.session.scalars(select(User).order_by(User.username))
        return [_out(work, user) for user in users]
    return perform(request, caller, "user.list", job)


@router.post("", status_code=201)
def add(body: NewUserIn, request: Request, caller: CallerDep) -> NewUserOut:
    """A new account with its roles; answers the second factor's setup once."""
    def job(work: Work) -> NewUserOut:
        added = add_user(work, body.username, body.name, body.password, roles=body.roles,
                         second_factor=body.second_factor)
        user = work.session.get(User, added.user_id)
        assert user is not None
        setup = (None if added.totp_secret is None
                 else _setup(request, added.username, added.totp_secret))
        return NewUserOut(user=_out(work, user), second_factor=setup)
    return perform(request, caller, "user.add", job)


@router.get("/{username}")
def one(username: Username, request: Request, caller: CallerDep) -> UserOut:
    return perform(request, caller, "user.read",
                   lambda work: _out(work, _user(work, username)))


@router.post("/{username}/roles")
def grant(username: Username, body: RoleIn, request: Request, caller: CallerDep) -> UserOut:
    """Give the person a role (refused if they would then hold administration and
    evidence together, or have no second factor)."""
    def job(work: Work) -> UserOut:
        user = _user(work, username)
        grant_role(work, user, body.role)
        return _out(work, user)
    return perform(request, caller, "role.grant", job)


def _on_user(username: str, request: Request, caller: Caller, action: str,
             change: Callable[[Work, str], None]) -> UserOut:
    """One account change by name, through the gate, answering the account after it."""
    def job(work: Work) -> UserOut:
        user = _user(work, username)
        change(work, user.username)
        return _out(work, user)
    return perform(request, caller, action, job)


@router.post("/{username}/disable")
def disable(username: Username, request: Request, caller: CallerDep) -> UserOut:
    """The person can no longer sign in; their sessions and API tokens end now."""
    return _on_user(username, request, caller, "user.disable", disable_user)


@router.post("/{username}/enable")
def enable(username: Username, request: Request, caller: CallerDep) -> UserOut:
    """A disabled person may sign in again (a lockout stays until unlocked)."""
    return _on_user(username, request, caller, "user.enable", enable_user)


@router.post("/{username}/unlock")
def unlock(username: Username, request: Request, caller: CallerDep) -> UserOut:
    """Clear failed sign-ins and a lockout."""
    return _on_user(username, request, caller, "user.unlock", unlock_user)


@router.post("/{username}/second-factor")
def new_second_factor(username: Username, request: Request, caller: CallerDep
                      ) -> SecondFactorOut:
    """A new TOTP key (lost phone): the old codes stop working, sessions and tokens end;
    answers the new key's setup once."""
    def job(work: Work) -> SecondFactorOut:
        user = _user(work, username)
        return _setup(request, user.username, reset_second_factor(work, user.username))
    return perform(request, caller, "user.reset-second-factor", job)

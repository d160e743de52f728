"""Accounts: adding people, their passwords and second factor, unlocking, disabling.
Each is authorised through the access service and recorded with the change; call them
inside `Access.transaction`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.access.permissions import Permission
from bodycam.server.access.roles import grant_role
from bodycam.server.access.rules import Target
from bodycam.server.access.service import Work
from bodycam.server.people import throttle
from bodycam.server.people.models import User
from bodycam.server.people.passwords import check_password, hash_password
from bodycam.server.people.sessions import close_all
from bodycam.server.people.totp import new_secret

__all__ = ["AccountError", "NewUser", "add_user", "disable_user", "enable_user",
           "find_user", "normalise_username", "reset_second_factor", "unlock_user"]

_USERNAME: Final = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")


class AccountError(ValueError):
    """Bad input for an account; the message names the problem and the fix."""


@dataclass(frozen=True)
class NewUser:
    user_id: int
    username: str
    totp_secret: str | None


def normalise_username(text: str) -> str:
    """Usernames compare case-insensitively: stored and looked up lower-case. Anything
    but printable ASCII is escaped (a NUL cannot even be stored in PostgreSQL), so a
    name typed with one reaches the database, the throttle and the audit log as text;
    it can never match an account (see _USERNAME)."""
    return text.strip().lower().encode("unicode_escape").decode("ascii")


def find_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(
        User.username == normalise_username(username))).first()
    if user is None:
        raise AccountError(f"there is no user {username!r}; `bodycam-server user list` "
                           "shows who there is")
    return user


def add_user(work: Work, username: str, display_name: str, password: str, *,
             roles: list[str], second_factor: bool = True) -> NewUser:
    """A new account holding `roles`. A second factor is set up unless refused, which
    only an account without permissions (a wearer) may be."""
    session = work.session
    work.authorise(Permission.USERS)
    username = normalise_username(username)
    if not _USERNAME.fullmatch(username):
        raise AccountError(f"username {username[:80]!r}: use 1 to 64 letters, digits, '.', "
                           "'_', '-' or '@', starting with a letter or digit")
    if not display_name.strip() or len(display_name) > 200 or not display_name.isprintable():
        raise AccountError("give the person's name (1 to 200 printable characters) with "
                           "--name")
    check_password(password, username)
    if session.scalars(select(User.id).where(User.username == username)).first():
        raise AccountError(f"user {username} exists already; choose another username")
    secret = new_secret() if second_factor else None
    sealed = work.access.box().seal(username, secret) if secret else None
    user = User(username=username, display_name=display_name.strip(),
                password_hash=hash_password(password), totp_secret=sealed,
                disabled=False, created_at=datetime.fromtimestamp(work.now, UTC), version=0)
    session.add(user)
    session.flush()
    work.record("user_added", user=username, second_factor=second_factor)
    for role in roles:
        grant_role(work, user, role)
    return NewUser(user.id, username, secret)


def unlock_user(work: Work, username: str) -> None:
    """Clear an account's failed sign-ins and lockout."""
    work.authorise(Permission.USERS)
    user = find_user(work.session, username)
    work.authorise(Permission.USERS, Target(user_id=user.id))
    throttle.clear(work.session, throttle.ACCOUNT, user.username)
    work.record("user_unlocked", user=user.username)


def reset_second_factor(work: Work, username: str) -> str:
    """A new TOTP key (a lost or replaced phone): the old codes stop working and every
    session of the person ends. Returns the key to hand over once."""
    work.authorise(Permission.USERS)
    user = find_user(work.session, username)
    work.authorise(Permission.USERS, Target(user_id=user.id))
    secret = new_secret()
    user.totp_secret = work.access.box().seal(user.username, secret)
    user.totp_last_step = None
    close_all(work.session, user.id)
    work.record("second_factor_reset", user=user.username)
    return secret


def disable_user(work: Work, username: str) -> None:
    """The person can no longer sign in; every session of theirs ends now."""
    work.authorise(Permission.USERS)
    user = find_user(work.session, username)
    work.authorise(Permission.USERS, Target(user_id=user.id))
    user.disabled = True
    close_all(work.session, user.id)
    work.record("user_disabled", user=user.username)


def enable_user(work: Work, username: str) -> None:
    """A disabled person may sign in again (with the roles they still hold; a lockout
    stays until unlocked). Nothing else changes: a second factor reset while disabled
    is still needed if the phone was the reason."""
    work.authorise(Permission.USERS)
    user = find_user(work.session, username)
    work.authorise(Permission.USERS, Target(user_id=user.id))
    if not user.disabled:
        raise AccountError(f"{user.username} is not disabled; nothing to enable")
    user.disabled = False
    work.record("user_enabled", user=user.username)

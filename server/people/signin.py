"""Signing in: username, password and (for every account that can touch evidence or
settings) a TOTP code, in one step; a session on success.

The password is checked outside any database transaction (argon2id takes a fraction of
a second and SQLite has one writer). Every failure looks the same to the client (wrong
username, password, code or disabled account: no hint which), is counted for the account
and the address, and is recorded with the real reason in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import or_, select, update

from bodycam.server.access.service import Access, permissions_of
from bodycam.server.audit.trail import FAILED, REFUSED
from bodycam.server.people import throttle
from bodycam.server.people.accounts import normalise_username
from bodycam.server.people.models import User
from bodycam.server.people.passwords import hash_password, needs_rehash, verify_password
from bodycam.server.people.sessions import SignedIn, open_session
from bodycam.server.people.totp import matching_step

__all__ = ["SignInError", "sign_in"]

_WRONG = "wrong username, password or code (or the account is disabled)"


class SignInError(Exception):
    """No session. `retry_after` (seconds) when the refusal is a slow-down or lockout."""

    def __init__(self, rule: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Account:
    user_id: int
    username: str
    password_hash: str
    totp_secret: str | None
    totp_last_step: int | None
    disabled: bool
    needs_second_factor: bool


def _fail(access: Access, username: str, address: str, reason: str, now: float, *,
          detail: str = "") -> NoReturn:
    with access.database.transaction() as session:
        count = throttle.record_failure(session, throttle.ACCOUNT, username, now)
        throttle.record_failure(session, throttle.ADDRESS, address, now)
        access.audit.add(session, "sign_in_failed", username, outcome=FAILED, rule=reason,
                         address=address, failures=count,
                         locked=count >= throttle.ACCOUNT.lockout,
                         **({"detail": detail} if detail else {}))
    raise SignInError(reason, _WRONG)


def _load(access: Access, username: str, address: str, now: float) -> _Account | None:
    keys = [throttle.ACCOUNT.key(username), throttle.ADDRESS.key(address)]
    with access.database.transaction() as session:
        wait = throttle.waiting(session, keys, now)
        user = session.scalars(select(User).where(User.username == username)).first()
        account = None if user is None else _Account(
            user.id, user.username, user.password_hash, user.totp_secret,
            user.totp_last_step, user.disabled,
            user.totp_secret is not None or bool(permissions_of(session, user.id)))
    if wait is not None:
        rule = "locked_out" if wait.locked else "slowed_down"
        access.audit.record("sign_in_failed", username, outcome=REFUSED, rule=rule,
                            address=address, retry_after=round(wait.seconds, 1))
        what = ("locked after too many failed sign-ins; an administrator can unlock it "
                "(`bodycam-server user unlock`)" if wait.locked else
                "slowed down after failed sign-ins")
        raise SignInError(rule, f"sign-in is {what}: try again in {wait.seconds:.0f} s",
                            wait.seconds)
    return account


def sign_in(access: Access, username: str, password: str, code: str, address: str
            ) -> tuple[str, SignedIn]:
    """(cookie token, session) or SignInError."""
    now = access.clock()
    username = normalise_username(username)[:64]
    account = _load(access, username, address, now)
    if not verify_password(account.password_hash if account else None, password):
        _fail(access, username, address, "unknown_user" if account is None
              else "wrong_password", now)
    assert account is not None
    if account.disabled:
        _fail(access, username, address, "account_disabled", now)
    step = None
    if account.needs_second_factor:
        if account.totp_secret is None:
            _fail(access, username, address, "second_factor_missing", now)
        assert account.totp_secret is not None
        try:
            secret = access.box().open(username, account.totp_secret)
        except ValueError as exc:  # the audit log says why; the person gets the usual answer
            _fail(access, username, address, "second_factor_unreadable", now,
                  detail=str(exc))
        step = matching_step(secret, code, now, account.totp_last_step)
        if step is None:
            _fail(access, username, address, "wrong_code", now)
    with access.database.transaction() as session:
        user = session.get(User, account.user_id)
        assert user is not None
        if step is not None and session.execute(update(User).where(
                User.id == user.id, or_(User.totp_last_step.is_(None),
                                        User.totp_last_step < step))
                .values(totp_last_step=step).returning(User.id)).first() is None:
            used = True  # another sign-in took this code a moment ago
        else:
            used = False
            throttle.clear(session, throttle.ACCOUNT, username)
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            token, signed_in = open_session(session, user, address, now)
            access.audit.add(session, "sign_in", username, address=address)
    if used:
        _fail(access, username, address, "code_reused", now)
    return token, signed_in

"""Sign-in sessions kept in the database (any `serve` process can answer any request).

The browser holds a random token; the database holds its SHA-256, the user, a CSRF token
and two expiries: idle (30 minutes without a request) and absolute (12 hours, a shift).
A session dies with a password change, a disabled account or sign-out: a copied or
replayed cookie then signs nobody in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from bodycam.server.database.engine import Database
from bodycam.server.people.models import User, WebSession

__all__ = ["IDLE_S", "LIFETIME_S", "SessionError", "SignedIn", "close_all", "close_session",
           "find_session", "open_session"]

IDLE_S: Final = 30 * 60
LIFETIME_S: Final = 12 * 3600
_TOUCH_S: Final = 60  # last_seen is written at most once a minute per session
_MAX_TOKEN: Final = 100


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    username: str
    csrf_token: str
    expires_at: float


class SessionError(Exception):
    """The cookie signs nobody in; `rule` says why (for the audit log)."""

    def __init__(self, rule: str, message: str, user: str = "anonymous") -> None:
        super().__init__(message)
        self.rule = rule
        self.user = user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: User, address: str, now: float
                 ) -> tuple[str, SignedIn]:
    """(token for the cookie, the session). Also drops every expired session."""
    session.execute(delete(WebSession).where(or_(WebSession.expires_at < now,
                                                 WebSession.last_seen < now - IDLE_S)))
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(WebSession(token_sha256=_digest(token), user_id=user.id,
                           user_version=user.version, csrf_token=csrf, created_at=now,
                           last_seen=now, expires_at=now + LIFETIME_S, address=address[:64]))
    return token, SignedIn(user.id, user.username, csrf, now + LIFETIME_S)


def _live(session: Session, token: str, now: float) -> SignedIn | SessionError:
    row = session.get(WebSession, _digest(token))
    if row is None:
        return SessionError("session_unknown", "this session does not exist (signed out, "
                            "expired or never issued): sign in again")
    user = session.get(User, row.user_id)
    name = user.username if user is not None else "anonymous"
    if user is None or user.disabled or user.version != row.user_version:
        session.delete(row)
        return SessionError("session_revoked", "this session was ended by a change to the "
                            "account (password, second factor or disabled): sign in again",
                            name)
    if row.expires_at <= now or row.last_seen + IDLE_S <= now:
        session.delete(row)
        return SessionError("session_expired", "the session has expired: sign in again",
                            name)
    if now - row.last_seen >= _TOUCH_S:
        row.last_seen = now
    return SignedIn(user.id, user.username, row.csrf_token, row.expires_at)


def find_session(database: Database, token: str, now: float) -> SignedIn:
    """The live session of `token`, or SessionError (unknown, expired, revoked); a dead
    session is removed for good (committed before the refusal is raised)."""
    if not token or len(token) > _MAX_TOKEN:
        raise SessionError("session_unknown", "no valid session: sign in again")
    with database.transaction() as session:
        found = _live(session, token, now)
    if isinstance(found, SessionError):
        raise found
    return found


def close_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_sha256 == _digest(token)))


def close_all(session: Session, user_id: int) -> None:
    """Every session of a user (a password change, a disabled account)."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    session.execute(update(User).where(User.id == user_id).values(version=User.version + 1))


def live_sessions(session: Session, user_id: int, now: float) -> int:
    rows = session.scalars(select(WebSession.token_sha256).where(
        WebSession.user_id == user_id, WebSession.expires_at > now,
        WebSession.last_seen > now - IDLE_S))
    return len(list(rows))

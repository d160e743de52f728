"""API tokens: made by a signed-in person for a script, shown once, kept hashed.

A token is `bodycam_<id>_<secret>`: the id is public (lists and the audit log name it),
the secret is 256 random bits. The database keeps the SHA-256 of the whole token. A
token acts as its person with the roles they hold at each call; a change of the account
(password, second factor, disabled) ends it, like a session. Creating and revoking are
recorded with the change; a refused token is recorded by the caller (auth.py).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Final

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bodycam.server.access.service import Work
from bodycam.server.api.models import ApiToken
from bodycam.server.database.engine import Database
from bodycam.server.people.models import User

__all__ = ["MAX_DAYS", "MAX_TOKENS", "NewToken", "TokenError", "TokenInfo", "TokenUser",
           "create_token", "find_token", "list_tokens", "revoke_token"]

MAX_DAYS: Final = 365
MAX_TOKENS: Final = 20  # live tokens per person: a leak is easier to find among few
_DAY_S: Final = 86400
_TOUCH_S: Final = 60
_FORM: Final = re.compile(r"bodycam_([0-9a-f]{16})_[A-Za-z0-9_-]{43}")
_ID: Final = re.compile(r"[0-9a-f]{16}")


class TokenError(Exception):
    """No token of that id for this person (404), or a token that signs nobody in (401);
    `rule` is the stable name, the message says the fix."""

    def __init__(self, rule: str, message: str, user: str = "anonymous",
                 token_id: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.user = user
        self.token_id = token_id


@dataclass(frozen=True)
class NewToken:
    id: str
    name: str
    token: str
    expires_at: float


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    created_at: float
    expires_at: float
    last_used: float | None


@dataclass(frozen=True)
class TokenUser:
    """Whom a presented token signs in."""

    user_id: int
    username: str
    token_id: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.id, row.name, row.created_at, row.expires_at, row.last_used)


def _live(session: Session, user: User, now: float) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.user_version == user.version,
        ApiToken.expires_at > now).order_by(ApiToken.created_at, ApiToken.id)))


def _person(work: Work) -> User:
    user = None if work.actor.user_id is None else work.session.get(User, work.actor.user_id)
    if user is None:
        raise TokenError("no_person", "API tokens belong to a person: sign in as one "
                         "(the console has none)")
    return user


def create_token(work: Work, name: str, days: int) -> NewToken:
    """A new token for the signed-in person, valid `days` days. ValueError names a bad
    name, period or one token too many, and the fix."""
    user = _person(work)
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise ValueError("name the token by what uses it (1 to 100 printable characters), "
                         "e.g. 'nightly export script'")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a token lives 1 to {MAX_DAYS} days, not {days}: make a new one "
                         "when it runs out")
    session = work.session
    session.execute(delete(ApiToken).where(  # dead tokens are only clutter
        ApiToken.user_id == user.id,
        (ApiToken.expires_at <= work.now) | (ApiToken.user_version != user.version)))
    count = session.scalar(select(func.count()).select_from(ApiToken).where(
        ApiToken.user_id == user.id)) or 0
    if count >= MAX_TOKENS:
        raise ValueError(f"{user.username} has {count} live API tokens already, the most "
                         "one person may hold. Fix: revoke one no longer used "
                         "(DELETE /api/v1/tokens/ID)")
    token_id = secrets.token_hex(8)
    token = f"bodycam_{token_id}_{secrets.token_urlsafe(32)}"
    expires = work.now + days * _DAY_S
    session.add(ApiToken(id=token_id, user_id=user.id, user_version=user.version,
                         name=name, secret_sha256=_digest(token), created_at=work.now,
                         expires_at=expires, last_used=None))
    work.record("api_token_created", token=token_id, name=name, expires_at=expires)
    return NewToken(token_id, name, token, expires)


def list_tokens(work: Work) -> list[TokenInfo]:
    """The signed-in person's live tokens, oldest first (never the secrets)."""
    return [_info(row) for row in _live(work.session, _person(work), work.now)]


def revoke_token(work: Work, token_id: str) -> TokenInfo:
    """End one of the signed-in person's tokens now; TokenError (404) if they hold none
    of that id (another person's token is not theirs to see or end)."""
    user = _person(work)
    row = work.session.get(ApiToken, token_id) if _ID.fullmatch(token_id) else None
    if row is None or row.user_id != user.id:
        raise TokenError("no_token", f"you hold no API token {token_id[:40]!r}; GET "
                         "/api/v1/tokens lists yours", user.username)
    info = _info(row)
    work.session.delete(row)
    work.record("api_token_revoked", token=token_id, name=row.name)
    return info


def _check(session: Session, token: str, now: float) -> TokenUser | TokenError:
    match = _FORM.fullmatch(token)
    if match is None:
        return TokenError("token_unknown", "this is not an API token of this server: "
                          "make one with POST /api/v1/tokens")
    token_id = match.group(1)
    row = session.get(ApiToken, token_id)
    if row is None or not secrets.compare_digest(row.secret_sha256, _digest(token)):
        return TokenError("token_unknown", "this API token does not exist (revoked, "
                          "expired or never issued): make a new one", token_id=token_id)
    user = session.get(User, row.user_id)
    name = user.username if user is not None else "anonymous"
    if user is None or user.disabled or user.version != row.user_version:
        session.delete(row)
        return TokenError("token_revoked", "this API token was ended by a change to the "
                          "account (password, second factor or disabled): make a new one",
                          name, token_id)
    if row.expires_at <= now:
        session.delete(row)
        return TokenError("token_expired", "this API token has expired: make a new one",
                          name, token_id)
    if row.last_used is None or now - row.last_used >= _TOUCH_S:
        row.last_used = now
    return TokenUser(user.id, user.username, token_id)


def find_token(database: Database, token: str, now: float) -> TokenUser:
    """Whom `token` signs in, or TokenError (unknown, revoked, expired); a dead token is
    removed for good (committed before the refusal is raised)."""
    with database.transaction() as session:
        found = _check(session, token, now)
    if isinstance(found, TokenError):
        raise found
    return found

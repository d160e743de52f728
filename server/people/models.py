"""Accounts, sign-in sessions and sign-in throttles: all in the database, so every
`serve` process sees the same sessions, the same failures and the same lockouts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bodycam.server.database.base import Base

__all__ = ["SignInThrottle", "User", "WebSession"]


class User(Base):
    """A person. `totp_secret` is sealed (secret_box.py); `totp_last_step` is the last
    RFC 6238 time step accepted, so a code is never accepted twice (RFC 6238 section
    5.2). `version` changes with every change of the account, so a session made before
    a password change can be told apart."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(128))  # sealed, secret_box
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=0)


class WebSession(Base):
    """A signed-in browser or API client. Only the SHA-256 of the token is kept: a copy
    of the database signs nobody in. Times are the server clock's seconds."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    user_version: Mapped[int] = mapped_column(Integer)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    address: Mapped[str] = mapped_column(String(64))


class SignInThrottle(Base):
    """Consecutive failed sign-ins for one key ("user:NAME" or "address:IP") and what
    they earned: no attempt before `not_before`, none at all before `locked_until`."""

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[float] = mapped_column(Float, default=0.0)
    locked_until: Mapped[float] = mapped_column(Float, default=0.0)
    last_failure: Mapped[float] = mapped_column(Float, default=0.0)

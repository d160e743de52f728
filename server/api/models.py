"""API tokens: a person's credential for scripts and other programs.

Only the SHA-256 of a token is kept (a copy of the database signs nobody in). A token
acts as its person with the roles they hold at each call, and dies with every change of
the account (`user_version`, like a session), on revocation, or at its expiry.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bodycam.server.database.base import Base

__all__ = ["ApiToken"]


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public, in the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    user_version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    last_used: Mapped[float | None] = mapped_column(Float)

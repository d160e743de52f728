"""The server's event records, one row each, in the order they were written."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodycam.server.database.base import Base

__all__ = ["AuditEvent"]


class AuditEvent(Base):
    """What happened (`kind`), who did it (`actor`: a username, or "console" for the
    command line), whether it was done or refused and by which rule, and the details as
    JSON. Rows are only ever added."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)

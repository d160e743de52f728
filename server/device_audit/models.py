"""The audit log of each camera as stored: consecutive chunks of whole lines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bodycam.server.database.base import Base

__all__ = ["AuditChunk"]


class AuditChunk(Base):
    """Lines `first_seq`..`last_seq` of a camera's audit log, as one blob."""

    __tablename__ = "audit_chunks"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    first_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)
    blob: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

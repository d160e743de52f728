"""The server's audit log: one row per record, hash-chained and signed (chain.py), and
the head of the chain, the one row every writer locks to append."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodycam.server.database.base import Base

__all__ = ["HEAD_ID", "AuditEvent", "AuditHead"]

HEAD_ID = 1


class AuditEvent(Base):
    """What happened (`kind`), who did it (`actor`: a username, "console" for the command
    line, "camera <id>" for a docked camera), whether it was done or refused and by which
    rule, and the details as JSON. Rows are only ever added.

    `seq` is the position in the chain (0, 1, ... without gaps, given when the writing
    transaction commits); `prev`, `hash` and `sig` make the row a line of a signed log in
    the camera's format (docs/formats.md), `signer` the server key's certificate on the
    rows where a key begins; `recording_id` repeats details["recording"] for the
    chain-of-custody report's index (verify checks that it does)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)
    recording_id: Mapped[str | None] = mapped_column(String(80), index=True)
    prev: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    sig: Mapped[str | None] = mapped_column(String(100))
    signer: Mapped[str | None] = mapped_column(Text)


class AuditHead(Base):
    """The chain's last record (`seq` -1 and 64 zeros before the first) and the key that
    signed it. A writer locks this row (FOR UPDATE; SQLite's BEGIN IMMEDIATE) for the
    instant it appends, so two processes never fork the chain or leave a gap."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    signer_key: Mapped[str | None] = mapped_column(String(64))

"""Enrolled cameras, their pinned device keys, and request nonces already seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodycam.server.database.base import Base

__all__ = ["Device", "DeviceKey", "SeenNonce"]


class Device(Base):
    """A camera; `flag` says why an administrator should look (a fork, a rollback).
    The audit_* columns are the head of its audit log as the server holds it; `version`
    changes with every update, so concurrent writers compare and set instead of locking."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    flag: Mapped[str | None] = mapped_column(Text)
    audit_seq: Mapped[int | None] = mapped_column(Integer)
    audit_hash: Mapped[str | None] = mapped_column(String(64))
    audit_counter: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer, default=0)


class DeviceKey(Base):
    """A pinned device key (Ed25519 or a TPM's ECDSA P-256), base64 of the raw key."""

    __tablename__ = "device_keys"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(16))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SeenNonce(Base):
    """A request nonce, kept until it could no longer be replayed (see signature.py)."""

    __tablename__ = "seen_nonces"

    session_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires: Mapped[float] = mapped_column(Float, index=True)

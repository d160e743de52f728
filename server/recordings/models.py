"""A recording (its signed manifest), the files it names, and upload pieces in progress."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bodycam.server.database.base import Base

__all__ = ["FilePiece", "Recording", "RecordingFile"]


class Recording(Base):
    """One sealed recording of one camera. `manifest_sha256` names the manifest blob;
    `manifest_seq`/`manifest_hash` are its seal line (what a receipt vouches for);
    `fork` records another manifest sent under the same id (never stored in its place)."""

    __tablename__ = "recordings"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    device_key: Mapped[str] = mapped_column(String(16))  # fingerprint that signed the seal
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    manifest_seq: Mapped[int] = mapped_column(Integer)
    manifest_hash: Mapped[str] = mapped_column(String(64))
    start: Mapped[str | None] = mapped_column(String(32))
    end: Mapped[str | None] = mapped_column(String(32))
    files: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_activity: Mapped[float] = mapped_column(Float)
    fork: Mapped[str | None] = mapped_column(Text)
    receipt: Mapped[str | None] = mapped_column(Text)


class RecordingFile(Base):
    """A file the manifest names. `stored` bytes are durable (in pieces, or the blob once
    `complete`); `damaged` says what arrived instead of the signed bytes last time;
    `generation` changes with every update (compare-and-set across processes)."""

    __tablename__ = "recording_files"

    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stored: Mapped[int] = mapped_column(BigInteger, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    damaged: Mapped[str | None] = mapped_column(Text)
    generation: Mapped[int] = mapped_column(Integer, default=0)


class FilePiece(Base):
    """Bytes [offset, offset+length) of a file still being uploaded, durable in the blob
    store under `key`."""

    __tablename__ = "file_pieces"
    __table_args__ = (ForeignKeyConstraint(
        ["recording_id", "name"], ["recording_files.recording_id", "recording_files.name"]),)

    recording_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    length: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))

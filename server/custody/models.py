"""Custody tables: device assignments (who wore which camera when), notes, cases and
their recordings, legal holds.

Assignment bounds are kept as canonical UTC text (`instants.canonical`: the camera's own
`YYYY-MM-DDTHH:MM:SS.mmmZ`), the form `recordings.start`/`end` arrive in from the signed
manifest: fixed width, so text order is time order and SQL compares the two on every
database without converting a column. Nothing here is ever deleted but a recording's
membership of a case; a note, an assignment or a hold only gains an end.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodycam.server.database.base import Base
from bodycam.server.recordings.models import Recording, RecordingFile

__all__ = ["Case", "CaseRecording", "DeviceAssignment", "LegalHold", "RecordingNote"]


class DeviceAssignment(Base):
    """`user_id` wore camera `device_id` from `starts` until `ends` (None: still out).
    One camera's assignments never overlap (assignments.py refuses it under a lock)."""

    __tablename__ = "device_assignments"
    __table_args__ = (
        Index("ix_device_assignments_device_starts", "device_id", "starts"),
        Index("ix_device_assignments_user_device", "user_id", "device_id", "starts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts: Mapped[str] = mapped_column(String(24))
    ends: Mapped[str | None] = mapped_column(String(24))
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[float] = mapped_column(Float)
    ended_by: Mapped[str | None] = mapped_column(String(64))


class RecordingNote(Base):
    """A note on a recording; never edited or removed (a correction is another note)."""

    __tablename__ = "recording_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)


class Case(Base):
    """A case the agency works on (`reference`: its own case number). While open, no
    recording in it is deleted."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[float] = mapped_column(Float)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[float | None] = mapped_column(Float)


class CaseRecording(Base):
    __tablename__ = "case_recordings"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), primary_key=True,
                                              index=True)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[float] = mapped_column(Float)


class LegalHold(Base):
    """A legal hold on a recording: blocks its deletion whatever else says, until lifted
    (`lifted_at`) after a two-person approval (`lift_approval`: the approval's id in
    the retention module's table)."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(64))
    placed_at: Mapped[float] = mapped_column(Float)
    lifted_by: Mapped[str | None] = mapped_column(String(64))
    lifted_at: Mapped[float | None] = mapped_column(Float)
    lift_approval: Mapped[int | None] = mapped_column(Integer)


# The search's indexes on the offload's tables (declared here, where the queries that
# need them are): newest first overall, newest first of one camera, and the few files
# not complete (what the states are made of).
Index("ix_recordings_start", Recording.start)
Index("ix_recordings_device_start", Recording.device_id, Recording.start)
Index("ix_recording_files_incomplete", RecordingFile.complete, RecordingFile.recording_id)

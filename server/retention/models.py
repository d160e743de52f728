"""The retention tables: categories, each recording's retention state, approvals (one
table for every two-person kind), the job's lease and the retention settings."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodycam.server.database.base import Base
from bodycam.server.recordings.models import Recording, RecordingFile

__all__ = ["Approval", "JobLease", "RecordingRetention", "RetentionCategory",
           "RetentionSetting"]


class RetentionCategory(Base):
    """A retention period the agency defines; `uncategorised` always exists (what a
    recording nobody categorised is kept for)."""

    __tablename__ = "retention_categories"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    period_days: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)


class RecordingRetention(Base):
    """Where one recording stands. `recorded_at` is when it was made (the period counts
    from then); `expires_at` = recorded_at + the category's period, recomputed when the
    period changes. `state`: kept -> pending (expired; restorable until pending_since +
    the pending window) -> deleting (claimed: its blobs are going) -> deleted."""

    __tablename__ = "recording_retention"
    __table_args__ = (Index("ix_recording_retention_state_expires", "state", "expires_at"),)

    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), primary_key=True)
    category: Mapped[str] = mapped_column(ForeignKey("retention_categories.name"),
                                          index=True)
    categorised_by: Mapped[str | None] = mapped_column(String(64))
    categorised_at: Mapped[float | None] = mapped_column(Float)
    recorded_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), default="kept")
    pending_since: Mapped[float | None] = mapped_column(Float)
    deleted_at: Mapped[float | None] = mapped_column(Float)
    deletion: Mapped[str | None] = mapped_column(Text)  # JSON: who, why (the tombstone's)


class Approval(Base):
    """A request one person makes and a different person decides. `kind`: deletion
    (subject: a recording id), category_period (subject: a category; `value`: the new
    period in days), hold_lift (subject: a hold id). `state`: pending, approved or
    rejected. An approval a rule stops (e.g. a legal hold placed meanwhile) is refused
    and stays pending, its refusal in the audit log."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_state_kind", "state", "kind"),
                      Index("ix_approvals_kind_subject", "kind", "subject"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(80))
    value: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_by_name: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by_name: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[float | None] = mapped_column(Float)
    decision_note: Mapped[str | None] = mapped_column(Text)


class JobLease(Base):
    """Which process runs a job (`name`) until `expires_at`; taken and renewed by
    compare-and-set, so of several `serve` processes exactly one works at a time."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[float] = mapped_column(Float)


class RetentionSetting(Base):
    """Agency-wide retention settings every process reads from the database (e.g. the
    pending window), so a change reaches all of them and is audited."""

    __tablename__ = "retention_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


# Deletion asks "does any other recording name these bytes?" for every blob it removes:
# indexes on the blob names of the offload's tables (declared here, where the question
# is asked; made by migration 0005).
Index("ix_recordings_manifest_sha256", Recording.manifest_sha256)
Index("ix_recording_files_sha256", RecordingFile.sha256)

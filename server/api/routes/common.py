"""Shapes several resources share: a recording id in the path, a recording's retention."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field

from bodycam.server.retention.queries import RetentionView

__all__ = ["RecordingId", "RetentionOut", "retention_out"]

RecordingId = Annotated[str, Path(min_length=1, max_length=80, description="the recording id")]


class RetentionOut(BaseModel):
    recording_id: str
    category: str
    state: str = Field(description="kept, pending (deleted after delete_after unless "
                       "restored), deleting or deleted")
    expires_at: float
    delete_after: float | None
    categorised_by: str | None
    deleted_at: float | None


def retention_out(view: RetentionView) -> RetentionOut:
    return RetentionOut(**asdict(view))

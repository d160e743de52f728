"""Shapes several resources share: a recording id in the path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

__all__ = ["RecordingId"]

RecordingId = Annotated[str, Path(min_length=1, max_length=80, description="the recording id")]

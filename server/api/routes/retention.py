"""Retention: the agency's categories (retention.manage to add one; a period changes only
by a two-person approval, /api/v1/retention/categories/{name}/period-requests), a
recording's category (recording.categorise) and restoring one waiting for deletion."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError
from bodycam.server.access.service import Work
from bodycam.server.api.auth import CallerDep
from bodycam.server.api.routes.common import RecordingId
from bodycam.server.api.work import ERRORS, perform
from bodycam.server.custody.target import recording_target
from bodycam.server.retention.categories import (
    MAX_PERIOD_DAYS,
    categories,
    categorise,
    create_category,
    restore,
)
from bodycam.server.retention.queries import RetentionView, retention_view

__all__ = ["CategoryName", "router"]

router = APIRouter(prefix="/api/v1", tags=["retention"], responses=ERRORS)
CategoryName = Annotated[str, Path(min_length=1, max_length=64)]


class CategoryOut(BaseModel):
    name: str
    period_days: int
    description: str
    recordings: int


class CategoryIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    period_days: int = Field(description=f"1 to {MAX_PERIOD_DAYS}")
    description: str = Field(default="", max_length=500)


class CategoriseIn(BaseModel):
    category: str = Field(min_length=1, max_length=64)


class RestoreIn(CategoriseIn):
    reason: str = Field(min_length=1, max_length=2000)


def _categories(work: Work) -> list[CategoryOut]:
    """For those who set them and those who categorise (the names to choose from)."""
    try:
        work.authorise(Permission.RETENTION)
    except AccessError:
        work.authorise(Permission.CATEGORISE)
    return [CategoryOut(**asdict(c)) for c in categories(work.session)]


@router.get("/retention/categories")
def every_category(request: Request, caller: CallerDep) -> list[CategoryOut]:
    return perform(request, caller, "retention.categories", _categories)


@router.post("/retention/categories", status_code=201)
def add_category(body: CategoryIn, request: Request, caller: CallerDep) -> CategoryOut:
    """A new category (a period of zero, negative or more than the maximum days is
    refused naming the rule retention_period)."""
    def job(work: Work) -> CategoryOut:
        create_category(work, body.name, body.period_days, body.description)
        work.session.flush()
        return next(CategoryOut(**asdict(c)) for c in categories(work.session)
                    if c.name == body.name)
    return perform(request, caller, "retention.category.add", job)


def _retention(work: Work, recording_id: str) -> RetentionView:
    view = retention_view(work.session, recording_id)
    assert view is not None  # the recording's target was found
    return view


@router.post("/recordings/{recording_id}/category")
def set_category(recording_id: RecordingId, body: CategoriseIn, request: Request,
                 caller: CallerDep) -> RetentionView:
    """Its expiry follows the category's period."""
    def job(work: Work) -> RetentionView:
        categorise(work, recording_target(work.session, recording_id), body.category)
        work.session.flush()
        return _retention(work, recording_id)
    return perform(request, caller, "recording.categorise", job)


@router.post("/recordings/{recording_id}/restore")
def bring_back(recording_id: RecordingId, body: RestoreIn, request: Request,
               caller: CallerDep) -> RetentionView:
    """A recording waiting for deletion is kept again, in a category that keeps it."""
    def job(work: Work) -> RetentionView:
        restore(work, recording_target(work.session, recording_id), body.category,
                body.reason)
        work.session.flush()
        return _retention(work, recording_id)
    return perform(request, caller, "recording.restore", job)

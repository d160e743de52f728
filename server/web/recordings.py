"""The recordings list: search with filters (camera, wearer, time range, state, case,
legal hold, retention category), newest first, a page at a time, through custody's
search_recordings (the gate: recording.search; every search is on record)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from bodycam.server.access.rules import AccessError
from bodycam.server.custody.search import STATES, Page, SearchFilters, search_recordings
from bodycam.server.recordings.models import Recording
from bodycam.server.retention.categories import categories
from bodycam.server.retention.queries import category_of
from bodycam.server.web.frame import Visitor, visitor

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _given(text: str) -> str | None:
    return text.strip() or None


def _hold(text: str) -> bool | None:
    return {"yes": True, "no": False}.get(text)


def _instant(text: str) -> str | None:
    """A datetime-local field's value (no zone) is UTC: the pages show UTC throughout."""
    text = text.strip()
    if len(text) in (16, 19) and "T" in text and text[-1].isdigit():
        return text + "Z"
    return text or None


class SearchForm(BaseModel):
    """The search form's fields, as the browser sends them (empty: not given)."""

    device: str = Field(default="", max_length=64)
    wearer: str = Field(default="", max_length=64)
    since: str = Field(default="", max_length=64)
    until: str = Field(default="", max_length=64)
    state: str = Field(default="", max_length=64)
    case: str = Field(default="", max_length=64)
    hold: str = Field(default="", max_length=8)
    category: str = Field(default="", max_length=64)
    page: int = Field(default=1, ge=1, le=100_000)

    def filters(self) -> SearchFilters:
        return SearchFilters(device=_given(self.device), wearer=_given(self.wearer),
                             since=_instant(self.since), until=_instant(self.until),
                             state=_given(self.state), case=_given(self.case),
                             on_hold=_hold(self.hold), category=_given(self.category))


@router.get("/recordings")
def recordings(person: Annotated[Visitor, Depends(visitor)],
               form: Annotated[SearchForm, Query()]) -> HTMLResponse:
    values: dict[str, Any] = {"form": form.model_dump(exclude={"page"}), "states": STATES,
                              "result": None, "categories": [], "category_of": {}}
    try:
        with person.work("recording.search") as work:
            result = search_recordings(work, form.filters(), Page(form.page))
            values["result"] = result
            values["categories"] = [c.name for c in categories(work.session)]
            values["category_of"] = {recording: category for recording, category in (
                work.session.execute(select(Recording.id, category_of()).where(
                    Recording.id.in_([row.id for row in result.rows]))))}
    except AccessError as exc:
        return person.refused(exc)
    except ValueError as exc:
        return person.page("recordings.html", 400, error=str(exc), **values)
    return person.page("recordings.html", **values)

"""The administrator's retention page: the categories with their periods and how many
recordings each holds, a new category, a change of a period (a two-person request: an
approver decides it on the requests page; nothing is deleted at once) and the pending
window in which an expired recording can still be restored."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse

from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.retention.approvals import (
    CATEGORY_PERIOD,
    list_approvals,
    request_period_change,
)
from bodycam.server.retention.categories import MAX_PERIOD_DAYS, categories, create_category
from bodycam.server.retention.window import MAX_PENDING_DAYS, pending_days, set_pending_days
from bodycam.server.web.frame import Visitor, poster, visitor

__all__ = ["router"]

router = APIRouter(prefix="/admin/retention", include_in_schema=False)
_Short = Annotated[str, Form(max_length=200)]


def _days(text: str, what: str) -> int:
    """ValueError naming the field unless `text` is a whole number of days."""
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{what} {text.strip()[:20]!r} is not a whole number of days. Fix: "
                         "write the number of days, e.g. 31") from None


def _read(work: Work) -> dict[str, Any]:
    return {"categories": categories(work.session), "window": pending_days(work.session),
            "requests": list_approvals(work.session, "pending", CATEGORY_PERIOD),
            "max_period": MAX_PERIOD_DAYS, "max_window": MAX_PENDING_DAYS}


def _listing(person: Visitor, **outcome: Any) -> HTMLResponse:
    return person.listing(Permission.RETENTION, "retention.html", _read, **outcome)


@router.get("")
def retention(person: Annotated[Visitor, Depends(visitor)]) -> HTMLResponse:
    return _listing(person)


@router.post("")
def new_category(person: Annotated[Visitor, Depends(poster)], name: _Short, days: _Short,
                 description: Annotated[str, Form(max_length=500)] = "") -> HTMLResponse:
    def change(work: Work) -> dict[str, Any]:
        create_category(work, name.strip(), _days(days, "period"), description.strip())
        return {"notice": f"Category {name.strip()} is created."}
    return person.attempt("category.create", change, lambda **o: _listing(person, **o))


@router.post("/period")
def change_period(person: Annotated[Visitor, Depends(poster)], category: _Short,
                  days: _Short, reason: Annotated[str, Form(max_length=20_000)]
                  ) -> HTMLResponse:
    def change(work: Work) -> dict[str, Any]:
        asked = request_period_change(work, category, _days(days, "period"), reason)
        return {"notice": f"The change of {category} to {asked.value} days is requested "
                f"(request {asked.id}); an approver decides it. Nothing is deleted at once: "
                "expiry dates follow the new period once approved."}
    return person.attempt("category.period-request", change,
                          lambda **o: _listing(person, **o))


@router.post("/window")
def change_window(person: Annotated[Visitor, Depends(poster)], days: _Short
                  ) -> HTMLResponse:
    def change(work: Work) -> dict[str, Any]:
        set_pending_days(work, _days(days, "pending window"))
        return {"notice": f"Expired recordings wait {days.strip()} days before deletion."}
    return person.attempt("retention.window", change, lambda **o: _listing(person, **o))

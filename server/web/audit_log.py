"""The audit log for auditors (audit.read): newest first, a page at a time, filtered by
kind, actor, outcome or recording; each record with its chain hash, so a row read here
can be found in an export that `bodycam-evidence verify` checks. Reading is on record."""

from __future__ import annotations

import json
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError
from bodycam.server.audit.models import AuditEvent
from bodycam.server.web.frame import Visitor, visitor

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE: Final = 100


class LogFilter(BaseModel):
    """The filter form (empty: any)."""

    kind: str = Field(default="", max_length=80)
    actor: str = Field(default="", max_length=80)
    outcome: str = Field(default="", max_length=80)
    recording: str = Field(default="", max_length=80)
    page: int = Field(default=1, ge=1, le=1_000_000)


def _read(person: Visitor, filters: dict[str, str], page: int) -> dict[str, Any]:
    query = select(AuditEvent)
    for column, value in ((AuditEvent.kind, filters["kind"]),
                          (AuditEvent.actor, filters["actor"]),
                          (AuditEvent.outcome, filters["outcome"]),
                          (AuditEvent.recording_id, filters["recording"])):
        if value:
            query = query.where(column == value)
    with person.work("audit.read") as work:
        work.authorise(Permission.AUDIT)
        total = work.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list(work.session.scalars(query.order_by(AuditEvent.seq.desc())
                                         .offset((page - 1) * PAGE).limit(PAGE)))
        work.record("audit_log_read", filters={k: v for k, v in filters.items() if v},
                    page=page)
        events = [(row, json.loads(row.details)) for row in rows]
    return {"events": events, "total": total, "page": page,
            "pages": max(1, -(-total // PAGE))}


@router.get("/audit")
def audit_log(person: Annotated[Visitor, Depends(visitor)],
              form: Annotated[LogFilter, Query()]) -> HTMLResponse:
    filters = {k: v.strip() for k, v in form.model_dump(exclude={"page"}).items()}
    try:
        values = _read(person, filters, form.page)
    except AccessError as exc:
        return person.refused(exc)
    return person.page("audit.html", form=filters, **values)

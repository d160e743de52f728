"""The server's audit log (audit.read) and a recording's chain-of-custody report (an
auditor, or whoever may view the recording). Reading either is itself on record."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from bodycam.firmware.evidence.public_keys import parse_public_key
from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.api.auth import CallerDep
from bodycam.server.api.routes.common import RecordingId
from bodycam.server.api.work import ERRORS, access_of, perform
from bodycam.server.audit.chain import time_of
from bodycam.server.audit.custody import CustodyEvent, read_custody_report
from bodycam.server.audit.models import AuditEvent
from bodycam.server.audit.verify import verify_log
from bodycam.server.custody.target import recording_target
from bodycam.server.devices.auth import context_of
from bodycam.server.identity.signing_key import public_b64

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=ERRORS)


class EventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: int = Field(default=-1, ge=-1, le=2**62, description="records after this seq "
                       "(page on with the last seq answered)")
    limit: int = Field(default=100, ge=1, le=500)
    kind: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=64)
    recording: str | None = Field(default=None, max_length=80)


class VerifyOut(BaseModel):
    ok: bool
    records: int
    head_seq: int
    head_hash: str
    keys: list[str]
    problems: list[str]


def _events(work: Work, query: EventsQuery) -> list[CustodyEvent]:
    work.authorise(Permission.AUDIT)
    statement = select(AuditEvent).where(AuditEvent.seq > query.after)
    if query.kind is not None:
        statement = statement.where(AuditEvent.kind == query.kind)
    if query.actor is not None:
        statement = statement.where(AuditEvent.actor == query.actor)
    if query.recording is not None:
        statement = statement.where(AuditEvent.recording_id == query.recording)
    rows = work.session.scalars(statement.order_by(AuditEvent.seq).limit(query.limit))
    found = [CustodyEvent(r.seq, time_of(r.at), r.kind, r.actor, r.outcome, r.rule,
                          json.loads(r.details), r.hash, r.prev) for r in rows]
    work.record("audit_log_read", filters=query.model_dump(exclude_none=True),
                records=len(found))
    return found


@router.get("/audit/events")
def events(query: Annotated[EventsQuery, Query()], request: Request, caller: CallerDep
           ) -> list[CustodyEvent]:
    """Oldest first, a page at a time; each record with its chain hashes."""
    return perform(request, caller, "audit.read", lambda work: _events(work, query))


@router.get("/audit/verify")
async def verify(request: Request, caller: CallerDep) -> VerifyOut:
    """Check every record in the database: chain, signatures under this server's key,
    nothing edited, deleted or reordered."""
    await run_in_threadpool(perform, request, caller, "audit.verify",
                            lambda work: work.authorise(Permission.AUDIT))
    context = context_of(request)
    key = parse_public_key(public_b64(context.signing_key))
    check = await run_in_threadpool(verify_log, context.database, [key])
    await run_in_threadpool(access_of(request).audit.record, "audit_verified",
                            caller.username, records=check.records, head=check.head_seq,
                            problems=len(check.problems))
    return VerifyOut(ok=check.ok, records=check.records, head_seq=check.head_seq,
                     head_hash=check.head_hash, keys=check.keys, problems=check.problems)


@router.get("/recordings/{recording_id}/custody")
def custody(recording_id: RecordingId, request: Request, caller: CallerDep
            ) -> dict[str, Any]:
    """The chain-of-custody report: the recording's hashes and every audit record that
    touched it, with their chain hashes (check them against `bodycam-server audit
    export`). A deleted recording keeps its report."""
    def job(work: Work) -> dict[str, Any]:
        try:
            target = recording_target(work.session, recording_id)
        except LookupError:  # deleted: the audit records outlive its rows
            target = None
        report: dict[str, Any] = read_custody_report(work, recording_id, target).to_json()
        return report
    return perform(request, caller, "custody.report", job)

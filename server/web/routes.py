"""Every page of the web interface, as one router for the application."""

from __future__ import annotations

from fastapi import APIRouter

from bodycam.server.web import (
    account,
    assignments,
    audit_log,
    cases,
    custody,
    dashboard,
    deletions,
    devices,
    recording_page,
    recordings,
    retention,
    roles,
    users,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
for _module in (dashboard, recordings, recording_page, custody, cases, deletions, users,
                roles, devices, assignments, retention, audit_log, account):
    router.include_router(_module.router)

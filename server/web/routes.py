"""Every page of the web interface, as one router for the application."""

from __future__ import annotations

from fastapi import APIRouter

from bodycam.server.web import (
    audit_log,
    cases,
    custody,
    dashboard,
    deletions,
    devices,
    recording_page,
    recordings,
    roles,
    users,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
for _module in (dashboard, recordings, recording_page, custody, cases, deletions, users,
                roles, devices, audit_log):
    router.include_router(_module.router)

"""Putting the JSON API on the application: its frame and one router per resource."""

from __future__ import annotations

from fastapi import FastAPI

from bodycam.server.api import describe
from bodycam.server.api.routes import (
    approvals,
    assignments,
    audit,
    cases,
    devices,
    grants,
    holds,
    notes,
    recordings,
    retention,
    roles,
    tokens,
    users,
)

__all__ = ["install_api"]

_ROUTERS = (describe.router, tokens.router, users.router, roles.router, devices.router,
            assignments.router, recordings.router, grants.router, notes.router, holds.router,
            cases.router, retention.router, approvals.router, audit.router)


def install_api(app: FastAPI) -> None:
    describe.install_frame(app)
    for router in _ROUTERS:
        app.include_router(router)

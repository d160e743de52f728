"""Every page of the web interface, as one router for the application."""

from __future__ import annotations

from fastapi import APIRouter

from bodycam.server.web import dashboard, devices, recordings, roles, users

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
for _module in (dashboard, recordings, users, roles, devices):
    router.include_router(_module.router)

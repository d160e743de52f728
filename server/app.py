"""The HTTP application: the offload API's and the people's routers on one FastAPI app.

No state of its own: everything a request needs is in the database and the blob store
(ServerContext), so any number of processes serve the same cameras. A process may serve
one part only (`serve --part`): the cameras' (what a docked camera calls) or the
people's (pages, player, /api/v1), so an agency can put each on its own network and its
own CPU, and twenty people browsing never slow an offload.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from fastapi import FastAPI

from bodycam.server.api.mount import install_api
from bodycam.server.context import ServerContext
from bodycam.server.device_audit.views import router as audit_router
from bodycam.server.errors import ApiError, api_error_response
from bodycam.server.identity.views import router as time_router
from bodycam.server.ingest.views import router as ingest_router
from bodycam.server.people.pages import router as sign_in_pages
from bodycam.server.people.views import router as session_router
from bodycam.server.viewing.views import router as player_router
from bodycam.server.web.pages import static_files
from bodycam.server.web.refusals import FormRefusedError, form_refused_page
from bodycam.server.web.routes import router as web_pages

__all__ = ["PARTS", "ServePart", "create_app"]

ServePart = Literal["all", "cameras", "people"]
PARTS: Final[tuple[str, ...]] = get_args(ServePart)


def create_app(context: ServerContext, part: ServePart = "all") -> FastAPI:
    """`part`: "cameras" (server time, offload, the cameras' audit logs), "people" (sign-in,
    pages, player, /api/v1, static files) or "all" of them."""
    app = FastAPI(title="bodycam evidence server", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.context = context
    app.add_exception_handler(ApiError, api_error_response)
    app.add_exception_handler(FormRefusedError, form_refused_page)
    if part != "people":
        for router in (time_router, ingest_router, audit_router):
            app.include_router(router)
    if part != "cameras":
        for router in (session_router, sign_in_pages, web_pages, player_router):
            app.include_router(router)
        install_api(app)
        app.mount("/static", static_files(), name="static")
    return app

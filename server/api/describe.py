"""The JSON API's frame: its OpenAPI description at /api/v1/openapi.json, the health
check, a body size limit, and refusals as JSON naming the problem.

The description covers the API for people only: the offload API's camera endpoints
(/api/v1/offload/...) are signed by cameras and described in docs/formats.md, so they
stay out of it. Every operation lists the refusals it can answer, each an ErrorBody.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bodycam.server.api.work import ERRORS, ErrorBody, access_of
from bodycam.server.errors import ApiError
from bodycam.server.web.refusals import invalid_form_page, not_found_page, wants_page

__all__ = ["BODY_LIMIT", "BodyLimit", "describe", "install_frame", "is_api", "router"]

PREFIX: Final = "/api/v1"
_CAMERAS: Final = "/api/v1/offload"
BODY_LIMIT: Final = 256 * 1024
_CODES: Final = {404: "not_found", 405: "method_not_allowed", 401: "not_signed_in",
                 403: "forbidden", 413: "too_large"}

router = APIRouter(prefix=PREFIX)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def is_api(path: str) -> bool:
    """The people's API (not the cameras' offload API)."""
    return (path == PREFIX or path.startswith(PREFIX + "/")) and not (
        path == _CAMERAS or path.startswith(_CAMERAS + "/"))


class Health(BaseModel):
    status: str
    database: str


@router.get("/health", response_model=Health, responses={503: {
    "model": ErrorBody, "description": "the database does not answer"}})
def health(request: Request) -> Health:
    """Up and reaching its database (no sign-in: for load balancers and monitoring)."""
    try:
        with access_of(request).database.transaction() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise ApiError(503, "database_unavailable", "the server cannot reach its "
                       "database; see the server's journal") from None
    return Health(status="ok", database="ok")


def describe(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI description of the people's API, made once per application."""
    cached: dict[str, Any] | None = getattr(app.state, "api_description", None)
    if cached is not None:
        return cached
    schema = get_openapi(
        title="bodycam evidence server API", version="1", routes=app.routes,
        description="Recordings, their custody and the people who handle them. Sign in "
        "with POST /api/v1/session (cookie; send its csrf_token as X-CSRF-Token on every "
        "change) or use an API token (`Authorization: Bearer ...`, POST /api/v1/tokens). "
        "Every refusal is JSON: {\"error\": code, \"message\": what and the fix}.")
    schema["paths"] = {path: item for path, item in schema.get("paths", {}).items()
                       if is_api(path)}
    for path in schema["paths"].values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, item in ERRORS.items():
                responses.setdefault(str(status), {
                    "description": item["description"],
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ErrorBody"}}}})
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorBody", {
        "title": "ErrorBody", "type": "object", "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}}})
    app.state.api_description = schema
    return schema


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    """The description (no sign-in: it holds no data)."""
    return JSONResponse(describe(request.app))


def _where(location: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in location) or "the request"


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not is_api(request.url.path):
        if wants_page(request):  # a browser's form: a page naming the fields
            return invalid_form_page(request, exc.errors())
        return await request_validation_exception_handler(request, exc)
    errors = exc.errors()
    first = errors[0] if errors else {}
    message = f"{_where(first.get('loc', ()))}: {first.get('msg', 'invalid')}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problems: see detail)"
    return JSONResponse({"error": "invalid_request", "message": message + ". Fix: see "
                         "the request's schema in /api/v1/openapi.json",
                         "detail": jsonable_encoder(errors)}, status_code=422)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not is_api(request.url.path):
        if exc.status_code in (404, 405) and wants_page(request):
            return not_found_page(request, exc.status_code)
        return await http_exception_handler(request, exc)
    code = _CODES.get(exc.status_code, "refused")
    message = f"{request.method} {request.url.path[:200]}: {exc.detail}"
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code in (404, 405):
        message += ". Fix: see /api/v1/openapi.json for the API's paths and methods"
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_methods(describe(request.app), request.url.path))
    return JSONResponse({"error": code, "message": message}, status_code=exc.status_code,
                        headers=headers)


def _methods(schema: dict[str, Any], path: str) -> list[str]:
    """Every method the description has for `path` (the router names only those of the
    first route whose path matches, and an Allow header must name them all)."""
    parts = path.split("/")
    found: set[str] = set()
    for template, item in schema["paths"].items():
        pattern = template.split("/")
        if len(pattern) == len(parts) and all(
                p == q or (p.startswith("{") and q) for p, q in zip(pattern, parts,
                                                                     strict=True)):
            found.update(method.upper() for method in item)
    return sorted(found)


class BodyLimit:
    """A body above BODY_LIMIT bytes on the people's API is refused before it is read
    (413); one of unknown length (chunked) too (411): nobody's JSON is that large, and
    the offload API, which takes segments, has limits of its own."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_api(scope["path"]):
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            refusal = None
            if length is None and b"transfer-encoding" in headers:
                refusal = JSONResponse({"error": "length_required", "message": "send the "
                                        "body with a Content-Length"}, status_code=411)
            elif length is not None and (not length.isdigit() or int(length) > BODY_LIMIT):
                refusal = JSONResponse({"error": "too_large", "message": f"the body is "
                                        f"larger than {BODY_LIMIT} bytes; no request of "
                                        "this API needs that much"}, status_code=413)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_frame(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_middleware(BodyLimit)

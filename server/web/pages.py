"""Rendering a page: Jinja2 templates with autoescaping, and the headers every page
carries (no caching of evidence metadata, no framing, scripts and styles only from this
server). The pages work without JavaScript."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

__all__ = ["render", "static_files"]

_HERE: Final = Path(__file__).parent
_TEMPLATES: Final = Environment(loader=FileSystemLoader(_HERE / "templates"),
                                autoescape=select_autoescape(["html"]))


def _utc(seconds: float) -> str:
    """Server clock seconds as the pages show every time: UTC, to the minute."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


_TEMPLATES.filters["utc"] = _utc
HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` on
    # the pages' own form posts, and the CSRF origin check would refuse them
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def render(template: str, status: int = 200, headers: dict[str, str] | None = None,
           **values: Any) -> HTMLResponse:
    html = _TEMPLATES.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})


def static_files() -> StaticFiles:
    return StaticFiles(directory=_HERE / "static")

"""Refusals a browser gets as a page, not as JSON.

A form post whose CSRF check fails (an old page, a session that ended and began again,
a form sent from another site) is answered with a readable 403 page saying what
happened, that nothing changed, and what to do: reload the form and send it again. The
JSON API keeps its JSON refusals. The same goes for a form the server cannot read (a
field too long or missing: 422) and a page that does not exist (404/405), when the
request comes from a browser (it asks for text/html); cameras and scripts keep JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse

from bodycam.server.errors import ApiError
from bodycam.server.web.pages import render

__all__ = ["FormRefusedError", "form_refused_page", "invalid_form_page", "not_found_page",
           "wants_page"]

_CSRF_TEXT: Final = {
    "csrf": ("The form could not be accepted",
             "It did not carry the security token of your current session: the page was "
             "probably opened before you signed in again, or it is an old copy of the "
             "page. This protects you from other sites sending forms in your name."),
    "csrf_origin": ("The form could not be accepted",
                    "It was sent from another site, not from this server's own pages. "
                    "This protects you from other sites sending forms in your name."),
}


@dataclass
class FormRefusedError(Exception):
    """A form post refused before anything was done (already in the audit log)."""

    status: int
    rule: str
    title: str
    what: str

    @classmethod
    def of(cls, error: ApiError) -> FormRefusedError:
        title, what = _CSRF_TEXT.get(error.code, ("The form could not be accepted",
                                                  error.message))
        return cls(error.status, error.code, title, what)


def wants_page(request: Request) -> bool:
    """A browser's navigation or form post (it asks for HTML), not a camera or script."""
    return "text/html" in request.headers.get("accept", "")


def _back(request: Request) -> str:
    """The page the form was on (this server's own path only), else the start page."""
    referer = urlsplit(request.headers.get("referer", ""))
    here = urlsplit(str(request.base_url))
    if referer.netloc == here.netloc and referer.path.startswith("/"):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return "/"


def _page(request: Request, status: int, **values: Any) -> HTMLResponse:
    return render("refused.html", status, who=None, back=_back(request), **values)


async def form_refused_page(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, FormRefusedError)
    return _page(request, exc.status, title=exc.title, what=exc.what, rule=exc.rule,
                 fix="Nothing was changed. Go back to the form, reload it (so it carries "
                 "your session's token), and submit it again. If this keeps happening, "
                 "sign out and sign in again.")


def invalid_form_page(request: Request, problems: Sequence[Any]) -> HTMLResponse:
    """422 for a form the server cannot read, naming the fields."""
    fields = []
    for problem in problems:
        where = [str(p) for p in problem.get("loc", ()) if p not in ("body", "query",
                                                                      "path")]
        fields.append(f"{'.'.join(where) or 'the form'}: {problem.get('msg', 'invalid')}")
    return _page(request, 422, title="The form could not be read", rule="invalid_form",
                 what="Some of what was sent is not what this form takes: "
                 + "; ".join(fields[:5]) + ".",
                 fix="Nothing was changed. Go back, correct the fields named, and submit "
                 "the form again.")


def not_found_page(request: Request, status: int) -> HTMLResponse:
    what = ("There is no page at this address." if status == 404 else
            "This address does not take that kind of request.")
    return _page(request, status, title="Not found" if status == 404 else "Not allowed",
                 what=what, rule="not_found" if status == 404 else "method",
                 fix="Use the menu or go back to the page you came from.")

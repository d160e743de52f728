"""Who is looking at a page, and the frame every page is drawn in.

A page needs a signed-in person: without a live session the browser is sent to the
sign-in page. A form post must also carry the session's CSRF token (hidden field
`csrf_token`) and come from this origin (people.web_session.check_change). The person's
roles are read from the database on every request, so a role revoked a second ago
counts, and the navigation shows only what they may do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError, Actor, Target
from bodycam.server.access.service import Access, Work
from bodycam.server.devices.auth import context_of
from bodycam.server.errors import ApiError
from bodycam.server.people.models import User
from bodycam.server.people.sessions import SignedIn
from bodycam.server.people.web_session import address_of, check_change, session_of
from bodycam.server.web.navigation import menu
from bodycam.server.web.pages import render
from bodycam.server.web.refusals import FormRefusedError

__all__ = ["Visitor", "poster", "see", "visitor"]

# A list is about no recording in particular: nobody is its wearer (the deletion rules
# judge each recording when it is requested or approved, not the list of requests).
_NO_RECORDING: Final = Target(wearers=frozenset())


@dataclass(frozen=True)
class Visitor:
    """The signed-in person of one request, with their permissions as of now."""

    who: SignedIn
    name: str
    actor: Actor
    access: Access
    address: str
    path: str

    def can(self, *permissions: Permission) -> bool:
        """Whether the person holds any of `permissions` (for showing links and forms;
        the action itself is decided by Access, never by this)."""
        return any(p in self.actor.permissions for p in permissions)

    @contextlib.contextmanager
    def work(self, action: str) -> Iterator[Work]:
        with self.access.work(self.actor, action) as work:
            yield work

    def page(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return render(template, status, who=self.who, name=self.name,
                      nav=menu(self.actor.permissions, self.path), **values)

    def refused(self, error: AccessError, back: str = "/") -> HTMLResponse:
        """A page with the refusal alone, naming its rule (already in the audit log)."""
        return self.page("missing.html", 403, error=error.message, rule=error.rule,
                         what="", back=back)

    def listing(self, permission: Permission, template: str,
                read: Callable[[Work], dict[str, Any]], **outcome: Any) -> HTMLResponse:
        """A page of what `permission` opens (read through the gate), with the outcome
        of a change (notice, or error + rule). Someone without `permission` sees the
        refusal alone."""
        status = 403 if outcome.get("rule") else 400 if outcome.get("error") else 200
        if status == 403 and not self.can(permission):
            return self.page("missing.html", status, what="", back="/", **outcome)
        try:
            with self.work(f"{template.removesuffix('.html')}.read") as work:
                work.authorise(permission, _NO_RECORDING)
                found = read(work)
        except AccessError as exc:
            return self.refused(exc)
        return self.page(template, status, **found, **outcome)

    def attempt(self, action: str, change: Callable[[Work], dict[str, Any]],
                then: Callable[..., HTMLResponse]) -> HTMLResponse:
        """Do `change` as this person in one piece of work; `then(**outcome)` draws the
        answer: what `change` returned, or the refusal (its rule) or bad input."""
        try:
            with self.work(action) as work:
                outcome = change(work)
        except AccessError as exc:
            return then(error=exc.message, rule=exc.rule)
        except ValueError as exc:
            return then(error=str(exc))
        return then(**outcome)


def _sign_in_first() -> HTTPException:
    return HTTPException(303, "sign in first", headers={"Location": "/sign-in",
                                                        "Cache-Control": "no-store"})


def _load(access: Access, who: SignedIn, address: str, path: str) -> Visitor:
    with access.database.transaction() as session:
        user = session.get(User, who.user_id)
        try:
            actor = access.actor(session, who.user_id)
        except AccessError:
            raise _sign_in_first() from None
        assert user is not None
        return Visitor(who, user.display_name, actor, access, address, path)


async def visitor(request: Request) -> Visitor:
    """FastAPI dependency of every page: the signed-in person, or a redirect to sign in."""
    try:
        who = await session_of(request)
    except ApiError:
        raise _sign_in_first() from None
    access = Access.of(context_of(request))
    return await run_in_threadpool(_load, access, who, address_of(request),
                                   request.url.path)


async def poster(request: Request, csrf_token: Annotated[str, Form(max_length=100)] = ""
                 ) -> Visitor:
    """FastAPI dependency of every form post: visitor() plus the CSRF checks (a refusal
    is a page saying what to do, not the API's JSON)."""
    person = await visitor(request)
    try:
        await check_change(request, person.who, csrf_token)
    except ApiError as exc:
        raise FormRefusedError.of(exc) from None
    return person


def see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers={"Cache-Control": "no-store"})

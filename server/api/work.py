"""Running one API call's work through the access gate, and its refusals as JSON.

Every route hands its work to `perform`: the caller's roles are read from the database
now, the hard rules decide (a refusal is rolled back, recorded, and answered 403 naming
the rule), and what is done is recorded in the same transaction as the work.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeVar

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError

from bodycam.server.access.rules import AccessError
from bodycam.server.access.service import Access, Work
from bodycam.server.api.auth import Caller
from bodycam.server.audit.custody import NoSuchRecordingError
from bodycam.server.custody.target import UnknownRecordingError
from bodycam.server.devices.auth import context_of
from bodycam.server.errors import ApiError

__all__ = ["ERRORS", "ErrorBody", "access_of", "invalid", "perform", "refusals"]

T = TypeVar("T")


class ErrorBody(BaseModel):
    """Every refusal: a stable code, and what is wrong and the fix."""

    error: str
    message: str


_TEXT: Final = {
    400: "the request is malformed",
    401: "not signed in: no, an unknown, an expired or a revoked session or API token",
    403: "refused by a rule (named in `error`), or a change without the CSRF token",
    404: "no such thing (or not yours to see)",
    409: "a conflict with what is there (e.g. a name taken): the message says which",
    413: "the request body is too large",
    422: "a field is missing, malformed, too long or out of range: the message says which",
    429: "too many attempts: wait Retry-After seconds",
}
ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _TEXT.items()}


def access_of(request: Request) -> Access:
    return Access.of(context_of(request))


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """The services' refusals as answers: AccessError -> 403 naming the rule; an unknown
    recording -> 404; ValueError, which every service raises for bad input with the fix
    in its message (AccountError, EnrolError, CustodyError, ...) -> 422; a write that
    lost a race with another one on a unique key -> 409; what the database cannot store
    (PostgreSQL and a NUL byte) -> 422."""
    try:
        yield
    except AccessError as exc:
        raise ApiError(403, exc.rule, exc.message) from None
    except (UnknownRecordingError, NoSuchRecordingError) as exc:
        raise ApiError(404, "no_recording", str(exc).strip("'\"")) from None
    except ValueError as exc:
        raise invalid(exc) from None
    except IntegrityError:
        raise ApiError(409, "conflict", "another change to the same thing was made at the "
                       "same moment; read it again and retry") from None
    except DataError:  # what no service checks: a NUL byte PostgreSQL cannot store
        raise ApiError(422, "invalid", "a field holds what the database cannot store (a "
                       "NUL byte, or a number out of range). Fix: send printable text and "
                       "numbers within the ranges in /api/v1/openapi.json") from None


def perform(request: Request, caller: Caller, action: str, job: Callable[[Work], T]) -> T:
    """`job` as `caller` inside Access.work, its refusals() as answers (call it from a
    sync route: FastAPI runs those in its thread pool)."""
    with refusals(), access_of(request).work(caller.user_id, action) as work:
        return job(work)


def invalid(exc: ValueError) -> ApiError:
    """A service's ValueError (bad input; its message names the fix) as a 422."""
    return ApiError(422, "invalid", str(exc))

"""One view, end to end on the server: authorise and sign (issue.py), ask the key holder,
bring its log into the audit trail. What the web page, the JSON API and the custodian
CLI call; each gets the headers, or an error that says why nothing can be viewed."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta

from bodycam.server.access.rules import Actor
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.keyholder.client import KeyholderUnavailableError
from bodycam.server.keyholder.issue import DEFAULT_LIFETIME, VIEW, Purpose, issue_grant
from bodycam.server.keyholder.link import KeyholderLink
from bodycam.server.keyholder.pull import PullError, pull_log
from bodycam.server.keyholder.request import UnwrapRequest, UnwrapResponse

__all__ = ["grant_recording", "view_recording"]

_LOG = logging.getLogger("bodycam.server.keyholder")


def view_recording(access: Access, context: ServerContext, actor: Actor | int,
                   recording_id: str, *, viewer_key: str, reason: str,
                   segments: Sequence[str] | None = None,
                   lifetime: timedelta = DEFAULT_LIFETIME) -> UnwrapResponse:
    """The viewer's headers. AccessError (the rules refuse; audited), ViewError (a wrong
    request), KeyholderUnavailableError (none connected, or not running: checked before
    a grant is signed, and again when it is sent), KeyholderRefusedError (its rule)."""
    return grant_recording(access, context, actor, recording_id, viewer_key=viewer_key,
                           reason=reason, segments=segments, lifetime=lifetime)[1]


def grant_recording(access: Access, context: ServerContext, actor: Actor | int,
                    recording_id: str, *, viewer_key: str, reason: str,
                    segments: Sequence[str] | None = None,
                    lifetime: timedelta = DEFAULT_LIFETIME, purpose: Purpose = VIEW
                    ) -> tuple[UnwrapRequest, UnwrapResponse]:
    """view_recording for any purpose (view, export, disclose), with the signed grant
    request that was sent (its nonce and expiry are the answer's too)."""
    link = KeyholderLink.load(context.settings.identity_dir)
    client = link.client()
    client.hello()  # not reachable: say so before anything is signed
    with access.work(actor, f"recording.{purpose.name}") as work:
        request = issue_grant(work, context, recording_id, viewer_key, reason,
                              segments=segments, lifetime=lifetime, purpose=purpose)
    try:
        return request, client.unwrap(request)
    finally:  # the unlock, or the refusal, goes into the audit trail now
        with contextlib.suppress(KeyholderUnavailableError):
            try:
                pull_log(access, client, link.log_key)
            except PullError as exc:
                _LOG.error("the key holder's log was not pulled: %s", exc)

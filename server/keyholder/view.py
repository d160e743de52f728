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
from bodycam.server.keyholder.issue import DEFAULT_LIFETIME, issue_grant
from bodycam.server.keyholder.link import KeyholderLink
from bodycam.server.keyholder.pull import PullError, pull_log
from bodycam.server.keyholder.request import UnwrapResponse

__all__ = ["view_recording"]

_LOG = logging.getLogger("bodycam.server.keyholder")


def view_recording(access: Access, context: ServerContext, actor: Actor | int,
                   recording_id: str, *, viewer_key: str, reason: str,
                   segments: Sequence[str] | None = None,
                   lifetime: timedelta = DEFAULT_LIFETIME) -> UnwrapResponse:
    """The viewer's headers. AccessError (the rules refuse; audited), ViewError (a wrong
    request), KeyholderUnavailableError (none connected, or not running: checked before
    a grant is signed, and again when it is sent), KeyholderRefusedError (its rule)."""
    link = KeyholderLink.load(context.settings.identity_dir)
    client = link.client()
    client.hello()  # not reachable: say so before anything is signed
    with access.work(actor, "recording.view") as work:
        request = issue_grant(work, context, recording_id, viewer_key, reason,
                              segments=segments, lifetime=lifetime)
    try:
        return client.unwrap(request)
    finally:  # the unlock, or the refusal, goes into the audit trail now
        with contextlib.suppress(KeyholderUnavailableError):
            try:
                pull_log(access, client, link.log_key)
            except PullError as exc:
                _LOG.error("the key holder's log was not pulled: %s", exc)

"""Grants: the evidence server's signed word that one person may open named segments of
one recording, for a reason, until a time.

A grant is a statement in the form receipts use (firmware/evidence/receipts.py): a JSON
object with `format` = GRANT_FORMAT, the server's key and an Ed25519 signature over the
format name and the canonical JSON of everything else, so a receipt can never be passed
off as a grant or the other way round. The key holder pins the server key; it does not
trust the key a grant names.

What a grant holds (all signed):

    nonce            32 random bytes, hex: each grant opens once
    recording_id     the recording; manifest_sha256: its signed manifest, as stored
    segments         [{"file": "00000.age", "sha256": ...}], the ciphertext hashes
    viewer           the viewer's age recipient (age1... or age1pq1...)
    requested_by     the person who asked; approved_by: who or what approved it
    reason           the reason given
    issued, expires  UTC ISO 8601
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodycam.firmware.evidence.age.keys import Recipient, parse_recipient
from bodycam.firmware.evidence.receipts import (
    StatementError,
    sign_statement,
    verify_statement,
)
from bodycam.firmware.evidence.signed_log import utc_iso
from bodycam.server.keyholder.errors import RefusedError

__all__ = ["GRANT_FORMAT", "MAX_REASON", "Grant", "GrantSegment", "check_reason",
           "read_grant", "sign_grant"]

GRANT_FORMAT: Final = "bodycam-grant/1"
MAX_REASON: Final = 500
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_SEGMENT_FILE: Final = re.compile(r"\d{5}(\.truncated)?\.age")
_NAME: Final = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
_REASON: Final = re.compile(rf"[^\x00-\x1f\x7f]{{3,{MAX_REASON}}}")
# An age recipient's text: a post-quantum age1pq1... one is 1959 characters.
_RECIPIENT: Final = re.compile(r"age1[0-9a-z]{1,2100}")


@dataclass(frozen=True)
class GrantSegment:
    file: str
    sha256: str

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "sha256": self.sha256}


@dataclass(frozen=True)
class Grant:
    """A grant whose signature verified under the pinned server key."""

    statement: dict[str, Any]
    nonce: str
    recording_id: str
    manifest_sha256: str
    segments: tuple[GrantSegment, ...]
    viewer: Recipient
    viewer_text: str
    requested_by: str
    approved_by: str
    reason: str
    issued: datetime
    expires: datetime


def check_reason(reason: str) -> str:
    """The reason as it goes into a grant; ValueError says what a reason must be."""
    text = reason.strip()
    if not _REASON.fullmatch(text):
        raise ValueError(f"a reason of 3 to {MAX_REASON} characters without control "
                         "characters is needed to view a recording (it is recorded with "
                         "every unlock). Fix: say why, e.g. 'complaint 2025-114 review'")
    return text


def sign_grant(key: Ed25519PrivateKey, *, recording_id: str, manifest_sha256: str,
               segments: list[GrantSegment], viewer: str, requested_by: str,
               approved_by: str, reason: str, issued: datetime, lifetime: timedelta
               ) -> dict[str, Any]:
    """The grant statement, signed by the server's key (`key`)."""
    return sign_statement(key, GRANT_FORMAT, {
        "nonce": secrets.token_hex(32), "recording_id": recording_id,
        "manifest_sha256": manifest_sha256, "segments": [s.to_json() for s in segments],
        "viewer": viewer, "requested_by": requested_by, "approved_by": approved_by,
        "reason": check_reason(reason), "issued": utc_iso(issued),
        "expires": utc_iso(issued + lifetime)})


def _text(statement: Mapping[str, Any], name: str, pattern: re.Pattern[str] = _NAME) -> str:
    value = statement.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise RefusedError("malformed", f"the grant's {name!r} is missing or not of the right "
                           "form. Fix: ask the evidence server for a new grant")
    return value


def _time(statement: Mapping[str, Any], name: str) -> datetime:
    text = _text(statement, name)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise RefusedError("malformed", f"the grant's {name!r} is not a UTC time")
    return moment


def _segments(statement: Mapping[str, Any]) -> tuple[GrantSegment, ...]:
    items = statement.get("segments")
    if not isinstance(items, list) or not items:
        raise RefusedError("malformed", "the grant names no segments")
    found = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"file", "sha256"}:
            raise RefusedError("malformed", "a segment of the grant is not {file, sha256}")
        found.append(GrantSegment(_text(item, "file", _SEGMENT_FILE),
                                  _text(item, "sha256", _HEX64)))
    return tuple(found)


def read_grant(statement: object, server_key: str) -> Grant:
    """The grant, if the pinned server signed it and every field has its form; RefusedError
    (forged or malformed) otherwise. Times and limits are the caller's to check."""
    if not isinstance(statement, dict):
        raise RefusedError("malformed", "the request carries no grant statement")
    try:
        verify_statement(statement, GRANT_FORMAT, server_key)
    except StatementError:
        what = ("names another signing key than the evidence server's this key holder pins"
                if statement.get("server_key") != server_key else
                "does not verify under the pinned evidence server key")
        raise RefusedError("forged", f"the grant's signature {what}: it was forged or altered, "
                           "or it is not a bodycam-grant/1. Nothing was opened") from None
    viewer_text = _text(statement, "viewer", _RECIPIENT)
    try:
        viewer = parse_recipient(viewer_text)
    except ValueError as exc:
        raise RefusedError("viewer_key", f"the grant's viewer key is not an age recipient: {exc}"
                           ) from None
    return Grant(statement, _text(statement, "nonce", _HEX64),
                 _text(statement, "recording_id"), _text(statement, "manifest_sha256", _HEX64),
                 _segments(statement), viewer, viewer_text, _text(statement, "requested_by"),
                 _text(statement, "approved_by"), _text(statement, "reason", _REASON),
                 _time(statement, "issued"), _time(statement, "expires"))

"""The evidence server's half of a view: authorise, sign a grant, gather what the key
holder checks it against. Runs inside `Access.work`, so the hard rules decide (the
wearer without recording.view_own and every administrator are refused, by whatever
entry point) and the grant is audited with the work.

The server never sees a key: it signs the grant, sends it with the manifest and the
segments' preambles to the key holder (socket) or writes them to a file (offline), and
hands the headers that come back to the viewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from bodycam.firmware.evidence.age.errors import AgeError
from bodycam.firmware.evidence.age.keys import parse_recipient, recipient_fingerprint
from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.context import ServerContext
from bodycam.server.custody.target import recording_target
from bodycam.server.keyholder.grant import GrantSegment, check_reason, sign_grant
from bodycam.server.keyholder.request import UnwrapRequest, preamble_of
from bodycam.server.recordings.models import Recording
from bodycam.server.recordings.service import RECORDING_ID, files_of
from bodycam.server.storage.blobs import sha256_hex

__all__ = ["DEFAULT_LIFETIME", "DISCLOSE", "EXPORT", "PURPOSES", "VIEW", "Purpose",
           "ViewError", "issue_grant"]

DEFAULT_LIFETIME: Final = timedelta(minutes=15)


@dataclass(frozen=True)
class Purpose:
    """Why headers are asked for, which decides the permission the rules check, the kind
    of the audit record and what the grant's approved_by says (the key holder logs it,
    so its own log tells a view from an export or a disclosure)."""

    name: str
    permission: Permission
    record: str  # the audit record's kind
    full_recipient: bool = False  # a disclosure names the outside party's key in full

    @property
    def approved_by(self) -> str:
        return f"access rules ({self.permission.value}, {self.name}), bodycam-server"


VIEW: Final = Purpose("view", Permission.VIEW, "view_granted")
EXPORT: Final = Purpose("export", Permission.EXPORT, "export_granted")
DISCLOSE: Final = Purpose("disclose", Permission.EXPORT, "disclosure_granted",
                          full_recipient=True)
PURPOSES: Final = {p.name: p for p in (VIEW, EXPORT, DISCLOSE)}


class ViewError(ValueError):
    """The view cannot be granted as asked (no such recording, segment, bad key); the
    message names the fix. Refusals by the rules are AccessError."""


def _segment_files(context: ServerContext, work: Work, recording_id: str,
                   wanted: Sequence[str] | None) -> list[GrantSegment]:
    stored = [f for f in files_of(work.session, recording_id) if f.name.endswith(".age")]
    by_name = {f.name: f for f in stored}
    names = list(wanted) if wanted is not None else [f.name for f in stored]
    for name in names:
        item = by_name.get(name)
        if item is None:
            raise ViewError(f"recording {recording_id} has no segment {name[:80]!r}; its "
                            f"segments are {', '.join(by_name) or 'none'}")
        if not item.complete:
            raise ViewError(f"segment {name} of {recording_id} has not all arrived yet; it "
                            "can be viewed once the camera's offload finished it")
    if not names:
        raise ViewError(f"recording {recording_id} holds no stored segment to view")
    return [GrantSegment(name, by_name[name].sha256) for name in names]


def _preamble(context: ServerContext, sha256: str, name: str) -> bytes:
    """The segment's age header and payload nonce: its first bytes, read from the store."""
    blocks = context.blobs.read(sha256)
    try:
        first = next(blocks, b"")
    finally:
        close = getattr(blocks, "close", None)
        if callable(close):
            close()
    try:
        return preamble_of(first)
    except AgeError as exc:
        raise ViewError(f"segment {name} in the blob store is not an age file ({exc}): "
                        "storage damage; `bodycam-server fetch` and verify it") from None


def issue_grant(work: Work, context: ServerContext, recording_id: str, viewer_key: str,
                reason: str, *, segments: Sequence[str] | None = None,
                lifetime: timedelta = DEFAULT_LIFETIME, purpose: Purpose = VIEW
                ) -> UnwrapRequest:
    """A signed grant for `work.actor` to open `segments` (default: all stored) of the
    recording with the age recipient `viewer_key`, for `reason` and `purpose`;
    AccessError when the rules refuse, ViewError when the request itself is wrong."""
    if not RECORDING_ID.fullmatch(recording_id):
        raise ViewError(f"{recording_id[:100]!r} is not a recording id")
    # Its wearers from the assignments: a wearer views only with recording.view_own, and
    # never exports or discloses their own recording.
    work.authorise(purpose.permission, recording_target(work.session, recording_id))
    try:
        reason = check_reason(reason)
        parse_recipient(viewer_key)
    except ValueError as exc:
        raise ViewError(str(exc)) from None
    recording = work.session.get(Recording, recording_id)
    if recording is None:
        raise ViewError(f"recording {recording_id} is not on this server")
    chosen = _segment_files(context, work, recording_id, segments)
    manifest = context.blobs.read_all(recording.manifest_sha256)
    if sha256_hex(manifest) != recording.manifest_sha256:
        raise ViewError(f"the manifest of {recording_id} in the blob store does not hash to "
                        "its name (storage damage); restore it from the backup")
    preambles = {s.file: _preamble(context, s.sha256, s.file) for s in chosen}
    grant = sign_grant(context.signing_key, recording_id=recording_id,
                       manifest_sha256=recording.manifest_sha256, segments=chosen,
                       viewer=viewer_key.strip(), requested_by=work.actor.name,
                       approved_by=purpose.approved_by, reason=reason,
                       issued=datetime.fromtimestamp(work.now, UTC), lifetime=lifetime)
    named = {"recipient": viewer_key.strip()} if purpose.full_recipient else {}
    work.record(purpose.record, recording=recording_id, nonce=grant["nonce"],
                segments=[s.file for s in chosen], reason=reason,
                viewer=recipient_fingerprint(viewer_key), expires=grant["expires"],
                purpose=purpose.name, **named)
    return UnwrapRequest(grant, manifest, preambles)

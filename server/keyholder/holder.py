"""The key holder's one job: check a grant, re-wrap the segments it names, record it.

Checks, in order (each refusal names its rule and is itself recorded): the request's
form; the grant's signature under the pinned server key; replay (nonce seen); its times
(expired, issued in the future, valid too long); breadth (too many segments, one named
twice); the recording's signed manifest (it must be the one the grant names, verify, be
of that recording, and name every segment with the grant's SHA-256); each preamble
against the hash the camera signed; the rate limit; then every header is re-wrapped in
memory. Only then is the nonce spent and the unlock written to the log (fsync'd); only
after that do the headers leave. A log that cannot be written means no headers.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from bodycam.firmware.evidence.age.keys import (
    Identity,
    recipient_fingerprint,
)
from bodycam.firmware.evidence.signed_log import canonical_json
from bodycam.hal.clocks import SystemClock
from bodycam.hal.keystore import KeyStoreError
from bodycam.server.keyholder.config import (
    HolderSettings,
    KeyholderError,
    recipient_fingerprints,
)
from bodycam.server.keyholder.errors import RefusedError
from bodycam.server.keyholder.grant import Grant, read_grant
from bodycam.server.keyholder.log import HolderLog
from bodycam.server.keyholder.manifest import SignedManifest, read_manifest
from bodycam.server.keyholder.request import Rewrapped, UnwrapRequest, UnwrapResponse
from bodycam.server.keyholder.rewrap import rewrap
from bodycam.server.keyholder.state import GrantMemory

__all__ = ["MEMORY_FILE", "KeyHolder"]

MEMORY_FILE: Final = "grants.sqlite"
LOCK_FILE: Final = "keyholder.lock"
UNLOCK: Final = "unlock"
REFUSED: Final = "refused"
_MANIFEST_CACHE: Final = 256


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _claimed(grant: dict[str, Any]) -> dict[str, str]:
    """What an unverified grant says about itself (short strings only), for the refusal
    record: enough to find it, never trusted."""
    return {f"claimed_{name}": value[:100] for name in ("recording_id", "requested_by", "nonce")
            if isinstance(value := grant.get(name), str)}


class KeyHolder:
    def __init__(self, settings: HolderSettings, identities: Sequence[Identity],
                 log: HolderLog, memory: GrantMemory,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._identities = tuple(identities)
        self.log = log
        self._memory = memory
        self._clock = clock
        self._lock = threading.Lock()
        # Manifests verified before, by SHA-256 (what verified once verifies again): a
        # recording watched in several grants is checked once (half a grant's time).
        self._manifests: OrderedDict[str, SignedManifest] = OrderedDict()
        self._lock_fd: int | None = None

    @classmethod
    def open(cls, directory: Path, clock: Callable[[], float] = time.time) -> KeyHolder:
        """KeyholderError naming the fix when anything it needs is missing or exposed, or
        when another process has the key holder open (one writer of its log: two would
        fork its chain)."""
        settings = HolderSettings.load(directory)
        identities = settings.identities()
        lock = _exclusive(directory / LOCK_FILE)
        try:
            log = HolderLog.open(directory, SystemClock())
        except KeyStoreError as exc:
            os.close(lock)
            raise KeyholderError(f"the log key: {exc}") from None
        except BaseException:
            os.close(lock)
            raise
        holder = cls(settings, identities, log, GrantMemory(directory / MEMORY_FILE,
                                                            settings.rate), clock)
        holder._lock_fd = lock
        return holder

    def recipients(self) -> list[str]:
        """Fingerprints of the identities held (public: what cameras encrypt to)."""
        return recipient_fingerprints(self._identities)

    def unwrap(self, data: bytes | object, peer: dict[str, Any]) -> UnwrapResponse:
        """The headers for the viewer, from a request (its JSON bytes, parsed JSON, or an
        UnwrapRequest); RefusedError (already in the log) otherwise."""
        with self._lock:
            grant_json: dict[str, Any] = {}
            try:
                request = (data if isinstance(data, UnwrapRequest) else
                           UnwrapRequest.loads(data) if isinstance(data, bytes) else
                           UnwrapRequest.from_json(data))
                grant_json = request.grant
                return self._unwrap(request, peer)
            except RefusedError as refusal:
                self._refused(refusal, grant_json, peer)
                raise

    def refuse(self, refusal: RefusedError, peer: dict[str, Any]) -> None:
        """Record a request refused before it reached `unwrap` (a broken frame)."""
        with self._lock:
            self._refused(refusal, {}, peer)

    def _refused(self, refusal: RefusedError, grant: dict[str, Any], peer: dict[str, Any]) -> None:
        details: dict[str, Any] = {"rule": refusal.rule, "message": refusal.message,
                                   "peer": peer, **_claimed(grant)}
        if grant:
            try:
                details["grant_sha256"] = _sha256(canonical_json(grant))
            except (TypeError, ValueError):
                details["grant_sha256"] = None
        self.log.append(REFUSED, **details)

    def _unwrap(self, request: UnwrapRequest, peer: dict[str, Any]) -> UnwrapResponse:
        grant = read_grant(request.grant, self.settings.server_key)
        if self._memory.seen(grant.nonce):
            raise RefusedError("replayed", "this grant was used before (its nonce is on "
                               "record); each grant opens once. Fix: ask the evidence server "
                               "for a new grant")
        now = self._clock()
        self._check_times(grant, now)
        self._check_breadth(grant)
        manifest = self._check_manifest(grant, request)
        self._memory.check_rate(grant.requested_by, now)
        rewrapped = tuple(self._rewrap(grant, request, manifest))
        self._memory.use(grant.nonce, grant.requested_by, now,
                         grant.expires.timestamp() + self.settings.clock_skew_seconds)
        try:
            seq, digest = self.log.append(UNLOCK, **self._unlock_record(grant, manifest,
                                                                        request, peer))
        except OSError as exc:
            raise RefusedError("log_failed", f"the unlock could not be written to the key "
                               f"holder's log ({exc}), so no key was released. Fix: free space "
                               "or repair the key holder's directory, then ask again") from None
        return UnwrapResponse(grant.recording_id, rewrapped, seq, digest)

    def _check_times(self, grant: Grant, now: float) -> None:
        skew = self.settings.clock_skew_seconds
        if grant.expires.timestamp() <= now:
            raise RefusedError("expired", f"the grant expired at {grant.statement['expires']}. "
                               "Fix: ask the evidence server for a new grant")
        if grant.issued.timestamp() > now + skew:
            raise RefusedError("not_yet_valid", f"the grant was issued at "
                               f"{grant.statement['issued']}, later than the key holder's clock "
                               f"allows (more than {skew} s ahead). Fix: synchronise the clocks of "
                               "the evidence server and the key holder")
        lifetime = grant.expires.timestamp() - grant.issued.timestamp()
        if lifetime > self.settings.max_lifetime_seconds:
            raise RefusedError("too_long", f"the grant is valid for {lifetime:.0f} s, longer than "
                               f"the key holder allows ({self.settings.max_lifetime_seconds} s, "
                               "max_lifetime_seconds). Fix: ask for a grant with a shorter expiry")

    def _check_breadth(self, grant: Grant) -> None:
        count = len(grant.segments)
        if count > self.settings.max_segments:
            raise RefusedError("over_broad", f"the grant names {count} segments, more than "
                               f"one grant may open ({self.settings.max_segments}, "
                               "max_segments). Fix: ask for the segments in smaller grants")
        names = [s.file for s in grant.segments]
        if len(set(names)) != count:
            raise RefusedError("over_broad", "the grant names a segment more than once")

    def _check_manifest(self, grant: Grant, request: UnwrapRequest) -> SignedManifest:
        if _sha256(request.manifest) != grant.manifest_sha256:
            raise RefusedError("not_in_recording", "the manifest sent is not the one the grant "
                               f"names for recording {grant.recording_id} (its SHA-256 differs)")
        manifest = self._manifests.get(grant.manifest_sha256)
        if manifest is None or manifest.recording_id != grant.recording_id:
            manifest = read_manifest(request.manifest, grant.recording_id)
            self._manifests[grant.manifest_sha256] = manifest
            while len(self._manifests) > _MANIFEST_CACHE:
                self._manifests.popitem(last=False)
        self._manifests.move_to_end(grant.manifest_sha256)
        for segment in grant.segments:
            signed = manifest.segments.get(segment.file)
            if signed is None or signed.sha256 != segment.sha256:
                raise RefusedError("not_in_recording", f"the grant names {segment.file} "
                                   f"with SHA-256 {segment.sha256[:16]}..., which the signed "
                                   f"manifest of {grant.recording_id} does not hold (a "
                                   "segment of another recording, or a changed one). "
                                   "Nothing was opened")
        return manifest

    def _rewrap(self, grant: Grant, request: UnwrapRequest, manifest: SignedManifest
                ) -> list[Rewrapped]:
        done = []
        for segment in grant.segments:
            preamble = request.preambles.get(segment.file)
            if preamble is None:
                raise RefusedError("malformed", f"the request carries no preamble (age header) of "
                                   f"{segment.file}")
            signed = manifest.segments[segment.file].preamble_sha256
            if signed is None:
                raise RefusedError("header_mismatch", f"the manifest does not sign the age header "
                                   f"of {segment.file} (firmware before preamble_sha256), so the "
                                   "key holder cannot tell it is this segment's")
            if _sha256(preamble) != signed:
                raise RefusedError("header_mismatch", f"the age header sent for {segment.file} is "
                                   "not the one the camera signed in the manifest (altered, or "
                                   "another file's). Nothing was opened")
            header, replaced = rewrap(self._identities, preamble, grant.viewer, segment.file)
            done.append(Rewrapped(segment.file, segment.sha256, header, replaced))
        return done

    def _unlock_record(self, grant: Grant, manifest: SignedManifest,
                       request: UnwrapRequest, peer: dict[str, Any]) -> dict[str, Any]:
        return {
            "grant_sha256": _sha256(canonical_json(grant.statement)),
            "nonce": grant.nonce, "recording_id": grant.recording_id,
            "device_id": manifest.device_id, "device_key": manifest.device_key,
            "manifest_sha256": grant.manifest_sha256,
            "segments": [{"file": s.file, "sha256": s.sha256,
                          "preamble_sha256": _sha256(request.preambles[s.file])}
                         for s in grant.segments],
            "viewer": recipient_fingerprint(grant.viewer_text),
            "requested_by": grant.requested_by, "approved_by": grant.approved_by,
            "reason": grant.reason, "issued": grant.statement["issued"],
            "expires": grant.statement["expires"], "peer": peer,
        }

    def close(self) -> None:
        self.log.close()
        self._memory.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None


def _exclusive(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise KeyholderError(f"another process has the key holder in {path.parent} open "
                             "(bodycam-keyholder serve, or an offline command): its log has "
                             "one writer. Fix: use the socket, or stop the service first"
                             ) from None
    return fd

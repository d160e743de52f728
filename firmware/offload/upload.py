"""Upload one sealed recording: manifest, every file from the server's offset, receipt.

Resumable at the byte: each file starts where the server says it holds (the manifest
PUT's listing, HEAD after anything went wrong), so a dock pulled mid-segment costs the
bytes in flight, not the segment. A file is read in chunks of at most CHUNK bytes, each
hashed for its signed Content-Digest before a byte is sent, and sent in pieces paced by
the bandwidth limit; an undock stops between pieces.

The server's listing says what to send, the card's manifest says what may be sent: a
file the server asks for that the manifest does not name is refused, and a file the
manifest names that is missing or short on the card is reported as damage (kept, never
offloaded as if whole).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Final

from bodycam.firmware.evidence.offloaded import ListedFile
from bodycam.firmware.evidence.verify_chain import open_regular
from bodycam.firmware.offload.card import CardRecording
from bodycam.firmware.offload.connection import OffloadError, RefusedError
from bodycam.firmware.offload.protocol import OffloadClient, ServerFile, refused_offset

__all__ = ["CHUNK", "DamagedOnCardError", "Uploaded", "upload_recording"]

CHUNK: Final = 4 * 1024 * 1024  # bytes per PATCH: few requests per segment, bounded RAM
_MAX_RESYNC: Final = 3  # 409s in a row for one file before it counts as a failure


@dataclass
class Uploaded:
    """The server's receipt (unchecked) and what it took."""

    receipt: bytes = b""
    sent: int = 0  # bytes sent this time
    held: int = 0  # bytes the server already held when this upload began (resumed)


class DamagedOnCardError(OffloadError):
    """A file the manifest names is missing, shorter than signed, or not a file."""

    code = "damaged_on_card"


def upload_recording(client: OffloadClient, recording: CardRecording,
                     pace: Callable[[int], None]) -> Uploaded:
    """Upload `recording`; the server's receipt comes back unchecked (the caller checks
    it against the pinned key and the manifest). Raises RefusedError, DamagedOnCardError,
    OffloadError, or whatever `pace` raises to stop."""
    rid = recording.recording_id
    listing = {f.name: f for f in client.put_manifest(rid, recording.manifest_bytes)}
    ours = {f.name: f for f in recording.manifest.files}
    strange = sorted(set(listing) - set(ours))
    if strange:
        raise OffloadError(f"the server asks for {', '.join(strange)}, which the manifest of "
                           f"{rid} does not name; nothing of it was sent")
    done = Uploaded()
    for listed in recording.manifest.files:
        held = listing.get(listed.name)
        done.held += held.size if held is not None and held.complete else \
            held.offset if held is not None else 0
        if held is None or not held.complete:
            _upload_file(client, recording, listed, held, pace, done=done)
    done.receipt = client.post_receipt(rid)
    return done


def _upload_file(client: OffloadClient, recording: CardRecording, listed: ListedFile,
                 held: ServerFile | None, pace: Callable[[int], None], *,
                 done: Uploaded) -> None:
    """Send the file from the server's offset, counting into `done` what was sent and
    what the server turned out to hold already (an offset it moved to meanwhile: another
    upload of the same bytes, or the rest of a body cut off earlier arriving late)."""
    rid = recording.recording_id
    offset = held.offset if held is not None else client.head_file(rid, listed.name).offset
    resyncs = 0
    with _open_listed(recording, listed) as stream:
        while offset < listed.size:
            stream.seek(offset)
            chunk = stream.read(min(CHUNK, listed.size - offset))
            if not chunk:
                raise DamagedOnCardError(f"{listed.name} of {rid} ends at {offset} bytes on the "
                                    f"card, but the manifest signed {listed.size}")
            try:
                state = client.patch_file(rid, listed.name, offset, chunk, pace)
            except RefusedError as refusal:
                moved = refused_offset(refusal)
                resyncs += 1
                if moved is None or resyncs > _MAX_RESYNC:
                    raise
                done.held += max(0, moved - offset)
                offset = moved
                continue
            resyncs = 0
            done.sent += len(chunk)
            offset = state.offset
            if state.complete:
                return


def _open_listed(recording: CardRecording, listed: ListedFile) -> BinaryIO:
    try:
        return open_regular(recording.directory / listed.name)
    except OSError as exc:
        raise DamagedOnCardError(f"{listed.name} of {recording.recording_id} cannot be read on the "
                            f"card ({exc.strerror or exc}); it is kept, the recording is not "
                            "offloaded: have the custodian verify the card") from None

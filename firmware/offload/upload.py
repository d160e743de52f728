"""Upload one sealed recording: manifest, every file from the server's offset, receipt.

Resumable at the byte: each file starts where the server says it holds (the manifest
PUT's listing, HEAD after anything went wrong), so a dock pulled mid-segment costs the
bytes in flight, not the segment. A PATCH sends up to CHUNK bytes straight from the
card: the range is hashed first (its signed Content-Digest; the next file's while this
one is sent, digests.py), then read again and sent in pieces paced by the bandwidth
limit, so RAM holds one piece and an undock stops between pieces. CHUNK is larger than
any segment the configuration makes at its bit rates, so a segment goes in one request:
each request costs a round trip and the server's fsyncs (idle link), and a file that
arrives in one piece is kept without a copy
(`bodycam-server bench` measured 0.75 of a 50 Mbit/s link with 4 MiB requests).

The server's listing says what to send, the card's manifest says what may be sent: a
file the server asks for that the manifest does not name is refused, and a file the
manifest names that is missing or short on the card is reported as damage (kept, never
offloaded as if whole).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

from bodycam.firmware.evidence.offloaded import ListedFile
from bodycam.firmware.evidence.verify_chain import open_regular
from bodycam.firmware.offload.card import CardRecording
from bodycam.firmware.offload.connection import OffloadError, RefusedError
from bodycam.firmware.offload.digests import DigestsAhead
from bodycam.firmware.offload.protocol import (
    PIECE,
    OffloadClient,
    PatchBody,
    ServerFile,
    refused_offset,
)

__all__ = ["CHUNK", "DamagedOnCardError", "Uploaded", "upload_recording"]

# Bytes per PATCH at most: 300 s segments (the longest allowed) at 4 Mbit/s fit in one.
CHUNK: Final = 256 * 1024 * 1024
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
    todo: list[tuple[ListedFile, ServerFile | None]] = []
    for listed in recording.manifest.files:
        held = listing.get(listed.name)
        done.held += held.size if held is not None and held.complete else \
            held.offset if held is not None else 0
        if held is None or not held.complete:
            todo.append((listed, held))
    with DigestsAhead(recording.directory) as ahead:
        for listed, held in todo:
            if held is not None:
                ahead.plan(listed.name, held.offset, min(CHUNK, listed.size - held.offset))
        for listed, held in todo:
            _upload_file(client, recording, listed, held, pace, ahead=ahead, done=done)
    done.receipt = client.post_receipt(rid)
    return done


def _upload_file(client: OffloadClient, recording: CardRecording, listed: ListedFile,
                 held: ServerFile | None, pace: Callable[[int], None], *,
                 ahead: DigestsAhead, done: Uploaded) -> None:
    """Send the file from the server's offset, counting into `done` what was sent and
    what the server turned out to hold already (an offset it moved to meanwhile: another
    upload of the same bytes, or the rest of a body cut off earlier arriving late)."""
    rid = recording.recording_id
    offset = held.offset if held is not None else client.head_file(rid, listed.name).offset
    resyncs = 0
    with _open_listed(recording, listed) as stream:
        card = _OnCard(stream, rid, listed)
        while offset < listed.size:
            length = min(CHUNK, listed.size - offset)
            digest = ahead.take(listed.name, offset, length) or card.sha256(offset, length,
                                                                            pace)
            body = PatchBody(length, digest, card.pieces(offset, length, pace))
            try:
                state = client.patch_file(rid, listed.name, offset, body)
            except RefusedError as refusal:
                moved = refused_offset(refusal)
                resyncs += 1
                if moved is None or resyncs > _MAX_RESYNC:
                    raise
                done.held += max(0, moved - offset)
                offset = moved
                continue
            resyncs = 0
            done.sent += length
            offset = state.offset
            if state.complete:
                return


@dataclass(frozen=True)
class _OnCard:
    """A file of the recording, open on the card, read in pieces (RAM holds one)."""

    stream: BinaryIO
    recording_id: str
    listed: ListedFile

    def _short(self, at: int) -> DamagedOnCardError:
        return DamagedOnCardError(f"{self.listed.name} of {self.recording_id} ends at {at} "
                                  f"bytes on the card, but the manifest signed "
                                  f"{self.listed.size}")

    def sha256(self, offset: int, length: int, pace: Callable[[int], None]) -> bytes:
        """The SHA-256 of `length` bytes at `offset` (DamagedOnCardError if the file is
        short); `pace(0)` between blocks, so an undock stops a long hash too."""
        digest = hashlib.sha256()
        self.stream.seek(offset)
        left = length
        while left:
            pace(0)
            block = self.stream.read(min(PIECE, left))
            if not block:
                raise self._short(offset + length - left)
            digest.update(block)
            left -= len(block)
        return digest.digest()

    def pieces(self, offset: int, length: int, pace: Callable[[int], None]
               ) -> Iterator[bytes]:
        """The same range again, each piece paced before it is read and sent. A file cut
        short since it was hashed stops the body: the server keeps what arrived as a cut
        body, and its check of the whole file against the manifest catches damage."""
        self.stream.seek(offset)
        left = length
        while left:
            size = min(PIECE, left)
            pace(size)
            piece = self.stream.read(size)
            if len(piece) != size:
                raise self._short(offset + length - left + len(piece))
            left -= size
            yield piece


def _open_listed(recording: CardRecording, listed: ListedFile) -> BinaryIO:
    try:
        return open_regular(recording.directory / listed.name)
    except OSError as exc:
        raise DamagedOnCardError(f"{listed.name} of {recording.recording_id} cannot be read on the "
                            f"card ({exc.strerror or exc}); it is kept, the recording is not "
                            "offloaded: have the custodian verify the card") from None

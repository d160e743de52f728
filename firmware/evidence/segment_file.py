"""One encrypted, crash-safe segment file: MPEG-TS in, age ciphertext on disk.

Plaintext exists only in memory (the encryptor's chunk buffer); the file holds nothing
but age output. The file is ``NNNNN.age.partial`` while open and is renamed to
``NNNNN.age`` only after the age stream is finished and fsync'd, so a final name always
means a complete file.

Loss window (docs/formats.md has the arithmetic): age seals 64 KiB chunks, so a quiet
stream could keep up to 64 KiB of media in RAM indefinitely. When media has waited in
the encryptor for more than 0.5 s, `tick` pads the stream with MPEG-TS null packets
(which every demuxer discards) until the chunk is sealed, then fsyncs at once; other
ciphertext is fsync'd at least every `sync_interval` seconds of wall-clock time *and*
of media time, whichever comes first. The media rule matters while the pre-record ring
is flushed after a press: then tens of seconds of media are written per second.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

from bodycam.firmware.evidence.age import CHUNK_SIZE, AgeEncryptor
from bodycam.firmware.evidence.age.keys import Recipient
from bodycam.firmware.evidence.api import SegmentInfo, StorageWriteError
from bodycam.firmware.evidence.durable import fsync_directory, write_all
from bodycam.firmware.evidence.signed_log import FILE_MODE
from bodycam.firmware.evidence.storage_space import SpaceGuard
from bodycam.hal.interfaces import Clock

__all__ = [
    "NULL_PACKET",
    "PAD_AFTER_SECONDS",
    "PARTIAL_SUFFIX",
    "EncryptedSegment",
    "segment_file_name",
]

TS_PACKET_SIZE: Final = 188
# PID 0x1FFF, payload only, continuity counter 0: the MPEG-TS null packet.
NULL_PACKET: Final = b"\x47\x1f\xff\x10" + b"\xff" * (TS_PACKET_SIZE - 4)
PAD_AFTER_SECONDS: Final = 0.5
PARTIAL_SUFFIX: Final = ".partial"
# Room kept for what a write may add on top of its own bytes: the age header
# (~200 bytes per recipient) and one 16-byte tag per chunk.
_WRITE_MARGIN: Final = 4096
_log = logging.getLogger(__name__)


def segment_file_name(index: int) -> str:
    return f"{index:05d}.age"


class EncryptedSegment:
    """SegmentWriter on an age stream; `on_closed` records the finished segment."""

    def __init__(self, *, directory: Path, index: int,
                 recipients: Sequence[Recipient], clock: Clock, space: SpaceGuard,
                 sync_interval: float, media_start_us: int, wall_start: datetime,
                 on_closed: Callable[[SegmentInfo], None],
                 on_preamble: Callable[[bytes], None] | None = None) -> None:
        """Create ``NNNNN.age.partial`` exclusively (the caller checked free space).

        `on_preamble` gets the file's first bytes (age header and payload nonce) before
        the file exists: the manifest signs their hash in the segment's open record, so a
        segment cut short by a power cut can be told from a file put in its place (nobody
        without the authority's identity can make chunks that follow this header).
        """
        self._directory = directory
        self._index = index
        self._name = segment_file_name(index)
        self._clock = clock
        self._space = space
        self._sync_interval = sync_interval
        self._media_start_us = media_start_us
        self._wall_start = wall_start
        self._on_closed = on_closed
        self._hash = hashlib.sha256()
        self._size = 0
        self._dirty = False
        self._closed = False
        self._failed = False
        self._carry = b""  # bytes of an incomplete TS packet, held back for alignment
        self._media_since: float | None = None  # when unsealed media started waiting
        self._last_sync = clock.monotonic()
        self._sync_interval_us = round(sync_interval * 1_000_000)
        self._media_end_us = media_start_us  # newest media written (media_written)
        self._synced_media_us = media_start_us  # media covered by the last fsync
        self._fd = -1  # the file does not exist yet
        self._preamble = bytearray()
        self._encryptor = AgeEncryptor(recipients, self._sink)  # header into _preamble
        preamble = bytes(self._preamble)
        if on_preamble is not None:
            on_preamble(preamble)
        self._fd = os.open(directory / (self._name + PARTIAL_SUFFIX),
                           os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        try:
            fsync_directory(directory)
            self._sink(preamble)
        except BaseException:
            os.close(self._fd)
            raise

    @property
    def file_name(self) -> str:
        return self._name

    @property
    def index(self) -> int:
        return self._index

    def write(self, data: bytes) -> None:
        """Encrypt and append; StorageFullError (nothing written) below the reserve.

        Any byte split is accepted: an incomplete trailing TS packet is held back so
        padding can only ever land between whole packets.
        """
        self._check_open()
        if not data:
            return
        self._space.ensure(len(data) + _WRITE_MARGIN, f"segment {self._name}")
        whole = memoryview(self._carry + data if self._carry else data).cast("B")
        cut = len(whole) - len(whole) % TS_PACKET_SIZE
        self._carry = bytes(whole[cut:])  # a copy: the caller may reuse its buffer
        now = self._clock.monotonic()
        if cut:
            self._feed(whole[:cut], now)
        self._maybe_sync(now)

    def tick(self, now: float) -> None:
        """Pad a chunk that holds media for more than 0.5 s; fsync when due."""
        if self._closed:
            return
        if self._media_since is not None and now - self._media_since > PAD_AFTER_SECONDS:
            self._pad(now)
        self._maybe_sync(now)

    def media_written(self, media_end_us: int) -> None:
        """fsync once `sync_interval` of media was written since the last fsync."""
        if media_end_us <= self._media_end_us:
            return
        self._media_end_us = media_end_us
        if (not self._closed and self._dirty
                and media_end_us - self._synced_media_us >= self._sync_interval_us):
            self._sync(self._clock.monotonic())

    def close(self, media_end_us: int) -> SegmentInfo:
        """Finish the age stream, fsync, rename to the final name, fsync the directory.

        If this raises (an I/O error), the segment counts as failed: the recording's
        seal then salvages whatever reached the file, as recovery would after a cut.
        """
        self._check_open()
        if media_end_us < self._media_start_us:
            raise ValueError(f"segment {self._name}: media end {media_end_us} µs is before "
                             f"its start {self._media_start_us} µs")
        self._closed = True
        try:
            self._finish()
            info = SegmentInfo(index=self._index, file_name=self._name, size=self._size,
                               sha256=self._hash.hexdigest(),
                               media_start_us=self._media_start_us,
                               media_end_us=media_end_us, wall_start=self._wall_start)
            self._on_closed(info)
        except BaseException:
            self._failed = True
            raise
        return info

    @property
    def failed(self) -> bool:
        """close() was called and did not complete."""
        return self._failed

    def _finish(self) -> None:
        try:
            try:
                if self._carry:
                    self._encryptor.write(self._carry)
                self._encryptor.close()
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
            os.rename(self._directory / (self._name + PARTIAL_SUFFIX),
                      self._directory / self._name)
            fsync_directory(self._directory)
        except OSError as exc:
            raise self._io_error(exc) from exc

    def _feed(self, data: memoryview, now: float) -> None:
        sealed_before = self._encryptor.ciphertext_bytes
        self._encryptor.write(data)
        if self._encryptor.pending == 0:
            self._media_since = None
        elif self._media_since is None or self._encryptor.ciphertext_bytes > sealed_before:
            # Whatever is still pending arrived with this write.
            self._media_since = now

    def _pad(self, now: float) -> None:
        """Append null packets until the encryptor seals the chunk holding media.

        age emits a full chunk only when the byte after it arrives, hence CHUNK_SIZE + 1.
        Padding is skipped (not raised) when it does not fit: the next media write then
        raises StorageFullError and the pipeline closes the segment, which seals the data.
        """
        missing = CHUNK_SIZE + 1 - self._encryptor.pending
        padding = NULL_PACKET * -(-missing // TS_PACKET_SIZE)
        if not self._space.has_room(len(padding) + _WRITE_MARGIN):
            _log.warning("segment %s: no room to pad; media stays unsealed until close",
                         self._name)
            return
        self._encryptor.write(padding)
        self._media_since = None  # only padding (less than one packet) is still pending
        self._sync(now)

    def _sink(self, ciphertext: bytes) -> None:
        if self._fd < 0:  # the preamble, before the file exists (see __init__)
            self._preamble += ciphertext
            return
        try:
            write_all(self._fd, ciphertext)
        except OSError as exc:
            raise self._io_error(exc) from exc
        self._hash.update(ciphertext)
        self._size += len(ciphertext)
        self._dirty = True
        self._space.consumed(len(ciphertext))

    def _maybe_sync(self, now: float) -> None:
        if self._dirty and now - self._last_sync >= self._sync_interval:
            self._sync(now)

    def _sync(self, now: float) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise self._io_error(exc) from exc
        self._dirty = False
        self._last_sync = now
        self._synced_media_us = self._media_end_us

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"segment {self._name} is already closed")

    def _io_error(self, exc: OSError) -> StorageWriteError:
        return StorageWriteError(
            f"writing segment {self._directory / self._name}{PARTIAL_SUFFIX} failed: "
            f"{exc.strerror or exc}. Whole chunks already written are kept and recovered on "
            "the next start. Fix: check the SD card (reseat or replace it) and restart"
        )

"""The pre-event ring: the last N seconds of media, kept in RAM only.

Trimmed in whole GOPs so the buffer always starts on a keyframe (a recording that
starts anywhere else cannot be decoded until the next keyframe); a GOP is dropped from
the front only while what remains still reaches N seconds back from the newest packet.
Nothing here ever touches storage: if the buffer is not used it is simply discarded.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from bodycam.hal.interfaces import AudioChunk, VideoPacket

MAX_PRERECORD_SECONDS = 120.0

MediaItem = VideoPacket | AudioChunk


@dataclass
class _Gop:
    """One keyframe and everything that arrived until the next keyframe."""

    start_us: int
    items: list[MediaItem] = field(default_factory=list)
    nbytes: int = 0


def payload_size(item: MediaItem) -> int:
    return len(item.data) if isinstance(item, VideoPacket) else len(item.pcm)


class PrerecordBuffer:
    """Bounded pre-record ring. Not thread-safe: the recorder's worker thread owns it.

    `max_bytes` is a hard ceiling for the case the time rule cannot bound memory (a
    camera that stops sending keyframes would otherwise make one GOP grow forever):
    above it the oldest GOP goes even if coverage drops below N seconds, and a lone GOP
    is discarded entirely.
    """

    def __init__(self, seconds: float, keep_audio: bool, max_bytes: int | None = None) -> None:
        if not 0 <= seconds <= MAX_PRERECORD_SECONDS:
            raise ValueError(
                f"pre-record length {seconds} s is outside 0-{MAX_PRERECORD_SECONDS:g} s; "
                "set evidence.prerecord_seconds within that range"
            )
        self._window_us = round(seconds * 1_000_000)
        self._keep_audio = keep_audio
        self._max_bytes = max_bytes
        self._gops: deque[_Gop] = deque()
        self._bytes = 0
        self._newest_us: int | None = None

    @property
    def seconds(self) -> float:
        return self._window_us / 1_000_000

    @property
    def bytes_held(self) -> int:
        """Payload bytes held (H.264 access units and PCM)."""
        return self._bytes

    @property
    def first_us(self) -> int | None:
        """Timestamp of the buffered keyframe everything starts from (None if empty)."""
        return self._gops[0].start_us if self._gops else None

    def push(self, item: MediaItem) -> None:
        if self._window_us == 0:
            return
        if isinstance(item, AudioChunk):
            if not self._keep_audio or not self._gops:
                return
        elif item.keyframe:
            self._gops.append(_Gop(item.pts_us))
        elif not self._gops:
            return  # cannot start a buffer without a keyframe
        gop = self._gops[-1]
        size = payload_size(item)
        gop.items.append(item)
        gop.nbytes += size
        self._bytes += size
        self._newest_us = item.pts_us if self._newest_us is None else max(
            self._newest_us, item.pts_us)
        self._trim()

    def drain(self) -> list[MediaItem]:
        """Return everything in time order, starting at the first keyframe, and empty."""
        first = self.first_us
        items = [i for gop in self._gops for i in gop.items]
        self.clear()
        if first is None:
            return []
        # Audio can arrive a little before the keyframe it is filed under; media older
        # than the first keyframe cannot be part of a recording that starts there.
        items = [i for i in items if i.pts_us >= first]
        items.sort(key=lambda i: i.pts_us)  # stable: video order is kept
        return items

    def clear(self) -> None:
        self._gops.clear()
        self._bytes = 0
        self._newest_us = None

    def _trim(self) -> None:
        assert self._newest_us is not None
        while len(self._gops) > 1 and self._newest_us - self._gops[1].start_us >= self._window_us:
            self._drop_oldest()
        if self._max_bytes is not None:
            while self._bytes > self._max_bytes and self._gops:
                self._drop_oldest()
            if not self._gops:
                self._newest_us = None

    def _drop_oldest(self) -> None:
        self._bytes -= self._gops.popleft().nbytes

"""Joining decrypted MPEG-TS segments into one MP4, by remux only.

Stream copy: the court gets the camera's own H.264 and AAC bits, nothing re-encoded.
The segments share one timeline (the camera wrote them so), so joining is concatenating
packets; what needs care is where plaintext is missing (a damaged age chunk skipped by
a forced export): the media lost there is measured per stream, video restarts at the
next keyframe, and a packet cut by the hole is left out.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from bodycam.firmware.media.muxer import TS_TIME_OFFSET_US

__all__ = ["Hole", "Mp4Joiner", "UnreadableSegmentError"]


class UnreadableSegmentError(Exception):
    """Decrypted plaintext that libav cannot read as MPEG-TS."""


@dataclass
class Hole:
    """Chunks that failed authentication, and the media time they cost in the MP4.

    Only a stream that had packets before the hole can be said to have lost media in
    it: one that starts after it (audio when pre-record keeps no sound) lost nothing.
    """

    label: str
    before: dict[str, float]  # stream kind -> end of its last packet before the hole
    after: dict[str, float] = field(default_factory=dict)  # -> start of its next packet

    @property
    def at_start(self) -> bool:
        """Nothing was muxed before it: what it held cannot be split by stream."""
        return not self.before

    def note(self) -> str:
        head = f"{self.label}: media lost in the MP4 (stream copy keeps the hole): "
        if self.at_start:
            first = min(self.after.values(), default=None)
            return head + ("the hole is at the start: media before "
                           f"{first:.3f} s, the first packet after it, is missing"
                           if first is not None else "none measurable")
        return head + ", ".join(
            f"{kind} {self.before[kind]:.3f} s to {self._edge(self.after, kind)}"
            for kind in sorted(self.before))

    def to_json(self) -> dict[str, Any]:
        """Seconds of MP4 time per stream (None: the hole reaches the end); a hole at
        the start gives the first packet after it instead."""
        document: dict[str, Any] = {"chunk": self.label, "lost_s": {
            kind: [_rounded(self.before[kind]), _rounded(self.after.get(kind))]
            for kind in sorted(self.before)}}
        if self.at_start:
            document["missing_before_s"] = _rounded(min(self.after.values(), default=None))
        return document

    @staticmethod
    def _edge(times: Mapping[str, float], kind: str) -> str:
        return f"{times[kind]:.3f} s" if kind in times else "the end"


def _open_ts(ts: bytes) -> Any:
    """Read MPEG-TS, probing all of it: libav's default (5 s, 5 MB) gives up on a
    stream whose first packet comes later (audio after a long silent pre-record) and
    leaves its codec parameters unset, which the MP4 muxer then refuses (EINVAL)."""
    whole = str(max(len(ts), 1 << 20))
    return av.open(io.BytesIO(ts), "r", format="mpegts",
                   options={"probesize": whole, "analyzeduration": str(1 << 62)})


def _without_last_of_each_stream(packets: list[Any]) -> list[Any]:
    """The TS demuxer emits a PES cut by the end of the data as if it were whole."""
    last = {p.stream.type: i for i, p in enumerate(packets)}
    return [p for i, p in enumerate(packets) if i not in last.values()]


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 6)


class Mp4Joiner:
    """Remuxes consecutive MPEG-TS segments into one MP4 (stream copy, no re-encode).

    Timestamps are kept as the camera wrote them (one timeline across segments), shifted
    so the MP4 starts at zero; a packet that would go backwards (overlap at a segment
    boundary) is skipped and counted.
    """

    def __init__(self, path: Path) -> None:
        self._container: Any = av.open(str(path), "w", format="mp4",
                                       options={"movflags": "+faststart"})
        self._streams: dict[str, Any] = {}
        self._codecs: dict[str, str] = {}
        self._base: float | None = None  # seconds subtracted from every timestamp
        self._last_dts: dict[str, int] = {}
        self._first_end: dict[str, tuple[float, float]] = {}
        self._need_keyframe = False
        self.dropped = 0
        self.cut_packets = 0  # video left out after a hole: undecodable up to a keyframe
        self.holes: list[Hole] = []

    @property
    def mp4_offset_s(self) -> float | None:
        """MP4 time minus the manifest's media time (the TS carries a fixed offset)."""
        return None if self._base is None else TS_TIME_OFFSET_US / 1_000_000 - self._base

    def mark_hole(self, label: str) -> None:
        """Plaintext is missing here: measure the media lost, restart video at a keyframe.

        Consecutive failed chunks are one hole (nothing was muxed between them)."""
        self._need_keyframe = True
        if self.holes and not self.holes[-1].after:
            self.holes[-1].label += f", chunk {label.rsplit(' ', 1)[-1]}"
            return
        self.holes.append(Hole(label, {k: v[1] for k, v in self._first_end.items()}))

    def __enter__(self) -> Mp4Joiner:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def declare(self, ts: bytes) -> bool:
        """Add output streams for the stream types that have packets in `ts`.

        Returns True once every stream type `ts` declares has an output stream."""
        try:
            with _open_ts(ts) as segment:
                streams = [s for s in segment.streams if s.type in ("video", "audio")]
                with_packets = {p.stream.type for p in segment.demux(streams) if p.size}
                for stream in streams:
                    if stream.type in with_packets and stream.type not in self._streams:
                        self._streams[stream.type] = \
                            self._container.add_stream_from_template(stream)
                        self._codecs[stream.type] = stream.codec_context.name
                return all(s.type in self._streams for s in streams)
        except av.error.FFmpegError:
            return False

    def add(self, ts: bytes, label: str, *, cut_end: bool = False) -> int:
        """Remux one run of MPEG-TS; `cut_end`: the run ends at an arbitrary byte (a
        skipped chunk follows, or the file ends early), so each stream's last packet may
        be incomplete and is left out. Returns how many packets that left out."""
        try:
            with _open_ts(ts) as segment:
                streams = [s for s in segment.streams if s.type in ("video", "audio")]
                packets = [p for p in segment.demux(streams) if p.dts is not None and p.size]
                whole = _without_last_of_each_stream(packets) if cut_end else packets
                if self._base is None and packets:
                    # audio priming starts before the first picture: the earliest
                    # packet of the recording, whatever its stream, becomes time zero
                    self._base = min(float((p.dts or 0) * p.time_base) for p in packets)
                for packet in whole:
                    self._mux(packet)
                return len(packets) - len(whole)
        except av.error.FFmpegError as exc:
            raise UnreadableSegmentError(f"{label} holds no readable MPEG-TS ({exc})") from None

    def _mux(self, packet: Any) -> None:
        kind = packet.stream.type
        out = self._streams.get(kind)
        if out is None or self._base is None:
            return  # a stream type the first segment did not have
        if kind == "video" and self._need_keyframe:
            if not packet.is_keyframe:
                self.cut_packets += 1  # predicted from pictures lost in the hole
                return
            self._need_keyframe = False
        tb = packet.time_base
        shift = round(self._base / tb)
        packet.dts -= shift
        if packet.pts is not None:
            packet.pts -= shift
        if kind in self._last_dts and packet.dts <= self._last_dts[kind]:
            self.dropped += 1
            return
        self._last_dts[kind] = packet.dts
        pts = packet.pts if packet.pts is not None else packet.dts
        start = self._first_end[kind][0] if kind in self._first_end else float(pts * tb)
        self._first_end[kind] = (start, float((pts + (packet.duration or 0)) * tb))
        for hole in self.holes:
            hole.after.setdefault(kind, float(pts * tb))
        packet.stream = out
        self._container.mux(packet)

    def summary(self) -> dict[str, Any]:
        return {
            "streams": {kind: {"codec": self._codecs[kind],
                               "start_s": round(self._first_end[kind][0], 6),
                               "end_s": round(self._first_end[kind][1], 6)}
                        for kind in self._streams if kind in self._first_end},
            "dropped_packets": self.dropped,
            "holes": [hole.to_json() for hole in self.holes],
        }

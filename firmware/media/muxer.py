"""MPEG-TS segments via PyAV: H.264 stream copy plus AAC encoded from the PCM.

Each segment is its own TS container (own PAT/PMT, starting at a keyframe that carries
SPS/PPS), so it plays on its own; all segments of a recording share one timeline and
one AAC encoder, so joining them gives continuous timestamps and gap-free audio.

Timestamps in the TS are `media time since the recording's first packet` plus
TS_TIME_OFFSET_US. The offset exists because AAC priming puts the first audio packet
1024 samples (up to 128 ms at 8 kHz) before the first sample; negative timestamps in a
TS would wrap to 26.5 hours, and libav's own avoid-negative-ts shift applies to the
first segment only, which would break continuity between segments.

Latency/buffering: bytes must reach the encrypting writer promptly (the power-loss
window is measured from there), so the muxer options below disable every buffer that
can be disabled:

* flush_packets=1: flush the AVIO buffer after every packet instead of every 32 KiB
  (the buffer is large enough for a whole video frame, so one frame is one write);
  the AAC packets of one encoder batch are written together (`_TsSink.hold`), since
  each write costs a pass through encryption and the storage checks;
* max_delay=0: no PES buffering of audio and no extra PCR/DTS lead in the TS;
* max_interleave_delta=1 (us): libav's interleaver otherwise holds packets until every
  stream has one, i.e. up to 10 s of video while the microphone is stalled. With 1 us
  it holds back at most the newest packet of a stream.

`_TsSink` forwards only whole 188-byte TS packets (keeping any remainder for the next
write), so the evidence writer always sees packet boundaries.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import av

from bodycam.firmware.config.model import AudioConfig, VideoConfig
from bodycam.firmware.media.aac import AacEncoder
from bodycam.firmware.media.h264 import ParameterSetCache
from bodycam.hal.interfaces import AudioChunk, VideoPacket

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

TS_PACKET_SIZE = 188
TS_TIME_OFFSET_US = 200_000
MUX_OPTIONS = {"flush_packets": "1", "max_delay": "0", "max_interleave_delta": "1"}
_US = Fraction(1, 1_000_000)

Sink = Callable[[bytes], None]


class _TsSink(io.RawIOBase):
    """File-like adapter: hands whole TS packets to `sink`, latches its first error.

    After the sink failed (storage full) later bytes are dropped, so closing the
    container still works and the segment can be sealed with what was written.
    """

    def __init__(self, sink: Sink) -> None:
        super().__init__()
        self._sink = sink
        self._rest = b""
        self.hold = False  # while set, bytes are collected instead of forwarded
        self.failed: BaseException | None = None
        self.bytes_out = 0

    def writable(self) -> bool:
        return True

    def write(self, b: ReadableBuffer, /) -> int:
        data = self._rest + bytes(b)
        if self.hold:
            self._rest = data
            return len(memoryview(b))
        whole = len(data) - len(data) % TS_PACKET_SIZE
        self._rest = data[whole:]
        if whole and self.failed is None:
            try:
                self._sink(data[:whole])
            except BaseException as exc:
                self.failed = exc
                raise
            self.bytes_out += whole
        return len(memoryview(b))


class _Segment:
    """One open TS container."""

    def __init__(self, sink: Sink, video: VideoConfig, audio: AudioConfig | None) -> None:
        self.out = _TsSink(sink)
        self.container: Any = av.open(self.out, "w", format="mpegts",
                                      container_options=MUX_OPTIONS,
                                      buffer_size=TS_PACKET_SIZE * 1024)
        self.video = self.container.add_mux_stream(
            "h264", rate=video.fps, width=video.width, height=video.height)
        self.audio: Any = None
        if audio is not None:
            # This stream's own encoder is never fed: it is opened only so the stream
            # carries the AAC parameters; packets come from the recording's encoder.
            self.audio = self.container.add_stream("aac", rate=audio.sample_rate)
            self.audio.codec_context.layout = "mono" if audio.channels == 1 else "stereo"
            self.audio.codec_context.bit_rate = audio.bitrate_kbps * 1000
        self.video_started = False
        self._reported = False

    def mux(self, packet: av.Packet[Any], *, hold: bool = False) -> None:
        """Mux one packet; with `hold` its bytes wait for the next packet's (one write)."""
        if self.out.failed is not None:
            return  # storage already refused; the caller has been told once
        self.out.hold = hold
        try:
            self.container.mux(packet)
        except Exception:
            if self.out.failed is None:
                raise
        finally:
            self.out.hold = False
        self.raise_sink_error()

    def close(self) -> None:
        try:
            self.container.close()
        except Exception:
            if self.out.failed is None:
                raise
        self.raise_sink_error()

    def raise_sink_error(self) -> None:
        """Raise the sink's error (e.g. StorageFullError) once, whatever libav made of it."""
        if self.out.failed is not None and not self._reported:
            self._reported = True
            raise self.out.failed


class TsSegmentMuxer:
    """Muxes one recording into consecutive TS segments; the caller decides the cuts.

    Not thread-safe: the recorder's worker thread owns it.
    """

    def __init__(self, video: VideoConfig, audio: AudioConfig | None, origin_us: int) -> None:
        self._video_cfg = video
        self._audio_cfg = audio
        self.origin_us = origin_us
        self._headers = ParameterSetCache()
        self._aac = AacEncoder(audio, origin_us) if audio is not None else None
        self._segment: _Segment | None = None
        self._frame_us = 1_000_000 // max(video.fps, 1)
        self._video_end_us: int | None = None
        self.dropped_leading_frames = 0  # non-keyframes before a segment's first keyframe

    @property
    def media_end_us(self) -> int:
        """End of the media muxed so far, relative to the recording's start.

        Asked after every muxed item (the segment's media-time sync), so kept cheap."""
        video = self._video_end_us or 0
        audio = self._aac.end_us if self._aac is not None else None
        return video if audio is None or audio < video else audio

    def open_segment(self, sink: Sink) -> None:
        if self._segment is not None:
            raise RuntimeError("close the current segment before opening the next one")
        self._segment = _Segment(sink, self._video_cfg, self._audio_cfg)

    def close_segment(self) -> None:
        """Write out everything pending for this segment and close its container."""
        segment = self._require_segment()
        self._segment = None
        segment.close()

    def finish(self) -> None:
        """End of recording: drain the audio encoder into the open segment and close it.

        Does nothing when no segment is open; the segment is closed even if muxing the
        last audio fails (the error still propagates).
        """
        segment = self._segment
        if segment is None:
            return
        try:
            if self._aac is not None and segment.audio is not None:
                self._mux_audio(segment, self._aac.flush())
        finally:
            self.close_segment()

    def add_video(self, pkt: VideoPacket) -> None:
        segment = self._require_segment()
        if not segment.video_started and not pkt.keyframe:
            self.dropped_leading_frames += 1
            return
        segment.video_started = True
        data = self._headers.complete(pkt.data) if pkt.keyframe else pkt.data
        packet = av.Packet(data)
        packet.stream = segment.video
        packet.time_base = _US
        packet.pts = packet.dts = pkt.pts_us - self.origin_us + TS_TIME_OFFSET_US
        packet.duration = self._frame_us
        packet.is_keyframe = pkt.keyframe
        segment.mux(packet)
        self._video_end_us = pkt.pts_us - self.origin_us + self._frame_us

    def add_audio(self, chunk: AudioChunk) -> None:
        segment = self._require_segment()
        if self._aac is None or segment.audio is None:
            return
        self._mux_audio(segment, self._aac.encode(chunk))

    def _mux_audio(self, segment: _Segment, packets: list[av.Packet[Any]]) -> None:
        """Mux one encoder batch; its bytes reach the sink in a single write."""
        assert self._aac is not None
        offset = TS_TIME_OFFSET_US * self._aac.config.sample_rate // 1_000_000
        last = len(packets) - 1
        for i, packet in enumerate(packets):
            assert packet.pts is not None
            packet.pts += offset
            packet.dts = packet.pts
            packet.stream = segment.audio
            segment.mux(packet, hold=i < last)

    def _require_segment(self) -> _Segment:
        if self._segment is None:
            raise RuntimeError("no open segment: call open_segment() first")
        return self._segment


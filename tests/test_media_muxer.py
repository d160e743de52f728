"""TS muxer on real H.264/PCM: probes, independent segments, continuity, sync, sink."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import pytest
from media_fixtures import AUDIO, FPS, VIDEO, MediaItem, clip, decode_all, probe

from bodycam.firmware.evidence.api import StorageFullError
from bodycam.firmware.media.muxer import TS_PACKET_SIZE, TS_TIME_OFFSET_US, TsSegmentMuxer
from bodycam.hal.interfaces import AudioChunk, VideoPacket
from bodycam.tools.bench.avsync import measure_av_sync

FRAME_US = 1_000_000 // FPS


class Sink:
    """Collects what the muxer hands to the evidence writer, call by call."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        self.writes.append(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)


def mux(items: list[MediaItem], cut_every_us: int | None = None) -> list[Sink]:
    """Mux like the segmenter does: cut at the first keyframe after `cut_every_us`."""
    origin = items[0].pts_us
    muxer = TsSegmentMuxer(VIDEO, AUDIO, origin)
    sinks = [Sink()]
    muxer.open_segment(sinks[-1])
    start = 0
    for item in items:
        rel = item.pts_us - origin
        if isinstance(item, VideoPacket):
            if item.keyframe and cut_every_us is not None and rel - start >= cut_every_us:
                muxer.close_segment()
                sinks.append(Sink())
                muxer.open_segment(sinks[-1])
                start = rel
            muxer.add_video(item)
        else:
            muxer.add_audio(item)
    muxer.finish()
    return sinks


def save(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def packet_times(path: Path, kind: str) -> list[tuple[int, int, bool]]:
    """(pts, duration, keyframe) of every packet of the first `kind` stream, 90 kHz."""
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        return [(p.pts, p.duration or 0, p.is_keyframe)
                for p in container.demux(stream) if p.pts is not None]


def test_one_segment_probes_as_h264_plus_aac_and_decodes(tmp_path: Path) -> None:
    (sink,) = mux(clip(3.0))
    path = save(tmp_path, "one.ts", sink.data)
    info = probe(path)
    assert info["format"]["format_name"] == "mpegts"  # type: ignore[index]
    codecs = sorted(s["codec_name"] for s in info["streams"])  # type: ignore[attr-defined]
    assert codecs == ["aac", "h264"]
    assert decode_all(path) == {"video": 45, "audio": pytest.approx(141, abs=3)}
    video = packet_times(path, "video")
    assert video[0] == (TS_TIME_OFFSET_US * 9 // 100, 6000, True)


def test_bytes_reach_the_sink_in_whole_ts_packets_before_close() -> None:
    items = clip(2.0)
    muxer = TsSegmentMuxer(VIDEO, AUDIO, items[0].pts_us)
    sink = Sink()
    muxer.open_segment(sink)
    delivered_after = []
    for item in items:
        if isinstance(item, VideoPacket):
            muxer.add_video(item)
            delivered_after.append(len(sink.data))
        else:
            muxer.add_audio(item)
    # while still open, every frame but the newest has been handed on (the
    # interleaver keeps one packet back), so the loss window is one frame
    assert all(n > 0 for n in delivered_after[1:])
    assert all(a < b for a, b in itertools.pairwise(delivered_after[1:]))
    assert all(len(w) % TS_PACKET_SIZE == 0 for w in sink.writes)
    assert all(w[0] == 0x47 for w in sink.writes)  # every write starts on a sync byte
    muxer.finish()
    assert len(sink.data) % TS_PACKET_SIZE == 0


def test_video_flows_without_audio_while_an_audio_stream_exists() -> None:
    items = [i for i in clip(2.0) if isinstance(i, VideoPacket)]
    muxer = TsSegmentMuxer(VIDEO, AUDIO, items[0].pts_us)
    sink = Sink()
    muxer.open_segment(sink)
    for item in items:
        muxer.add_video(item)
    # a stalled microphone must not make libav hold video back for interleaving
    assert len(sink.data) > 0.9 * sum(len(i.data) for i in items)
    muxer.finish()


def test_segments_are_independent_and_timestamps_continue(tmp_path: Path) -> None:
    sinks = mux(clip(6.0), cut_every_us=2_000_000)
    assert len(sinks) == 3
    paths = [save(tmp_path, f"seg{i}.ts", s.data) for i, s in enumerate(sinks)]
    for path in paths:
        counts = decode_all(path)  # decodes on its own, no error
        assert counts["video"] == 2 * FPS
        assert packet_times(path, "video")[0][2], "segment must start on a keyframe"
    for kind in ("video", "audio"):
        joined = [p for path in paths for p in packet_times(path, kind)]
        for (pts, duration, _), (next_pts, _, _) in itertools.pairwise(joined):
            assert next_pts == pytest.approx(pts + duration, abs=1), kind
    # segment k+1 starts exactly where segment k's video ended
    for before, after in itertools.pairwise(paths):
        last = packet_times(before, "video")[-1]
        assert packet_times(after, "video")[0][0] == last[0] + last[1]


def test_flash_and_beep_stay_in_sync(tmp_path: Path) -> None:
    sinks = mux(clip(6.0), cut_every_us=2_000_000)
    whole = save(tmp_path, "whole.ts", b"".join(s.data for s in sinks))
    result = measure_av_sync(whole)
    assert result["count"] == 6
    assert result["max_abs_ms"] < 20
    later = measure_av_sync(save(tmp_path, "seg2.ts", sinks[2].data))
    assert later["count"] == 2 and later["max_abs_ms"] < 20


def test_sync_meter_sees_a_deliberate_offset(tmp_path: Path) -> None:
    shifted = [AudioChunk(i.pcm, i.pts_us + 50_000, i.sample_rate, i.channels)
               if isinstance(i, AudioChunk) else i for i in clip(3.0)]
    (sink,) = mux(sorted(shifted, key=lambda i: i.pts_us))
    result = measure_av_sync(save(tmp_path, "late.ts", sink.data))
    assert result["count"] == 3
    assert result["median_ms"] == pytest.approx(50, abs=2)


def test_microphone_gap_keeps_sync_and_video(tmp_path: Path) -> None:
    items = [i for i in clip(5.0) if not (
        isinstance(i, AudioChunk) and 1_300_000 <= i.pts_us - items_origin() < 2_900_000)]
    (sink,) = mux(items)
    path = save(tmp_path, "gap.ts", sink.data)
    assert decode_all(path)["video"] == 5 * FPS
    audio = packet_times(path, "audio")
    gaps = [b[0] - (a[0] + a[1]) for a, b in itertools.pairwise(audio)]
    assert max(gaps) > 90_000 * 1.4  # left as a gap (not filled with invented silence)
    result = measure_av_sync(path)
    assert result["count"] >= 3 and result["max_abs_ms"] < 20


def items_origin() -> int:
    return clip(5.0)[0].pts_us


def test_storage_full_is_raised_once_and_the_segment_still_closes() -> None:
    items = clip(3.0)
    written: list[bytes] = []

    def sink(data: bytes) -> None:
        if sum(map(len, written)) + len(data) > 20_000:
            raise StorageFullError("reserve reached")
        written.append(data)

    muxer = TsSegmentMuxer(VIDEO, AUDIO, items[0].pts_us)
    muxer.open_segment(sink)
    raised = 0
    for item in items:
        try:
            if isinstance(item, VideoPacket):
                muxer.add_video(item)
            else:
                muxer.add_audio(item)
        except StorageFullError:
            raised += 1
    muxer.finish()
    assert raised == 1
    assert 0 < sum(map(len, written)) <= 20_000
    assert all(len(w) % TS_PACKET_SIZE == 0 for w in written)


def test_leading_non_keyframes_of_a_segment_are_dropped() -> None:
    items = [i for i in clip(2.0) if isinstance(i, VideoPacket)]
    muxer = TsSegmentMuxer(VIDEO, None, items[0].pts_us)
    muxer.open_segment(Sink())
    for item in items[1:]:  # starts after the keyframe
        muxer.add_video(item)
    muxer.finish()
    assert muxer.dropped_leading_frames == FPS - 1


def test_aac_timeline_ignores_jitter_and_trims_overlap() -> None:
    from bodycam.firmware.media.aac import AacEncoder

    chunks = [i for i in clip(2.0) if isinstance(i, AudioChunk)]
    origin = chunks[0].pts_us
    jitter = [AudioChunk(c.pcm, c.pts_us + (4_000 if n % 2 else -3_000), c.sample_rate,
                         c.channels) for n, c in enumerate(chunks)]
    overlap = AudioChunk(chunks[10].pcm, chunks[10].pts_us - 15_000, 48_000, 1)
    encoder = AacEncoder(AUDIO, origin)
    packets = [p for c in [*jitter[:10], overlap, *jitter[10:]] for p in encoder.encode(c)]
    packets += encoder.flush()
    pts = [p.pts for p in packets]
    assert all(b - a == 1024 for a, b in itertools.pairwise(pts))  # one seamless timeline
    # the first chunk (3 ms early) anchors the timeline; AAC priming puts the first
    # packet one frame before the first sample
    assert pts[0] == -144 - 1024


def test_aac_timeline_after_a_microphone_gap_resumes_on_the_returning_sample() -> None:
    """A long gap is one jump in the packet timeline, a short one is filled: batches of
    any length go to the encoder, whose frame cutting must follow the gap exactly."""
    from bodycam.firmware.media.aac import AacEncoder

    chunks = [i for i in clip(6.0) if isinstance(i, AudioChunk)]
    origin = chunks[0].pts_us
    kept = [c for c in chunks
            if not 1_300_000 <= c.pts_us - origin < 2_900_000  # long: left as a gap
            and not 4_000_000 <= c.pts_us - origin < 4_200_000]  # short: filled
    encoder = AacEncoder(AUDIO, origin)
    pts = [p.pts for c in kept for p in encoder.encode(c)]
    pts += [p.pts for p in encoder.flush()]
    jumps = [(a, b) for a, b in itertools.pairwise(pts) if b - a != 1024]
    resumed = round(2_900_000 * AUDIO.sample_rate / 1_000_000)
    assert len(jumps) == 1 and jumps[0][1] == resumed
    assert jumps[0][0] < round(1_300_000 * AUDIO.sample_rate / 1_000_000)
    assert encoder.end_us is not None and encoder.end_us >= 6_000_000

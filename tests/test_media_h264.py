"""Parameter sets on keyframes: checked on real libx264 output, repaired when missing."""

from __future__ import annotations

import av
from media_fixtures import video_packets

from bodycam.firmware.media.h264 import (
    NAL_AUD,
    NAL_IDR,
    NAL_PPS,
    NAL_SPS,
    ParameterSetCache,
    iter_nal_units,
)


def types(data: bytes) -> list[int]:
    return [t for t, _, _ in iter_nal_units(data)]


def strip_headers(data: bytes) -> bytes:
    return b"".join(data[s:e] for t, s, e in iter_nal_units(data)
                    if t not in (NAL_SPS, NAL_PPS)) + data[max(
                        e for _, _, e in iter_nal_units(data)):]


def decodes_alone(data: bytes) -> bool:
    codec = av.CodecContext.create("h264", "r")
    try:
        frames = [*codec.decode(av.Packet(data)), *codec.decode(None)]
    except av.error.InvalidDataError:
        return False
    return len(frames) == 1


def test_simulated_camera_repeats_headers_on_every_keyframe() -> None:
    keyframes = [p for p in video_packets(3.0) if p.keyframe]
    assert len(keyframes) == 3
    for packet in keyframes:
        assert {NAL_SPS, NAL_PPS, NAL_IDR} <= set(types(packet.data))
        assert decodes_alone(packet.data)


def test_keyframe_without_headers_gets_the_cached_ones() -> None:
    first, second = [p for p in video_packets(3.0) if p.keyframe][:2]
    bare = strip_headers(second.data)
    assert NAL_SPS not in types(bare) and not decodes_alone(bare)

    cache = ParameterSetCache()
    assert cache.complete(first.data) == first.data  # complete already: untouched
    repaired = cache.complete(bare)
    assert types(repaired)[:2] == [NAL_SPS, NAL_PPS]
    assert decodes_alone(repaired)
    assert cache.repaired == 1


def test_headers_go_after_an_access_unit_delimiter() -> None:
    first = next(p for p in video_packets(3.0) if p.keyframe)
    cache = ParameterSetCache()
    cache.complete(first.data)
    aud = b"\x00\x00\x00\x01\x09\xf0"
    repaired = cache.complete(aud + strip_headers(first.data))
    assert types(repaired)[:3] == [NAL_AUD, NAL_SPS, NAL_PPS]


def test_without_cached_headers_the_unit_is_kept_as_is() -> None:
    first = next(p for p in video_packets(3.0) if p.keyframe)
    bare = strip_headers(first.data)
    assert ParameterSetCache().complete(bare) == bare

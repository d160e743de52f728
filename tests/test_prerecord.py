"""Pre-record ring: keyframe start, N-second coverage, memory bound, audio on/off."""

from __future__ import annotations

import pytest

from bodycam.firmware.media.prerecord import PrerecordBuffer
from bodycam.hal.interfaces import AudioChunk, VideoPacket

FPS, GOP = 10, 10  # one keyframe per second
FRAME_BYTES = 1000
CHUNK_US = 50_000


def stream(seconds: float, *, audio: bool = True,
           keyframes: bool = True) -> list[VideoPacket | AudioChunk]:
    """Synthetic media in arrival order: 10 fps video, 50 ms audio chunks."""
    items: list[VideoPacket | AudioChunk] = []
    for i in range(round(seconds * FPS)):
        key = i % GOP == 0 and (keyframes or i == 0)
        items.append(VideoPacket(bytes(FRAME_BYTES * (3 if key else 1)), i * 100_000, key))
    if audio:
        items += [AudioChunk(bytes(1600), i * CHUNK_US, 16_000, 1)
                  for i in range(round(seconds * 1_000_000 / CHUNK_US))]
    # audio arrives a little after the video of the same instant
    return sorted(items, key=lambda i: (i.pts_us, isinstance(i, AudioChunk)))


def fill(buffer: PrerecordBuffer, items: list[VideoPacket | AudioChunk]) -> None:
    for item in items:
        buffer.push(item)


def test_drain_starts_on_the_latest_keyframe_that_still_covers_the_window() -> None:
    buffer = PrerecordBuffer(2.5, keep_audio=False)
    fill(buffer, stream(10))
    newest = 9_900_000
    items = buffer.drain()
    first = items[0]
    assert isinstance(first, VideoPacket) and first.keyframe
    assert newest - first.pts_us >= 2_500_000  # covers N seconds
    assert first.pts_us == 7_000_000  # and no whole GOP more than needed (8 s would not)
    assert [i.pts_us for i in items] == sorted(i.pts_us for i in items)
    assert len(items) == 30


def test_drain_empties_and_clear_discards() -> None:
    buffer = PrerecordBuffer(2.0, keep_audio=True)
    fill(buffer, stream(3))
    assert buffer.bytes_held > 0
    assert buffer.drain()
    assert buffer.drain() == [] and buffer.bytes_held == 0 and buffer.first_us is None
    fill(buffer, stream(3))
    buffer.clear()
    assert buffer.bytes_held == 0 and buffer.drain() == []


def test_memory_is_bounded_by_window_plus_one_gop() -> None:
    buffer = PrerecordBuffer(3.0, keep_audio=True)
    bytes_per_second = FPS * FRAME_BYTES + 2 * FRAME_BYTES + 20 * 1600  # + keyframe extra
    peak = 0
    for item in stream(60):
        buffer.push(item)
        peak = max(peak, buffer.bytes_held)
    assert peak <= (3.0 + 1.0) * bytes_per_second + 2 * FRAME_BYTES
    assert buffer.bytes_held == sum(
        len(i.data) if isinstance(i, VideoPacket) else len(i.pcm) for i in buffer.drain())


def test_audio_only_kept_when_asked_and_never_older_than_the_first_keyframe() -> None:
    without = PrerecordBuffer(2.0, keep_audio=False)
    fill(without, stream(5))
    assert not any(isinstance(i, AudioChunk) for i in without.drain())

    with_audio = PrerecordBuffer(2.0, keep_audio=True)
    # a chunk stamped before the keyframe but arriving after it (mic latency)
    items = stream(5)
    items.append(AudioChunk(bytes(1600), 2_990_000, 16_000, 1))
    fill(with_audio, items)
    drained = with_audio.drain()
    first = drained[0]
    audio = [i for i in drained if isinstance(i, AudioChunk)]
    assert isinstance(first, VideoPacket) and first.keyframe
    assert audio and min(a.pts_us for a in audio) >= first.pts_us


def test_zero_seconds_buffers_nothing() -> None:
    buffer = PrerecordBuffer(0, keep_audio=True)
    fill(buffer, stream(3))
    assert buffer.bytes_held == 0 and buffer.drain() == []


def test_media_before_the_first_keyframe_is_ignored() -> None:
    buffer = PrerecordBuffer(5.0, keep_audio=True)
    buffer.push(VideoPacket(b"x" * 10, 0, keyframe=False))
    buffer.push(AudioChunk(bytes(100), 0, 16_000, 1))
    assert buffer.bytes_held == 0
    buffer.push(VideoPacket(b"k" * 10, 100_000, keyframe=True))
    assert [i.pts_us for i in buffer.drain()] == [100_000]


def test_hard_ceiling_holds_when_keyframes_stop() -> None:
    buffer = PrerecordBuffer(2.0, keep_audio=False, max_bytes=50 * FRAME_BYTES)
    for item in stream(30, audio=False, keyframes=False):
        buffer.push(item)
        assert buffer.bytes_held <= 50 * FRAME_BYTES


@pytest.mark.parametrize("seconds", [-1, 120.5])
def test_out_of_range_length_is_refused_with_the_fix(seconds: float) -> None:
    with pytest.raises(ValueError, match="prerecord_seconds"):
        PrerecordBuffer(seconds, keep_audio=False)

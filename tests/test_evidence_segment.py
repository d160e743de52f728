"""Encrypted segment files: ciphertext only, loss-window padding, storage reserve."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from test_evidence_support import (
    TS_PACKET,
    AgeIdentity,
    age_decrypt,
    age_identity,
    make_store,
    new_session,
)

from bodycam.firmware.evidence.age import CHUNK_SIZE
from bodycam.firmware.evidence.age.stream import PAYLOAD_NONCE_SIZE, SEALED_CHUNK_SIZE
from bodycam.firmware.evidence.api import SegmentWriter, StorageFullError
from bodycam.firmware.evidence.salvage import chunk_layout
from bodycam.firmware.evidence.segment_file import NULL_PACKET
from bodycam.firmware.evidence.store import FileRecordingWriter
from bodycam.hal.clocks import ManualClock

MIB = 1024 * 1024


@pytest.fixture
def identity(tmp_path: Path) -> AgeIdentity:
    return age_identity(tmp_path)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def writer(tmp_path: Path, identity: AgeIdentity, clock: ManualClock) -> FileRecordingWriter:
    store = make_store(tmp_path, identity, clock, new_session())
    return store.begin_recording(wall_start=clock.wall(), clock_synchronised=True,
                                 prerecord_us=0)


@pytest.fixture
def real_ts(tmp_path: Path) -> bytes:
    """One second of real H.264 in MPEG-TS, made by ffmpeg."""
    out = tmp_path / "clip.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=10",
                    "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mpegts",
                    "-y", str(out)], check=True)
    return out.read_bytes()


def _video_frames(ts: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                          "-count_packets", "-show_entries", "stream=nb_read_packets",
                          "-of", "csv=p=0", str(ts)], capture_output=True, text=True,
                         check=True).stdout
    return int(out.split()[0])


def test_closed_segment_is_ciphertext_that_age_decrypts(
        writer: FileRecordingWriter, clock: ManualClock, identity: AgeIdentity) -> None:
    media = TS_PACKET * 2000  # ~376 kB: several chunks
    segment = writer.open_segment(0, clock.wall())
    partial = writer.directory / "00000.age.partial"
    assert partial.exists()
    for start in range(0, len(media), 1000):  # any byte split, like a muxer's IO buffer
        segment.write(media[start:start + 1000])
    assert TS_PACKET not in partial.read_bytes()  # nothing readable on storage
    info = segment.close(2_000_000)
    final = writer.directory / "00000.age"
    assert not partial.exists() and final.exists()
    assert (info.index, info.file_name, info.size) == (0, "00000.age", final.stat().st_size)
    assert info.sha256 == hashlib.sha256(final.read_bytes()).hexdigest()
    result = age_decrypt(identity, final)
    assert result.returncode == 0, result.stderr
    assert result.stdout == media


def test_pending_media_is_padded_into_whole_chunks(
        tmp_path: Path, writer: FileRecordingWriter, clock: ManualClock,
        identity: AgeIdentity, real_ts: bytes) -> None:
    segment = writer.open_segment(0, clock.wall())
    segment.write(real_ts)  # far less than one 64 KiB chunk: all of it is still in RAM
    path = writer.directory / "00000.age.partial"
    before = path.stat().st_size
    clock.advance(0.5)
    segment.tick(clock.monotonic())
    assert path.stat().st_size == before  # not yet older than 0.5 s
    clock.advance(0.1)
    segment.tick(clock.monotonic())

    layout = chunk_layout(path)
    assert path.stat().st_size == layout.header_bytes + PAYLOAD_NONCE_SIZE + SEALED_CHUNK_SIZE
    assert (layout.whole_chunks, layout.tail_bytes) == (1, 0)

    # Power cut now: the file as it is on disk decrypts (up to the cut) to the media
    # followed by null packets, and the result is still a valid transport stream.
    cut = tmp_path / "cut.age"
    cut.write_bytes(path.read_bytes())
    plain = age_decrypt(identity, cut).stdout
    assert len(plain) == CHUNK_SIZE
    assert plain.startswith(real_ts)
    padding = plain[len(real_ts):]
    whole = len(padding) // len(NULL_PACKET)
    assert padding[:whole * len(NULL_PACKET)] == NULL_PACKET * whole
    salvaged = tmp_path / "salvaged.ts"
    salvaged.write_bytes(plain[:len(plain) - len(plain) % len(TS_PACKET)])
    original = tmp_path / "clip.ts"
    assert _video_frames(salvaged) == _video_frames(original)

    segment.write(TS_PACKET)  # recording continues normally after padding
    segment.close(1_000_000)
    assert age_decrypt(identity, writer.directory / "00000.age").returncode == 0


def test_idle_ticks_do_not_pad(writer: FileRecordingWriter, clock: ManualClock) -> None:
    segment = writer.open_segment(0, clock.wall())
    path = writer.directory / "00000.age.partial"
    size = path.stat().st_size
    for _ in range(20):
        clock.advance(0.1)
        segment.tick(clock.monotonic())
    assert path.stat().st_size == size  # nothing pending, nothing padded


def test_write_below_reserve_raises_without_writing(tmp_path: Path, identity: AgeIdentity,
                                                   clock: ManualClock) -> None:
    free = [64 * MIB]
    calls: list[Path] = []

    def free_space(path: Path) -> int:
        calls.append(path)
        return free[0]

    # The statvfs call is the one thing substituted.
    store = make_store(tmp_path, identity, clock, new_session(), reserve=60 * MIB,
                       free_space=free_space)
    writer = store.begin_recording(wall_start=clock.wall(), clock_synchronised=False,
                                   prerecord_us=0)
    segment = writer.open_segment(0, clock.wall())
    path = writer.directory / "00000.age.partial"
    measured = len(calls)
    for _ in range(10):
        segment.write(TS_PACKET * 100)  # 188 kB in total: below the recheck threshold
    assert len(calls) == measured  # cheap: no statvfs per write

    free[0] = 60 * MIB + 100_000  # someone else filled the card
    clock.advance(1.0)
    size = path.stat().st_size
    with pytest.raises(StorageFullError, match=r"storage full.*nothing was written.*Fix"):
        segment.write(TS_PACKET * 1000)
    assert path.stat().st_size == size
    segment.close(1_000_000)  # closing still works: the reserve pays for it
    assert (writer.directory / "00000.age").exists()


def test_begin_recording_below_reserve_creates_nothing(tmp_path: Path, identity: AgeIdentity,
                                                       clock: ManualClock) -> None:
    store = make_store(tmp_path, identity, clock, new_session(), free=10 * MIB,
                       reserve=10 * MIB)
    with pytest.raises(StorageFullError):
        store.begin_recording(wall_start=clock.wall(), clock_synchronised=True, prerecord_us=0)
    assert not (tmp_path / "data").exists()


class _FsyncSizes:
    """Wraps os.fsync (the real one still runs): the file size at every fsync of `path`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
        import os

        self.sizes: list[int] = []
        real = os.fsync

        def spy(fd: int) -> None:
            real(fd)
            if os.path.exists(path) and os.fstat(fd).st_ino == path.stat().st_ino:
                self.sizes.append(os.fstat(fd).st_size)

        monkeypatch.setattr(os, "fsync", spy)


# 0.1 s of media per write at ~10 Mbit/s: 125 kB, about two age chunks.
_BYTES_PER_TENTH = 665 * len(TS_PACKET)


def _write_ten_seconds(segment: SegmentWriter, clock: ManualClock | None) -> None:
    """100 writes of 0.1 s of media; with `clock`, in real time (ticks included)."""
    for tenth in range(1, 101):
        if clock is not None:
            clock.advance(0.1)
        segment.write(TS_PACKET * 665)
        segment.media_written(tenth * 100_000)
        if clock is not None:
            segment.tick(clock.monotonic())


def test_fast_flush_syncs_every_interval_of_media(
        writer: FileRecordingWriter, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A pre-record flush writes seconds of media in no time: fsyncs follow the media.

    The clock stands still, as it nearly does while a ring is flushed; without the media
    rule nothing would be synced until the wall-clock interval passed.
    """
    segment = writer.open_segment(0, clock.wall())
    fsyncs = _FsyncSizes(monkeypatch, writer.directory / "00000.age.partial")
    _write_ten_seconds(segment, clock=None)
    # sync_interval is 0.5 s (make_store): one fsync per 5 writes, 20 in all.
    assert len(fsyncs.sizes) == 20
    gaps = [b - a for a, b in zip([0, *fsyncs.sizes], fsyncs.sizes, strict=False)]
    # Never more than 0.5 s of media (+ the chunk still in the encryptor) unsynced.
    assert max(gaps) <= 5 * _BYTES_PER_TENTH + SEALED_CHUNK_SIZE + 4096
    segment.close(10_000_000)


def test_realtime_media_and_wall_rules_do_not_double_the_fsyncs(
        writer: FileRecordingWriter, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    segment = writer.open_segment(0, clock.wall())
    fsyncs = _FsyncSizes(monkeypatch, writer.directory / "00000.age.partial")
    _write_ten_seconds(segment, clock)
    assert 15 <= len(fsyncs.sizes) <= 21  # about every 0.5 s, not twice as often
    segment.close(10_000_000)


def test_media_written_going_backwards_is_ignored(
        writer: FileRecordingWriter, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An item behind the newest (audio after video) must not move the synced mark back,
    or the next media rule would fire early."""
    segment = writer.open_segment(0, clock.wall())
    fsyncs = _FsyncSizes(monkeypatch, writer.directory / "00000.age.partial")
    segment.write(TS_PACKET * 2000)
    segment.media_written(400_000)
    segment.media_written(100_000)  # behind the newest: no new media
    clock.advance(0.5)
    segment.tick(clock.monotonic())  # the wall rule syncs: media up to 0.4 s covered
    assert len(fsyncs.sizes) == 1
    segment.write(TS_PACKET * 2000)
    segment.media_written(650_000)  # 0.25 s after the covered 0.4 s: not yet due
    assert len(fsyncs.sizes) == 1
    segment.media_written(900_000)  # 0.5 s after it: due
    assert len(fsyncs.sizes) == 2
    segment.close(900_000)

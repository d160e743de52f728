"""Encrypted segment files: ciphertext only, loss-window padding, storage reserve."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from test_evidence_support import TS_PACKET, AgeIdentity, age_decrypt, age_identity, make_store

from bodycam.firmware.evidence.age import CHUNK_SIZE
from bodycam.firmware.evidence.age_stream import PAYLOAD_NONCE_SIZE, SEALED_CHUNK_SIZE
from bodycam.firmware.evidence.api import StorageFullError
from bodycam.firmware.evidence.device_key import DeviceKey
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
    store = make_store(tmp_path, identity, clock, DeviceKey.generate())
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
    store = make_store(tmp_path, identity, clock, DeviceKey.generate(), reserve=60 * MIB,
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
    store = make_store(tmp_path, identity, clock, DeviceKey.generate(), free=10 * MIB,
                       reserve=10 * MIB)
    with pytest.raises(StorageFullError):
        store.begin_recording(wall_start=clock.wall(), clock_synchronised=True, prerecord_us=0)
    assert not (tmp_path / "data").exists()

"""SimMicrophone alone, and its beeps against the camera's white frames on one clock."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from bodycam.firmware.config.model import AudioConfig, VideoConfig
from bodycam.hal.clocks import ManualClock, SimClock
from bodycam.hal.interfaces import AudioChunk, Clock, PreviewFrame, VideoPacket
from bodycam.hal.sim.camera import SimCamera
from bodycam.hal.sim.marks import beep_onsets_us, decode_video
from bodycam.hal.sim.microphone import SimMicrophone

AUDIO = AudioConfig(enabled=True, sample_rate=16000, channels=2, bitrate_kbps=64)
QUARTER_PERIOD_US = 250  # onset detection resolution: a quarter of the 1 kHz tone


def record(mic: SimMicrophone, chunks: int) -> list[AudioChunk]:
    got: list[AudioChunk] = []
    done = threading.Event()

    def on_audio(chunk: AudioChunk) -> None:
        if len(got) < chunks:
            got.append(chunk)
        else:
            done.set()

    mic.start(on_audio)
    try:
        assert done.wait(30), "sim microphone produced no audio"
    finally:
        mic.stop()
    return got


def test_chunks_are_20ms_int16_interleaved_on_the_sample_grid() -> None:
    chunks = record(SimMicrophone(AUDIO, ManualClock(start_monotonic=3.0)), 10)
    assert [c.pts_us for c in chunks] == [3_000_000 + i * 20_000 for i in range(10)]
    for chunk in chunks:
        assert (chunk.sample_rate, chunk.channels, chunk.frames) == (16000, 2, 320)
        assert chunk.duration_us == 20_000
        stereo = np.frombuffer(chunk.pcm, dtype="<i2").reshape(-1, 2)
        assert (stereo[:, 0] == stereo[:, 1]).all()


def test_beep_starts_exactly_at_whole_seconds_and_lasts_50ms() -> None:
    chunks = record(SimMicrophone(AUDIO, ManualClock(start_monotonic=0.9)), 60)  # 0.9-2.1 s
    onsets = beep_onsets_us(chunks)
    assert len(onsets) == 2
    for onset, second in zip(onsets, (1_000_000, 2_000_000), strict=True):
        assert second <= onset < second + QUARTER_PERIOD_US
    assert chunks[0].pts_us == 900_000
    samples = np.concatenate([np.frombuffer(c.pcm, "<i2")[::2] for c in chunks])
    loud = np.abs(samples.astype(np.int32)) > 4000
    beep_1 = loud[int(0.1 * 16000):int(0.2 * 16000)]  # 1.0-1.1 s
    last_loud_ms = np.flatnonzero(beep_1).max() / 16
    assert 49 <= last_loud_ms < 50  # the 50 ms tone ends within its last 1 kHz cycle
    quiet = samples[int(0.2 * 16000):int(1.0 * 16000)]
    assert 0 < np.abs(quiet).max() < 1000  # low-level noise, not digital silence


def test_stall_leaves_a_gap_then_resumes_on_the_grid() -> None:
    mic = SimMicrophone(AUDIO, ManualClock())
    mic.stall(0.1)
    chunks = record(mic, 3)
    assert [c.pts_us for c in chunks] == [100_000, 120_000, 140_000]


def test_failed_microphone_delivers_nothing_but_stays_open() -> None:
    clock = ManualClock()
    mic = SimMicrophone(AUDIO, clock)
    got: list[AudioChunk] = []
    mic.fail()  # dead before the first chunk
    mic.start(got.append)
    while clock.monotonic() < 1.0:  # the thread keeps advancing the clock while it waits
        threading.Event().wait(0.001)
    assert mic.running and mic.failed
    mic.stop()
    assert got == []
    assert not mic.running


def test_chunk_length_must_be_whole_samples() -> None:
    with pytest.raises(ValueError, match="not a whole number of samples"):
        SimMicrophone(AudioConfig(True, 44100, 1, 64), ManualClock(), chunk_ms=15)


def test_beeps_and_white_frames_coincide_on_one_clock() -> None:
    """A/V sync end to end: both devices' threads paced by one clock faster than real time."""
    clock: Clock = SimClock(speed=4.0, start_monotonic=0.7)
    camera = SimCamera(VideoConfig(160, 96, 15, 200, 15), clock, preview_fps=5)
    mic = SimMicrophone(AudioConfig(True, 48000, 1, 64), clock)
    video: list[VideoPacket] = []
    audio: list[AudioChunk] = []
    previews: list[PreviewFrame] = []
    camera.start(video.append, previews.append)
    mic.start(audio.append)
    clock.sleep(2.5)  # until ~3.2 s: whole seconds 1, 2 and 3 are inside
    camera.stop()
    mic.stop()

    flashes = decode_video(video).flash_pts_us
    beeps = beep_onsets_us(audio)
    assert flashes[:3] == [1_000_000, 2_000_000, 3_000_000]
    assert len(beeps) >= 3
    for flash, beep in zip(flashes[:3], beeps[:3], strict=True):
        assert 0 <= beep - flash < QUARTER_PERIOD_US

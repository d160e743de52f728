"""Benchmark input: a pre-encoded 1080p30 H.264 stream plus 48 kHz PCM, looped on demand.

The pipeline benchmarks must measure the recorder, not the encoder, so a few seconds of
camera-like H.264 (the simulated camera's own encoder settings: Annex B, baseline, no
B-frames, SPS/PPS on every keyframe) are encoded once and then replayed with rewritten
timestamps for as long as needed. The picture is the simulator's moving scene plus
per-frame noise, so the encoder really spends its bit budget (the actual bitrate is
measured and reported, not assumed). The stream length is a whole number of GOPs, so
every loop starts on a keyframe and the replay is a valid H.264 stream.

Replayed payloads are fresh copies, as a real camera delivers fresh buffers: a
pre-record ring holding 30 s must hold 30 s worth of distinct bytes.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import av
import numpy as np
import numpy.typing as npt

from bodycam.firmware.config.model import AudioConfig, VideoConfig
from bodycam.firmware.media.prerecord import MediaItem
from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import AudioChunk, VideoPacket
from bodycam.hal.sim.camera import open_h264_encoder
from bodycam.hal.sim.microphone import synth_samples
from bodycam.hal.sim.scene import Scene

US_PER_S = 1_000_000
BENCH_VIDEO = VideoConfig(width=1920, height=1080, fps=30, bitrate_kbps=10_000,
                          keyframe_interval=30)
BENCH_AUDIO = AudioConfig(enabled=True, sample_rate=48_000, channels=1, bitrate_kbps=96)
AUDIO_CHUNK_US = 20_000  # what the simulated and real microphones deliver
NOISE_LEVELS = 32  # per-pixel noise amplitude (0..31 added to the scene)
NOISE_FRAMES = 3  # distinct noise fields, cycled
_VIDEO_FILE = "video.h264"
_INDEX_FILE = "index.json"


@dataclass(frozen=True)
class BenchStream:
    """One loop of encoded video and raw audio; timestamps start at 0."""

    video: tuple[VideoPacket, ...]
    audio: tuple[AudioChunk, ...]
    video_config: VideoConfig
    audio_config: AudioConfig
    loop_us: int

    @property
    def video_bytes(self) -> int:
        return sum(len(p.data) for p in self.video)

    @property
    def video_kbps(self) -> float:
        """The bitrate the encoder actually produced (not the configured target)."""
        return self.video_bytes * 8 / (self.loop_us / US_PER_S) / 1000


def encode_stream(seconds: float, video: VideoConfig = BENCH_VIDEO,
                  audio: AudioConfig = BENCH_AUDIO) -> BenchStream:
    """Encode about `seconds` (rounded up to whole GOPs) of the noisy moving scene."""
    gop = video.keyframe_interval
    frames = max(1, math.ceil(seconds * video.fps / gop)) * gop
    encoder = open_h264_encoder(video)
    scene = Scene(video.width, video.height)
    noise = _noise_fields(video.width, video.height)
    wall = datetime(2025, 1, 1, tzinfo=UTC)
    packets: list[VideoPacket] = []
    for index in range(frames):
        rgb = scene.render(index, video.fps, wall)
        if index % video.fps:  # keep the white flash frame white
            rgb += noise[index % len(noise)]
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = index
        packets.extend(_encode(encoder, frame, video.fps))
    packets.extend(_encode(encoder, None, video.fps))
    if len(packets) != frames or not packets[0].keyframe:
        raise RuntimeError(f"the benchmark encoder produced {len(packets)} packets for "
                           f"{frames} frames (first keyframe: {packets[:1]}); it must be "
                           "a zero-latency encoder that starts with a keyframe")
    loop_us = frames * US_PER_S // video.fps
    return BenchStream(tuple(packets), _audio_chunks(loop_us, audio), video, audio, loop_us)


def _noise_fields(width: int, height: int) -> list[npt.NDArray[np.uint8]]:
    rng = np.random.default_rng(7)
    size = width * height * 3
    return [(np.frombuffer(rng.bytes(size), np.uint8) % NOISE_LEVELS).reshape(height, width, 3)
            for _ in range(NOISE_FRAMES)]


def _encode(encoder: av.VideoCodecContext, frame: av.VideoFrame | None,
            fps: int) -> Iterator[VideoPacket]:
    """The packets `encoder` returns for `frame` (None: flush), as VideoPackets."""
    for packet in encoder.encode(frame):
        if packet.pts is None:
            raise RuntimeError("the benchmark encoder produced a packet without pts; every "
                               "frame is given one, so the encoder settings are wrong")
        yield VideoPacket(bytes(packet), packet.pts * US_PER_S // fps,
                          bool(packet.is_keyframe))


def _audio_chunks(loop_us: int, audio: AudioConfig) -> tuple[AudioChunk, ...]:
    per_chunk = audio.sample_rate * AUDIO_CHUNK_US // US_PER_S
    count = loop_us // AUDIO_CHUNK_US
    rng = np.random.default_rng(0)
    samples = synth_samples(0, per_chunk * count, audio.sample_rate, rng)
    if audio.channels > 1:
        samples = np.repeat(samples[:, None], audio.channels, axis=1)
    width = per_chunk * audio.channels
    flat = samples.reshape(-1)
    return tuple(AudioChunk(flat[i * width:(i + 1) * width].tobytes(),
                            i * AUDIO_CHUNK_US, audio.sample_rate, audio.channels)
                 for i in range(count))


def replay(stream: BenchStream, seconds: float, *, start_us: int = 0) -> Iterator[MediaItem]:
    """`seconds` of media in arrival (timestamp) order, timestamps from `start_us`.

    Lazy, with a fresh copy of every payload, so nothing but the consumer holds on to
    the media (what a memory measurement needs).
    """
    end_us = start_us + round(seconds * US_PER_S)
    loops = math.ceil(seconds * US_PER_S / stream.loop_us)
    video = (VideoPacket(memoryview(p.data).tobytes(), start_us + n * stream.loop_us + p.pts_us,
                         p.keyframe)
             for n in range(loops) for p in stream.video)
    audio = (AudioChunk(memoryview(c.pcm).tobytes(), start_us + n * stream.loop_us + c.pts_us,
                        c.sample_rate, c.channels)
             for n in range(loops) for c in stream.audio)
    return itertools.takewhile(lambda item: item.pts_us < end_us,
                               heapq.merge(video, audio, key=lambda item: item.pts_us))


def save_stream(stream: BenchStream, directory: Path) -> Path:
    """Write the encoded video loop to `directory` (for a measurement subprocess)."""
    directory.mkdir(parents=True, exist_ok=True)
    index = []
    with (directory / _VIDEO_FILE).open("wb") as out:
        for packet in stream.video:
            index.append({"size": len(packet.data), "pts_us": packet.pts_us,
                          "keyframe": packet.keyframe})
            out.write(packet.data)
    meta = {"video": dataclasses.asdict(stream.video_config),
            "audio": dataclasses.asdict(stream.audio_config),
            "loop_us": stream.loop_us, "packets": index}
    path = directory / _INDEX_FILE
    path.write_text(json.dumps(meta), encoding="utf-8")
    return path


def load_stream(index_path: Path) -> BenchStream:
    """Read what save_stream wrote; the audio is synthesised again (deterministic)."""
    meta = json.loads(index_path.read_text(encoding="utf-8"))
    data = (index_path.parent / _VIDEO_FILE).read_bytes()
    packets: list[VideoPacket] = []
    offset = 0
    for entry in meta["packets"]:
        packets.append(VideoPacket(data[offset:offset + entry["size"]], entry["pts_us"],
                                   entry["keyframe"]))
        offset += entry["size"]
    audio = AudioConfig(**meta["audio"])
    loop_us = int(meta["loop_us"])
    return BenchStream(tuple(packets), _audio_chunks(loop_us, audio),
                       VideoConfig(**meta["video"]), audio, loop_us)


class MediaTarget(Protocol):
    """What `drive` feeds: the recorder's device-callback interface plus its barrier."""

    def on_video(self, packet: VideoPacket) -> None: ...

    def on_audio(self, chunk: AudioChunk) -> None: ...

    def flush(self, timeout: float = 10.0) -> bool: ...


def drive(target: MediaTarget, clock: ManualClock, items: Iterable[MediaItem], *,
          slice_s: float = 0.5, timeout_s: float = 60.0) -> int:
    """Deliver `items` as the devices would, as fast as the target keeps up; returns the
    number delivered.

    The clock follows media time (so syncs and stall checks happen per media second, as
    on a camera running in real time); after every `slice_s` of media the feeder waits
    for the target to catch up, which keeps the bounded inbox from overflowing.
    """
    slice_us = round(slice_s * US_PER_S)
    t0 = clock.monotonic()
    origin_us: int | None = None
    next_barrier_us = 0
    count = 0
    for item in items:
        if origin_us is None:
            origin_us, next_barrier_us = item.pts_us, item.pts_us + slice_us
        if item.pts_us >= next_barrier_us:
            _barrier(target, timeout_s)
            next_barrier_us += slice_us
        due = t0 + (item.pts_us - origin_us) / US_PER_S
        now = clock.monotonic()
        if due > now:
            clock.advance(due - now)
        if isinstance(item, VideoPacket):
            target.on_video(item)
        else:
            target.on_audio(item)
        count += 1
    _barrier(target, timeout_s)
    return count


def _barrier(target: MediaTarget, timeout_s: float) -> None:
    if not target.flush(timeout_s):
        raise RuntimeError(f"the recorder did not catch up within {timeout_s:g} s; "
                           "the machine is overloaded or the recorder hung")

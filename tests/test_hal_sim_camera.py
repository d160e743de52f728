"""SimCamera: real H.264 from PyAV, decoded back in memory and inspected."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bodycam.firmware.config.model import VideoConfig
from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import PreviewFrame, VideoPacket
from bodycam.hal.sim.camera import SimCamera, preview_size
from bodycam.hal.sim.marks import decode_video

VIDEO = VideoConfig(width=192, height=108, fps=10, bitrate_kbps=300, keyframe_interval=5)
FRAMES = 25


class Capture:
    """Collects callbacks until `frames` packets arrived (the camera thread then idles)."""

    def __init__(self, frames: int) -> None:
        self.video: list[VideoPacket] = []
        self.previews: list[PreviewFrame] = []
        self._frames = frames
        self.done = threading.Event()

    def on_video(self, packet: VideoPacket) -> None:
        if len(self.video) < self._frames:
            self.video.append(packet)
        else:
            self.done.set()

    def on_preview(self, frame: PreviewFrame) -> None:
        if not self.done.is_set():
            self.previews.append(frame)


def capture(camera: SimCamera, frames: int) -> Capture:
    sink = Capture(frames)
    camera.start(sink.on_video, sink.on_preview)
    try:
        assert sink.done.wait(30), "sim camera produced no frames"
    finally:
        camera.stop()
    return sink


@pytest.fixture(scope="module")
def run() -> Iterator[tuple[SimCamera, Capture]]:
    """One capture on a ManualClock starting at t=10 s, shared by the checks below."""
    camera = SimCamera(VIDEO, ManualClock(start_monotonic=10.0), preview_fps=5)
    yield camera, capture(camera, FRAMES)


def nal_types(annex_b: bytes) -> list[int]:
    """NAL unit types of an Annex B access unit (the byte after each 00 00 01)."""
    types = []
    i = annex_b.find(b"\x00\x00\x01")
    while i != -1:
        types.append(annex_b[i + 3] & 0x1F)
        i = annex_b.find(b"\x00\x00\x01", i + 3)
    return types


def test_pts_follow_the_clock_on_the_frame_grid(run: tuple[SimCamera, Capture]) -> None:
    _, sink = run
    pts = [p.pts_us for p in sink.video]
    assert pts[0] == 10_000_000  # first grid point at or after the start time
    assert pts == [10_000_000 + i * 100_000 for i in range(FRAMES)]


def test_output_decodes_frame_for_frame(run: tuple[SimCamera, Capture]) -> None:
    camera, sink = run
    assert camera.frames_encoded >= FRAMES
    assert decode_video(sink.video).frames == FRAMES


def test_keyframes_at_the_interval_each_with_sps_and_pps(
        run: tuple[SimCamera, Capture]) -> None:
    _, sink = run
    keyframes = [i for i, p in enumerate(sink.video) if p.keyframe]
    assert keyframes == list(range(0, FRAMES, VIDEO.keyframe_interval))
    for i, packet in enumerate(sink.video):
        types = nal_types(packet.data)
        assert packet.data.startswith(b"\x00\x00\x00\x01")  # Annex B start code
        if packet.keyframe:
            assert {7, 8, 5} <= set(types), f"keyframe {i}: NAL types {types}"
        else:
            assert 5 not in types and 7 not in types


def test_every_keyframe_starts_an_independently_decodable_stream(
        run: tuple[SimCamera, Capture]) -> None:
    _, sink = run
    start = [i for i, p in enumerate(sink.video) if p.keyframe][-1]  # a later segment
    assert decode_video(sink.video[start:]).frames == FRAMES - start


def test_full_white_frame_on_every_whole_second(run: tuple[SimCamera, Capture]) -> None:
    _, sink = run
    assert decode_video(sink.video).flash_pts_us == [10_000_000, 11_000_000, 12_000_000]


def test_previews_are_small_rgb_at_the_preview_rate(run: tuple[SimCamera, Capture]) -> None:
    camera, sink = run
    assert camera.preview_size == (256, 144)
    assert [f.pts_us for f in sink.previews] == [10_000_000 + i * 200_000 for i in range(13)]
    frame = sink.previews[1]
    assert frame.rgb.shape == (144, 256, 3)
    assert frame.rgb.dtype.name == "uint8"


def test_preview_size_keeps_the_aspect_ratio() -> None:
    assert preview_size(640, 360) == (256, 144)
    assert preview_size(640, 480) == (192, 144)
    assert preview_size(1920, 1080) == (256, 144)


def test_stall_skips_frames_for_the_stalled_time() -> None:
    clock = ManualClock(start_monotonic=0.0)
    camera = SimCamera(VIDEO, clock, preview_fps=5)
    camera.stall(0.55)  # stalled from the first frame on
    sink = capture(camera, 3)
    assert [p.pts_us for p in sink.video] == [600_000, 700_000, 800_000]
    assert sink.video[0].keyframe


def test_restart_begins_with_a_fresh_keyframe() -> None:
    camera = SimCamera(VIDEO, ManualClock(), preview_fps=5)
    first = capture(camera, 3)
    second = capture(camera, 3)
    assert first.video[0].keyframe and second.video[0].keyframe
    assert second.video[0].pts_us > first.video[-1].pts_us
    assert not camera.running

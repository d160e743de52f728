"""Simulated camera: real H.264 (PyAV/libx264) of a synthetic scene, paced by the clock.

Frame i sits at media time i/fps on the injected clock's monotonic timeline (see
pacing.py), so pts_us derive from clock.monotonic() exactly as a sensor timestamp would.
The encoder is configured like the Pi's hardware encoder output the pipeline expects:
Annex B, no B-frames, an IDR keyframe every `keyframe_interval` frames, and SPS/PPS
repeated in front of every keyframe, so each segment can start at any keyframe and
decode on its own.

Preview frames keep the video's aspect ratio with a short side of PREVIEW_SHORT_SIDE
pixels (256x144 for 16:9 video): big enough to crop a 128x128 square without upscaling;
the firmware renderer crops and mirrors.
"""

from __future__ import annotations

import threading
from fractions import Fraction

import av
import numpy as np
from PIL import Image

from bodycam.firmware.config.model import VideoConfig
from bodycam.hal.interfaces import (
    Camera,
    Clock,
    PreviewCallback,
    PreviewFrame,
    VideoCallback,
    VideoPacket,
)
from bodycam.hal.sim.pacing import GridPacer
from bodycam.hal.sim.scene import Scene

PREVIEW_SHORT_SIDE = 144


def preview_size(width: int, height: int, short_side: int = PREVIEW_SHORT_SIDE) -> tuple[int, int]:
    """(width, height) of the preview: the video's aspect, short side `short_side`, even."""
    scale = short_side / min(width, height)
    return (round(width * scale / 2) * 2, round(height * scale / 2) * 2)


def open_h264_encoder(video: VideoConfig) -> av.VideoCodecContext:
    """A libx264 encoder configured for independently decodable segments at low latency."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width = video.width
    codec.height = video.height
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, video.fps)
    codec.framerate = Fraction(video.fps, 1)
    codec.bit_rate = video.bitrate_kbps * 1000
    codec.thread_count = 1  # predictable load: the simulator must keep up on one core
    interval = video.keyframe_interval
    codec.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "profile": "baseline",
        # scenecut=0: keyframes only on the interval (the white flash must not add any);
        # repeat-headers: SPS/PPS before every keyframe; annexb: start-code byte stream.
        "x264-params": (f"keyint={interval}:min-keyint={interval}:scenecut=0:bframes=0:"
                        "repeat-headers=1:annexb=1"),
    }
    codec.open()
    return codec


def _discard(_: object) -> None:
    """Callback used before start(): drops the item."""


class SimCamera(Camera):
    """Camera producing real H.264 packets and RGB previews on its own thread."""

    def __init__(self, video: VideoConfig, clock: Clock, *, preview_fps: int,
                 preview: tuple[int, int] | None = None) -> None:
        if video.fps <= 0 or preview_fps <= 0:
            raise ValueError(f"fps must be positive (video {video.fps}, preview {preview_fps})")
        self._video = video
        self._clock = clock
        self._preview_fps = preview_fps
        self.preview_size = preview or preview_size(video.width, video.height)
        self._scene = Scene(video.width, video.height)
        self._pacer = GridPacer("sim-camera", clock, Fraction(1, video.fps), self._produce)
        self._lock = threading.Lock()
        self._encoder: av.VideoCodecContext | None = None  # open while running
        self._on_video: VideoCallback = _discard
        self._on_preview: PreviewCallback = _discard
        self._frames_encoded = 0

    @property
    def frames_encoded(self) -> int:
        with self._lock:
            return self._frames_encoded

    @property
    def frames_dropped(self) -> int:
        """Frames skipped because the host could not keep up (see GridPacer)."""
        return self._pacer.dropped

    @property
    def running(self) -> bool:
        return self._pacer.running

    def start(self, on_video: VideoCallback, on_preview: PreviewCallback) -> None:
        if self._pacer.running:
            raise RuntimeError("sim camera is already running; stop() it first")
        self._encoder = open_h264_encoder(self._video)  # fresh stream: starts with an IDR
        self._on_video, self._on_preview = on_video, on_preview
        self._pacer.start()

    def stop(self) -> None:
        self._pacer.stop()
        self._encoder = None

    def stall(self, seconds: float) -> None:
        """Deliver nothing for `seconds` of clock time (a hung sensor or encoder)."""
        self._pacer.stall(seconds)

    def _produce(self, index: int) -> None:
        fps = self._video.fps
        pts_us = self._pacer.pts_us(index)
        encoder = self._encoder
        if encoder is None:  # stop() closes it only after the pacer thread has ended
            return
        rgb = self._scene.render(index, fps, self._clock.wall())
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = index
        packets = encoder.encode(frame)
        with self._lock:
            self._frames_encoded += 1
        for packet in packets:
            if packet.pts is None:  # every frame goes in with a pts; the pacer halts on this
                raise RuntimeError(f"libx264 returned a packet without pts for frame {index}")
            self._on_video(VideoPacket(bytes(packet), self._pacer.pts_us(packet.pts),
                                       bool(packet.is_keyframe)))
        # Decimate on the absolute grid: a preview whenever index*preview_fps/fps crosses
        # an integer, i.e. at most preview_fps per second of media time.
        if (index * self._preview_fps) // fps != ((index - 1) * self._preview_fps) // fps:
            small = Image.fromarray(rgb).resize(self.preview_size, Image.Resampling.BILINEAR)
            self._on_preview(PreviewFrame(np.asarray(small), pts_us))

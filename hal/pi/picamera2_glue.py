"""Everything that touches picamera2 itself: the Output, the encoder choice, colour conversion.

picamera2 imports the apt-only libcamera bindings at import time, so this module is
imported only by `bodycam.hal.pi.camera`, lazily, once a camera is actually opened; that
keeps `bodycam.hal.pi` importable on an x86 workstation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import libcamera
import numpy as np
import numpy.typing as npt
from picamera2.converters import YUV2RGB_REC709, YUV420_to_RGB
from picamera2.encoders import LibavH264Encoder
from picamera2.encoders.h264_encoder import H264Encoder
from picamera2.outputs import Output
from picamera2.platform import Platform, get_platform

from bodycam.firmware.config.model import VideoConfig
from bodycam.hal.interfaces import VideoCallback, VideoPacket

_log = logging.getLogger(__name__)


class PacketOutput(Output):  # type: ignore[misc]  # picamera2 ships no type hints
    """Wraps every encoded frame into a VideoPacket and passes it on.

    picamera2 calls `outputframe` on its encoder thread (the V4L2 dequeue thread on a
    Pi 4/Zero 2, the libav thread on a Pi 5); anything slow here stalls encoding, so the
    method only builds the packet and calls `on_video`, which itself must only enqueue.

    picamera2 reports timestamps in microseconds relative to the first frame of the
    encoder run; `origin_us` returns that first frame's sensor timestamp (µs of
    CLOCK_MONOTONIC), so packets carry absolute monotonic times that line up with the
    preview frames and the microphone's chunks.
    """

    def __init__(self, on_video: VideoCallback, origin_us: Callable[[], int]) -> None:
        super().__init__()
        self._on_video = on_video
        self._origin_us = origin_us
        self.callback_errors = 0  # on_video raised; counted, never passed to picamera2

    def outputframe(
        self,
        frame: bytes | None,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        # `recording` is cleared by Encoder.stop(): nothing is delivered after stop.
        # Audio packets only occur when picamera2's own audio encoding is on (never here).
        if not self.recording or audio or frame is None or timestamp is None:
            return
        packet_out = VideoPacket(
            data=bytes(frame), pts_us=self._origin_us() + timestamp, keyframe=keyframe
        )
        try:
            self._on_video(packet_out)
        except Exception:  # raised into the encoder thread, it would end the encoding
            self.callback_errors += 1
            if self.callback_errors == 1:
                _log.exception("video packet dropped: the consumer failed (counted after this)")


def hardware_encoder_available() -> bool:
    """True on VC4 models (Zero 2, 3, 4), which have the V4L2 H.264 encoder; a Pi 5 has none."""
    return bool(get_platform() == Platform.VC4)


def make_h264_encoder(video: VideoConfig, hardware: bool) -> Any:
    """The H.264 encoder for this model.

    On a Pi 5 picamera2's `H264Encoder` name silently resolves to the libx264 software
    encoder, whose constructor differs (framerate and iperiod default to 30 and the
    framerate drives its rate control), so both classes are named and called explicitly.
    SPS/PPS are repeated before every keyframe (`repeat=True`) so that every segment
    starts decodable.
    """
    bitrate = video.bitrate_kbps * 1000
    encoder_class = H264Encoder if hardware else LibavH264Encoder
    return encoder_class(
        bitrate=bitrate, repeat=True, iperiod=video.keyframe_interval, framerate=video.fps
    )


def rec709() -> Any:
    """The colour space of all streams; yuv420_to_rgb's matrix depends on it."""
    return libcamera.ColorSpace.Rec709()


def yuv420_to_rgb(
    yuv: npt.NDArray[np.uint8], size: tuple[int, int], stride: int
) -> npt.NDArray[np.uint8]:
    """Convert one lores YUV420 buffer ((h*3/2) x stride) to R,G,B at half resolution.

    Uses picamera2's converter with the Rec.709 matrix. rb_swap must be off: its default
    produces B,G,R for OpenCV. The matrix scales luma for limited range (16-235) but does
    not remove the 16 offset, which would lift blacks and clip highlights, so the offset
    is taken off the Y plane first.
    """
    width, height = size
    flat = yuv.reshape(-1).copy()
    luma = flat[: stride * height]
    np.subtract(np.maximum(luma, 16), 16, out=luma)
    rgb = YUV420_to_RGB(
        flat, (stride, height), matrix=YUV2RGB_REC709, rb_swap=False, final_width=width // 2
    )
    return np.ascontiguousarray(rgb, dtype=np.uint8)

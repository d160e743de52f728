"""The camera module on picamera2: H.264 from the main stream, RGB previews from lores.

Timestamps: libcamera's SensorTimestamp (start of exposure, nanoseconds of
CLOCK_MONOTONIC, the clock picamera2 itself compares with `time.monotonic_ns()`) is the
media clock. Video packets and preview frames carry it in microseconds, and the
microphone maps its chunks onto the same clock, so the muxer can line them up.

Preview path: the lores stream is copied in picamera2's `post_callback` and converted on a
separate worker thread. The callback runs on the camera event loop right before the
request goes to the encoder, so it does the least possible there: it skips frames until
the next preview is due (by sensor time, so the preview rate follows the display's fps
and not the sensor's), copies the small lores buffer (tens of kB) into a one-slot queue,
and drops the frame if the worker is still busy. Capturing with `capture_request()` from
a thread instead was rejected: a timed-out capture job stays queued in picamera2 and
later takes a request that nobody releases, starving the encoder of buffers, and a
stalled camera would hang `stop()`.

Lores format: YUV420 on every model, because the VC4 ISP (Pi Zero 2, 3, 4) refuses any
other lores format ("lores stream must be YUV"). picamera2's own converter turns it into
R,G,B at half resolution, so the stream is requested at twice the preview size with the
main stream's aspect ratio (never stretched); the display renderer crops.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from bodycam.firmware.config.model import VideoConfig
from bodycam.hal.interfaces import (
    Camera,
    HardwareError,
    PreviewCallback,
    PreviewFrame,
    VideoCallback,
)
from bodycam.hal.pi.deps import require

_log = logging.getLogger(__name__)

DEVICE = "camera module"
CAMERA_FIX = (
    "check that the ribbon cable sits fully in the CSI camera port (contacts facing the "
    "right way) with the power off, run `rpicam-hello --list-cameras` to see whether the "
    "camera is detected, keep camera_auto_detect=1 in /boot/firmware/config.txt (or add "
    "the dtoverlay for your sensor), and make sure no other program (rpicam-*, another "
    "bodycam) is using the camera"
)


def camera_where(camera_num: int) -> str:
    return f"CSI camera port, camera {camera_num}"


def _even_up(value: float) -> int:
    return 2 * math.ceil(value / 2)


def lores_size(main: tuple[int, int], preview: tuple[int, int]) -> tuple[int, int]:
    """The lores stream size: the main stream's aspect ratio, covering twice `preview`.

    Twice, because the YUV420 converter halves the resolution; capped at the main size,
    which picamera2 requires of a lores stream.
    """
    main_w, main_h = main
    scale = max(2 * preview[0] / main_w, 2 * preview[1] / main_h)
    return min(main_w, _even_up(main_w * scale)), min(main_h, _even_up(main_h * scale))


def picamera2_glue() -> ModuleType:
    """Import picamera2 (HardwareError with the apt fix if missing) and the glue module."""
    require("picamera2", DEVICE)
    return require("bodycam.hal.pi.picamera2_glue", DEVICE)


class PiCamera(Camera):
    """A configured, opened picamera2 camera (see the module docstring for the design)."""

    def __init__(
        self,
        picam2: Any,
        video: VideoConfig,
        preview_size: tuple[int, int],
        preview_fps: int,
        *,
        camera_num: int = 0,
        hardware_encoder: bool | None = None,
    ) -> None:
        self._glue = picamera2_glue()
        self._picam2 = picam2
        self._video = video
        self._where = camera_where(camera_num)
        self._hardware_encoder = bool(
            self._glue.hardware_encoder_available() if hardware_encoder is None
            else hardware_encoder
        )
        self._preview_period_ns = 1_000_000_000 // max(1, preview_fps)
        self._lock = threading.Lock()
        self._running = False
        self._worker: threading.Thread | None = None
        self._slot: queue.Queue[tuple[npt.NDArray[np.uint8], int] | None] = queue.Queue(1)
        self._next_preview_ns = 0
        self.dropped_previews = 0
        self._lores_size, self._lores_stride = self._configure(preview_size)

    def _configure(self, preview_size: tuple[int, int]) -> tuple[tuple[int, int], int]:
        main = (self._video.width, self._video.height)
        try:
            config = self._picam2.create_video_configuration(
                main={"size": main, "format": "YUV420"},
                lores={"size": lores_size(main, preview_size), "format": "YUV420"},
                colour_space=self._glue.rec709(),
                controls={"FrameRate": self._video.fps},
                encode="main",
            )
            self._picam2.configure(config)
            lores = self._picam2.camera_configuration()["lores"]
        except (RuntimeError, ValueError, OSError) as exc:
            raise HardwareError(
                DEVICE,
                self._where,
                f"cannot configure {main[0]}x{main[1]} at {self._video.fps} fps ({exc})",
                "choose a [video] size and fps the sensor supports "
                "(`rpicam-hello --list-cameras` lists its modes)",
            ) from exc
        # libcamera may adjust the lores size to the ISP's alignment: use what it chose.
        return (int(lores["size"][0]), int(lores["size"][1])), int(lores["stride"])

    @property
    def running(self) -> bool:
        return self._running

    @property
    def hardware_encoder(self) -> bool:
        return self._hardware_encoder

    def start(self, on_video: VideoCallback, on_preview: PreviewCallback) -> None:
        with self._lock:
            if self._running:
                raise RuntimeError("camera already started")
            encoder = self._glue.make_h264_encoder(self._video, self._hardware_encoder)
            output = self._glue.PacketOutput(on_video, lambda: int(encoder.firsttimestamp or 0))
            self._slot = queue.Queue(1)
            self._next_preview_ns = 0
            self._worker = threading.Thread(
                target=self._preview_worker, args=(on_preview,), name="camera-preview",
                daemon=True,
            )
            self._worker.start()
            self._picam2.post_callback = self._on_request
            try:
                self._picam2.start_recording(encoder, output)
            except (RuntimeError, OSError) as exc:
                self._picam2.post_callback = None
                self._stop_worker()
                raise HardwareError(
                    DEVICE, self._where, f"cannot start capture and H.264 encoding ({exc})",
                    CAMERA_FIX,
                ) from exc
            self._running = True

    def stop(self) -> None:
        with self._lock:
            if not self._running:
                return
            self._running = False
            try:
                # Returns once the event loop and the encoder thread are done with frames.
                self._picam2.stop_recording()
            finally:
                self._picam2.post_callback = None
                self._stop_worker()

    def close(self) -> None:
        """Stop and release the camera so another process can open it."""
        self.stop()
        self._picam2.close()

    # -- camera event loop thread ------------------------------------------------------

    def _on_request(self, request: Any) -> None:
        """picamera2 post_callback: copy the lores buffer when a preview is due; never block.

        An exception here would escape into picamera2's event loop and cost the encoder
        its frames, so failures only drop the preview frame.
        """
        try:
            timestamp_ns = int(request.get_metadata()["SensorTimestamp"])
            if timestamp_ns < self._next_preview_ns:
                return
            self._next_preview_ns = timestamp_ns + self._preview_period_ns
            if self._slot.full():
                self.dropped_previews += 1  # the display is slower than the preview rate
                return
            self._slot.put_nowait((request.make_array("lores"), timestamp_ns))
        except Exception:
            self.dropped_previews += 1

    # -- preview worker thread ---------------------------------------------------------

    def _preview_worker(self, on_preview: PreviewCallback) -> None:
        while (item := self._slot.get()) is not None:
            yuv, timestamp_ns = item
            try:
                rgb = self._glue.yuv420_to_rgb(yuv, self._lores_size, self._lores_stride)
                on_preview(PreviewFrame(rgb=rgb, pts_us=timestamp_ns // 1000))
            except Exception:  # a bad frame or renderer bug must not end the preview
                _log.exception("preview frame dropped")

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        while True:  # make room for the sentinel: a pending frame is no longer wanted
            try:
                self._slot.get_nowait()
            except queue.Empty:
                break
        self._slot.put(None)
        worker.join()


def open_pi_camera(
    video: VideoConfig, preview_size: tuple[int, int], preview_fps: int, camera_num: int = 0
) -> PiCamera:
    """Open and configure the CSI camera; HardwareError names the port and the fix."""
    picamera2 = require("picamera2", DEVICE)
    try:
        picam2 = picamera2.Picamera2(camera_num)
    except (RuntimeError, IndexError, OSError) as exc:
        raise HardwareError(
            DEVICE, camera_where(camera_num), f"camera not found or in use ({exc})", CAMERA_FIX
        ) from exc
    try:
        return PiCamera(picam2, video, preview_size, preview_fps, camera_num=camera_num)
    except HardwareError:
        picam2.close()
        raise

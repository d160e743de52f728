"""PiCamera against the real picamera2 classes (Output, encoders, converters) on x86.

Only the sensor side is replaced: `libcamera` and `pykms` (apt-only bindings) are stubbed
so picamera2 imports, and a FakePicamera2 stands in for the camera object (what
libcamera would deliver). The adapter, picamera2's Output base class and both H.264
encoder classes are the real ones.
"""

from __future__ import annotations

import importlib
import queue
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import numpy as np
import numpy.typing as npt
import pytest

from bodycam.firmware.config.model import VideoConfig
from bodycam.hal.interfaces import HardwareError, PreviewFrame, VideoPacket
from bodycam.hal.pi.camera import PiCamera, lores_size, open_pi_camera

VIDEO = VideoConfig(width=1280, height=720, fps=30, bitrate_kbps=4000, keyframe_interval=30)
PREVIEW = (128, 128)
WAIT = 5.0  # deadline for the preview worker thread (not a timing assertion)


def _loaded_picamera2_modules() -> list[str]:
    return [
        name for name in sys.modules
        if name.split(".")[0] == "picamera2" or name == "bodycam.hal.pi.picamera2_glue"
    ]


@pytest.fixture(scope="module")
def picam() -> Iterator[SimpleNamespace]:
    """picamera2 importable on x86: exactly `libcamera` and `pykms` stubbed with MagicMocks.

    Afterwards picamera2 is unloaded again, so other tests see the plain x86 state.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name in ("libcamera", "pykms"):
            patch.setitem(sys.modules, name, MagicMock(name=name))
        outputs = importlib.import_module("picamera2.outputs")
        encoders = importlib.import_module("picamera2.encoders")
        yield SimpleNamespace(
            Output=outputs.Output,
            H264Encoder=importlib.import_module("picamera2.encoders.h264_encoder").H264Encoder,
            LibavH264Encoder=encoders.LibavH264Encoder,
            platform=importlib.import_module("picamera2.platform"),
            picamera2=importlib.import_module("picamera2"),
            glue=importlib.import_module("bodycam.hal.pi.picamera2_glue"),
        )
        for name in _loaded_picamera2_modules():
            del sys.modules[name]


# --------------------------------------------------------------------------- fakes


def yuv420(size: tuple[int, int], stride: int, yuv: tuple[int, int, int]) -> (
    npt.NDArray[np.uint8]
):
    """A uniform YUV420 buffer laid out as picamera2 returns it: (h*3/2, stride)."""
    width, height = size
    y, u, v = yuv
    planes = np.concatenate([
        np.full(height * stride, y, np.uint8),
        np.full(height * stride // 4, u, np.uint8),
        np.full(height * stride // 4, v, np.uint8),
    ])
    planes[: height * stride].reshape(height, stride)[:, width:] = 0  # stride padding
    return planes.reshape(height * 3 // 2, stride)


class FakeRequest:
    def __init__(self, timestamp_ns: int, lores: npt.NDArray[np.uint8]) -> None:
        self._metadata = {"SensorTimestamp": timestamp_ns, "ExposureTime": 10_000}
        self._lores = lores

    def get_metadata(self) -> dict[str, int]:
        return dict(self._metadata)

    def make_array(self, name: str) -> npt.NDArray[np.uint8]:
        assert name == "lores"
        return self._lores.copy()


class FakePicamera2:
    """The camera as libcamera would present it; records what the adapter asks for."""

    STRIDE_PADDING = 32  # libcamera pads lines; the adapter must honour the stride

    def __init__(self, fail_start: Exception | None = None) -> None:
        self.post_callback: Any = None
        self.config_kwargs: dict[str, Any] = {}
        self.configured: dict[str, Any] | None = None
        self.encoder: Any = None
        self.output: Any = None
        self.stop_count = 0
        self.closed = False
        self._fail_start = fail_start

    def create_video_configuration(self, **kwargs: Any) -> dict[str, Any]:
        self.config_kwargs = kwargs
        return {"main": dict(kwargs["main"]), "lores": dict(kwargs["lores"])}

    def configure(self, config: dict[str, Any]) -> None:
        self.configured = config

    def camera_configuration(self) -> dict[str, Any]:
        assert self.configured is not None
        lores = self.configured["lores"]
        return {**self.configured,
                "lores": {**lores, "stride": lores["size"][0] + self.STRIDE_PADDING}}

    def start_recording(self, encoder: Any, output: Any) -> None:
        if self._fail_start is not None:
            raise self._fail_start
        self.encoder, self.output = encoder, output
        output.start()  # what picamera2's Encoder.start() does with its outputs

    def stop_recording(self) -> None:
        self.output.stop()  # what Encoder.stop() does
        self.stop_count += 1

    def close(self) -> None:
        self.closed = True

    # what the camera event loop does for each completed request
    def deliver(self, timestamp_ns: int, lores: npt.NDArray[np.uint8]) -> None:
        if self.post_callback is not None:
            self.post_callback(FakeRequest(timestamp_ns, lores))


def lores_buffer(fake: FakePicamera2, yuv: tuple[int, int, int]) -> npt.NDArray[np.uint8]:
    lores = fake.camera_configuration()["lores"]
    return yuv420(lores["size"], lores["stride"], yuv)


# --------------------------------------------------------------------------- Output


def test_packet_output_is_a_real_picamera2_output(picam: SimpleNamespace) -> None:
    packets: list[VideoPacket] = []
    output = picam.glue.PacketOutput(packets.append, lambda: 7_000_000)
    assert isinstance(output, picam.Output)
    output.start()
    idr = b"\x00\x00\x00\x01\x67sps\x00\x00\x00\x01\x68pps\x00\x00\x00\x01\x65idr"
    # exactly the calls the V4L2 / libav encoder threads make
    output.outputframe(idr, True, 0)
    output.outputframe(bytearray(b"\x00\x00\x00\x01\x41p"), keyframe=False, timestamp=33_333,
                       packet=None, audio=False)
    assert packets == [
        VideoPacket(data=idr, pts_us=7_000_000, keyframe=True),
        VideoPacket(data=b"\x00\x00\x00\x01\x41p", pts_us=7_033_333, keyframe=False),
    ]
    assert type(packets[1].data) is bytes


def test_packet_output_delivers_nothing_outside_a_run_or_for_audio(
    picam: SimpleNamespace,
) -> None:
    packets: list[VideoPacket] = []
    output = picam.glue.PacketOutput(packets.append, lambda: 0)
    output.outputframe(b"early", True, 0)
    output.start()
    output.outputframe(None, True, 10, packet=object(), audio=True)
    output.stop()
    output.outputframe(b"late", True, 20)
    assert packets == []


def test_a_failing_consumer_never_raises_into_the_encoder_thread(
    picam: SimpleNamespace,
) -> None:
    def broken(_: VideoPacket) -> None:
        raise RuntimeError("consumer bug")

    output = picam.glue.PacketOutput(broken, lambda: 0)
    output.start()
    output.outputframe(b"\x00\x00\x00\x01\x65", True, 0)
    output.outputframe(b"\x00\x00\x00\x01\x41", False, 33_333)
    assert output.callback_errors == 2


# --------------------------------------------------------------------------- encoder


def test_vc4_gets_the_v4l2_hardware_encoder(picam: SimpleNamespace) -> None:
    encoder = picam.glue.make_h264_encoder(VIDEO, hardware=True)
    assert type(encoder) is picam.H264Encoder
    assert (encoder.bitrate, encoder.iperiod, encoder.repeat) == (4_000_000, 30, True)


def test_pi5_gets_libav_with_its_own_constructor(picam: SimpleNamespace) -> None:
    video = VideoConfig(width=1920, height=1080, fps=25, bitrate_kbps=6000, keyframe_interval=50)
    encoder = picam.glue.make_h264_encoder(video, hardware=False)
    assert type(encoder) is picam.LibavH264Encoder
    assert (encoder.bitrate, encoder.iperiod, encoder.repeat, encoder.framerate) == (
        6_000_000, 50, True, 25)


def test_hardware_encoder_follows_picamera2_platform_detection(
    picam: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = picam.platform.Platform
    monkeypatch.setattr(picam.glue, "get_platform", lambda: platform.PISP)
    assert picam.glue.hardware_encoder_available() is False
    assert PiCamera(FakePicamera2(), VIDEO, PREVIEW, 15).hardware_encoder is False
    monkeypatch.setattr(picam.glue, "get_platform", lambda: platform.VC4)
    assert picam.glue.hardware_encoder_available() is True


# --------------------------------------------------------------------------- preview maths


@pytest.mark.parametrize(("main", "preview", "expected"), [
    ((1280, 720), (128, 128), (456, 256)),
    ((1920, 1080), (96, 64), (228, 128)),
    ((640, 480), (128, 128), (342, 256)),
    ((320, 240), (240, 240), (320, 240)),  # capped at the main stream
])
def test_lores_keeps_the_main_aspect_and_covers_twice_the_preview(
    main: tuple[int, int], preview: tuple[int, int], expected: tuple[int, int]
) -> None:
    size = lores_size(main, preview)
    assert size == expected
    assert size[0] % 2 == 0 and size[1] % 2 == 0
    assert abs(size[0] / size[1] - main[0] / main[1]) < 0.01


@pytest.mark.parametrize(("yuv", "rgb"), [
    ((63, 102, 240), (255, 0, 0)),  # Rec.709 limited-range red
    ((235, 128, 128), (255, 255, 255)),  # white
    ((16, 128, 128), (0, 0, 0)),  # black
    ((126, 128, 128), (128, 128, 128)),  # mid grey
])
def test_yuv420_converts_to_rgb_in_r_g_b_order(
    picam: SimpleNamespace, yuv: tuple[int, int, int], rgb: tuple[int, int, int]
) -> None:
    frame = picam.glue.yuv420_to_rgb(yuv420((100, 60), 128, yuv), (100, 60), 128)
    assert frame.shape == (30, 50, 3)
    assert frame.dtype == np.uint8
    assert np.abs(frame.astype(int) - rgb).max() <= 2


# --------------------------------------------------------------------------- PiCamera wiring


@pytest.mark.parametrize("hardware", [True, False])
def test_configuration_and_encoder_requested_from_picamera2(
    picam: SimpleNamespace, hardware: bool
) -> None:
    fake = FakePicamera2()
    camera = PiCamera(fake, VIDEO, PREVIEW, 15, hardware_encoder=hardware)
    kwargs = fake.config_kwargs
    assert kwargs["main"] == {"size": (1280, 720), "format": "YUV420"}
    assert kwargs["lores"] == {"size": (456, 256), "format": "YUV420"}
    assert kwargs["controls"] == {"FrameRate": 30}
    assert kwargs["encode"] == "main"
    assert kwargs["colour_space"] is sys.modules["libcamera"].ColorSpace.Rec709()

    camera.start(lambda packet: None, lambda frame: None)
    try:
        expected = picam.H264Encoder if hardware else picam.LibavH264Encoder
        assert type(fake.encoder) is expected
        assert (fake.encoder.bitrate, fake.encoder.iperiod, fake.encoder.repeat) == (
            4_000_000, 30, True)
        assert isinstance(fake.output, picam.Output)
        assert camera.running
    finally:
        camera.stop()


def test_video_packets_carry_sensor_time(picam: SimpleNamespace) -> None:
    fake = FakePicamera2()
    camera = PiCamera(fake, VIDEO, PREVIEW, 15, hardware_encoder=True)
    packets: list[VideoPacket] = []
    camera.start(packets.append, lambda frame: None)
    # picamera2's encoder records the first frame's SensorTimestamp (µs), then reports
    # times relative to it
    fake.encoder.firsttimestamp = 123_456_789
    fake.output.outputframe(b"\x00\x00\x00\x01\x65", True, 0)
    fake.output.outputframe(b"\x00\x00\x00\x01\x41", False, 33_333)
    camera.stop()
    fake.output.outputframe(b"after stop", False, 66_666)
    assert [(p.pts_us, p.keyframe) for p in packets] == [
        (123_456_789, True), (123_490_122, False)]


def test_preview_frames_are_rgb_at_the_preview_rate(picam: SimpleNamespace) -> None:
    fake = FakePicamera2()
    camera = PiCamera(fake, VIDEO, PREVIEW, 15, hardware_encoder=True)
    frames: queue.Queue[PreviewFrame] = queue.Queue()
    camera.start(lambda packet: None, frames.put)
    red = lores_buffer(fake, (63, 102, 240))
    frame_ns = 33_333_333  # 30 fps sensor, 15 fps preview: every second frame
    try:
        for index in range(4):
            fake.deliver(1_000_000_000 + index * frame_ns, red)
            if index % 2 == 0:
                frame = frames.get(timeout=WAIT)
                assert frame.pts_us == (1_000_000_000 + index * frame_ns) // 1000
                assert frame.rgb.shape == (128, 228, 3)  # main aspect, covers 128x128
                assert tuple(frame.rgb[64, 114]) == pytest.approx((255, 0, 0), abs=2)
    finally:
        camera.stop()
    assert frames.empty()
    assert fake.post_callback is None


def test_a_busy_preview_consumer_drops_frames_instead_of_blocking(
    picam: SimpleNamespace,
) -> None:
    fake = FakePicamera2()
    camera = PiCamera(fake, VIDEO, PREVIEW, 30, hardware_encoder=True)
    release = queue.Queue[None]()
    started = queue.Queue[None]()

    def slow_renderer(frame: PreviewFrame) -> None:
        started.put(None)
        release.get(timeout=WAIT)

    camera.start(lambda packet: None, slow_renderer)
    grey = lores_buffer(fake, (126, 128, 128))
    try:
        fake.deliver(0, grey)
        started.get(timeout=WAIT)  # worker now busy with frame 0
        for index in range(1, 5):  # the camera thread keeps going
            fake.deliver(index * 40_000_000, grey)
        assert camera.dropped_previews == 3  # one waits in the slot, three dropped
        release.put(None)
        release.put(None)
    finally:
        camera.stop()


def test_stop_is_idempotent_and_start_twice_is_an_error(picam: SimpleNamespace) -> None:
    fake = FakePicamera2()
    camera = PiCamera(fake, VIDEO, PREVIEW, 15, hardware_encoder=True)
    camera.stop()
    camera.start(lambda packet: None, lambda frame: None)
    with pytest.raises(RuntimeError, match="already started"):
        camera.start(lambda packet: None, lambda frame: None)
    camera.stop()
    camera.stop()
    assert fake.stop_count == 1
    assert not camera.running
    camera.close()
    assert fake.closed


# --------------------------------------------------------------------------- errors


def assert_names_camera_and_fix(error: HardwareError) -> None:
    text = str(error)
    assert "camera module" in text
    assert "CSI camera port" in text
    for fix in ("ribbon cable", "rpicam-hello --list-cameras", "camera_auto_detect"):
        assert fix in text


@pytest.mark.parametrize("problem", [
    RuntimeError('No camera number 0 found - use "rpicam-hello --list-cameras"'),
    RuntimeError("Camera __init__ sequence did not complete."),
])
def test_missing_or_busy_camera_is_a_hardware_error(
    picam: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, problem: Exception
) -> None:
    def no_camera(camera_num: int) -> None:
        raise problem

    monkeypatch.setattr(picam.picamera2, "Picamera2", no_camera)
    with pytest.raises(HardwareError) as caught:
        open_pi_camera(VIDEO, PREVIEW, 15)
    assert_names_camera_and_fix(caught.value)
    assert str(problem) in str(caught.value)


def test_unsupported_mode_is_a_hardware_error_and_closes_the_camera(
    picam: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakePicamera2()

    def refuse(config: dict[str, Any]) -> None:
        raise RuntimeError("Failed to configure camera")

    fake.configure = refuse  # type: ignore[method-assign]
    monkeypatch.setattr(picam.picamera2, "Picamera2", lambda camera_num: fake)
    with pytest.raises(HardwareError, match=r"1280x720 at 30 fps.*rpicam-hello"):
        open_pi_camera(VIDEO, PREVIEW, 15)
    assert fake.closed


def test_encoder_start_failure_is_a_hardware_error(picam: SimpleNamespace) -> None:
    fake = FakePicamera2(fail_start=OSError(2, "No such file or directory: '/dev/video11'"))
    camera = PiCamera(fake, VIDEO, PREVIEW, 15, hardware_encoder=True)
    with pytest.raises(HardwareError) as caught:
        camera.start(lambda packet: None, lambda frame: None)
    assert_names_camera_and_fix(caught.value)
    assert "/dev/video11" in str(caught.value)
    assert not camera.running
    assert fake.post_callback is None

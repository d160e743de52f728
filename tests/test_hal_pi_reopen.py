"""The Pi's reopening camera/microphone wrappers on x86: a device missing at boot is
opened by a later start(), and stop() releases a device that went quiet so the next
start() opens it afresh (a replugged USB microphone is a new PortAudio device). The
parts are stand-ins: PortAudio and libcamera cannot run here."""

from __future__ import annotations

import pytest

from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import (
    AudioCallback,
    AudioChunk,
    HardwareError,
    PreviewCallback,
    VideoCallback,
    VideoPacket,
)
from bodycam.hal.pi.reopen import STALE_SECONDS, ReopeningCamera, ReopeningMicrophone


class SoundCard:
    """One opened capture stream: delivers when told to, records what was done to it."""

    def __init__(self, log: list[str]) -> None:
        self._log = log
        self.running = False
        self.on_audio: AudioCallback | None = None
        self.stop_error: Exception | None = None

    def start(self, on_audio: AudioCallback) -> None:
        self._log.append("start")
        self.on_audio = on_audio
        self.running = True

    def stop(self) -> None:
        self._log.append("stop")
        self.running = False
        if self.stop_error is not None:
            raise self.stop_error

    def close(self) -> None:
        self._log.append("close")

    def deliver(self) -> None:
        assert self.on_audio is not None
        self.on_audio(AudioChunk(b"\0\0" * 160, 0, 16000, 1))


class Plug:
    """Opens a SoundCard while plugged in, HardwareError otherwise (like PiMicrophone)."""

    def __init__(self) -> None:
        self.plugged = True
        self.log: list[str] = []
        self.cards: list[SoundCard] = []

    def __call__(self) -> SoundCard:
        if not self.plugged:
            raise HardwareError("microphone", "default sound input",
                                "no sound input device", "connect the USB microphone")
        self.log.append("open")
        self.cards.append(SoundCard(self.log))
        return self.cards[-1]


def chunks() -> tuple[list[AudioChunk], AudioCallback]:
    got: list[AudioChunk] = []
    return got, got.append


def test_missing_at_boot_then_opened_by_a_later_start() -> None:
    plug, clock = Plug(), ManualClock()
    plug.plugged = False
    mic = ReopeningMicrophone(plug, clock)
    with pytest.raises(HardwareError, match="no sound input device"):
        mic.open()
    with pytest.raises(HardwareError):
        mic.start(chunks()[1])
    assert not mic.running
    plug.plugged = True
    got, on_audio = chunks()
    mic.start(on_audio)
    plug.cards[-1].deliver()
    assert mic.running and len(got) == 1
    mic.close()
    assert plug.log == ["open", "start", "close"]


def test_a_healthy_stream_stays_open_across_stop_and_start() -> None:
    plug, clock = Plug(), ManualClock()
    mic = ReopeningMicrophone(plug, clock)
    mic.open()
    mic.start(chunks()[1])
    clock.advance(5.0)
    plug.cards[-1].deliver()
    mic.stop()
    mic.start(chunks()[1])
    assert plug.log == ["open", "start", "stop", "start"]
    assert len(plug.cards) == 1


def test_a_quiet_stream_is_released_and_the_next_start_opens_a_new_one() -> None:
    plug, clock = Plug(), ManualClock()
    mic = ReopeningMicrophone(plug, clock)
    mic.start(chunks()[1])
    plug.cards[-1].deliver()
    clock.advance(STALE_SECONDS + 2.0)  # unplugged: nothing arrives any more
    mic.stop()
    assert plug.log == ["open", "start", "stop", "close"]
    got, on_audio = chunks()
    mic.start(on_audio)
    plug.cards[-1].deliver()
    assert len(plug.cards) == 2 and len(got) == 1


def test_a_stream_just_started_gets_time_before_it_counts_as_quiet() -> None:
    plug, clock = Plug(), ManualClock()
    mic = ReopeningMicrophone(plug, clock)
    mic.start(chunks()[1])
    clock.advance(STALE_SECONDS / 2)
    mic.stop()
    assert "close" not in plug.log


def test_a_failing_stop_releases_the_device_and_is_reported() -> None:
    plug, clock = Plug(), ManualClock()
    mic = ReopeningMicrophone(plug, clock)
    mic.start(chunks()[1])
    plug.cards[-1].deliver()
    plug.cards[-1].stop_error = OSError("Unanticipated host error")
    with pytest.raises(OSError, match="host error"):
        mic.stop()
    assert plug.log[-1] == "close"
    mic.start(chunks()[1])
    assert len(plug.cards) == 2


class Sensor:
    """A camera stand-in with PiCamera's start/stop/close shape."""

    def __init__(self, log: list[str]) -> None:
        self._log = log
        self.running = False
        self.on_video: VideoCallback | None = None

    def start(self, on_video: VideoCallback, on_preview: PreviewCallback) -> None:
        self._log.append("start")
        self.on_video = on_video
        self.running = True

    def stop(self) -> None:
        self._log.append("stop")
        self.running = False

    def close(self) -> None:
        self._log.append("close")


def test_the_camera_is_reopened_the_same_way() -> None:
    log: list[str] = []
    sensors: list[Sensor] = []

    def open_sensor() -> Sensor:
        log.append("open")
        sensors.append(Sensor(log))
        return sensors[-1]

    clock = ManualClock()
    camera = ReopeningCamera(open_sensor, clock)
    frames: list[VideoPacket] = []
    camera.start(frames.append, lambda _frame: None)
    assert sensors[-1].on_video is not None
    sensors[-1].on_video(VideoPacket(b"\0", 0, True))
    clock.advance(STALE_SECONDS + 1.0)  # the pipeline wedged
    camera.stop()
    camera.start(frames.append, lambda _frame: None)
    assert log == ["open", "start", "stop", "close", "open", "start"]
    assert len(frames) == 1 and camera.running

"""MediaSources on a manual clock: a source that fails or stalls is reopened in-process
with backoff, alarmed when it stays dead, cleared when it delivers again, and no driver
error ever reaches the controller (audit H5)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from bodycam.firmware.config.loader import load_config, shipped_file
from bodycam.firmware.device.conditions import ClearAlarm, Effect, RaiseAlarm, Report
from bodycam.firmware.device.health import HealthMonitor
from bodycam.firmware.device.sources import BACKOFF_SECONDS, FAILED_AFTER, MediaSources
from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import (
    AudioCallback,
    AudioChunk,
    HardwareError,
    Microphone,
    PreviewFrame,
    VideoPacket,
)
from bodycam.hal.sim.hardware import SimHardware, build_sim_hardware

STALL = 3.0


class ScriptedMicrophone(Microphone):
    """A sound card whose start() fails while `missing`, and whose stop() may raise."""

    def __init__(self) -> None:
        self.missing = False
        self.stop_error: Exception | None = None
        self.start_error: Exception | None = None
        self.starts = 0
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def start(self, on_audio: AudioCallback) -> None:
        self.starts += 1
        if self.start_error is not None:
            raise self.start_error
        if self.missing:
            raise HardwareError("microphone", "USB", "no sound input device", "plug it in")
        self._running = True

    def stop(self) -> None:
        self._running = False
        if self.stop_error is not None:
            raise self.stop_error


def ignore_video(_: VideoPacket) -> None: ...


def ignore_audio(_: AudioChunk) -> None: ...


def ignore_preview(_: PreviewFrame) -> None: ...


class Rig:
    def __init__(self) -> None:
        config = load_config(shipped_file("sim.toml"))
        self.clock = ManualClock()
        sim: SimHardware = build_sim_hardware(config, self.clock)
        self.mic = ScriptedMicrophone()
        self.hardware = replace(sim, microphone=self.mic)
        self.health = HealthMonitor(self.clock, STALL)
        self.sources = MediaSources(self.hardware, self.health, audio_enabled=True,
                                    on_video=ignore_video, on_audio=ignore_audio,
                                    on_preview=ignore_preview)
        self.effects: list[Effect] = []

    def step(self, seconds: float, *, video: bool = True, audio: bool = False) -> None:
        """Advance in 0.5 s ticks; the camera (and the microphone if `audio`) deliver."""
        for _ in range(round(seconds / 0.5)):
            self.clock.advance(0.5)
            now = self.clock.monotonic()
            if video:
                self.health.note_video(now)
            if audio and self.mic.running:
                self.health.note_audio(now)
            self.effects += self.sources.tick(now)

    def restarts(self) -> list[Report]:
        return [e for e in self.effects if isinstance(e, Report)
                and e.event == "source_restart"]

    def close(self) -> None:
        self.mic.stop_error = None
        self.sources.stop()
        self.hardware.close()


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = Rig()
    yield made
    made.close()


def test_a_microphone_missing_at_start_is_alarmed_once_and_retried_with_backoff(
        rig: Rig) -> None:
    rig.mic.missing = True
    rig.effects += rig.sources.start(rig.clock.monotonic())
    [alarm] = [e for e in rig.effects if isinstance(e, RaiseAlarm)]
    assert alarm.kind == "microphone_failed" and "no sound input device" in alarm.detail
    assert "without sound" in alarm.detail
    assert rig.sources.failed == {"microphone"}
    rig.step(60.0)
    waits = [0.0, *BACKOFF_SECONDS]
    expected = [t for t in (sum(waits[:n + 1]) for n in range(1, len(waits))) if t <= 60.0]
    assert len(rig.restarts()) == len(expected)  # 2, 7, 17, 47 s: not a busy loop
    assert all(r.fields["ok"] is False for r in rig.restarts())
    assert len([e for e in rig.effects if isinstance(e, RaiseAlarm)]) == 1

    rig.mic.missing = False  # plugged in
    rig.step(60.0, audio=True)
    assert rig.restarts()[-1].fields["ok"] is True
    [cleared] = [e for e in rig.effects if isinstance(e, ClearAlarm)]
    assert cleared.kind == "microphone_failed" and "delivers again" in (cleared.detail or "")
    assert rig.sources.failed == frozenset()


def test_a_stalled_source_is_reopened_then_counted_as_failed(rig: Rig) -> None:
    rig.effects += rig.sources.start(rig.clock.monotonic())
    rig.step(2.0, audio=True)
    assert rig.effects == []
    rig.step(30.0)  # the microphone goes quiet
    restarts = rig.restarts()
    assert len(restarts) >= FAILED_AFTER
    assert restarts[0].fields["cause"].startswith("delivered nothing for 3.")
    assert all(r.fields["ok"] for r in restarts)
    assert rig.sources.failed == {"microphone"}
    assert rig.mic.starts == 1 + len(restarts)
    rig.step(10.0, audio=True)
    assert rig.sources.failed == frozenset()


def test_a_stall_that_one_reopen_cures_raises_no_lasting_alarm(rig: Rig) -> None:
    rig.effects += rig.sources.start(rig.clock.monotonic())
    rig.step(4.0)  # quiet long enough for one reopen
    assert len(rig.restarts()) == 1
    rig.step(5.0, audio=True)
    assert not [e for e in rig.effects if isinstance(e, RaiseAlarm | ClearAlarm)]
    rig.step(10.0, audio=True)
    assert len(rig.restarts()) == 1


def test_driver_errors_never_reach_the_controller(rig: Rig) -> None:
    rig.effects += rig.sources.start(rig.clock.monotonic())
    rig.mic.stop_error = OSError("Unanticipated host error")  # PortAudio, card gone
    rig.mic.start_error = ValueError("driver bug")
    rig.step(10.0)  # a reopen: stop raises, start raises
    faults = [e for e in rig.effects if isinstance(e, Report) and e.event == "fault"]
    assert faults and "stopping the microphone failed" in faults[0].fields["reason"]
    assert rig.restarts()[0].fields["error"] == "driver bug"
    assert rig.sources.failed == {"microphone"}


def test_nothing_is_reopened_while_the_sources_are_off(rig: Rig) -> None:
    rig.effects += rig.sources.start(rig.clock.monotonic())
    rig.effects += rig.sources.stop()
    rig.step(60.0, video=False)
    assert rig.effects == [] and rig.mic.starts == 1


def test_a_failed_source_in_backoff_is_not_opened_again_by_every_state_change(
        rig: Rig) -> None:
    rig.mic.missing = True
    rig.effects += rig.sources.start(rig.clock.monotonic())
    for _ in range(3):  # idle -> display_on -> idle ... within the first backoff
        rig.effects += rig.sources.stop()
        rig.effects += rig.sources.start(rig.clock.monotonic())
    assert rig.mic.starts == 1
    rig.step(BACKOFF_SECONDS[0])
    assert rig.mic.starts == 2  # the backoff's own retry

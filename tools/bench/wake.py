"""Press-to-first-frame: what starting the camera on the press costs (pre-record off).

With pre-record off (and in sleep mode) the camera is stopped in idle (standby: opened
and configured, not streaming, firmware/power/draw.py) and started by the RECORD press;
with pre-record on it runs all the time and the recording begins with the buffer. The
figure is the time from the press to the first video packet the camera delivers after
it, on the simulated device at real speed, in both modes: the difference is the cost of
standby. The simulated camera starts a libx264 encoder in-process; a Raspberry Pi's
picamera2 start (sensor power-up, ISP, first exposure) is a different figure that only
that hardware can measure.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import numpy as np

from bodycam.firmware.config.model import Config
from bodycam.firmware.device.program import Device
from bodycam.hal.interfaces import PreviewCallback, VideoCallback, VideoPacket
from bodycam.hal.sim.hardware import SimHardware
from bodycam.tools.bench.press import PressBench, running_sim_device, wait_for


class FirstPacket:
    """Wraps the camera's start so that the first packet after `arm()` is timed."""

    def __init__(self, hardware: SimHardware) -> None:
        camera = hardware.camera
        self._start = camera.start
        camera.start = self._started  # type: ignore[method-assign]
        self._lock = threading.Lock()
        self._armed_at: float | None = None
        self.first_at: float | None = None

    def arm(self) -> float:
        with self._lock:
            self._armed_at, self.first_at = time.monotonic(), None
            return self._armed_at

    def _started(self, on_video: VideoCallback, on_preview: PreviewCallback) -> None:
        def video(packet: VideoPacket) -> None:
            now = time.monotonic()
            with self._lock:
                if self._armed_at is not None and self.first_at is None:
                    self.first_at = now
            on_video(packet)

        self._start(video, on_preview)


class WakeBench(PressBench):
    """Press RECORD from idle, time the first frame, stop, back to idle."""

    def __init__(self, device: Device, hardware: SimHardware, config: Config,
                 watch: FirstPacket) -> None:
        super().__init__(device, hardware, config)
        self._watch = watch
        self._standby = config.evidence.prerecord_seconds == 0

    def one_wake(self) -> float:
        controller = self._device.controller
        camera = self._hw.camera
        wait_for(lambda: controller.state == "idle" and camera.running != self._standby,
                 "idle with the camera " + ("in standby" if self._standby else "running"))
        armed = self._watch.arm()
        self._hw.panel.press("record")
        wait_for(lambda: self._watch.first_at is not None and controller.state == "recording",
                 "recording with a first frame")
        first = self._watch.first_at
        assert first is not None
        time.sleep(0.07)
        self._hw.panel.release("record")
        time.sleep(0.07)
        self._tap("record", until="display_on")
        self._tap("display", until="idle")
        return first - armed


def _measure(prerecord_seconds: int, presses: int) -> list[float]:
    watch: FirstPacket | None = None

    def prepare(hardware: SimHardware) -> None:
        nonlocal watch
        watch = FirstPacket(hardware)

    with running_sim_device([f"evidence.prerecord_seconds={prerecord_seconds}"],
                            prepare=prepare) as (device, hardware, config):
        assert watch is not None
        bench = WakeBench(device, hardware, config, watch)
        return [1000 * bench.one_wake() for _ in range(presses)]


def measure_press_to_first_frame(presses: int) -> dict[str, Any]:
    """Milliseconds from the press to the first frame, standby vs. pre-record running."""
    standby = _measure(0, presses)
    running = _measure(30, presses)
    return {
        "standby_p50_ms": float(np.percentile(standby, 50)),
        "standby_max_ms": max(standby),
        "running_p50_ms": float(np.percentile(running, 50)),
        "running_max_ms": max(running),
        "standby_cost_ms": statistics.median(standby) - statistics.median(running),
        "presses": presses,
        "samples_standby_ms": [round(v, 2) for v in standby],
        "samples_running_ms": [round(v, 2) for v in running],
    }

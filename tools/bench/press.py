"""Press-to-recording latency on the simulated device, in real time.

The whole device program (controller thread, gesture recognizer, recorder, display
worker, simulated camera and microphone running) is assembled on the simulated hardware
at real speed. For each press the RECORD button's mock GPIO pin is driven low through
the SimButtonPanel; the latency is the time from that edge to the red LED's mock pin
going high, once the controller also reports the state `recording`.

Both instants come from gpiozero's own mock-pin change log (`states`, stamped with
time.monotonic() inside the pin), so the measuring thread only has to notice that the
LED is on; it polls with short sleeps, which release the GIL and so do not slow the
controller down. The logs of both pins are cleared back to back just before the press,
so their time bases differ by microseconds.

Between presses the recording is stopped by holding RECORD (with [buttons] hold_seconds
shortened to HOLD_SECONDS to save time) and the display is switched off, so every
press starts from idle with the pre-record buffer running, as on a worn camera.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from gpiozero.pins.mock import MockPin

from bodycam.firmware.config.loader import load_config, shipped_file
from bodycam.firmware.config.model import Config
from bodycam.firmware.device.firstboot import DeviceLayout
from bodycam.firmware.device.program import Device, assemble
from bodycam.firmware.device.sim_cmd import sim_state_dir
from bodycam.firmware.device.states import State
from bodycam.firmware.evidence.age.keys import generate_identity
from bodycam.hal.clocks import SimClock
from bodycam.hal.interfaces import ButtonName
from bodycam.hal.sim.hardware import SimHardware, build_sim_hardware

HOLD_SECONDS = 0.5  # shortest allowed hold-to-stop (shipped default: config/defaults.toml)
POLL_S = 0.0002
STATE_TIMEOUT_S = 10.0
SETTLE_S = 0.07  # > debounce_ms (50): the next edge of the same button is accepted at once


def press_config(data_dir: Path, recipient: str, extra: Sequence[str] = ()) -> Config:
    """The simulator's configuration with a short hold and the smallest storage reserve,
    plus `extra` overrides."""
    return load_config(shipped_file("sim.toml"), overrides=[
        f'storage.data_dir="{data_dir}"', f'storage.state_dir="{sim_state_dir(data_dir)}"',
        f'evidence.recipients=["{recipient}"]', f"buttons.hold_seconds={HOLD_SECONDS}",
        "storage.reserve_mb=16", "storage.nearly_full_mb=32", *extra])


@contextmanager
def running_sim_device(extra: Sequence[str] = (), *,
                       prepare: Callable[[SimHardware], None] | None = None,
                       ) -> Iterator[tuple[Device, SimHardware, Config]]:
    """A booted simulated device at real speed in a temporary directory, shut down after.
    `prepare(hardware)` runs before the device is assembled (e.g. to watch the camera)."""
    with tempfile.TemporaryDirectory(prefix="bodycam-bench-press-") as tmp:
        _secret, recipient = generate_identity()
        config = press_config(Path(tmp), recipient, extra)
        hardware = build_sim_hardware(config, SimClock(speed=1.0))
        if prepare is not None:
            prepare(hardware)
        device = assemble(config, hardware,
                          device_layout=DeviceLayout(root=config.storage.data_dir / "root"))
        thread = device.start_in_thread()
        try:
            if not device.controller.ready.wait(STATE_TIMEOUT_S):
                raise RuntimeError("the simulated device did not boot")
            yield device, hardware, config
        finally:
            device.controller.request_shutdown("benchmark finished")
            thread.join(STATE_TIMEOUT_S)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` with short sleeps; RuntimeError after STATE_TIMEOUT_S."""
    deadline = time.monotonic() + STATE_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the simulated device did not reach {what} within "
                               f"{STATE_TIMEOUT_S:g} s")
        time.sleep(POLL_S)


def _last_change(pin: MockPin) -> float:
    """Seconds from the pin's clear_states() to its latest change (gpiozero mock log)."""
    return float(sum(state.timestamp for state in pin.states[1:]))


class PressBench:
    """One simulated device and the measurement of press-to-recording on it."""

    def __init__(self, device: Device, hardware: SimHardware, config: Config) -> None:
        self._device = device
        self._hw = hardware
        self._button = hardware.pin_factory.pin(config.pins.button_record)
        self._red = hardware.pin_factory.pin(config.pins.led_red)

    def _state_is(self, state: State) -> Callable[[], bool]:
        return lambda: self._device.controller.state == state

    def _tap(self, name: ButtonName, until: State) -> None:
        self._hw.panel.press(name)
        wait_for(self._state_is(until), until)
        time.sleep(SETTLE_S)
        self._hw.panel.release(name)
        time.sleep(SETTLE_S)

    def one_press(self) -> float:
        """Idle -> recording by one press; returns the latency in seconds, back in idle."""
        controller = self._device.controller
        wait_for(lambda: controller.state == "idle" and not self._red.state, "idle")
        self._red.clear_states()
        self._button.clear_states()
        self._hw.panel.press("record")
        wait_for(lambda: bool(self._red.state) and controller.state == "recording",
                  "recording with the red LED on")
        latency = _last_change(self._red) - _last_change(self._button)
        time.sleep(SETTLE_S)
        self._hw.panel.release("record")
        time.sleep(SETTLE_S)
        self._tap("record", until="display_on")  # the hold stops; the display stays on
        self._tap("display", until="idle")
        return latency


def measure_press_latency(presses: int) -> dict[str, Any]:
    """Percentiles of `presses` idle -> recording latencies on a fresh simulated device."""
    with running_sim_device() as (device, hardware, config):
        bench = PressBench(device, hardware, config)
        samples_ms = [1000 * bench.one_press() for _ in range(presses)]
    return {
        "p50_ms": float(np.percentile(samples_ms, 50)),
        "p99_ms": float(np.percentile(samples_ms, 99)),
        "max_ms": max(samples_ms),
        "mean_ms": statistics.fmean(samples_ms),
        "presses": presses,
        "hold_seconds_override": HOLD_SECONDS,
    }

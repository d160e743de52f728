"""Drives the simulated hardware: from a scenario file, or from the keyboard.

Everything goes through the simulated devices' own controls (mock GPIO pins, the
scriptable battery and dock, camera/microphone stalls), never into the controller, so a
scenario exercises the same path as a finger on a real button.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from bodycam.firmware.device.program import Device
from bodycam.firmware.device.scenario import Scenario, ScenarioEvent
from bodycam.hal.interfaces import BUTTON_NAMES, ButtonName, Clock
from bodycam.hal.sim.hardware import SimHardware

END_LABEL = "end"  # the end step does nothing itself: run() stops there (or earlier)
TAIL_SECONDS = 2.0  # without an `end` event, run this long after the last event
HOLD_SECONDS = 3.5  # an uppercase key in interactive mode holds the button this long
_BUTTON_BY_NAME: dict[str, ButtonName] = {name: name for name in BUTTON_NAMES}


@dataclass(frozen=True)
class Step:
    at: float
    label: str
    act: Callable[[], None]


def scenario_steps(scenario: Scenario, hardware: SimHardware) -> list[Step]:
    """The scenario as a sorted list of hardware actions (presses split into down/up)."""
    steps: list[Step] = []
    for event in scenario.events:
        steps.extend(_steps_for(event, hardware))
    steps.sort(key=lambda s: s.at)
    return steps


def _steps_for(event: ScenarioEvent, hw: SimHardware) -> list[Step]:
    at, target = event.at, event.target
    if event.action in ("press", "hold"):
        button = _BUTTON_BY_NAME[target]  # the parser accepted only button names
        return [Step(at, f"{button} down", lambda: hw.panel.press(button)),
                Step(at + event.duration, f"{button} up", lambda: hw.panel.release(button))]
    if event.action == "battery":
        percent = float(event.value)
        return [Step(at, f"battery {percent:.0f}%", lambda: hw.power.set_battery(percent))]
    if event.action == "dock":
        docked = bool(event.value)

        def dock() -> None:
            hw.power.set_docked(docked)
            hw.power.set_charging(docked)

        return [Step(at, "docked" if docked else "undocked", dock)]
    if event.action == "stall":
        source = hw.camera if target == "camera" else hw.microphone
        return [Step(at, f"{target} stalls {event.duration:g} s",
                     lambda: source.stall(event.duration))]
    return [Step(at, END_LABEL, lambda: None)]


class ScenarioDriver:
    """Plays a scenario on the simulated hardware at its simulated times, on the caller's
    thread, so the device program runs exactly as it would with a person pressing."""

    def __init__(self, scenario: Scenario, hardware: SimHardware, clock: Clock,
                 offloaded: Callable[[], bool] = lambda: False) -> None:
        """`offloaded`: whether the docked camera has offloaded everything (for
        `end = "offloaded"`)."""
        self._steps = scenario_steps(scenario, hardware)
        self._end = scenario.end_time
        self._early = offloaded if scenario.ends_when_offloaded else (lambda: False)
        self._clock = clock

    def run(self, finished: threading.Event) -> None:
        """Play the steps at their simulated times; returns at `end` or when the device
        finished on its own (e.g. battery critical)."""
        last = self._steps[-1].at if self._steps else 0.0
        end = self._end if self._end is not None else last + TAIL_SECONDS
        for step in (s for s in self._steps if s.label != END_LABEL):
            if step.at > end or not self._wait_until(step.at, finished):
                return
            step.act()
        self._wait_until(end, finished, self._early)

    def _wait_until(self, t: float, finished: threading.Event,
                    early: Callable[[], bool] = lambda: False) -> bool:
        while (left := t - self._clock.monotonic()) > 0:
            if finished.is_set() or early():
                return False
            self._clock.sleep(min(left, 0.05))
        return not finished.is_set()


KEYS: dict[str, tuple[ButtonName, bool]] = {
    "r": ("record", False), "R": ("record", True),
    "d": ("display", False), "D": ("display", True),
    "p": ("power", False), "P": ("power", True),
}
HELP = ("keys: r/R record press/hold  d/D display press/hold  p/P power press (stealth)/hold  "
        "k dock  b/B battery -/+10%  c/m camera/mic stall  q quit")


def interactive_loop(device: Device, hw: SimHardware, clock: Clock) -> None:
    """Keyboard control with a live status line and the front display as terminal art."""
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    battery = 100.0
    docked = False
    releases: list[tuple[float, ButtonName]] = []
    try:
        tty.setcbreak(fd)
        print(HELP)
        while not device.controller.finished.is_set():
            ready, _, _ = select.select([sys.stdin], [], [], 0.1)
            now = clock.monotonic()
            for due in [r for r in releases if r[0] <= now]:
                releases.remove(due)
                hw.panel.release(due[1])
            if ready:
                key = os.read(fd, 1).decode(errors="ignore")
                if key == "q":
                    device.controller.request_shutdown("keyboard")
                elif key in KEYS:
                    name, hold = KEYS[key]
                    if any(held == name for _, held in releases):
                        continue  # still pressed from the last key: a finger can't press twice
                    hw.panel.press(name)
                    releases.append((now + (HOLD_SECONDS if hold else 0.15), name))
                elif key == "k":
                    docked = not docked
                    hw.power.set_docked(docked)
                    hw.power.set_charging(docked)
                elif key in "bB":
                    battery = max(0.0, min(100.0, battery + (10 if key == "B" else -10)))
                    hw.power.set_battery(battery)
                elif key in "cm":
                    (hw.camera if key == "c" else hw.microphone).stall(5.0)
            _draw(device, hw, clock, battery)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        print()


def _draw(device: Device, hw: SimHardware, clock: Clock, battery: float) -> None:
    art = terminal_art(hw.display.panel_image(), width=32)
    status = (f"t={clock.monotonic():7.1f}s  state={device.controller.state:<13} "
              f"battery={battery:3.0f}%")
    sys.stdout.write("\x1b[H\x1b[2J" + HELP + "\n" + status + "\n" + art + "\n")
    sys.stdout.flush()


def terminal_art(image: Image.Image, width: int = 32) -> str:
    """The image as 24-bit ANSI colour half-blocks (two pixel rows per text row)."""
    height = max(2, round(image.height * width / image.width / 2) * 2)
    small = np.asarray(image.convert("RGB").resize((width, height)), dtype=np.uint8)
    rows = []
    for y in range(0, height, 2):
        cells = []
        for x in range(width):
            top, bottom = small[y, x], small[y + 1, x]
            cells.append(f"\x1b[38;2;{top[0]};{top[1]};{top[2]}m"
                         f"\x1b[48;2;{bottom[0]};{bottom[1]};{bottom[2]}m▀")
        rows.append("".join(cells) + "\x1b[0m")
    return "\n".join(rows)

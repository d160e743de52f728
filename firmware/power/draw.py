"""What the camera draws from its battery in each operating mode, from the power table.

The firmware's prediction needs the draw of the mode the camera is in now and of the
modes a shift is made of; the power table (table.py, config/power-model.toml) knows the
draw of each part by state. This module is the one place that says which part is in
which state in each mode, so the prediction and the shift forecast agree with each other
(the simulator integrates the parts' states it actually sees instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

from bodycam.firmware.config.model import Config
from bodycam.firmware.power.table import Load, PowerTable

Mode = Literal["standby", "buffering", "sleeping", "display_on", "recording", "docked"]
MODES: tuple[Mode, ...] = get_args(Mode)

# Part -> state in each mode (the lowest state of every part not named). The camera is
# stopped in standby and sleep (picamera2 stopped, still configured: hal/pi/camera.py),
# streams into the pre-record ring while buffering, and the display shows the preview
# while recording. One status LED is lit in every mode.
_MODE_PARTS: Mapping[Mode, Mapping[str, str]] = MappingProxyType({
    "standby": {"camera": "standby", "led": "on"},
    "sleeping": {"camera": "standby", "led": "on"},
    "buffering": {"camera": "running", "microphone": "on", "cpu": "prerecord", "led": "on"},
    "display_on": {"camera": "running", "microphone": "on", "cpu": "prerecord",
                   "display": "on", "display_light": "full", "led": "on"},
    "recording": {"camera": "running", "microphone": "on", "cpu": "recording",
                  "display": "on", "display_light": "full", "card": "writing", "led": "on"},
    "docked": {"camera": "standby", "cpu": "offload", "radio": "transferring", "led": "on"},
})


@dataclass(frozen=True, slots=True)
class DrawSettings:
    """The configuration that changes what a mode draws: the display's and LEDs'
    brightness (fractions of full drive) and whether the radios stay on off the dock.
    The defaults are full brightness and radios off: what a table's figures mean."""

    display_brightness: float = 1.0
    led_brightness: float = 1.0
    radios_undocked: bool = False

    @classmethod
    def of(cls, config: Config) -> DrawSettings:
        return cls(config.display.brightness / 100, config.leds.brightness / 100,
                   config.power.radios_undocked)


FULL = DrawSettings()


def mode_load(mode: Mode, settings: DrawSettings = FULL) -> Load:
    """Every part's state in `mode`, as the table computes draws from."""
    load = Load(_MODE_PARTS[mode], {"display_light": settings.display_brightness,
                                    "led": settings.led_brightness})
    if mode != "docked" and settings.radios_undocked:
        load = load.with_states(radio="idle")
    return load


def rail_watts(table: PowerTable, mode: Mode, settings: DrawSettings = FULL) -> float:
    """Watts at the board's 5 V input in `mode`: every part's state in that mode."""
    return sum(table.rail_watts(mode_load(mode, settings)).values())


def battery_watts(table: PowerTable, mode: Mode, settings: DrawSettings = FULL) -> float:
    """Watts taken from the cell in `mode`: the rail's draw plus the boost converter's loss."""
    return table.cell_watts(mode_load(mode, settings))


def percent_per_hour(table: PowerTable, mode: Mode, settings: DrawSettings = FULL) -> float:
    """How fast `mode` empties a full battery of the table's present capacity, in %/h."""
    return -table.rate_percent_per_hour(mode_load(mode, settings))

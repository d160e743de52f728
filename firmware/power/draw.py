"""What the camera draws from its battery in each operating mode, from the power table.

The firmware's prediction needs the draw of the mode the camera is in now and of the
modes a shift is made of; the power table (table.py, config/power-model.toml) knows the
draw of each part by state. This module is the one place that says which part is in
which state in each mode, so the prediction and the shift forecast agree with each other
(the simulator integrates the parts' states it actually sees instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

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
                   "display": "on", "led": "on"},
    "recording": {"camera": "running", "microphone": "on", "cpu": "recording",
                  "display": "on", "card": "writing", "led": "on"},
    "docked": {"camera": "standby", "cpu": "offload", "radio": "transferring", "led": "on"},
})


def mode_load(mode: Mode) -> Load:
    """Every part's state in `mode`, as the table computes draws from."""
    return Load(_MODE_PARTS[mode])


def rail_watts(table: PowerTable, mode: Mode) -> float:
    """Watts at the board's 5 V input in `mode`: every part's state in that mode."""
    return sum(table.rail_watts(mode_load(mode)).values())


def battery_watts(table: PowerTable, mode: Mode) -> float:
    """Watts taken from the cell in `mode`: the rail's draw plus the boost converter's loss."""
    return table.cell_watts(mode_load(mode))


def percent_per_hour(table: PowerTable, mode: Mode) -> float:
    """How fast `mode` empties a full battery of the table's present capacity, in %/h."""
    return -table.rate_percent_per_hour(mode_load(mode))

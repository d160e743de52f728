"""The self test's battery line: what the gauge measures next to what the model says.

The power table (config/power-model.toml) is published figures and estimates until
someone measures a real camera. The MAX17048's CRATE register is a measurement every
camera carries, so the self test prints it next to the model's rate for the same load:
a technician sees at once whether the table is near the truth for this hardware, and a
large gap is the cue to measure the camera and replace the table's figures.
"""

from __future__ import annotations

from bodycam.firmware.power.table import Load, PowerTable
from bodycam.hal.interfaces import PowerStatus

# What runs during the self test's live part: camera capturing (with the preview work),
# microphone, and the display showing the test pattern.
SELFTEST_LOAD = Load({"camera": "running", "cpu": "prerecord", "microphone": "on",
                      "display": "on"})
IDLE_LOAD = Load({"camera": "standby"})
CRATE_SETTLE_HINT = ("the gauge's rate follows the load over minutes: for a figure to "
                     "compare, run `bodycam selftest --seconds 300` on battery")


def gauge_against_model(status: PowerStatus, table: PowerTable) -> str:
    """One line: measured voltage and CRATE, the model's rates and draw for the same load."""
    model = (f"model ({table.source}): {table.rate_percent_per_hour(SELFTEST_LOAD):+.1f} %/h "
             f"for the self test's load ({table.cell_watts(SELFTEST_LOAD):.2f} W from the "
             f"cell), {table.rate_percent_per_hour(IDLE_LOAD):+.1f} %/h idle "
             f"({table.cell_watts(IDLE_LOAD):.2f} W)")
    volts = f"{status.cell_volts:.2f} V, " if status.cell_volts is not None else ""
    if status.rate_percent_per_hour is None:
        return f"{volts}no gauge rate (CRATE) to measure; {model}"
    measured = f"{volts}gauge rate {status.rate_percent_per_hour:+.1f} %/h (CRATE)"
    if status.charging:
        return f"{measured} while charging: not comparable; {model}"
    return f"{measured}; {model}; {CRATE_SETTLE_HINT}"

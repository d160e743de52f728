"""docs/technician.md (installed by tools/install/install.sh) agrees with the code it describes."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from bodycam.firmware.config.loader import load_config
from bodycam.firmware.device.feedback import pattern_table_markdown

DOC = (Path(__file__).resolve().parent.parent / "docs/technician.md").read_text()
# BCM GPIO -> physical pin on the 40-pin header (same on every 40-pin Raspberry Pi).
HEADER_PIN = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 5: 29,
              6: 31, 13: 33, 19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18,
              25: 22, 8: 24, 7: 26, 12: 32, 16: 36, 20: 38, 21: 40}
_ROW = re.compile(r"^\| [^|]+ \| `(?P<key>[a-z_]+\.[a-z_]+)` \| GPIO (?P<gpio>\d+) \| "
                  r"pin (?P<pin>\d+) \|", re.MULTILINE)


def test_light_patterns_are_the_ones_feedback_defines() -> None:
    block = DOC.split("<!-- feedback-table:start -->\n")[1].split("\n<!-- feedback-table:end")[0]
    assert block == pattern_table_markdown().strip()


def test_wiring_table_matches_the_shipped_defaults() -> None:
    defaults = load_config()
    rows = {m["key"]: (int(m["gpio"]), int(m["pin"])) for m in _ROW.finditer(DOC)}
    pin_keys = {f"pins.{f.name}" for f in fields(defaults.pins)}
    assert pin_keys | {"display.gpio_dc", "display.gpio_reset"} == set(rows)
    for key, (gpio, pin) in rows.items():
        section, name = key.split(".")
        assert getattr(getattr(defaults, section), name) == gpio, key
        assert HEADER_PIN[gpio] == pin, key

"""The generated configuration reference, and the copy of it in README.md."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bodycam.firmware.config.loader import shipped_file
from bodycam.firmware.config.reference import markdown_table
from bodycam.firmware.config.schema import SETTINGS

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def _rows() -> list[list[str]]:
    lines = markdown_table().splitlines()
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[2:]]


def test_one_row_per_setting_in_schema_order() -> None:
    assert [row[0] for row in _rows()] == [f"`{key}`" for key in SETTINGS]
    assert all(len(row) == 5 for row in _rows())


def test_defaults_column_comes_from_defaults_toml() -> None:
    defaults = tomllib.loads(shipped_file("defaults.toml").read_text(encoding="utf-8"))
    rows = {row[0].strip("`"): row for row in _rows()}
    assert rows["video.fps"][2] == f"`{defaults['video']['fps']}`"
    assert rows["device.id"][2] == '`"UNSET"`'
    assert rows["power.i2c_address"][2] == "`0x36`"
    assert rows["evidence.recipients"][2] == "`[]`"


def test_allowed_column_is_the_validation_rule() -> None:
    rows = {row[0].strip("`"): row for row in _rows()}
    assert rows["evidence.prerecord_seconds"][3] == "0-120 s"
    assert rows["display.rotation"][3] == "one of 0, 90, 180, 270 degrees"


def test_module_prints_the_table() -> None:
    result = subprocess.run([sys.executable, "-m", "bodycam.firmware.config.reference"],
                            capture_output=True, text=True, check=True)
    assert result.stdout == markdown_table()


def _readme_section() -> str | None:
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    if START not in text or END not in text:
        return None
    return text.split(START, 1)[1].split(END, 1)[0]


@pytest.mark.skipif(_readme_section() is None and os.environ.get("CI") != "true",
                    reason="README has no config-reference markers yet (never skipped in CI)")
def test_readme_reference_is_up_to_date() -> None:
    section = _readme_section()
    assert section is not None, f"README.md lacks {START} ... {END}"
    assert section.strip() == markdown_table().strip(), (
        "README configuration reference is stale: paste the output of "
        "`python -m bodycam.firmware.config.reference` between the markers")

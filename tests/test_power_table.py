"""The power table: the shipped one loads; a bad one is refused naming file, key and range."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bodycam.firmware.config.loader import shipped_file
from bodycam.firmware.config.problems import ConfigError
from bodycam.firmware.power.table import (
    DEFAULT_TABLE_NAME,
    PARTS,
    Load,
    load_power_table,
    parse_power_table,
)

SHIPPED = shipped_file(DEFAULT_TABLE_NAME).read_text(encoding="utf-8")


def _refused(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_power_table("model.toml", text.encode())
    return str(caught.value)


def _edited(pattern: str, replacement: str, count: int = 1) -> str:
    edited, n = re.subn(pattern, replacement, SHIPPED, count=count, flags=re.MULTILINE)
    assert n == count, f"pattern {pattern!r} not found in the shipped table"
    return edited


def test_shipped_table_has_every_state_with_a_source() -> None:
    table = load_power_table()
    assert table.board == "Raspberry Pi Zero 2 W"
    for part, states in PARTS.items():
        for state in states:
            figure = table.parts[part][state]
            assert figure.source.strip()
            assert 0 <= table.watts(part, state) <= 10
    # The published board figure is not an estimate; the guesses say they are.
    assert not table.parts["board"]["base"].estimate
    assert table.parts["camera"]["running"].estimate
    assert "parts.camera.running" in table.estimates()
    assert "parts.board.base" not in table.estimates()


def test_curve_interpolates_between_points() -> None:
    battery = load_power_table().battery
    assert battery.open_circuit_volts(100) == pytest.approx(4.20)
    assert battery.open_circuit_volts(0) == pytest.approx(3.00)
    assert battery.open_circuit_volts(95) == pytest.approx((4.20 + 4.08) / 2)
    assert battery.open_circuit_volts(150) == pytest.approx(4.20)


def test_draw_and_rate_of_a_load_follow_the_table() -> None:
    table = load_power_table()
    load = Load({"camera": "running", "display": "on"}, {"led": 2})
    rail = table.rail_watts(load)
    assert rail["camera.running"] == table.watts("camera", "running")
    assert rail["led.off"] == 0 and Load(units={"led": 2}).state("led") == "off"
    assert table.rail_watts(load.with_states(led="on"))["led.on"] == 2 * table.watts("led", "on")
    cell = table.cell_watts(load)
    assert cell == pytest.approx(sum(rail.values()) / table.battery.boost_efficiency.value)
    assert table.rate_percent_per_hour(load) == pytest.approx(
        -100 * cell * 1000 / table.battery.capacity_mwh.value)


def test_missing_state_is_refused_naming_file_key_and_states() -> None:
    message = _refused(_edited(r"^running = .*\n", ""))
    assert "model.toml: parts.camera.running" in message
    assert "watts = <number>" in message


def test_missing_part_is_refused() -> None:
    text = _edited(r"^\[parts\.radio\]\n(.*\n)*?(?=\Z)", "")
    message = _refused(text)
    assert "model.toml: parts.radio" in message
    assert "off, idle, transferring" in message


def test_every_mistake_is_listed_at_once() -> None:
    text = _edited(r"^on = \{ watts = 0\.02,", "on = { watts = -0.08,")
    text = text.replace("base = { watts = 0.375,", "base = { watts = 375,")
    message = _refused(text)
    assert "parts.display.on.watts: got -0.08; allowed: a number from 0 to 10 W" in message
    assert "parts.board.base.watts: got 375" in message
    assert "not milliwatts" in message


@pytest.mark.parametrize("value", ["nan", "inf", "true", '"0.4"'])
def test_non_numbers_are_refused(value: str) -> None:
    message = _refused(SHIPPED.replace("base = { watts = 0.375,", f"base = {{ watts = {value},"))
    assert "parts.board.base.watts" in message


def test_figure_without_source_is_refused() -> None:
    text = re.sub(r'(^standby = \{ watts = 0\.03), source = "[^"]*"', r"\1",
                  SHIPPED, count=1, flags=re.MULTILINE)
    message = _refused(text)
    assert "parts.camera.standby.source: got None" in message
    assert "estimate" in message


def test_unknown_state_is_refused_with_a_suggestion() -> None:
    text = SHIPPED.replace("running = { watts = 0.45,", "runing = { watts = 0.45,")
    message = _refused(text)
    assert "parts.camera.runing" in message
    assert "did you mean 'running'?" in message


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("design_capacity_mwh", "10.8", "500 to 100000 mWh"),
    ("capacity_mwh", "-1", "500 to 100000 mWh"),
    ("boost_efficiency", "1.2", "0.5 to 1"),
    ("cutoff_voltage_v", "12", "2.5 to 3.6 V"),
    ("internal_resistance_ohm", "-0.1", "0 to 1 ohm"),
])
def test_absurd_battery_figures_are_refused(key: str, value: str, allowed: str) -> None:
    message = _refused(_edited(rf"^({key} = \{{ value = )[-0-9.]+", rf"\g<1>{value}"))
    assert f"model.toml: battery.{key}.value: got {value}" in message
    assert allowed in message


def test_capacity_far_above_design_is_refused() -> None:
    message = _refused(_edited(r"^(capacity_mwh = \{ value = )\d+", r"\g<1>20000"))
    assert "battery.capacity_mwh.value: got 20000" in message
    assert "design_capacity_mwh" in message


@pytest.mark.parametrize("curve", [
    "[[100, 4.2], [50, 3.8]]",  # does not reach 0 %
    "[[100, 4.2], [50, 3.9], [60, 3.8], [0, 3.0]]",  # percent not falling
    "[[100, 3.0], [0, 4.2]]",  # voltage rising as it empties
    "[[100, 42], [0, 30]]",  # decivolts
    "[[100, 4.2], [0]]",  # not a pair
    '"4.2 to 3.0"',
])
def test_bad_curve_is_refused(curve: str) -> None:
    text = re.sub(r"^curve = \[\n(.*\n)*?\]\n", f"curve = {curve}\n", SHIPPED, count=1,
                  flags=re.MULTILINE)
    assert text != SHIPPED
    message = _refused(text)
    assert "model.toml: battery.curve" in message
    assert "from 100 % down to 0 %" in message


def test_wrong_format_and_syntax_are_refused() -> None:
    assert "format: got 2" in _refused(SHIPPED.replace("format = 1", "format = 2"))
    assert "model.toml: line" in _refused("parts = [\n")


def test_missing_file_names_path_and_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_power_table(tmp_path / "absent.toml")
    message = str(caught.value)
    assert str(tmp_path / "absent.toml") in message
    assert "restore it from the shipped power-model.toml" in message


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a directory"):
        load_power_table(tmp_path)


def test_a_measured_table_replaces_the_shipped_one(tmp_path: Path) -> None:
    measured = tmp_path / "measured.toml"
    measured.write_text(SHIPPED.replace(
        "base = { watts = 0.375,", "base = { watts = 0.41, source = \"USB meter, unit 7\", "
        "x = 1 }\nunused = { watts = 0.375,"))
    with pytest.raises(ConfigError):  # the stray keys are refused...
        load_power_table(measured)
    data = tomllib.loads(SHIPPED)
    assert data["parts"]["board"]["base"]["watts"] == 0.375
    measured.write_text(SHIPPED.replace(
        "base = { watts = 0.375, source = \"CNX",
        "base = { watts = 0.41, source = \"measured: USB meter, unit 7; was CNX"))
    table = load_power_table(measured)  # ...a clean measured figure is taken as it is
    assert table.watts("board", "base") == 0.41
    assert table.source == str(measured)

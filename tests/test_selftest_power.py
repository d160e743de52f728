"""The self test's battery line: the gauge's measured rate next to the power model's."""

from __future__ import annotations

from pathlib import Path

import pytest

from bodycam.firmware.config.loader import shipped_file
from bodycam.firmware.config.model import Config
from bodycam.firmware.device.selftest import check_battery
from bodycam.firmware.device.selftest_power import SELFTEST_LOAD, gauge_against_model
from bodycam.firmware.power.table import load_power_table
from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import PowerStatus
from bodycam.hal.sim.power import SimPower


def test_measured_rate_is_printed_next_to_the_model() -> None:
    table = load_power_table()
    line = gauge_against_model(PowerStatus(80.0, charging=False, docked=False,
                                           rate_percent_per_hour=-10.192, cell_volts=3.85),
                               table)
    model = table.rate_percent_per_hour(SELFTEST_LOAD)
    assert line.startswith("3.85 V, gauge rate -10.2 %/h (CRATE); model (")
    assert f"{model:+.1f} %/h for the self test's load" in line
    assert "--seconds 300" in line
    charging = gauge_against_model(PowerStatus(80.0, charging=True, docked=True,
                                               rate_percent_per_hour=30.0), table)
    assert "+30.0 %/h (CRATE) while charging: not comparable" in charging


def test_simulated_gauge_under_the_selftest_load_matches_the_model(sim_config: Config) -> None:
    table = load_power_table()
    clock = ManualClock()
    power = SimPower(clock, table=table, probe=lambda: SELFTEST_LOAD)
    clock.advance(600)
    result = check_battery(power, sim_config.power, None)
    assert result.ok
    model = table.rate_percent_per_hour(SELFTEST_LOAD)
    status = power.read()
    assert status.rate_percent_per_hour == pytest.approx(model, abs=0.21)
    assert f"gauge rate {status.rate_percent_per_hour:+.1f} %/h (CRATE)" in result.detail
    assert f"{model:+.1f} %/h for the self test's load" in result.detail


def test_a_bad_power_table_fails_the_battery_part_naming_the_key(
    sim_config: Config, tmp_path: Path
) -> None:
    bad = tmp_path / "power-model.toml"
    bad.write_text(shipped_file("power-model.toml").read_text().replace(
        "base = { watts = 0.375,", "base = { watts = -1,"))
    result = check_battery(SimPower(ManualClock()), sim_config.power, bad)
    assert not result.ok
    assert f"{bad}: parts.board.base.watts: got -1" in result.detail
    assert "restore the shipped power-model.toml" in result.fix

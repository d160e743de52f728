"""The [power] keys of power management, and a bad power table refusing the start of the
camera and of the simulator (the table's own checks: tests/test_power_table.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bodycam.firmware.cli import main as bodycam_main
from bodycam.firmware.config.loader import ConfigError, load_config, shipped_file

RUNNING = "running = { watts = 0.45,"  # the camera's line in the shipped table


def bad_table(tmp_path: Path) -> Path:
    """The shipped table with the running camera's draw made negative."""
    text = shipped_file("power-model.toml").read_text(encoding="utf-8")
    assert RUNNING in text
    path = tmp_path / "power-model.toml"
    path.write_text(text.replace(RUNNING, RUNNING.replace("0.45", "-0.45")), encoding="utf-8")
    return path


def test_the_shipped_keys_and_the_model_file() -> None:
    power = load_config().power
    assert (power.low_minutes, power.critical_minutes) == (30, 5)
    assert (power.shift_hours, power.shift_recording_share) == (12, 0.15)
    assert power.sleep_after_idle_min == 0 and power.model_file is None
    chosen = load_config(overrides=['power.model_file="/etc/bodycam/power-model.toml"'])
    assert chosen.power.model_file == Path("/etc/bodycam/power-model.toml")


@pytest.mark.parametrize(("override", "key", "fix"), [
    ('power.model_file="power-model.toml"', "power.model_file", "full path"),
    ("power.critical_minutes=40", "power.critical_minutes", "power.low_minutes"),
    ("power.shift_recording_share=1.5", "power.shift_recording_share", ""),
    ("power.sleep_after_idle_min=0.5", "power.sleep_after_idle_min", ""),
])
def test_bad_power_keys_are_refused_by_name(override: str, key: str, fix: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=[override])
    [problem] = caught.value.problems
    assert problem.key == key and problem.allowed
    assert fix in str(problem)


def test_the_camera_does_not_start_on_a_bad_power_table(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    table = bad_table(tmp_path)
    assert bodycam_main(["run", "--config", str(tmp_path / "absent.toml"),
                         "--set", f'power.model_file="{table}"']) == 1
    assert str(table) in caplog.text
    assert "parts.camera.running.watts" in caplog.text and "0 to 10 W" in caplog.text


def test_the_simulator_does_not_start_on_a_bad_power_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = bad_table(tmp_path)
    assert bodycam_main(["sim", "--data-dir", str(tmp_path / "data"),
                         "--set", f'power.model_file="{table}"']) == 2
    err = capsys.readouterr().err
    assert str(table) in err and "parts.camera.running.watts" in err


def test_check_config_checks_the_power_table_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    device = tmp_path / "bodycam.toml"
    device.write_text(f'[power]\nmodel_file = "{bad_table(tmp_path)}"\n', encoding="utf-8")
    assert bodycam_main(["check-config", str(device)]) == 1
    err = capsys.readouterr().err
    assert "parts.camera.running.watts" in err and "INVALID" in err


def test_check_config_says_whether_a_full_battery_lasts_the_shift(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    always_on = tmp_path / "prerecord.toml"
    always_on.write_text("[evidence]\nprerecord_seconds = 30\n", encoding="utf-8")
    assert bodycam_main(["check-config", str(always_on)]) == 0
    out, err = capsys.readouterr()
    assert "does NOT last a 12 h shift" in out and "power.sleep_after_idle_min" in err
    standby = tmp_path / "standby.toml"
    standby.write_text("[evidence]\nprerecord_seconds = 0\n", encoding="utf-8")
    assert bodycam_main(["check-config", str(standby)]) == 0
    out, err = capsys.readouterr()
    assert "lasts a 12 h shift" in out and "does NOT" not in out
    assert "power.sleep_after_idle_min" not in err

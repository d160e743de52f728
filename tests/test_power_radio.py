"""Radios off out of the dock: the camera program asks (request file), the privileged
helper switches with rfkill, the simulated battery pays only while they are on.

`rfkill` is replaced by a recording runner or a stand-in script: this machine has no
/dev/rfkill (the one thing here that cannot run), everything else is the real code."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from device_rig import MakeDevice

from bodycam.firmware.power import radio_switch
from bodycam.firmware.power.draw import DrawSettings, battery_watts
from bodycam.firmware.power.radio_switch import (
    RADIO_REQUEST_FORMAT,
    RFKILL,
    RadioRequest,
    RadioRequestError,
    apply_request,
    parse_request,
)
from bodycam.firmware.power.table import load_power_table
from bodycam.hal.pi.radios import RadioRequestFile

UNIT_DIR = Path(__file__).resolve().parent.parent / "systemd"
POLL_S = 1.5


class Runner:
    """Stands in for running /usr/sbin/rfkill: records the commands, answers `code`."""

    def __init__(self, code: int = 0, stderr: str = "") -> None:
        self.code, self.stderr = code, stderr
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        self.commands.append(command)
        return subprocess.CompletedProcess(command, self.code, "", self.stderr)


def request(**fields: Any) -> bytes:
    return json.dumps({"format": RADIO_REQUEST_FORMAT, "enabled": False, "cause": "x",
                       **fields}).encode()


def events(records: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for r in records if r["event"] == name]


def test_camera_program_writes_the_request_the_helper_reads(tmp_path: Path) -> None:
    path = tmp_path / "radio-request.json"
    radios = RadioRequestFile(path)
    assert radios.enabled is None
    done = radios.switch(False, "left the dock")
    assert done == f"requested from bodycam-radio.service ({path})"
    assert radios.enabled is False
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert radio_switch.read_request(path) == RadioRequest(False, "left the dock")
    runner = Runner()
    assert radio_switch.main(["--request", str(path)], run=runner) == 0
    assert runner.commands == [[RFKILL, "block", "wlan"], [RFKILL, "block", "bluetooth"]]
    path.write_bytes(request(enabled=True, cause="docked"))
    assert radio_switch.main(["--request", str(path)], run=runner) == 0
    assert runner.commands[-2:] == [[RFKILL, "unblock", "wlan"], [RFKILL, "unblock",
                                                                    "bluetooth"]]


def test_unwritable_request_is_reported_not_raised(tmp_path: Path) -> None:
    radios = RadioRequestFile(tmp_path / "missing-dir" / "radio-request.json")
    done = radios.switch(False, "left the dock")
    assert done.startswith("not requested: ") and "cannot be written" in done
    assert radios.enabled is None


@pytest.mark.parametrize(("data", "problem"), [
    (b"{not json", "is not JSON"),
    (json.dumps({"format": "bodycam-clock-request/1"}).encode(), "is not a bodycam-radio"),
    (b"[]", "is not a bodycam-radio"),
    (request(enabled="off"), "enabled is 'off'; allowed: true or false"),
    (request(enabled=None), "enabled is None; allowed: true or false"),
    (request(cause="x" * 201), "at most 200 characters"),
])
def test_bad_request_is_refused_with_the_problem(data: bytes, problem: str) -> None:
    with pytest.raises(RadioRequestError, match=problem):
        parse_request(data)


def test_the_helper_never_follows_a_link_nor_reads_a_huge_file(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_bytes(request())
    link = tmp_path / "radio-request.json"
    link.symlink_to(target)
    runner = Runner()
    assert radio_switch.main(["--request", str(link)], run=runner) == 1
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (radio_switch.MAX_REQUEST_BYTES + 1) + request())
    assert radio_switch.main(["--request", str(huge)], run=runner) == 1
    assert runner.commands == []
    assert "radios not switched" in caplog.text and "regular file" in caplog.text


def test_rfkill_failure_is_logged_with_the_fix(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "radio-request.json"
    path.write_bytes(request())
    failing = Runner(code=1, stderr="cannot open /dev/rfkill: No such file or directory")
    assert radio_switch.main(["--request", str(path)], run=failing) == 1
    assert "cannot open /dev/rfkill" in caplog.text
    assert "install the rfkill package" in caplog.text

    def missing(command: list[str]) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError(2, "No such file or directory", command[0])

    assert apply_request(RadioRequest(False, "x"), missing)[0].startswith(
        f"`{RFKILL} block wlan` could not run")


def test_the_helper_runs_the_real_rfkill_command_line(tmp_path: Path) -> None:
    """Through subprocess for real: a stand-in rfkill at the path records its argv."""
    log = tmp_path / "argv"
    stand_in = tmp_path / "rfkill"
    stand_in.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    stand_in.chmod(0o755)
    path = tmp_path / "radio-request.json"
    path.write_bytes(request())
    original = radio_switch.RFKILL
    try:
        radio_switch.RFKILL = str(stand_in)  # type: ignore[misc]
        assert radio_switch.main(["--request", str(path)]) == 0
    finally:
        radio_switch.RFKILL = original  # type: ignore[misc]
    assert log.read_text().splitlines() == ["block wlan", "block bluetooth"]


def test_radio_unit_holds_no_capability_and_reaches_only_rfkill() -> None:
    lines = (UNIT_DIR / "bodycam-radio.service").read_text().splitlines()
    d: dict[str, list[str]] = {}
    for line in lines:
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            d.setdefault(key, []).append(value)
    assert d["CapabilityBoundingSet"] == [""] and d["AmbientCapabilities"] == [""]
    assert d["DevicePolicy"] == ["closed"] and d["DeviceAllow"] == ["/dev/rfkill rw"]
    assert d["SupplementaryGroups"] == ["bodycam"]  # reads the 0640 request in 0750 /run/bodycam
    assert d["ExecStart"] == ["/opt/bodycam/venv/bin/python -m "
                              "bodycam.firmware.power.radio_switch"]
    assert 0 < int(d["TimeoutStartSec"][0].rstrip("s")) <= 60
    path_unit = (UNIT_DIR / "bodycam-radio.path").read_text()
    assert f"PathChanged={radio_switch.DEFAULT_REQUEST_FILE}" in path_unit


def test_radios_off_out_of_the_dock_and_on_in_it(make_sim_device: MakeDevice) -> None:
    rig = make_sim_device()
    rig.wait_state("idle")
    radios = rig.hardware.radios
    rig.wait_until(lambda: radios.enabled is False)  # booted out of the dock
    assert rig.hardware.power.load().state("radio") == "off"
    power = rig.hardware.power
    power.set_docked(True)
    rig.wait_state("docked")
    rig.wait_until(lambda: radios.enabled is True)
    power.set_docked(False)
    rig.wait_state("idle")
    rig.wait_until(lambda: radios.enabled is False)
    rig.stop()
    assert radios.requests == [(False, "boot out of the dock"), (True, "docked"),
                               (False, "left the dock")]
    switched = events(rig.audit(), "radios")
    assert [(r["enabled"], r["cause"]) for r in switched] == [
        (False, "boot out of the dock"), (True, "docked"), (False, "left the dock")]
    assert all(r["result"].startswith("simulated radios") for r in switched)


def test_radios_undocked_keeps_them_on(make_sim_device: MakeDevice) -> None:
    rig = make_sim_device("power.radios_undocked=true")
    rig.wait_state("idle")
    rig.sleep(POLL_S)
    rig.hardware.power.set_docked(True)
    rig.wait_state("docked")
    rig.hardware.power.set_docked(False)
    rig.wait_state("idle")
    rig.stop()
    assert rig.hardware.radios.requests == []
    assert rig.hardware.radios.enabled is True
    assert events(rig.audit(), "radios") == []


def test_the_prediction_charges_radios_kept_on() -> None:
    table = load_power_table()
    off, on = DrawSettings(), DrawSettings(radios_undocked=True)
    for mode in ("standby", "buffering", "recording"):
        assert battery_watts(table, mode, on) - battery_watts(table, mode, off) == \
            pytest.approx(table.watts("radio", "idle") / table.battery.boost_efficiency.value)
    assert battery_watts(table, "docked", on) == battery_watts(table, "docked", off)



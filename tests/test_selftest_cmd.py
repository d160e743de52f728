"""`bodycam selftest`: the command end to end on the simulator, and the Pi's part-wise build."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NoReturn

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from bodycam.firmware.cli import main
from bodycam.firmware.config.loader import load_config
from bodycam.firmware.device.selftest import PartResult, run_selftest
from bodycam.firmware.device.selftest_cmd import (
    UnavailableCamera,
    UnavailableMicrophone,
    format_results,
    open_pi_parts,
)
from bodycam.firmware.evidence.age.keys import generate_identity, recipient_fingerprint
from bodycam.hal.interfaces import HardwareError
from bodycam.hal.pi import hardware as pi_hardware

CAMERA_ERROR = HardwareError("camera module", "CSI port 0", "camera not found or in use",
                             "check the ribbon cable")


def device_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "device.toml"
    path.write_text(f'[evidence]\nrecipients = ["{generate_identity()[1]}"]\n{extra}')
    return path


def test_sim_selftest_passes_end_to_end_as_json(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["selftest", "--sim", "--json", "--seconds", "1.2",
                 "--config", str(device_file(tmp_path))])
    results = json.loads(capsys.readouterr().out)
    assert [r for r in results if not r["ok"]] == []
    assert code == 0
    assert [r["part"] for r in results][:2] == ["camera", "microphone"]
    assert results[0]["detail"].startswith("30.0 fps")


def test_sim_without_recipients_prints_a_fail_line_and_exits_1(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["selftest", "--sim", "--seconds", "0.5"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert ("FAIL recipients  no evidence recipient configured: the camera refuses to "
            "record. Fix: add the evidence authority's public age1... key to "
            "[evidence] recipients") in lines
    assert any(line.startswith("OK   camera      ") for line in lines)


def test_sim_recipient_flag_is_checked_like_a_configured_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    _, recipient = generate_identity()
    assert main(["selftest", "--sim", "--seconds", "0.5", "--recipient", recipient]) == 0
    out = capsys.readouterr().out
    assert f"OK   recipients  1 configured ({recipient_fingerprint(recipient)})" in out
    assert main(["selftest", "--recipient", recipient]) == 2  # only with --sim
    assert "only for --sim" in capsys.readouterr().err


def test_invalid_configuration_exits_1_before_testing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[video]\nfps = -1\n")
    assert main(["selftest", "--sim", "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "video.fps" in err
    assert "no part was tested" in err


def test_seconds_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["selftest", "--sim", "--seconds", "0"])
    assert "not a number of seconds" in capsys.readouterr().err


def test_human_output_aligns_parts_and_names_the_fix() -> None:
    text = format_results([PartResult("camera", True, "30.0 fps, keyframes every 1.0 s"),
                           PartResult("microphone", False, "microphone delivers only silence",
                                      "check the wiring/dtoverlay")])
    assert text.splitlines() == [
        "OK   camera      30.0 fps, keyframes every 1.0 s",
        "FAIL microphone  microphone delivers only silence. Fix: check the wiring/dtoverlay",
    ]


def raise_camera_error(*_: Any, **__: Any) -> NoReturn:
    raise CAMERA_ERROR


def test_pi_parts_open_one_by_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GPIO on mock pins works, the missing camera and sound card fail on their own."""
    factory = MockFactory(pin_class=MockPWMPin)
    monkeypatch.setattr(pi_hardware, "lgpio_pin_factory", lambda: factory)
    monkeypatch.setattr(pi_hardware, "open_pi_camera", raise_camera_error)
    monkeypatch.setattr(pi_hardware, "PiMicrophone", raise_camera_error)
    config = load_config(device_file(tmp_path, '[power]\nbattery_source = "none"\n'))
    with ExitStack() as stack:
        hardware = open_pi_parts(config, stack)
        assert isinstance(hardware.camera, UnavailableCamera)
        assert isinstance(hardware.microphone, UnavailableMicrophone)
        results = {r.part: r for r in run_selftest(hardware, config, 0.01)}
    assert results["camera"] == PartResult(
        "camera", False, "camera module (CSI port 0): camera not found or in use",
        "check the ribbon cable")
    assert not results["microphone"].ok
    assert results["buttons"].ok and results["indicators"].ok
    assert results["battery"].detail == 'no fuel gauge fitted ([power] battery_source = "none")'


def test_pi_gpio_failure_is_reported_for_every_gpio_part(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gpio_error = HardwareError("GPIO", "gpiochip (lgpio)", "cannot open the GPIO chip",
                               "run on a Raspberry Pi")

    def no_gpio() -> NoReturn:
        raise gpio_error

    monkeypatch.setattr(pi_hardware, "lgpio_pin_factory", no_gpio)
    monkeypatch.setattr(pi_hardware, "open_pi_camera", raise_camera_error)
    config = load_config(device_file(tmp_path, "[audio]\nenabled = false\n"))
    with ExitStack() as stack:
        hardware = open_pi_parts(config, stack)
        results = {r.part: r for r in run_selftest(hardware, config, 0.01)}
    for part in ("display", "buttons", "indicators", "battery"):
        assert results[part] == PartResult(
            part, False, "GPIO (gpiochip (lgpio)): cannot open the GPIO chip",
            "run on a Raspberry Pi")
    assert results["microphone"].ok  # disabled: the Pi's DisabledMicrophone
    assert results["recipients"].ok

"""The installer's Python helpers: config.txt editing and judging the self-test."""

from __future__ import annotations

from pathlib import Path

import pytest

from bodycam.tools.install.configtxt import enable_buses, enable_usb_gadget
from bodycam.tools.install.configtxt import main as configtxt_main
from bodycam.tools.install.selftest import judge


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_already_enabled_file_is_left_byte_for_byte() -> None:
    text = "dtparam=spi=on\r\ndtparam=i2c_arm=on\r\n"
    assert enable_buses(text) == (text, [])


def test_setting_only_for_one_model_does_not_count() -> None:
    new, changes = enable_buses("dtparam=audio=on\n[pi4]\ndtparam=spi=on\n")
    assert lines(new)[3:] == ["[all]", "# bodycam: SPI for the front display",
                              "dtparam=spi=on", "# bodycam: I2C for the battery gauge",
                              "dtparam=i2c_arm=on"]
    assert changes == ["config.txt: dtparam=spi=on (added)",
                       "config.txt: dtparam=i2c_arm=on (added)"]


def test_setting_after_all_counts_and_the_last_one_wins() -> None:
    text = "[pi4]\nfoo=1\n[all]\ndtparam=spi=on\ndtparam=i2c_arm=on\ndtparam=spi=off\n"
    new, changes = enable_buses(text)
    assert lines(new)[-1] == "dtparam=spi=on"
    assert changes == ["config.txt: dtparam=spi=on (was switched off)"]


def test_combined_line_keeps_its_other_settings() -> None:
    new, _ = enable_buses("dtparam=audio=on,i2c_arm=off,spi\n")
    assert lines(new) == ["dtparam=audio=on,i2c_arm=on,spi"]


def test_commented_line_holding_several_settings_is_not_switched_on() -> None:
    new, _ = enable_buses("#dtparam=i2s=on,spi=on\ndtparam=i2c_arm=on\n")
    assert lines(new)[0] == "#dtparam=i2s=on,spi=on" and lines(new)[-1] == "dtparam=spi=on"


def test_windows_line_endings_are_kept() -> None:
    new, _ = enable_buses("#dtparam=spi=on\r\ndtparam=i2c_arm=on\r\n")
    assert new == "dtparam=spi=on\r\ndtparam=i2c_arm=on\r\n"


def test_script_edits_in_place_and_is_idempotent(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.txt"
    path.write_text("#dtparam=i2c_arm=on\n#dtparam=spi=on\n")
    assert configtxt_main([str(path)]) == 0
    assert path.read_text() == ("dtparam=i2c_arm=on\ndtparam=spi=on\n# bodycam: USB "
                                "gadget Ethernet: the dock link on the USB port\n"
                                "dtoverlay=dwc2,dr_mode=peripheral\n"
                                "# bodycam: Bluetooth off (power): nothing on the camera "
                                "uses it\ndtoverlay=disable-bt\n# bodycam: board activity "
                                "LED off (power, and no light that betrays a camera in "
                                "stealth mode)\ndtparam=act_led_trigger=none\n")
    assert configtxt_main([str(path)]) == 0
    assert capsys.readouterr().out.count("config.txt:") == 5  # only the first run changed


def test_the_usb_port_becomes_the_dock_link_once() -> None:
    """USB gadget Ethernet: the dwc2 overlay in peripheral mode for every model; a line
    for one model only, or one in host mode, does not count."""
    new, changes = enable_usb_gadget("[pi4]\ndtoverlay=dwc2,dr_mode=peripheral\n[all]\n"
                                     "dtoverlay=dwc2,dr_mode=host\n")
    assert lines(new)[-1] == "dtoverlay=dwc2,dr_mode=peripheral"
    assert changes == ["config.txt: dtoverlay=dwc2,dr_mode=peripheral (added)"]
    assert enable_usb_gadget(new) == (new, [])


def test_selftest_judgement() -> None:
    results: list[dict[str, object]] = [
        {"part": "camera", "ok": True, "detail": "30 fps"},
        {"part": "recipients", "ok": False, "detail": "none", "fix": "provision"},
    ]
    assert judge(results, provisioned=False)[1] is True
    printed, passed = judge(results, provisioned=True)
    assert passed is False and "  FAIL     recipients: none; fix: provision" in printed
    assert judge([], provisioned=False)[1] is False  # no result at all is no pass

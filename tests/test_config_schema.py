"""The schema matches the model, the shipped files, and what luma really accepts."""

from __future__ import annotations

import types
import typing
from dataclasses import fields
from pathlib import Path

import pytest
from luma.core.error import DeviceDisplayModeError
from luma.core.interface.serial import noop, spi
from luma.oled import device as oled
from pytest_mock import MockerFixture

from bodycam.firmware.config.loader import load_config, shipped_file
from bodycam.firmware.config.model import Config
from bodycam.firmware.config.schema import DISPLAY_SIZES, LUMA_SPI_SPEEDS_HZ, SETTINGS

# The configuration files in config/ (other TOML there, e.g. sim scenarios, is not config).
SHIPPED = ["defaults.toml", "sim.toml", "example-device.toml"]


def _model_keys() -> list[str]:
    hints = typing.get_type_hints(Config)
    return [f"{section.name}.{f.name}" for section in fields(Config)
            if section.name not in ("sources", "digest") for f in fields(hints[section.name])]


def test_schema_keys_are_exactly_the_model_fields() -> None:
    assert list(SETTINGS) == _model_keys()


def test_every_setting_is_documented() -> None:
    for setting in SETTINGS.values():
        assert setting.doc.endswith("."), setting.key
        assert setting.rule.allowed(), setting.key


def test_built_values_have_the_model_types() -> None:
    config = load_config()
    hints = typing.get_type_hints(Config)
    for key in SETTINGS:
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        wanted = typing.get_type_hints(hints[section])[name]
        if typing.get_origin(wanted) is typing.Literal:
            assert value in typing.get_args(wanted), key
        else:
            origin = typing.get_origin(wanted)  # X | None checks as itself
            assert isinstance(value, wanted if origin is types.UnionType
                              else origin or wanted), key
            assert type(value) is not bool or wanted is bool, key


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_file_validates(name: str) -> None:
    config = load_config(shipped_file(name))
    assert config.digest


def test_sim_file_is_light_for_software_encoding() -> None:
    config = load_config(shipped_file("sim.toml"))
    video = config.video
    assert (video.width, video.height, video.fps, video.bitrate_kbps,
            video.keyframe_interval) == (640, 360, 30, 1500, 30)
    assert config.power.battery_source == "sim"
    assert (config.display.driver, config.display.width, config.display.height) == (
        "ssd1351", 128, 128)


@pytest.mark.parametrize(("driver", "size"),
                         [(d, s) for d, sizes in DISPLAY_SIZES.items() for s in sizes])
def test_allowed_display_sizes_are_accepted_by_luma(driver: str, size: tuple[int, int]) -> None:
    panel = getattr(oled, driver)(noop(), width=size[0], height=size[1])
    assert panel.size == size


def test_luma_rejects_a_size_the_schema_rejects() -> None:
    with pytest.raises(DeviceDisplayModeError):
        oled.ssd1351(noop(), width=96, height=64)


@pytest.mark.parametrize("speed", LUMA_SPI_SPEEDS_HZ)
def test_allowed_spi_speeds_are_accepted_by_luma(speed: int, mocker: MockerFixture) -> None:
    bus = mocker.Mock()  # the SPI bus itself cannot exist here
    spi(spi=bus, gpio=noop(), bus_speed_hz=speed)
    assert bus.max_speed_hz == speed


def test_luma_rejects_a_speed_the_schema_rejects(mocker: MockerFixture) -> None:
    assert 10_000_000 not in LUMA_SPI_SPEEDS_HZ
    with pytest.raises(AssertionError):
        spi(spi=mocker.Mock(), gpio=noop(), bus_speed_hz=10_000_000)


def test_example_device_file_documents_each_section() -> None:
    text = Path(shipped_file("example-device.toml")).read_text(encoding="utf-8")
    for section in {k.split(".")[0] for k in SETTINGS} - {"buttons", "audio"}:
        header = f"[{section}]"
        assert header in text
        before = text[: text.index(header)].rstrip().splitlines()[-1]
        assert before.startswith("#"), f"{header} has no explanatory comment"

"""The SPI front display: luma's real spi interface and oled drivers, our gpiozero DC/RST
adapter on MockFactory pins, and only the SPI bus (spidev.SpiDev) faked."""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterator

import pytest
from gpiozero import DigitalOutputDevice
from gpiozero.pins.mock import MockFactory
from PIL import Image

from bodycam.firmware.config.model import DisplayConfig, DisplayDriver
from bodycam.hal.interfaces import HardwareError
from bodycam.hal.pi.display import open_pi_display
from bodycam.hal.pi.luma_gpio import GpiozeroRpiGpio

DC, RST = 24, 25


def config(driver: DisplayDriver = "ssd1351", size: tuple[int, int] = (128, 128), *,
           rotation: int = 0, speed: int = 16_000_000) -> DisplayConfig:
    return DisplayConfig(driver=driver, width=size[0], height=size[1], rotation=rotation,
                         mirror=True, spi_port=0, spi_device=1, spi_speed_hz=speed,
                         gpio_dc=DC, gpio_reset=RST, fps=15)


class FakeSpiDev:
    """spidev.SpiDev as luma uses it: open(port, device), max_speed_hz, writebytes, close."""

    def __init__(self, open_error: OSError | None = None) -> None:
        self.open_error = open_error
        self.opened: tuple[int, int] | None = None
        self.max_speed_hz = 0
        self.writes: list[list[int]] = []
        self.closed = False

    def open(self, port: int, device: int) -> None:
        if self.open_error is not None:
            raise self.open_error
        self.opened = (port, device)

    def writebytes(self, data: list[int]) -> None:
        self.writes.append(list(data))

    def close(self) -> None:
        self.closed = True

    def data_bytes(self) -> int:
        return sum(len(write) for write in self.writes)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    pins = MockFactory()
    yield pins
    pins.close()


def test_ssd1351_sends_the_frame_over_spi(factory: MockFactory) -> None:
    bus = FakeSpiDev()
    display = open_pi_display(config(), factory, spi_bus=bus)
    assert bus.opened == (0, 1)
    assert bus.max_speed_hz == 16_000_000
    factory.pin(RST).assert_states([False, True])  # reset pulse at initialisation
    assert (display.size, display.mode) == ((128, 128), "RGB")

    bus.writes.clear()
    display.show(Image.new("RGB", (128, 128), (255, 0, 0)))
    pixels = [write for write in bus.writes if len(write) > 4]
    assert sum(len(write) for write in pixels) == 128 * 128 * 2  # RGB565
    assert pixels[0][:4] == [0xF8, 0x00, 0xF8, 0x00]  # pure red
    assert factory.pin(DC).state is True  # left in data mode after the pixels
    display.close()
    assert bus.closed


@pytest.mark.parametrize(("rotation", "steps"), [(0, 0), (90, 1), (180, 2), (270, 3)])
def test_rotation_maps_to_luma_quarter_turns(
    factory: MockFactory, rotation: int, steps: int
) -> None:
    display = open_pi_display(config(rotation=rotation), factory, spi_bus=FakeSpiDev())
    assert display.device.rotate == steps
    display.close()


def test_monochrome_sh1106_over_spi(factory: MockFactory) -> None:
    bus = FakeSpiDev()
    display = open_pi_display(config("sh1106", (128, 64)), factory, spi_bus=bus)
    assert display.mode == "1"
    bus.writes.clear()
    display.show(Image.new("RGB", (128, 64), (255, 255, 255)))
    assert bus.data_bytes() >= 128 * 64 // 8
    display.close()


def test_close_releases_the_dc_and_reset_pins(factory: MockFactory) -> None:
    open_pi_display(config(), factory, spi_bus=FakeSpiDev()).close()
    for pin in (DC, RST):
        DigitalOutputDevice(pin, pin_factory=factory).close()


def assert_names_spi_pins_and_fix(error: HardwareError) -> None:
    text = str(error)
    assert text.startswith("front display (ssd1351 128x128)")
    assert "SPI port 0/device 1 (/dev/spidev0.1)" in text
    assert f"DC GPIO{DC}, RST GPIO{RST}" in text
    assert "dtparam=spi=on" in text and "raspi-config" in text


def test_spi_disabled_is_a_hardware_error(factory: MockFactory) -> None:
    bus = FakeSpiDev(FileNotFoundError(errno.ENOENT, "No such file or directory"))
    with pytest.raises(HardwareError) as caught:
        open_pi_display(config(), factory, spi_bus=bus)
    assert_names_spi_pins_and_fix(caught.value)
    assert "SPI device not found" in str(caught.value)
    for pin in (DC, RST):  # pins released again
        DigitalOutputDevice(pin, pin_factory=factory).close()


def test_dc_pin_in_use_is_a_hardware_error(factory: MockFactory) -> None:
    holder = DigitalOutputDevice(DC, pin_factory=factory)
    with pytest.raises(HardwareError) as caught:
        open_pi_display(config(), factory, spi_bus=FakeSpiDev())
    assert_names_spi_pins_and_fix(caught.value)
    assert f"pinctrl get {DC}" in str(caught.value)
    holder.close()


def test_unsupported_bus_speed_is_a_hardware_error(factory: MockFactory) -> None:
    with pytest.raises(HardwareError, match=r"10000000 Hz.*spi_speed_hz to one of"):
        open_pi_display(config(speed=10_000_000), factory, spi_bus=FakeSpiDev())


def test_missing_spidev_names_the_package(
    factory: MockFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "spidev", None)  # import spidev fails, as on x86
    with pytest.raises(HardwareError, match="python3-spidev"):
        open_pi_display(config(), factory)


def test_gpio_adapter_speaks_the_rpi_gpio_subset(factory: MockFactory) -> None:
    gpio = GpiozeroRpiGpio(factory)
    gpio.setmode(gpio.BCM)
    gpio.setup(DC, gpio.OUT, initial=gpio.HIGH)
    assert gpio.value(DC) is True
    gpio.output(DC, gpio.LOW)
    assert factory.pin(DC).state is False
    with pytest.raises(ValueError, match="only outputs"):
        gpio.setup(RST, gpio.IN)
    gpio.cleanup(DC)
    DigitalOutputDevice(DC, pin_factory=factory).close()

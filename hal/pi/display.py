"""The front display: a luma.oled panel on the SPI bus, wrapped by the shared LumaDisplay.

The panel's DC and RST lines are driven through gpiozero (see luma_gpio.py) with the same
pin factory as the buttons, so the display works on every Pi model including the Pi 5.
"""

from __future__ import annotations

from typing import Any

from gpiozero import Factory

from bodycam.firmware.config.model import DisplayConfig
from bodycam.hal.interfaces import HardwareError
from bodycam.hal.luma_display import LumaDisplay, rotate_steps
from bodycam.hal.pi.deps import INSTALL_HINTS, require
from bodycam.hal.pi.luma_gpio import GpiozeroRpiGpio

SPI_FIX = (
    "enable SPI with `sudo raspi-config nonint do_spi 0` (dtparam=spi=on in "
    "/boot/firmware/config.txt) and reboot, then check that /dev/spidev{port}.{device} "
    "exists and the panel's SCLK/MOSI/CS/DC/RST/VCC/GND wiring matches [display]"
)


def display_part(config: DisplayConfig) -> str:
    return f"front display ({config.driver} {config.width}x{config.height})"


def spi_where(config: DisplayConfig) -> str:
    return (
        f"SPI port {config.spi_port}/device {config.spi_device} "
        f"(/dev/spidev{config.spi_port}.{config.spi_device}), "
        f"DC GPIO{config.gpio_dc}, RST GPIO{config.gpio_reset}"
    )


class PiLumaDisplay(LumaDisplay):
    """LumaDisplay that also releases the DC/RST pins, which luma leaves to their owner."""

    def __init__(self, device: Any, gpio: GpiozeroRpiGpio, brightness: float = 1.0) -> None:
        super().__init__(device, brightness)
        self._gpio = gpio

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._gpio.cleanup()


def open_pi_display(
    config: DisplayConfig, pin_factory: Factory, *, spi_bus: Any = None
) -> PiLumaDisplay:
    """Open the configured luma.oled panel over SPI.

    `spi_bus` replaces the spidev.SpiDev that luma would open itself (tests pass a mock;
    the device passes None). Every failure becomes a HardwareError naming the SPI port,
    device and pins.
    """
    part = display_part(config)
    where = spi_where(config)
    serial_module = require("luma.core.interface.serial", part)
    luma_error = require("luma.core.error", part)
    oled = require("luma.oled.device", part)
    rotate = rotate_steps(config.rotation)
    gpio = GpiozeroRpiGpio(pin_factory)

    def fail(problem: str, fix: str) -> HardwareError:
        gpio.cleanup()
        return HardwareError(part, where, problem, fix)

    spi_fix = SPI_FIX.format(port=config.spi_port, device=config.spi_device)
    try:
        serial = serial_module.spi(
            spi=spi_bus,
            gpio=gpio,
            port=config.spi_port,
            device=config.spi_device,
            bus_speed_hz=config.spi_speed_hz,
            gpio_DC=config.gpio_dc,
            gpio_RST=config.gpio_reset,
        )
        device = getattr(oled, config.driver)(
            serial, width=config.width, height=config.height, rotate=rotate
        )
        display = PiLumaDisplay(device, gpio, config.brightness / 100)  # sets the drive
    except AssertionError as exc:  # luma asserts the bus speed is one it supports
        raise fail(
            f"SPI speed {config.spi_speed_hz} Hz is not supported by luma",
            "set [display] spi_speed_hz to one of 500000, 1000000, 2000000, 4000000, "
            "8000000, 16000000 or 20000000 (the SSD1351 datasheet allows up to 20 MHz)",
        ) from exc
    except ImportError as exc:  # luma imports spidev only when it opens the bus
        raise fail(f"cannot import spidev ({exc})", INSTALL_HINTS["spidev"]) from exc
    except luma_error.DeviceNotFoundError as exc:
        raise fail(f"SPI device not found ({exc})", spi_fix) from exc
    except (PermissionError, luma_error.DevicePermissionError) as exc:
        raise fail(
            f"no permission to open the SPI device or GPIO ({exc})",
            "run the service as a user in the `spi` and `gpio` groups",
        ) from exc
    except luma_error.DeviceDisplayModeError as exc:
        raise fail(
            f"{config.driver} does not support {config.width}x{config.height} ({exc})",
            "set [display] width/height to the panel's resolution",
        ) from exc
    except Exception as exc:  # gpiozero/lgpio errors on DC/RST, spidev I/O errors
        raise fail(
            f"cannot initialise the panel ({type(exc).__name__}: {exc})",
            f"{spi_fix}; make sure no other program or overlay uses GPIO{config.gpio_dc} "
            f"or GPIO{config.gpio_reset} (`pinctrl get {config.gpio_dc}`)",
        ) from exc
    return display

"""build_pi_hardware on x86: lazy Pi-only imports, missing-library errors, cleanup on failure.

Pi-only libraries are made absent (sys.modules[name] = None) or replaced by stub modules
standing in for hardware that cannot exist here (the GPIO chip, the SPI bus).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from types import ModuleType
from unittest.mock import MagicMock

import pytest
from gpiozero.pins.mock import MockFactory

from bodycam.firmware.config.loader import load_config
from bodycam.firmware.config.model import Config
from bodycam.hal.interfaces import HardwareError
from bodycam.hal.pi.camera import open_pi_camera
from bodycam.hal.pi.hardware import build_pi_hardware

PI_ONLY = ("picamera2", "libcamera", "pykms", "lgpio", "spidev", "pyaudio", "smbus2")


def test_importing_the_pi_drivers_loads_no_pi_only_library() -> None:
    code = (
        "import sys, bodycam.hal.pi.hardware\n"
        f"loaded = [m for m in {PI_ONLY!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def without(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make `import module` fail, as on a machine without it."""
    for name in list(sys.modules):
        if name.split(".")[0] in modules:
            monkeypatch.delitem(sys.modules, name)
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture
def config() -> Config:
    defaults = load_config()
    return replace(defaults, power=replace(defaults.power, battery_source="none"),
                   audio=replace(defaults.audio, enabled=False))


def test_missing_lgpio_names_the_package(
    monkeypatch: pytest.MonkeyPatch, config: Config
) -> None:
    without(monkeypatch, "lgpio")
    with pytest.raises(HardwareError, match=r"^GPIO \(Python module lgpio\).*python3-lgpio"):
        build_pi_hardware(config)


def test_missing_picamera2_names_the_apt_package_and_the_venv_flag(
    monkeypatch: pytest.MonkeyPatch, config: Config
) -> None:
    without(monkeypatch, "picamera2", "libcamera")
    with pytest.raises(HardwareError) as caught:
        open_pi_camera(config.video, (128, 128), 15)
    text = str(caught.value)
    assert text.startswith("camera module (Python module picamera2)")
    assert "python3-picamera2" in text and "--system-site-packages" in text


class ClosableMockFactory(MockFactory):
    closed = False

    def close(self) -> None:
        super().close()
        self.closed = True


def test_a_failing_part_closes_everything_opened_before(
    monkeypatch: pytest.MonkeyPatch, config: Config
) -> None:
    factory = ClosableMockFactory()
    gpio_chip = MagicMock(name="gpiozero.pins.lgpio", spec=ModuleType)
    gpio_chip.LGPIOFactory = lambda: factory
    spi = MagicMock(name="spidev")
    monkeypatch.setitem(sys.modules, "lgpio", MagicMock(name="lgpio"))
    monkeypatch.setitem(sys.modules, "gpiozero.pins.lgpio", gpio_chip)
    monkeypatch.setitem(sys.modules, "spidev", spi)
    without(monkeypatch, "picamera2", "libcamera")  # the camera is the last part opened

    with pytest.raises(HardwareError, match="picamera2"):
        build_pi_hardware(config)
    spi.SpiDev.return_value.close.assert_called_once()  # display released its bus
    assert factory.closed  # and every button, LED and input pin with the factory

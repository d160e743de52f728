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
from gpiozero.pins.mock import MockFactory, MockPWMPin

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


def fake_gpio_and_spi(monkeypatch: pytest.MonkeyPatch) -> tuple[ClosableMockFactory, MagicMock]:
    """Stand-ins for the GPIO chip and the SPI bus, which cannot exist on this machine."""
    factory = ClosableMockFactory(pin_class=MockPWMPin)  # lgpio drives PWM on any pin
    gpio_chip = MagicMock(name="gpiozero.pins.lgpio", spec=ModuleType)
    gpio_chip.LGPIOFactory = lambda: factory
    spi = MagicMock(name="spidev")
    monkeypatch.setitem(sys.modules, "lgpio", MagicMock(name="lgpio"))
    monkeypatch.setitem(sys.modules, "gpiozero.pins.lgpio", gpio_chip)
    monkeypatch.setitem(sys.modules, "spidev", spi)
    return factory, spi


def test_a_failing_required_part_closes_everything_opened_before(
    monkeypatch: pytest.MonkeyPatch, config: Config
) -> None:
    factory, _spi = fake_gpio_and_spi(monkeypatch)
    without(monkeypatch, "spidev")  # the display, the last required part, cannot open

    with pytest.raises(HardwareError, match="spidev"):
        build_pi_hardware(config)
    assert factory.closed  # every button, LED and input pin went with the factory


def test_camera_and_microphone_that_cannot_open_are_missing_not_fatal(
    monkeypatch: pytest.MonkeyPatch, config: Config
) -> None:
    """H5: a microphone missing at boot used to end `bodycam run` (restart loop, then a
    dead unit). Now the program gets the hardware and is told what is missing."""
    factory, spi = fake_gpio_and_spi(monkeypatch)
    without(monkeypatch, "pyaudio", "picamera2", "libcamera")
    config = replace(config, audio=replace(config.audio, enabled=True))

    hardware = build_pi_hardware(config)
    try:
        assert set(hardware.missing) == {"camera", "microphone"}
        assert "python3-pyaudio" in str(hardware.missing["microphone"])
        assert "picamera2" in str(hardware.missing["camera"])
        with pytest.raises(HardwareError, match="pyaudio"):  # every start tries again
            hardware.microphone.start(lambda _chunk: None)
        assert not hardware.microphone.running and not hardware.camera.running
    finally:
        hardware.close()
    spi.SpiDev.return_value.close.assert_called_once()
    assert factory.closed

"""Display and LED brightness: range-checked, applied by the drivers (luma contrast on the
SPI bus, PWM duty on the LED pins), and charged by the power model and the prediction."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from test_gpio_devices import PINS
from test_hal_pi_display import FakeSpiDev
from test_hal_pi_display import config as display_config

from bodycam.firmware.config.loader import ConfigError, load_config
from bodycam.firmware.config.model import PowerConfig
from bodycam.firmware.power.draw import DrawSettings, battery_watts
from bodycam.firmware.power.runtime import forecast_shift
from bodycam.firmware.power.table import load_power_table
from bodycam.hal.gpio_devices import GpioIndicators
from bodycam.hal.interfaces import Blink
from bodycam.hal.pi.display import open_pi_display

TABLE = load_power_table()


@pytest.fixture
def pwm_pins() -> Iterator[MockFactory]:
    pins = MockFactory(pin_class=MockPWMPin)
    yield pins
    pins.close()


@pytest.mark.parametrize(("text", "key", "given"), [
    ("[display]\nbrightness = 0", "display.brightness", 0),
    ("[display]\nbrightness = 101", "display.brightness", 101),
    ('[display]\nbrightness = "bright"', "display.brightness", "bright"),
    ("[display]\nbrightness = 0.5", "display.brightness", 0.5),
    ("[leds]\nbrightness = 0", "leds.brightness", 0),
    ("[leds]\nbrightness = -5", "leds.brightness", -5),
    ("[leds]\nbrightness = 250", "leds.brightness", 250),
    ('[power]\nradios_undocked = "no"', "power.radios_undocked", "no"),
])
def test_out_of_range_brightness_is_refused_naming_key_and_range(
        tmp_path: Path, text: str, key: str, given: object) -> None:
    path = tmp_path / "bodycam.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert (problem.key, problem.given) == (key, given)
    if key != "power.radios_undocked":
        assert "1-100 %" in str(problem)  # the fix: a whole percentage in range
    assert str(path) in str(problem)


def test_defaults_are_dimmed_and_radios_off(tmp_path: Path) -> None:
    path = tmp_path / "bodycam.toml"
    path.write_text("", encoding="utf-8")
    config = load_config(path)
    assert (config.display.brightness, config.leds.brightness) == (50, 25)
    assert config.power.radios_undocked is False


@pytest.mark.parametrize(("percent", "level"), [(100, 255), (50, 128), (25, 64), (1, 3)])
def test_ssd1351_gets_the_contrast_over_spi(pwm_pins: MockFactory, percent: int,
                                            level: int) -> None:
    """luma initialises the panel at full contrast (0xC1 255 255 255); ours follows."""
    bus = FakeSpiDev()
    cfg = dataclasses.replace(display_config(), brightness=percent)
    display = open_pi_display(cfg, pwm_pins, spi_bus=bus)
    try:
        last = max(i for i, write in enumerate(bus.writes) if write == [0xC1])
        assert bus.writes[last + 1] == [level, level, level]
        assert display.brightness == percent / 100
    finally:
        display.close()


@pytest.mark.parametrize("brightness", [1.0, 0.25])
def test_leds_run_at_the_duty_and_blink_keeps_it(pwm_pins: MockFactory,
                                                 brightness: float) -> None:
    indicators = GpioIndicators(PINS, pin_factory=pwm_pins, led_brightness=brightness)
    try:
        pin = pwm_pins.pin(PINS.led_green)
        indicators.set_led("green", True)
        assert pin.state == pytest.approx(brightness)
        indicators.set_led("green", False)
        assert pin.state == 0
        indicators.set_led("green", Blink(30.0, 30.0))  # gpiozero's blink thread: on first
        lit = threading.Event()
        for _ in range(500):  # the thread's first write, however slow the machine
            if pin.state:
                lit.set()
                break
            time.sleep(0.01)
        assert lit.is_set() and pin.state == pytest.approx(brightness)
        assert indicators.led_brightness == brightness
    finally:
        indicators.close()


def test_full_brightness_needs_no_pwm() -> None:
    """At 100 % the LEDs are plain outputs (lgpio's software PWM would wake the CPU)."""
    plain = MockFactory()
    try:
        indicators = GpioIndicators(PINS, pin_factory=plain, led_brightness=1.0)
        indicators.set_led("red", True)
        assert plain.pin(PINS.led_red).state is True
        indicators.close()
    finally:
        plain.close()


def test_prediction_and_forecast_charge_the_brightness() -> None:
    dim, full = DrawSettings(0.5, 0.25), DrawSettings(1.0, 1.0)
    efficiency = TABLE.battery.boost_efficiency.value
    saved_display = 0.5 * TABLE.watts("display_light", "full") / efficiency
    saved_led = 0.75 * TABLE.watts("led", "on") / efficiency
    assert battery_watts(TABLE, "recording", full) - battery_watts(TABLE, "recording", dim) \
        == pytest.approx(saved_display + saved_led)
    assert battery_watts(TABLE, "standby", full) - battery_watts(TABLE, "standby", dim) \
        == pytest.approx(saved_led)
    power = PowerConfig("sim", 1, 0x36, 20, 5, shift_recording_share=0.5)
    assert forecast_shift(TABLE, power, 100, prerecord=False, settings=dim).hours_available \
        > forecast_shift(TABLE, power, 100, prerecord=False, settings=full).hours_available

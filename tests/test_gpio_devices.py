"""GpioButtons and GpioIndicators on gpiozero's MockFactory: the code the Pi runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from bodycam.firmware.config.model import PinsConfig
from bodycam.hal.clocks import ManualClock
from bodycam.hal.gpio_devices import GpioButtons, GpioIndicators
from bodycam.hal.interfaces import Blink, ButtonName, HardwareError

PINS = PinsConfig(button_record=17, button_display=27, button_power=22, led_green=5,
                  led_red=6, led_amber=13, buzzer=19, vibration=26, dock_detect=16,
                  charging_detect=20)

Edge = tuple[ButtonName, bool, float]


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    """A fresh pin factory per test (gpiozero's global factory is never touched)."""
    pins = MockFactory()
    yield pins
    pins.close()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for gpiozero's background blink thread (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(0.001)


@pytest.mark.parametrize("active_low", [True, False])
def test_edges_arrive_with_clock_timestamps(factory: MockFactory, active_low: bool) -> None:
    clock = ManualClock(start_monotonic=50.0)
    buttons = GpioButtons(PINS, active_low=active_low, clock=clock, pin_factory=factory)
    edges: list[Edge] = []
    buttons.start(lambda name, pressed, t: edges.append((name, pressed, t)))
    pin = factory.pin(PINS.button_record)
    press, release = (pin.drive_low, pin.drive_high) if active_low else (
        pin.drive_high, pin.drive_low)

    press()
    assert buttons.is_pressed("record")
    clock.advance(0.8)
    release()
    assert not buttons.is_pressed("record")
    assert edges == [("record", True, 50.0), ("record", False, 50.8)]
    buttons.close()


def test_every_raw_edge_is_delivered_without_debounce(factory: MockFactory) -> None:
    clock = ManualClock()
    buttons = GpioButtons(PINS, active_low=True, clock=clock, pin_factory=factory)
    edges: list[Edge] = []
    buttons.start(lambda name, pressed, t: edges.append((name, pressed, t)))
    pin = factory.pin(PINS.button_power)
    for _ in range(3):  # contact chatter 1 ms apart: the firmware debounces, not the HAL
        pin.drive_low()
        clock.advance(0.001)
        pin.drive_high()
        clock.advance(0.001)
    assert [(n, p) for n, p, _ in edges] == [("power", True), ("power", False)] * 3
    buttons.close()


def test_no_edges_before_start_or_after_close(factory: MockFactory) -> None:
    buttons = GpioButtons(PINS, active_low=True, clock=ManualClock(), pin_factory=factory)
    edges: list[Edge] = []
    pin = factory.pin(PINS.button_display)
    pin.drive_low()
    pin.drive_high()
    buttons.start(lambda name, pressed, t: edges.append((name, pressed, t)))
    buttons.close()
    pin.drive_low()
    assert edges == []


def test_pin_in_use_names_part_pin_and_fix(factory: MockFactory) -> None:
    first = GpioButtons(PINS, active_low=True, clock=ManualClock(), pin_factory=factory)
    with pytest.raises(HardwareError) as caught:
        GpioButtons(PINS, active_low=True, clock=ManualClock(), pin_factory=factory)
    message = str(caught.value)
    assert "record button (GPIO17)" in message
    assert "no other process or device-tree overlay uses GPIO17" in message
    assert "[pins] button_record" in message
    assert caught.value.where == "GPIO17"
    first.close()


def test_failed_open_releases_the_pins_already_taken(factory: MockFactory) -> None:
    bad = PinsConfig(**{**PINS.__dict__, "vibration": 99})
    with pytest.raises(HardwareError, match=r"vibration motor \(GPIO99\).*\[pins\] vibration"):
        GpioIndicators(bad, pin_factory=factory)
    GpioIndicators(PINS, pin_factory=factory).close()  # LEDs and buzzer were freed


def test_led_on_off_and_state(factory: MockFactory) -> None:
    indicators = GpioIndicators(PINS, pin_factory=factory)
    indicators.set_led("green", True)
    assert factory.pin(PINS.led_green).state
    assert indicators.led_state("green") is True
    indicators.set_led("green", False)
    assert not factory.pin(PINS.led_green).state
    assert indicators.led_state("red") is False
    indicators.close()


def _levels(factory: MockFactory, pin: int) -> list[bool]:
    return [bool(s.state) for s in factory.pin(pin).states]


def test_led_blink_pattern_runs_in_background(factory: MockFactory) -> None:
    indicators = GpioIndicators(PINS, pin_factory=factory)
    pattern = Blink(on_s=0.002, off_s=0.002, n=3)
    indicators.set_led("red", pattern)
    assert indicators.led_state("red") == pattern
    wait_until(lambda: len(_levels(factory, PINS.led_red)) >= 7)
    # initial off, then three on/off cycles
    assert _levels(factory, PINS.led_red) == [False] + [True, False] * 3
    indicators.close()


def test_endless_blink_stops_when_led_is_set(factory: MockFactory) -> None:
    indicators = GpioIndicators(PINS, pin_factory=factory)
    indicators.set_led("amber", Blink(on_s=0.001, off_s=0.001))
    wait_until(lambda: len(_levels(factory, PINS.led_amber)) >= 5)
    indicators.set_led("amber", True)
    assert factory.pin(PINS.led_amber).state
    indicators.close()


def test_buzzer_and_vibration_patterns(factory: MockFactory) -> None:
    indicators = GpioIndicators(PINS, pin_factory=factory)
    indicators.beep(Blink(on_s=0.002, off_s=0.001, n=2))
    indicators.vibrate(Blink(on_s=0.001, off_s=0.001, n=1))
    wait_until(lambda: len(_levels(factory, PINS.buzzer)) >= 5)
    wait_until(lambda: len(_levels(factory, PINS.vibration)) >= 3)
    assert _levels(factory, PINS.buzzer) == [False, True, False, True, False]
    assert _levels(factory, PINS.vibration) == [False, True, False]
    with pytest.raises(ValueError, match="repeat count"):
        indicators.beep(Blink(on_s=0.1, off_s=0.1))
    indicators.close()

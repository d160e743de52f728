"""What the simulated parts are doing, as a power `Load`, read from the parts themselves.

The probe looks at the same things a meter on the board would reflect: whether the
camera and microphone are capturing, the front display's power and drive (brightness),
each LED (a blinking one counts its on share, times the LEDs' PWM brightness), the
buzzer and vibration motor's output pins, and whether the radios are switched on. What the
hardware cannot show (the CPU's work for a recording against pre-record, card writes,
radio traffic) is inferred conservatively: a capturing camera means at least the
pre-record pipeline (SimPower adds the radio while docked); the firmware or a benchmark
pins the exact state with SimPower.set_part_state.
"""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory

from bodycam.firmware.config.model import PinsConfig
from bodycam.firmware.power.table import Load
from bodycam.hal.interfaces import (
    LED_NAMES,
    Blink,
    Camera,
    FrontDisplay,
    Indicators,
    LedState,
    Microphone,
    Radios,
)


def led_share(state: LedState) -> float:
    """How much of the time an LED in this state is lit."""
    if isinstance(state, Blink):
        period = state.on_s + state.off_s
        return state.on_s / period if period > 0 else 1.0
    return 1.0 if state else 0.0


class SimLoadProbe:
    """Reads the simulated parts' states on demand (cheap: no I/O, no locks held long)."""

    def __init__(self, *, camera: Camera, microphone: Microphone, display: FrontDisplay,
                 indicators: Indicators, pins: PinsConfig, pin_factory: MockFactory,
                 radios: Radios | None = None) -> None:
        self._radios = radios
        self._camera = camera
        self._microphone = microphone
        self._display = display
        self._indicators = indicators
        self._pins = pins
        self._factory = pin_factory

    def _pin_high(self, number: int) -> bool:
        return bool(self._factory.pin(number).state)

    def __call__(self) -> Load:
        capturing = self._camera.running
        lit = sum(led_share(self._indicators.led_state(name)) for name in LED_NAMES)
        display_on = self._display.is_on
        states = {
            "camera": "running" if capturing else "standby",
            "cpu": "prerecord" if capturing else "idle",
            "microphone": "on" if self._microphone.running else "off",
            "display": "on" if display_on else "off",
            "display_light": "full" if display_on else "off",
            "led": "on",
            "buzzer": "on" if self._pin_high(self._pins.buzzer) else "off",
            "vibration": "on" if self._pin_high(self._pins.vibration) else "off",
            "radio": "idle" if self._radios is not None and self._radios.enabled else "off",
        }
        return Load(states, {"led": lit * self._indicators.led_brightness,
                             "display_light": self._display.brightness})

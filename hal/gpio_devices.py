"""Buttons and indicators on gpiozero, shared by the Raspberry Pi drivers and the simulator.

The simulator runs exactly this code on gpiozero's MockFactory and the device runs it on
the lgpio factory, so button edges and blink patterns take the same path in both. The pin
factory is always passed explicitly (gpiozero's global Device.pin_factory is never set),
which keeps several simulated devices and parallel tests apart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from gpiozero import LED, PWMLED, Device, DigitalInputDevice, DigitalOutputDevice, Factory

from bodycam.firmware.config.model import PinsConfig
from bodycam.hal.interfaces import (
    BUTTON_NAMES,
    LED_NAMES,
    Blink,
    ButtonEdgeCallback,
    ButtonName,
    Buttons,
    Clock,
    HardwareError,
    Indicators,
    LedName,
    LedState,
)

_D = TypeVar("_D")


def open_pin(part: str, pin: int, config_key: str, device_class: Callable[..., _D],
             **kwargs: Any) -> _D:
    """Open one gpiozero device; any failure becomes a HardwareError naming pin and fix.

    Catches Exception on purpose: besides gpiozero's own errors, the lgpio backend raises
    `lgpio.error` (derived from Exception only) when another process holds the line.
    """
    try:
        return device_class(pin, **kwargs)
    except Exception as exc:
        raise HardwareError(
            part, f"GPIO{pin}", f"cannot open the pin ({type(exc).__name__}: {exc})",
            f"make sure no other process or device-tree overlay uses GPIO{pin} "
            f"(check with `pinctrl get {pin}`) and that [pins] {config_key} in the "
            "configuration is the right BCM pin number") from exc


def _close_all(devices: Iterable[Device]) -> None:
    for device in devices:
        device.close()


class GpioButtons(Buttons):
    """The three buttons as gpiozero input devices; delivers raw edges, no debounce.

    Debounce and gesture recognition live in the firmware, where they are tested against
    the injected clock; gpiozero's bounce_time would hide the raw edges (and mock pins
    ignore it anyway). Edge timestamps come from `clock.monotonic()`.

    DigitalInputDevice rather than gpiozero.Button: Button only adds hold detection, which
    the firmware does itself, and its hold thread makes close() wait up to hold_time
    (1 s) while a button is held, e.g. during a hold-to-shut-down.
    """

    def __init__(self, pins: PinsConfig, *, active_low: bool, clock: Clock,
                 pin_factory: Factory) -> None:
        self._clock = clock
        # Replaced whole by start()/close() and read once per edge: one attribute access,
        # atomic in CPython, so the pin thread never waits for a lock.
        self._on_edge: ButtonEdgeCallback | None = None
        self._buttons: dict[ButtonName, DigitalInputDevice] = {}
        try:
            for name in BUTTON_NAMES:
                pin = getattr(pins, f"button_{name}")
                self._buttons[name] = open_pin(
                    f"{name} button", pin, f"button_{name}", DigitalInputDevice,
                    pull_up=active_low, bounce_time=None, pin_factory=pin_factory)
        except HardwareError:
            _close_all(self._buttons.values())
            raise
        for name, button in self._buttons.items():
            button.when_activated = self._edge_handler(name, True)
            button.when_deactivated = self._edge_handler(name, False)

    def _edge_handler(self, name: ButtonName, pressed: bool) -> Callable[[], None]:
        def handler() -> None:  # runs on gpiozero's pin thread: only forwards the edge
            on_edge = self._on_edge
            if on_edge is not None:
                on_edge(name, pressed, self._clock.monotonic())
        return handler

    def start(self, on_edge: ButtonEdgeCallback) -> None:
        self._on_edge = on_edge

    def is_pressed(self, name: ButtonName) -> bool:
        return bool(self._buttons[name].is_active)

    def close(self) -> None:
        self._on_edge = None
        _close_all(self._buttons.values())


class DimmedLED(PWMLED):  # type: ignore[misc]  # gpiozero has no type hints
    """A PWMLED whose "fully on" is `brightness` duty: on(), off() and gpiozero's own
    blink thread all write through `_write`, so every pattern keeps its timing and only
    its light (and power, which PWM makes proportional to the duty) is scaled."""

    def __init__(self, pin: int, *, brightness: float, **kwargs: Any) -> None:
        if not 0 < brightness <= 1:
            raise ValueError(f"LED brightness must be a fraction in (0, 1], got {brightness}")
        self._brightness = brightness
        super().__init__(pin, **kwargs)

    def _write(self, value: float) -> None:
        super()._write(float(value) * self._brightness)


def _led_class(brightness: float) -> Callable[..., LED | DimmedLED]:
    """A plain LED at full brightness (no PWM: lgpio's software PWM wakes the CPU at
    every edge), a DimmedLED below it."""
    if brightness >= 1:
        return cast(Callable[..., LED], LED)
    return lambda pin, **kwargs: DimmedLED(pin, brightness=brightness, **kwargs)


class GpioIndicators(Indicators):
    """Status LEDs (gpiozero LED, or PWM below full brightness), active buzzer and
    vibration motor (DigitalOutputDevice).

    Patterns run on gpiozero's background blink threads, so every call returns at once.
    Blink timing uses real time (gpiozero's threads), not the injected clock: indicator
    patterns are for people, not for evidence.
    """

    def __init__(self, pins: PinsConfig, *, pin_factory: Factory,
                 led_brightness: float = 1.0) -> None:
        """`led_brightness`: the LEDs' duty when on, a fraction of full ([leds] brightness);
        below 1 the pin factory must support PWM (lgpio does on every pin)."""
        self._lock = threading.Lock()
        self._led_brightness = led_brightness
        led_class = _led_class(led_brightness)
        self._leds: dict[LedName, LED | DimmedLED] = {}
        self._outputs: dict[str, DigitalOutputDevice] = {}
        self._states: dict[LedName, LedState] = dict.fromkeys(LED_NAMES, False)
        try:
            for name in LED_NAMES:
                pin = getattr(pins, f"led_{name}")
                self._leds[name] = open_pin(f"{name} LED", pin, f"led_{name}", led_class,
                                            pin_factory=pin_factory)
            for part, key in (("buzzer", "buzzer"), ("vibration motor", "vibration")):
                pin = getattr(pins, key)
                self._outputs[key] = open_pin(part, pin, key, DigitalOutputDevice,
                                              pin_factory=pin_factory)
        except HardwareError:
            _close_all(self._leds.values())
            _close_all(self._outputs.values())
            raise

    def set_led(self, name: LedName, state: LedState) -> None:
        led = self._leds[name]
        with self._lock:
            self._states[name] = state
            if isinstance(state, Blink):
                _start_blink(led, state)
            elif state:
                led.on()
            else:
                led.off()

    def led_state(self, name: LedName) -> LedState:
        with self._lock:
            return self._states[name]

    @property
    def led_brightness(self) -> float:
        return self._led_brightness

    def beep(self, pattern: Blink) -> None:
        self._pulse("buzzer", pattern)

    def vibrate(self, pattern: Blink) -> None:
        self._pulse("vibration", pattern)

    def _pulse(self, key: str, pattern: Blink) -> None:
        if pattern.n is None:
            raise ValueError(f"{key} pattern needs a repeat count (Blink.n); an endless "
                             "pattern would never stop")
        with self._lock:
            _start_blink(self._outputs[key], pattern)

    def close(self) -> None:
        with self._lock:
            _close_all(self._leds.values())
            _close_all(self._outputs.values())


def _start_blink(device: LED | DimmedLED | DigitalOutputDevice, pattern: Blink) -> None:
    device.blink(on_time=pattern.on_s, off_time=pattern.off_s, n=pattern.n, background=True)

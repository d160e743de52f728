"""luma's display DC/RST pins on gpiozero instead of RPi.GPIO.

luma.core's SPI interface toggles the panel's data/command and reset lines through an
object with the RPi.GPIO API, importing RPi.GPIO itself if none is given. RPi.GPIO does
not work on a Pi 5 at all, and a second GPIO library next to gpiozero would claim pins
behind its back, so this adapter gives luma the small part of that API it calls
(setup/output/cleanup plus the constants) on gpiozero devices from the same explicit pin
factory as the buttons and LEDs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gpiozero import DigitalOutputDevice, Factory


class GpiozeroRpiGpio:
    """The RPi.GPIO subset luma.core.interface.serial uses, backed by gpiozero outputs."""

    BCM = 11
    OUT = 0
    IN = 1
    LOW = 0
    HIGH = 1

    def __init__(self, pin_factory: Factory) -> None:
        self._pin_factory = pin_factory
        self._outputs: dict[int, DigitalOutputDevice] = {}

    def setmode(self, mode: int) -> None:
        """Pins are always BCM numbers with gpiozero."""

    def setwarnings(self, enabled: bool) -> None:
        """Nothing to silence."""

    def setup(self, pin: int, direction: int, initial: int | None = None, **_: Any) -> None:
        if direction != self.OUT:
            raise ValueError(f"GPIO{pin}: only outputs are supported for luma's DC/RST pins")
        self._outputs[pin] = DigitalOutputDevice(
            pin, initial_value=bool(initial), pin_factory=self._pin_factory
        )

    def output(self, pin: int, value: int | bool) -> None:
        self._outputs[pin].value = bool(value)

    def value(self, pin: int) -> bool:
        """Current level of an output (for diagnostics and tests)."""
        return bool(self._outputs[pin].value)

    def cleanup(self, pins: int | Iterable[int] | None = None) -> None:
        """Release the given pins (all when None), like RPi.GPIO.cleanup."""
        if pins is None:
            selected = list(self._outputs)
        elif isinstance(pins, int):
            selected = [pins]
        else:
            selected = list(pins)
        for pin in selected:
            device = self._outputs.pop(pin, None)
            if device is not None:
                device.close()

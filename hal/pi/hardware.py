"""Assemble the Raspberry Pi device from the configuration.

gpiozero's lgpio factory is the one that works on every Pi model (Zero 2 to 5); it is
created here and passed explicitly to every GPIO user (buttons, LEDs, dock/charging
inputs, the display's DC/RST lines) instead of relying on gpiozero's global default.
Pi-only libraries are imported lazily by the drivers, so importing this module works on
a custodian's x86 workstation; a missing library is a HardwareError with the fix.
"""

from __future__ import annotations

from contextlib import ExitStack, closing
from dataclasses import dataclass
from typing import Any

from bodycam.firmware.config.model import Config
from bodycam.hal.clocks import SystemClock
from bodycam.hal.gpio_devices import GpioButtons, GpioIndicators
from bodycam.hal.interfaces import Hardware, HardwareError, Microphone
from bodycam.hal.pi.camera import PiCamera, open_pi_camera
from bodycam.hal.pi.deps import require
from bodycam.hal.pi.display import PiLumaDisplay, open_pi_display
from bodycam.hal.pi.microphone import DisabledMicrophone, PiMicrophone
from bodycam.hal.pi.power import PiPower, open_pi_power

GPIO_FIX = (
    "run on a Raspberry Pi with a current Raspberry Pi OS (the lgpio factory opens "
    "/dev/gpiochip*), as a user in the `gpio` group"
)


def lgpio_pin_factory() -> Any:
    """gpiozero's LGPIOFactory, or HardwareError saying what is missing."""
    require("lgpio", "GPIO")
    pins_lgpio = require("gpiozero.pins.lgpio", "GPIO")
    try:
        return pins_lgpio.LGPIOFactory()
    except Exception as exc:  # lgpio.error derives from Exception only
        raise HardwareError(
            "GPIO", "gpiochip (lgpio)", f"cannot open the GPIO chip ({exc})", GPIO_FIX
        ) from exc


@dataclass
class PiHardware(Hardware):
    """The real device; closing it also releases the camera, the sound card and the pins."""

    camera: PiCamera
    display: PiLumaDisplay
    power: PiPower
    pin_factory: Any

    def close(self) -> None:
        super().close()
        self.camera.close()
        if isinstance(self.microphone, PiMicrophone):
            self.microphone.close()
        self.pin_factory.close()


def build_pi_hardware(config: Config, *, microphone_device: str | None = None) -> PiHardware:
    """Open every device; on any failure the ones already opened are closed again.

    `microphone_device` selects a capture device by name substring (None: the default
    input); [audio] has no key for it yet.
    """
    clock = SystemClock()
    with ExitStack() as opened:  # closes what was opened if anything later fails
        factory = lgpio_pin_factory()
        opened.callback(factory.close)
        buttons = GpioButtons(
            config.pins, active_low=config.buttons.active_low, clock=clock, pin_factory=factory
        )
        opened.callback(buttons.close)
        indicators = GpioIndicators(config.pins, pin_factory=factory)
        opened.callback(indicators.close)
        power = open_pi_power(config.power, config.pins, factory)
        opened.callback(power.close)
        display = open_pi_display(config.display, factory)
        opened.callback(display.close)
        microphone: Microphone = DisabledMicrophone()
        if config.audio.enabled:
            microphone = opened.enter_context(
                closing(PiMicrophone(config.audio, clock, microphone_device))
            )
        camera = open_pi_camera(
            config.video, (config.display.width, config.display.height), config.display.fps
        )
        opened.pop_all()  # success: the parts now belong to PiHardware
    return PiHardware(
        camera=camera,
        microphone=microphone,
        display=display,
        buttons=buttons,
        indicators=indicators,
        power=power,
        clock=clock,
        pin_factory=factory,
    )

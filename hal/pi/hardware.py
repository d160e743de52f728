"""Assemble the Raspberry Pi device from the configuration.

gpiozero's lgpio factory is the one that works on every Pi model (Zero 2 to 5); it is
created here and passed explicitly to every GPIO user (buttons, LEDs, dock/charging
inputs, the display's DC/RST lines) instead of relying on gpiozero's global default.
Pi-only libraries are imported lazily by the drivers, so importing this module works on
a custodian's x86 workstation; a missing library is a HardwareError with the fix.

The camera and the microphone are optional at boot (reopen.py): one that cannot be
opened is listed in `PiHardware.missing` and the program runs without it (recording
video only, or sound only, with an alarm) instead of exiting into a restart loop that
would end with a unit that records nothing at all. Buttons, LEDs, power and the display
are still required: without them the wearer cannot work the camera or be told anything.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from gpiozero import Factory

from bodycam.firmware.config.model import Config
from bodycam.hal.clocks import SystemClock
from bodycam.hal.gpio_devices import GpioButtons, GpioIndicators
from bodycam.hal.interfaces import Clock, Hardware, HardwareError, Microphone
from bodycam.hal.pi.camera import PiCamera, open_pi_camera
from bodycam.hal.pi.deps import require
from bodycam.hal.pi.display import PiLumaDisplay, open_pi_display
from bodycam.hal.pi.microphone import DisabledMicrophone, PiMicrophone
from bodycam.hal.pi.power import PiPower, open_pi_power
from bodycam.hal.pi.radios import RadioRequestFile
from bodycam.hal.pi.reopen import MediaSource, ReopeningCamera, ReopeningMicrophone

GPIO_FIX = (
    "run on a Raspberry Pi with a current Raspberry Pi OS (the lgpio factory opens "
    "/dev/gpiochip*), as a user in the `gpio` group"
)


class _HasClose(Protocol):
    def close(self) -> None: ...


_Closable = TypeVar("_Closable", bound=_HasClose)


def lgpio_pin_factory() -> Factory:
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

    camera: ReopeningCamera
    display: PiLumaDisplay
    power: PiPower
    pin_factory: Factory
    missing: dict[MediaSource, HardwareError] = field(default_factory=dict)
    """Camera/microphone that could not be opened at boot (opened again on every start)."""

    def close(self) -> None:
        super().close()
        self.camera.close()
        if isinstance(self.microphone, ReopeningMicrophone):
            self.microphone.close()
        self.pin_factory.close()


class PiParts:
    """Opens the Pi's parts one at a time; each opened part is released by `opened`.

    The one place that knows which configuration feeds which driver and that the GPIO
    parts share one pin factory. `build_pi_hardware` opens every part and gives up at the
    first error (right for the service); `bodycam selftest` opens each on its own, so a
    missing camera does not hide whether the display or the buttons work.
    """

    def __init__(self, config: Config, clock: Clock, opened: ExitStack) -> None:
        self.clock = clock
        self._config = config
        self._opened = opened
        self._factory: Factory | None = None
        self._factory_error: HardwareError | None = None

    def pin_factory(self) -> Factory:
        """The shared lgpio factory, opened on first use; every GPIO part that asks after
        it failed gets the same error, so the cause is reported once per part."""
        if self._factory_error is not None:
            raise self._factory_error
        if self._factory is None:
            try:
                self._factory = lgpio_pin_factory()
            except HardwareError as exc:
                self._factory_error = exc
                raise
            self._opened.callback(self._factory.close)
        return self._factory

    def buttons(self) -> GpioButtons:
        config = self._config
        return self._release_later(GpioButtons(
            config.pins, active_low=config.buttons.active_low, clock=self.clock,
            pin_factory=self.pin_factory()))

    def indicators(self) -> GpioIndicators:
        return self._release_later(GpioIndicators(
            self._config.pins, pin_factory=self.pin_factory(),
            led_brightness=self._config.leds.brightness / 100))

    def power(self) -> PiPower:
        return self._release_later(open_pi_power(self._config.power, self._config.pins,
                                                 self.pin_factory()))

    def display(self) -> PiLumaDisplay:
        return self._release_later(open_pi_display(self._config.display, self.pin_factory()))

    def microphone(self, device: str | None = None) -> Microphone:
        """The sound card, or a DisabledMicrophone (nothing opened) without [audio]."""
        if not self._config.audio.enabled:
            return DisabledMicrophone()
        return self._release_later(self.microphone_opener(device)())

    def camera(self) -> PiCamera:
        return self._release_later(self.camera_opener()())

    def microphone_opener(self, device: str | None = None) -> Callable[[], PiMicrophone]:
        """Opens the configured sound card each time it is called (reopen.py)."""
        audio, clock = self._config.audio, self.clock
        return lambda: PiMicrophone(audio, clock, device)

    def camera_opener(self) -> Callable[[], PiCamera]:
        """Opens and configures the camera each time it is called (reopen.py)."""
        video, display = self._config.video, self._config.display
        return lambda: open_pi_camera(video, (display.width, display.height), display.fps)

    def optional(self, name: MediaSource, part: ReopeningCamera | ReopeningMicrophone,
                 missing: dict[MediaSource, HardwareError]) -> None:
        """Open `part` now if it can be; if not, note why and go on without it."""
        self._opened.callback(part.close)
        try:
            part.open()
        except HardwareError as exc:
            missing[name] = exc
        except Exception as exc:  # a driver's own error: the same, a part we lack
            missing[name] = HardwareError(
                name, "opening it", f"{type(exc).__name__}: {exc}",
                "see the journal; the camera program keeps trying to open it")

    def _release_later(self, part: _Closable) -> _Closable:
        self._opened.callback(part.close)
        return part


def build_pi_hardware(config: Config, *, microphone_device: str | None = None) -> PiHardware:
    """Open every device; on a failure of a required one, those already opened are closed
    again. A camera or microphone that cannot be opened is listed in `missing` instead.

    `microphone_device` selects a capture device by name substring (None: the default
    input); [audio] has no key for it yet.
    """
    missing: dict[MediaSource, HardwareError] = {}
    with ExitStack() as opened:  # closes what was opened if anything later fails
        parts = PiParts(config, SystemClock(), opened)
        buttons = parts.buttons()
        indicators = parts.indicators()
        power = parts.power()
        display = parts.display()
        microphone: Microphone = DisabledMicrophone()
        if config.audio.enabled:
            microphone = ReopeningMicrophone(parts.microphone_opener(microphone_device),
                                             parts.clock)
            parts.optional("microphone", microphone, missing)
        camera = ReopeningCamera(parts.camera_opener(), parts.clock)
        parts.optional("camera", camera, missing)
        opened.pop_all()  # success: the parts now belong to PiHardware
    return PiHardware(
        camera=camera,
        microphone=microphone,
        display=display,
        buttons=buttons,
        indicators=indicators,
        power=power,
        clock=parts.clock,
        radios=RadioRequestFile(),
        pin_factory=parts.pin_factory(),
        missing=missing,
    )

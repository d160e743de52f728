"""Assemble the simulated device: the same gpiozero/luma code as the Pi on mock pins.

Buttons and indicators are the shared GpioButtons/GpioIndicators on a private gpiozero
MockFactory (never the global Device.pin_factory, so several simulated devices and
parallel tests do not share pins). SimButtonPanel presses buttons by driving those mock
pins, so edges travel through gpiozero exactly as on the device.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpiozero.pins.mock import MockFactory, MockPWMPin

from bodycam.firmware.config.model import Config, PinsConfig
from bodycam.firmware.power.table import PowerTable
from bodycam.hal.gpio_devices import GpioButtons, GpioIndicators
from bodycam.hal.interfaces import ButtonName, Clock, Hardware
from bodycam.hal.sim.camera import SimCamera
from bodycam.hal.sim.display import SimDisplay
from bodycam.hal.sim.microphone import SimMicrophone
from bodycam.hal.sim.power import SimPower
from bodycam.hal.sim.power_probe import SimLoadProbe
from bodycam.hal.sim.radios import SimRadios


class SimButtonPanel:
    """Presses the simulated buttons by name through their mock GPIO pins."""

    def __init__(self, factory: MockFactory, pins: PinsConfig, *, active_low: bool,
                 clock: Clock) -> None:
        self._factory = factory
        self._pins = pins
        self._active_low = active_low
        self._clock = clock

    def _drive(self, name: ButtonName, pressed: bool) -> None:
        pin = self._factory.pin(getattr(self._pins, f"button_{name}"))
        if pressed == self._active_low:
            pin.drive_low()
        else:
            pin.drive_high()

    def press(self, name: ButtonName) -> None:
        self._drive(name, True)

    def release(self, name: ButtonName) -> None:
        self._drive(name, False)

    def hold(self, name: ButtonName, seconds: float) -> None:
        """Press, keep pressed for `seconds` of clock time, release (blocks the caller)."""
        self.press(name)
        self._clock.sleep(seconds)
        self.release(name)

    def bounce(self, name: ButtonName, edges: int, interval_s: float) -> None:
        """Contact chatter: `edges` alternating edges `interval_s` apart, starting with a
        press; an odd count leaves the button pressed."""
        for i in range(edges):
            if i:
                self._clock.sleep(interval_s)
            self._drive(name, i % 2 == 0)


@dataclass
class SimHardware(Hardware):
    """Hardware with the simulated parts' extra scenario controls kept typed."""

    camera: SimCamera
    microphone: SimMicrophone
    display: SimDisplay
    buttons: GpioButtons
    indicators: GpioIndicators
    power: SimPower
    radios: SimRadios
    panel: SimButtonPanel
    pin_factory: MockFactory  # holds no OS resources; close() releases the devices' pins


def build_sim_hardware(config: Config, clock: Clock, *,
                       pin_factory: MockFactory | None = None,
                       power_table: PowerTable | None = None) -> SimHardware:
    """The simulated device for `config`; a fresh MockFactory (PWM pins: the LEDs dim)
    unless one is given.

    With a power table the battery drains by what the parts draw (hal/sim/power.py);
    without one it holds its level until a scenario changes it.
    """
    factory = pin_factory if pin_factory is not None else MockFactory(pin_class=MockPWMPin)
    active_low = config.buttons.active_low
    buttons = GpioButtons(config.pins, active_low=active_low, clock=clock,
                          pin_factory=factory)
    try:
        indicators = GpioIndicators(config.pins, pin_factory=factory,
                                    led_brightness=config.leds.brightness / 100)
    except Exception:
        buttons.close()
        raise
    camera = SimCamera(config.video, clock, preview_fps=config.display.fps)
    microphone = SimMicrophone(config.audio, clock)
    display = SimDisplay(config.display)
    radios = SimRadios()
    probe = SimLoadProbe(camera=camera, microphone=microphone, display=display,
                         indicators=indicators, pins=config.pins, pin_factory=factory,
                         radios=radios)
    power = SimPower(clock, table=power_table, probe=probe)
    radios.settle_with(power.settle)  # the energy up to a switch is charged at the old state
    return SimHardware(
        camera=camera,
        microphone=microphone,
        display=display,
        buttons=buttons,
        indicators=indicators,
        power=power,
        clock=clock,
        radios=radios,
        panel=SimButtonPanel(factory, config.pins, active_low=active_low, clock=clock),
        pin_factory=factory,
    )

"""Battery, charging and dock state: MAX17048 fuel gauge plus two GPIO inputs.

`read()` runs in the controller's loop: it does at most three short I2C transactions
(state of charge, then the CRATE rate and the cell voltage the runtime prediction and
the imminent-death check need) and never raises. A failed read (a loose connector, a
brown-out glitch) returns None for what could not be read and counts the error; a failed
state-of-charge read skips the other two (the bus is likely gone). The controller turns
a None reading into a visible fault, so a dead gauge is never mistaken for a full
battery.

Pin conventions (the board's wiring): the dock pin is driven high by the dock's supply
(internal pull-down, so an unplugged wire reads "not docked"); the charging pin is the
charger IC's open-drain STAT/CHRG output, low while charging (internal pull-up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from gpiozero import DigitalInputDevice, Factory

from bodycam.firmware.config.model import PinsConfig, PowerConfig
from bodycam.hal.gpio_devices import open_pin
from bodycam.hal.interfaces import HardwareError, Power, PowerStatus
from bodycam.hal.pi.deps import require
from bodycam.hal.pi.max17048 import Max17048

GAUGE = "battery fuel gauge (MAX17048)"
I2C_FIX_STEPS = (
    "enable I2C with `sudo raspi-config nonint do_i2c 0` (dtparam=i2c_arm=on in "
    "/boot/firmware/config.txt) and reboot, check SDA/SCL/3V3/GND wiring to the gauge, "
    "and run `i2cdetect -y {bus}`: address 0x{address:02x} must show up"
)


class InputPin(Protocol):
    """What PiPower needs of a gpiozero DigitalInputDevice."""

    @property
    def is_active(self) -> bool: ...

    def close(self) -> None: ...


def i2c_where(bus: int, address: int) -> str:
    return f"I2C bus {bus} address 0x{address:02x}"


class PiPower(Power):
    """The optional MAX17048 gauge plus the dock and charging pins (see the module doc)."""

    def __init__(self, gauge: Max17048 | None, dock: InputPin, charging: InputPin) -> None:
        self._gauge = gauge
        self._dock = dock
        self._charging = charging
        self.read_errors = 0  # failed gauge reads since start (for diagnostics)

    def read(self) -> PowerStatus:
        percent = self._read_gauge(Max17048.state_of_charge)
        gauged = percent is not None
        return PowerStatus(
            battery_percent=percent,
            charging=bool(self._charging.is_active),
            docked=bool(self._dock.is_active),
            rate_percent_per_hour=self._read_gauge(Max17048.charge_rate) if gauged else None,
            cell_volts=self._read_gauge(Max17048.cell_voltage) if gauged else None,
        )

    def cell_voltage(self) -> float | None:
        """Volts, for diagnostics and the self test; None without a readable gauge."""
        return self._read_gauge(Max17048.cell_voltage)

    def _read_gauge(self, register: Callable[[Max17048], float]) -> float | None:
        """One gauge read; a failure is counted and reads as None, never raised."""
        if self._gauge is None:
            return None
        try:
            return register(self._gauge)
        except OSError:
            self.read_errors += 1
            return None

    def close(self) -> None:
        self._dock.close()
        self._charging.close()
        if self._gauge is not None:
            self._gauge.bus.close()


def open_gauge(bus_number: int, address: int) -> Max17048:
    """Open the I2C bus and check that a MAX17048 answers; HardwareError names bus and fix."""
    smbus2 = require("smbus2", GAUGE)
    where = i2c_where(bus_number, address)
    fix = I2C_FIX_STEPS.format(bus=bus_number, address=address)
    try:
        bus = smbus2.SMBus(bus_number)
    except OSError as exc:
        raise HardwareError(
            GAUGE, where, f"cannot open /dev/i2c-{bus_number} ({exc})", fix
        ) from exc
    gauge = Max17048(bus, address)
    try:
        version = gauge.version()
    except OSError as exc:
        bus.close()
        raise HardwareError(GAUGE, where, f"no answer from the gauge ({exc})", fix) from exc
    if not Max17048.is_known_version(version):
        bus.close()
        raise HardwareError(
            GAUGE,
            where,
            f"the chip there is not a MAX17048 (VERSION register 0x{version:04x})",
            "fit a MAX17048/MAX17049, or set [power] battery_source = \"none\"",
        )
    return gauge


def open_pi_power(power: PowerConfig, pins: PinsConfig, pin_factory: Factory) -> PiPower:
    """Build PiPower from the configuration, using the given gpiozero pin factory."""
    if power.battery_source == "sim":
        raise HardwareError(
            GAUGE, "[power] battery_source = \"sim\"",
            "the simulated battery does not exist on the Raspberry Pi",
            "set battery_source to \"max17048\" or \"none\"",
        )
    gauge = (
        open_gauge(power.i2c_bus, power.i2c_address)
        if power.battery_source == "max17048"
        else None
    )
    opened: list[InputPin] = []
    try:
        for part, key, pull_up in (
            ("dock detect input", "dock_detect", False),
            ("charging detect input", "charging_detect", True),
        ):
            opened.append(
                open_pin(part, getattr(pins, key), key, DigitalInputDevice,
                         pull_up=pull_up, pin_factory=pin_factory)
            )
    except HardwareError:
        for device in opened:
            device.close()
        if gauge is not None:
            gauge.bus.close()
        raise
    return PiPower(gauge, dock=opened[0], charging=opened[1])

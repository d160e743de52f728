"""PiPower and the MAX17048 driver with a fake I2C bus and gpiozero's MockFactory pins.

Only the bus is faked (FakeSMBus answers like the chip); the driver, PiPower and the
gpiozero input devices are the real code.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest
import smbus2
from gpiozero.pins.mock import MockFactory

from bodycam.firmware.config.model import BatterySource, PinsConfig, PowerConfig
from bodycam.hal.interfaces import HardwareError, PowerStatus
from bodycam.hal.pi.max17048 import Max17048
from bodycam.hal.pi.power import open_pi_power

PINS = PinsConfig(button_record=5, button_display=6, button_power=13, led_green=16,
                  led_red=26, led_amber=23, buzzer=12, vibration=22, dock_detect=27,
                  charging_detect=4)


def power_config(source: BatterySource = "max17048") -> PowerConfig:
    return PowerConfig(battery_source=source, i2c_bus=1, i2c_address=0x36,
                       battery_low_percent=20, battery_critical_percent=5)


class FakeSMBus:
    """A MAX17048 on an I2C bus: 16-bit big-endian registers at address 0x36."""

    def __init__(self, registers: dict[int, int] | None = None, address: int = 0x36) -> None:
        self.registers = ({0x02: 0xC350, 0x04: 0x5780, 0x08: 0x0012, 0x16: 0xFFF6}
                          | (registers or {}))
        self.address = address
        self.failures = 0  # the next N transactions fail (no ACK)
        self.transactions = 0
        self.closed = False

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int,
                            force: bool | None = None) -> list[int]:
        self.transactions += 1
        if i2c_addr != self.address or self.failures:
            self.failures = max(0, self.failures - 1)
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        assert length == 2
        value = self.registers[register]
        return [value >> 8, value & 0xFF]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    pins = MockFactory()
    yield pins
    pins.close()


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> FakeSMBus:
    fake = FakeSMBus()

    def open_bus(number: int) -> FakeSMBus:
        assert number == 1
        return fake

    monkeypatch.setattr(smbus2, "SMBus", open_bus)
    return fake


@pytest.mark.parametrize(("raw", "percent"), [
    (0x5780, 87.5), (0x0001, 1 / 256), (0x6400, 100.0), (0x0000, 0.0),
    (0x6480, 100.0),  # the gauge may overshoot right after charging
])
def test_state_of_charge_decoding(raw: int, percent: float) -> None:
    assert Max17048(FakeSMBus({0x04: raw})).state_of_charge() == percent


@pytest.mark.parametrize(("raw", "rate"), [
    (0x0000, 0.0), (0x0001, 0.208), (0xFFFF, -0.208), (0xFFF6, -2.08),
    (0x7FFF, 32767 * 0.208), (0x8000, -32768 * 0.208),
])
def test_crate_is_signed_0_208_percent_per_hour_per_lsb(raw: int, rate: float) -> None:
    assert Max17048(FakeSMBus({0x16: raw})).charge_rate() == pytest.approx(rate)


def test_a_failed_rate_read_leaves_the_charge_reading(
    bus: FakeSMBus, factory: MockFactory
) -> None:
    power = open_pi_power(power_config(), PINS, factory)
    original = bus.read_i2c_block_data

    def rate_fails(i2c_addr: int, register: int, length: int,
                   force: bool | None = None) -> list[int]:
        if register == 0x16:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        return original(i2c_addr, register, length, force)

    bus.read_i2c_block_data = rate_fails  # type: ignore[method-assign]
    status = power.read()
    assert status.battery_percent == 87.5
    assert status.rate_percent_per_hour is None
    assert status.cell_volts == pytest.approx(3.90625)
    assert power.read_errors == 1
    power.close()


def test_cell_voltage_is_78_125_microvolts_per_lsb() -> None:
    assert Max17048(FakeSMBus({0x02: 0xC350})).cell_voltage() == pytest.approx(3.90625)
    assert Max17048(FakeSMBus({0x02: 0xD2F0})).cell_voltage() == pytest.approx(4.21875)


def test_read_reports_battery_dock_and_charging(
    bus: FakeSMBus, factory: MockFactory
) -> None:
    power = open_pi_power(power_config(), PINS, factory)
    assert power.read() == PowerStatus(battery_percent=87.5, charging=False, docked=False,
                                       rate_percent_per_hour=pytest.approx(-2.08),
                                       cell_volts=pytest.approx(3.90625))
    factory.pin(PINS.dock_detect).drive_high()  # dock supply present
    factory.pin(PINS.charging_detect).drive_low()  # charger STAT pulls low while charging
    bus.registers[0x16] = 0x0100  # charging: +53.248 %/h
    before = bus.transactions
    status = power.read()
    assert (status.battery_percent, status.charging, status.docked) == (87.5, True, True)
    assert status.rate_percent_per_hour == pytest.approx(53.248)
    assert bus.transactions == before + 3  # charge, rate, voltage: short reads
    assert power.cell_voltage() == pytest.approx(3.90625)
    power.close()
    assert bus.closed


def test_transient_i2c_error_gives_none_and_is_counted(
    bus: FakeSMBus, factory: MockFactory
) -> None:
    power = open_pi_power(power_config(), PINS, factory)
    bus.failures = 1
    before = bus.transactions
    failed = power.read()
    assert (failed.battery_percent, failed.rate_percent_per_hour, failed.cell_volts) == (
        None, None, None)
    assert bus.transactions == before + 1  # a dead bus is not asked twice more
    assert power.read_errors == 1
    assert power.read().battery_percent == 87.5  # recovers on the next read
    power.close()


def test_battery_source_none_never_touches_i2c(
    bus: FakeSMBus, factory: MockFactory
) -> None:
    power = open_pi_power(power_config("none"), PINS, factory)
    assert power.read() == PowerStatus(battery_percent=None, charging=False, docked=False)
    assert power.cell_voltage() is None
    assert bus.transactions == 0
    power.close()


def assert_names_bus_and_fix(error: HardwareError) -> None:
    text = str(error)
    assert "I2C bus 1 address 0x36" in text
    assert "dtparam=i2c_arm=on" in text
    assert "i2cdetect -y 1" in text


def test_missing_gauge_is_a_hardware_error(
    bus: FakeSMBus, factory: MockFactory
) -> None:
    bus.address = 0x55  # nothing answers at 0x36
    with pytest.raises(HardwareError) as caught:
        open_pi_power(power_config(), PINS, factory)
    assert_names_bus_and_fix(caught.value)
    assert "Remote I/O error" in str(caught.value)
    assert bus.closed


def test_missing_i2c_bus_is_a_hardware_error(
    monkeypatch: pytest.MonkeyPatch, factory: MockFactory
) -> None:
    def no_bus(number: int) -> None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", f"/dev/i2c-{number}")

    monkeypatch.setattr(smbus2, "SMBus", no_bus)
    with pytest.raises(HardwareError) as caught:
        open_pi_power(power_config(), PINS, factory)
    assert_names_bus_and_fix(caught.value)
    assert "/dev/i2c-1" in str(caught.value)


def test_another_chip_at_the_address_is_refused(
    bus: FakeSMBus, factory: MockFactory
) -> None:
    bus.registers[0x08] = 0x4012
    with pytest.raises(HardwareError, match=r"not a MAX17048 \(VERSION register 0x4012\)"):
        open_pi_power(power_config(), PINS, factory)
    assert bus.closed


def test_pin_conflict_releases_the_bus(bus: FakeSMBus, factory: MockFactory) -> None:
    pins = PinsConfig(**{**PINS.__dict__, "charging_detect": PINS.dock_detect})
    with pytest.raises(HardwareError, match=f"GPIO{PINS.dock_detect}"):
        open_pi_power(power_config(), pins, factory)
    assert bus.closed
    open_pi_power(power_config("none"), PINS, factory).close()


def test_simulated_battery_is_refused_on_the_pi(factory: MockFactory) -> None:
    with pytest.raises(HardwareError, match='battery_source to "max17048" or "none"'):
        open_pi_power(power_config("sim"), PINS, factory)

"""The MAX17048 lithium fuel gauge over I2C (smbus2).

Hand-written because no maintained driver on plain smbus2 exists: Adafruit's
CircuitPython MAX1704x driver needs the Blinka compatibility layer (board/busio), which
would bring a second GPIO/I2C stack next to gpiozero onto the device. Only the four
registers the firmware needs are read. All registers are 16-bit,
big-endian (MSB first), so they are read as a two-byte block rather than with
`read_word_data`, which assumes SMBus little-endian order.
"""

from __future__ import annotations

from typing import Protocol

DEFAULT_ADDRESS = 0x36
REG_VCELL = 0x02  # cell voltage, 78.125 µV per LSB
REG_SOC = 0x04  # state of charge: high byte = percent, low byte = 1/256 percent
REG_VERSION = 0x08  # production version: 0x001X on MAX17048/MAX17049
REG_CRATE = 0x16  # charge/discharge rate, signed, 0.208 %/h per LSB (datasheet, CRATE)
VCELL_VOLTS_PER_LSB = 78.125e-6
CRATE_PERCENT_PER_HOUR_PER_LSB = 0.208


class I2CBus(Protocol):
    """The part of smbus2.SMBus this driver uses (a fake in tests)."""

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]: ...

    def close(self) -> None: ...


class Max17048:
    """Register reads of one MAX17048; every method is one I2C transaction and may raise OSError."""

    def __init__(self, bus: I2CBus, address: int = DEFAULT_ADDRESS) -> None:
        self.bus = bus
        self.address = address

    def _read(self, register: int) -> int:
        msb, lsb = self.bus.read_i2c_block_data(self.address, register, 2)
        return (msb << 8) | lsb

    def version(self) -> int:
        return self._read(REG_VERSION)

    @staticmethod
    def is_known_version(version: int) -> bool:
        """True if a VERSION register value reads like a MAX17048/9 (0x001X)."""
        return (version & 0xFFF0) == 0x0010

    def state_of_charge(self) -> float:
        """Percent, 0-100 (the gauge can report slightly above 100 right after charging)."""
        raw = self._read(REG_SOC)
        return min(100.0, raw / 256)

    def cell_voltage(self) -> float:
        """Volts."""
        return self._read(REG_VCELL) * VCELL_VOLTS_PER_LSB

    def charge_rate(self) -> float:
        """Percent per hour the gauge sees the charge change by: negative while
        discharging (the CRATE register, a two's-complement 16-bit value)."""
        raw = self._read(REG_CRATE)
        signed = raw - 0x10000 if raw & 0x8000 else raw
        return signed * CRATE_PERCENT_PER_HOUR_PER_LSB

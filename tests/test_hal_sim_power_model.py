"""The simulated power model: parts' draw integrated over simulated time into the cell."""

from __future__ import annotations

import dataclasses

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from bodycam.firmware.config.model import Config
from bodycam.firmware.power.table import Load, PowerTable, load_power_table
from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import Blink
from bodycam.hal.sim.hardware import build_sim_hardware
from bodycam.hal.sim.power import SimPower
from bodycam.hal.sim.power_battery import CRATE_PERCENT_PER_HOUR_PER_LSB, SimCell
from bodycam.hal.sim.power_model import EnergyMeter
from bodycam.hal.sim.power_probe import led_share

HOUR = 3600.0
PRERECORD = Load({"camera": "running", "cpu": "prerecord", "microphone": "on"})


@pytest.fixture(scope="module")
def table() -> PowerTable:
    return load_power_table()


def _cell_watts(table: PowerTable, *parts: tuple[str, str]) -> float:
    rail = table.watts("board", "base") + sum(table.watts(p, s) for p, s in parts)
    return rail / table.battery.boost_efficiency.value


def test_meter_counts_every_state_and_the_converter_loss(table: PowerTable) -> None:
    meter = EnergyMeter(table)
    mwh = meter.add(PRERECORD, HOUR)
    expected = _cell_watts(table, ("camera", "running"), ("cpu", "prerecord"),
                           ("microphone", "on"))
    assert mwh == pytest.approx(expected * 1000)
    assert meter.rail_joules["camera.running"] == pytest.approx(
        table.watts("camera", "running") * HOUR)
    assert meter.rail_joules["display.off"] == 0
    assert meter.converter_loss_joules() == pytest.approx(
        expected * HOUR * (1 - table.battery.boost_efficiency.value))


def test_unknown_part_or_state_is_refused() -> None:
    with pytest.raises(ValueError, match=r"camera\.recording"):
        Load({"camera": "recording"})
    with pytest.raises(ValueError, match="units"):
        Load(units={"led": -1})


def test_gauge_falls_by_what_the_parts_draw(table: PowerTable) -> None:
    clock = ManualClock()
    power = SimPower(clock, table=table, probe=lambda: PRERECORD)
    clock.advance(HOUR)
    status = power.read()
    drawn = _cell_watts(table, ("camera", "running"), ("cpu", "prerecord"),
                        ("microphone", "on")) * 1000
    assert status.battery_percent == pytest.approx(
        100 - 100 * drawn / table.battery.capacity_mwh.value)
    # The rate is a CRATE-like reading: negative, in 0.208 %/h steps, near the true rate.
    assert status.rate_percent_per_hour is not None
    true_rate = -100 * drawn / table.battery.capacity_mwh.value
    assert status.rate_percent_per_hour == pytest.approx(true_rate,
                                                         abs=CRATE_PERCENT_PER_HOUR_PER_LSB)
    steps = status.rate_percent_per_hour / CRATE_PERCENT_PER_HOUR_PER_LSB
    assert steps == pytest.approx(round(steps))
    assert status.cell_volts is not None
    assert status.cell_volts < table.battery.open_circuit_volts(status.battery_percent)


def test_a_heavier_load_drains_faster_and_pinning_is_exact(table: PowerTable) -> None:
    clock = ManualClock()
    light = SimPower(clock, table=table, probe=Load)
    heavy = SimPower(clock, table=table, probe=Load)
    clock.advance(HOUR / 2)
    heavy.set_part_state("cpu", "recording")  # settles the first half hour at idle first
    clock.advance(HOUR / 2)
    light_level, heavy_level = light.read().battery_percent, heavy.read().battery_percent
    assert light_level is not None and heavy_level is not None
    extra_mwh = table.watts("cpu", "recording") / table.battery.boost_efficiency.value * 500
    assert light_level - heavy_level == pytest.approx(
        100 * extra_mwh / table.battery.capacity_mwh.value)
    assert heavy.meter is not None
    assert heavy.meter.rail_joules["cpu.recording"] == pytest.approx(
        table.watts("cpu", "recording") * HOUR / 2)
    with pytest.raises(ValueError, match=r"camera\.flying"):
        heavy.set_part_state("camera", "flying")


def test_nearly_empty_cell_dies_under_load_before_zero_percent(table: PowerTable) -> None:
    cell = SimCell(table.battery, percent=0.5)
    cell.step(0.0, 1.0)
    assert not cell.empty  # resting: above the cutoff
    cell.step(0.001, 0.001)  # 3.6 W for a moment: a vibration + recording + radio burst
    assert cell.percent > 0
    assert cell.volts() < table.battery.cutoff_voltage_v.value
    assert cell.empty


def test_the_camera_dies_when_the_energy_is_gone(table: PowerTable) -> None:
    clock = ManualClock()
    power = SimPower(clock, table=table, probe=lambda: PRERECORD, battery_percent=2.0)
    assert not power.empty
    clock.advance(2 * HOUR)
    assert power.read().battery_percent == 0
    assert power.empty


def test_charging_fills_and_docking_powers_the_radio(table: PowerTable) -> None:
    clock = ManualClock()
    power = SimPower(clock, table=table, probe=Load, battery_percent=50.0,
                     charge_percent_per_hour=40.0)
    power.set_docked(True)
    assert power.load().state("radio") == "idle"
    power.set_charging(True)
    clock.advance(HOUR)
    status = power.read()
    assert status.battery_percent == pytest.approx(90.0)
    assert status.charging and status.docked
    assert status.rate_percent_per_hour is not None and status.rate_percent_per_hour > 0


def test_unreadable_gauge_and_scripted_levels_still_work(table: PowerTable) -> None:
    clock = ManualClock()
    power = SimPower(clock, table=table, probe=Load)
    power.set_battery(None)
    assert power.read().battery_percent is None
    power.set_battery(30.0)
    assert power.read().battery_percent == pytest.approx(30.0)
    with pytest.raises(ValueError, match="either"):
        SimPower(clock, table=table, drain_percent_per_hour=5.0)


def test_led_share_counts_a_blink_by_its_on_time() -> None:
    assert led_share(True) == 1.0
    assert led_share(False) == 0.0
    assert led_share(Blink(0.1, 0.9)) == pytest.approx(0.1)


def test_probe_reads_the_simulated_parts(table: PowerTable, sim_config: Config) -> None:
    clock = ManualClock()
    config = sim_config
    hw = build_sim_hardware(config, clock, pin_factory=MockFactory(pin_class=MockPWMPin),
                            power_table=table)
    try:
        hw.display.off()
        idle = hw.power.load()
        assert idle.state("camera") == "standby"
        assert idle.state("display") == "off"
        assert idle.units["led"] == 0
        hw.indicators.set_led("green", True)
        hw.indicators.set_led("red", Blink(0.25, 0.75))
        hw.display.show(hw.display.panel_image().convert("RGB"))
        hw.pin_factory.pin(config.pins.buzzer).state = True  # sounding
        seen = hw.power.load()
        # 1.25 LEDs lit, at the configured PWM duty; the panel at its configured drive.
        assert seen.units["led"] == pytest.approx(1.25 * config.leds.brightness / 100)
        assert seen.state("display") == "on"
        assert seen.state("display_light") == "full"
        assert seen.units["display_light"] == pytest.approx(config.display.brightness / 100)
        assert seen.state("buzzer") == "on"
        assert seen.state("vibration") == "off"
        hw.camera.start(lambda _packet: None, lambda _frame: None)
        hw.microphone.start(lambda _chunk: None)
        capturing = hw.power.load()
        assert capturing.state("camera") == "running"
        assert capturing.state("microphone") == "on"
        assert capturing.state("cpu") == "prerecord"
    finally:
        hw.close()


@pytest.mark.parametrize(("display", "leds"), [(100, 100), (50, 25), (1, 1)])
def test_battery_pays_for_the_brightness_the_drivers_apply(
        table: PowerTable, sim_config: Config, display: int, leds: int) -> None:
    """The drivers set the drive (luma contrast, PWM duty) and the model charges exactly
    that: one hour with the display on and one LED lit at the configured brightness."""
    config = dataclasses.replace(
        sim_config, display=dataclasses.replace(sim_config.display, brightness=display),
        leds=dataclasses.replace(sim_config.leds, brightness=leds))
    clock = ManualClock()
    hw = build_sim_hardware(config, clock, power_table=table)
    try:
        assert hw.display.contrast == max(1, round(255 * display / 100))
        hw.indicators.set_led("green", True)
        pin = hw.pin_factory.pin(config.pins.led_green)
        assert pin.state == pytest.approx(leds / 100)  # the PWM duty on the wire
        hw.display.show(hw.display.panel_image().convert("RGB"))
        hw.radios.switch(False, "test")
        assert hw.power.meter is not None
        before = hw.power.meter.battery_joules
        clock.advance(HOUR)
        hw.power.settle()
        joules = hw.power.meter.battery_joules - before
        rail = (table.watts("board", "base") + table.watts("camera", "standby")
                + table.watts("display", "on")
                + table.watts("display_light", "full") * display / 100
                + table.watts("led", "on") * leds / 100)
        assert joules == pytest.approx(rail / table.battery.boost_efficiency.value * HOUR)
    finally:
        hw.close()


def test_radios_are_charged_while_on_and_switching_settles_first(
        table: PowerTable, sim_config: Config) -> None:
    clock = ManualClock()
    hw = build_sim_hardware(sim_config, clock, power_table=table)
    try:
        hw.display.off()
        assert hw.radios.enabled  # a Pi boots with Wi-Fi unblocked
        assert hw.power.load().state("radio") == "idle"
        assert hw.power.meter is not None
        clock.advance(HOUR)
        hw.radios.switch(False, "left the dock")  # the hour on is integrated before this
        on_hour = hw.power.meter.rail_joules.get("radio.idle", 0.0)
        assert on_hour == pytest.approx(table.watts("radio", "idle") * HOUR)
        assert hw.power.load().state("radio") == "off"
        clock.advance(HOUR)
        hw.power.settle()
        assert hw.power.meter.rail_joules["radio.idle"] == pytest.approx(on_hour)
        assert hw.radios.requests == [(False, "left the dock")]
    finally:
        hw.close()

"""build_sim_hardware, SimButtonPanel, SimPower and the `bodycam hal-demo` command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from bodycam.firmware.cli import main
from bodycam.firmware.config.model import (
    AlarmsConfig,
    AudioConfig,
    ButtonsConfig,
    Config,
    DeviceConfig,
    DisplayConfig,
    EvidenceConfig,
    PinsConfig,
    PowerConfig,
    PrivacyConfig,
    StorageConfig,
    VideoConfig,
)
from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import ButtonName, PowerStatus
from bodycam.hal.sim.hardware import SimHardware, build_sim_hardware
from bodycam.hal.sim.power import SimPower

Edge = tuple[ButtonName, bool, float]


def sim_config(*, active_low: bool = True) -> Config:
    return Config(
        device=DeviceConfig(id="BC-TEST", unit="Test"),
        evidence=EvidenceConfig(recipients=(), segment_seconds=60, prerecord_seconds=30,
                                prerecord_audio=False, stall_seconds=2,
                                sync_interval_seconds=1),
        video=VideoConfig(width=160, height=96, fps=10, bitrate_kbps=200,
                          keyframe_interval=10),
        audio=AudioConfig(enabled=True, sample_rate=16000, channels=1, bitrate_kbps=64),
        display=DisplayConfig(driver="ssd1306", width=128, height=64, rotation=0,
                              mirror=True, spi_port=0, spi_device=0,
                              spi_speed_hz=8_000_000, gpio_dc=24, gpio_reset=25, fps=10),
        pins=PinsConfig(button_record=17, button_display=27, button_power=22, led_green=5,
                        led_red=6, led_amber=13, buzzer=19, vibration=26, dock_detect=16,
                        charging_detect=20),
        buttons=ButtonsConfig(debounce_ms=30, hold_seconds=2.0, active_low=active_low),
        power=PowerConfig(battery_source="sim", i2c_bus=1, i2c_address=0x36,
                          battery_low_percent=20, battery_critical_percent=5),
        storage=StorageConfig(data_dir=Path("/tmp/x"), state_dir=Path("/tmp/y"),
                              reserve_mb=100, nearly_full_mb=500),
        alarms=AlarmsConfig(reminder_interval_seconds=0, clock_unset_alarm=True),
        privacy=PrivacyConfig(stealth_allowed=False),
    )


@pytest.fixture(params=[True, False], ids=["active_low", "active_high"])
def hardware(request: pytest.FixtureRequest) -> Iterator[SimHardware]:
    hw = build_sim_hardware(sim_config(active_low=request.param),
                            ManualClock(start_monotonic=20.0))
    yield hw
    hw.close()


def test_panel_drives_buttons_through_gpiozero(hardware: SimHardware) -> None:
    edges: list[Edge] = []
    hardware.buttons.start(lambda name, pressed, t: edges.append((name, pressed, t)))
    hardware.panel.press("display")
    assert hardware.buttons.is_pressed("display")
    hardware.panel.release("display")
    hardware.panel.hold("record", 2.5)
    assert edges == [("display", True, 20.0), ("display", False, 20.0),
                     ("record", True, 20.0), ("record", False, 22.5)]


def test_panel_bounce_delivers_chatter(hardware: SimHardware) -> None:
    edges: list[Edge] = []
    hardware.buttons.start(lambda name, pressed, t: edges.append((name, pressed, t)))
    hardware.panel.bounce("power", edges=5, interval_s=0.002)
    assert [p for _, p, _ in edges] == [True, False, True, False, True]
    assert edges[-1][2] == pytest.approx(20.008)
    assert hardware.buttons.is_pressed("power")


def test_parts_follow_the_configuration(hardware: SimHardware) -> None:
    assert hardware.display.mode == "1" and hardware.display.size == (128, 64)
    assert hardware.camera.preview_size == (240, 144)
    hardware.indicators.set_led("red", True)
    assert hardware.pin_factory.pin(6).state
    assert hardware.power.read() == PowerStatus(100.0, charging=False, docked=False)


def test_each_device_gets_its_own_pins() -> None:
    clock = ManualClock()
    first = build_sim_hardware(sim_config(), clock)
    second = build_sim_hardware(sim_config(), clock)  # no clash: separate MockFactory
    first.close()
    second.close()


def test_close_releases_every_pin() -> None:
    factory = MockFactory(pin_class=MockPWMPin)
    hardware = build_sim_hardware(sim_config(), ManualClock(), pin_factory=factory)
    hardware.panel.press("power")  # closing while a button is held must not wait
    hardware.close()
    build_sim_hardware(sim_config(), ManualClock(), pin_factory=factory).close()


def test_power_is_scriptable_and_drains_with_simulated_time() -> None:
    clock = ManualClock()
    power = SimPower(clock, battery_percent=50.0, drain_percent_per_hour=10.0,
                     charge_percent_per_hour=40.0)
    clock.advance(1800)
    assert power.read().battery_percent == pytest.approx(45.0)
    power.set_docked(True)
    power.set_charging(True)
    clock.advance(3600)
    assert power.read() == PowerStatus(85.0, charging=True, docked=True)
    clock.advance(3600)
    assert power.read().battery_percent == 100.0  # clamped
    power.set_battery(None)
    assert power.read().battery_percent is None
    with pytest.raises(ValueError, match="0-100"):
        power.set_battery(120)


@pytest.mark.realtime  # the demo's own SimClock: its camera must keep up with it
def test_hal_demo_reports_derived_facts_only(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["hal-demo", "--out", str(out), "--seconds", "2.2", "--speed", "2"]) == 0
    assert "Simulated hardware self-demo" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["display.png", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_decoded"] == summary["frames_encoded"] > 0
    assert len(summary["flash_pts_us"]) >= 2
    assert all(abs(o) < 250 for o in summary["av_offsets_us"])


def test_close_stops_the_media_threads(hardware: SimHardware) -> None:
    hardware.camera.start(lambda _: None, lambda _: None)
    hardware.microphone.start(lambda _: None)
    hardware.close()
    assert not hardware.camera.running and not hardware.microphone.running

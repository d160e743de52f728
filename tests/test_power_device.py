"""Power management on the whole simulated device: the shift forecast at boot and undock,
warnings by time left, a lying gauge, a dying battery while recording, and sleep mode.
The battery logic's arithmetic is tested on its own in tests/test_power_watch.py."""

from __future__ import annotations

from typing import Any

from device_rig import MakeDevice, RunningSimDevice

from bodycam.firmware.device.feedback import ALARMS, ASLEEP_LEDS, STATE_LEDS
from bodycam.firmware.evidence.verify import verify_recording
from bodycam.firmware.power.draw import percent_per_hour
from bodycam.firmware.power.table import load_power_table
from bodycam.hal.sim.hardware import SimHardware

POLL_S = 1.5  # more than the controller's one-second poll interval
TABLE = load_power_table()


def events(records: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for r in records if r["event"] == name]


def alarms(records: list[dict[str, Any]]) -> list[str]:
    return [r["alarm"] for r in events(records, "alarm")]


def amber(rig: RunningSimDevice) -> object:
    return rig.hardware.indicators.led_state("amber")


def battery_at(percent: float) -> Any:
    def prepare(hardware: SimHardware) -> None:
        hardware.power.set_battery(percent)
    return prepare


def test_shift_forecast_at_boot_and_when_taken_out_of_the_dock(
        make_sim_device: MakeDevice) -> None:
    """Pre-record off: a full battery lasts 12 h; a third of one does not, and the
    camera says so when it leaves the dock, before the wearer leaves the station."""
    rig = make_sim_device("power.shift_hours=12", "evidence.prerecord_seconds=0")
    rig.wait_state("idle")
    power = rig.hardware.power
    power.set_docked(True)
    power.set_charging(True)
    rig.wait_state("docked")
    power.set_battery(30.0)
    rig.sleep(POLL_S)
    power.set_charging(False)
    power.set_docked(False)
    rig.wait_state("idle")
    rig.wait_until(lambda: amber(rig) == ALARMS["shift_short"].amber)
    power.set_docked(True)  # back in the dock: the warning has done its job
    rig.wait_state("docked")
    rig.wait_until(lambda: amber(rig) is False)
    rig.stop()

    records = rig.audit()
    boot, undock = events(records, "battery_forecast")
    assert (boot["cause"], boot["lasts"]) == ("boot", True)
    assert boot["hours_available"] >= 12 and boot["idle_mode"] == "standby"
    assert (undock["cause"], undock["lasts"], undock["percent"]) == ("undock", False, 30.0)
    assert undock["hours_available"] < 12
    [short] = [r for r in events(records, "alarm") if r["alarm"] == "shift_short"]
    assert "does NOT last a 12 h shift" in short["detail"]


def test_prerecord_all_shift_on_the_shipped_battery_is_reported_at_boot(
        make_sim_device: MakeDevice) -> None:
    rig = make_sim_device("power.shift_hours=12")  # pre-record 30 s, no sleep mode
    rig.wait_until(lambda: amber(rig) == ALARMS["shift_short"].amber)
    rig.stop()
    [forecast] = events(rig.audit(), "battery_forecast")
    assert forecast["lasts"] is False and forecast["idle_mode"] == "buffering"


def test_low_is_warned_by_time_left_at_the_current_draw(make_sim_device: MakeDevice) -> None:
    """The same level is enough for an hour in idle but not while recording."""
    level = 0.9 * percent_per_hour(TABLE, "recording")  # 54 min of recording
    rig = make_sim_device("power.low_minutes=60", "power.battery_low_percent=1",
                          "power.battery_critical_percent=0.5",
                          "evidence.prerecord_seconds=0", prepare=battery_at(level))
    rig.wait_state("idle")
    rig.sleep(2 * POLL_S)
    assert amber(rig) is False
    rig.tap("record")
    rig.wait_state("recording")
    rig.wait_until(lambda: amber(rig) == ALARMS["battery_low"].amber)
    rig.stop()
    [low] = [r for r in events(rig.audit(), "alarm") if r["alarm"] == "battery_low"]
    assert "min left at the current draw" in low["detail"]


def test_a_lying_gauge_is_audited_and_does_not_clear_the_low_warning(
        sim_device: RunningSimDevice) -> None:
    rig = sim_device
    rig.wait_state("idle")
    rig.hardware.power.set_battery(rig.config.power.battery_low_percent - 5)
    rig.wait_until(lambda: amber(rig) == ALARMS["battery_low"].amber)
    rig.hardware.power.set_battery(90.0)  # not charging: nonsense
    rig.wait_audit(lambda r: r["event"] == "alarm" and r["alarm"] == "gauge_fault")
    rig.sleep(2 * POLL_S)
    assert amber(rig) == ALARMS["battery_low"].amber
    rig.stop()
    [fault] = [r for r in events(rig.audit(), "alarm") if r["alarm"] == "gauge_fault"]
    assert fault["detail"].startswith("jump_up") and "power model" in fault["detail"]
    assert not [r for r in events(rig.audit(), "alarm_cleared")
                if r["alarm"] == "battery_low"]


def test_a_battery_dying_while_recording_seals_although_hours_were_predicted(
        make_sim_device: MakeDevice) -> None:
    rig = make_sim_device(prepare=battery_at(80.0))
    rig.tap("record")
    rig.wait_state("recording")
    rig.sleep(2.0)
    rig.hardware.power.set_battery(1.0)  # the cell collapses: far below the prediction
    rig.wait_state("off")
    rig.stop()

    records = rig.audit()
    assert "battery_critical" in alarms(records)
    [sealed] = events(records, "recording_sealed")
    [recording] = rig.recordings()
    report = verify_recording(recording)
    assert report.status == "verified" and report.sealed
    assert report.seal_reason == sealed["reason"] and "battery critical" in sealed["reason"]


def test_sleep_mode_gives_up_the_buffer_and_any_press_wakes(
        make_sim_device: MakeDevice) -> None:
    rig = make_sim_device("power.sleep_after_idle_min=1", speed=10.0)
    camera = rig.hardware.camera
    rig.wait_state("idle")
    assert camera.running  # pre-record buffering
    rig.wait_audit(lambda r: r["event"] == "sleep")
    rig.wait_until(lambda: not camera.running)
    assert rig.hardware.indicators.led_state("green") == ASLEEP_LEDS.green
    rig.tap("display")  # wakes: the mirror image and the buffer come back
    rig.wait_state("display_on")
    first_wake = rig.wait_audit(lambda r: r["event"] == "wake")
    assert camera.running
    rig.tap("display")
    rig.wait_state("idle")
    assert rig.hardware.indicators.led_state("green") == STATE_LEDS["idle"].green
    asleep_again = rig.wait_audit(lambda r: r["event"] == "sleep", after=first_wake)
    rig.tap("record")  # one press records at once, also from sleep
    rig.wait_state("recording")
    rig.wait_audit(lambda r: r["event"] == "wake", after=asleep_again)
    rig.sleep(2.0)
    rig.stop()

    records = rig.audit()
    sleeps, wakes = events(records, "sleep"), events(records, "wake")
    assert len(sleeps) == 2 and len(wakes) == 2
    assert sleeps[0]["after_minutes"] == 1 and sleeps[0]["prerecord_seconds"] == 30
    assert "display" in wakes[0]["cause"] and "record" in wakes[1]["cause"]
    [recording] = rig.recordings()
    assert verify_recording(recording).status == "verified"


def test_without_prerecord_the_camera_stands_by_in_idle_and_never_sleeps(
        make_sim_device: MakeDevice) -> None:
    rig = make_sim_device("evidence.prerecord_seconds=0", "power.sleep_after_idle_min=1",
                          speed=10.0)
    rig.wait_state("idle")
    rig.sleep(2 * POLL_S)
    assert not rig.hardware.camera.running
    rig.tap("record")
    rig.wait_state("recording")
    rig.wait_until(lambda: rig.hardware.camera.running)
    rig.hold("record", rig.config.buttons.hold_seconds + 0.3)
    rig.wait_state("display_on")
    rig.tap("display")
    rig.wait_state("idle")
    rig.wait_until(lambda: not rig.hardware.camera.running)
    rig.sleep(70.0)
    rig.stop()
    assert events(rig.audit(), "sleep") == []

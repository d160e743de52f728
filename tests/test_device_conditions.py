"""Battery, dock and storage conditions (conditions.py), driven through the simulated
battery, dock contact and free space: each alarm once per edge, the latches and the
events that wait for the device to leave a state that ignores them.

The last tests check the class on its own for what a device run cannot pin down: the
order of what it asks the controller to do (alarm before fault) and a gauge that cannot
be read.
"""

from __future__ import annotations

from typing import Any

from device_rig import MIB, RunningSimDevice

from bodycam.firmware.config.loader import load_config
from bodycam.firmware.device.conditions import (
    Apply,
    ClearAlarm,
    Conditions,
    RaiseAlarm,
    Report,
)
from bodycam.firmware.device.feedback import ALARMS
from bodycam.hal.interfaces import PowerStatus

POLL_S = 1.5  # more than the controller's one-second poll interval


def alarms(records: list[dict[str, Any]]) -> list[str]:
    return [r["alarm"] for r in records if r["event"] == "alarm"]


def transitions(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["from"], r["to"]) for r in records if r["event"] == "state"]


def amber(rig: RunningSimDevice) -> object:
    return rig.hardware.indicators.led_state("amber")


def test_low_battery_alarms_on_each_way_down(sim_device: RunningSimDevice) -> None:
    rig = sim_device
    low = rig.config.power.battery_low_percent
    power = rig.hardware.power
    rig.wait_state("idle")
    power.set_battery(low - 5)
    rig.wait_until(lambda: amber(rig) == ALARMS["battery_low"].amber)
    rig.sleep(POLL_S)  # still low: no second alarm
    power.set_charging(True)  # on the charger: the warning has done its job
    rig.wait_until(lambda: amber(rig) is False)
    power.set_battery(low + 30)
    rig.sleep(POLL_S)
    power.set_charging(False)
    power.set_battery(low - 5)
    rig.wait_until(lambda: amber(rig) == ALARMS["battery_low"].amber)
    power.set_battery(None)  # gauge unreadable: audited, the model's level carries on
    rig.wait_audit(lambda r: r["event"] == "alarm" and r["alarm"] == "gauge_fault")
    rig.sleep(POLL_S)
    assert amber(rig) == ALARMS["battery_low"].amber
    assert rig.state == "idle"
    rig.stop()
    assert alarms(rig.audit()) == ["battery_low", "battery_low", "gauge_fault"]


def test_storage_full_latches_until_an_offload(sim_device: RunningSimDevice) -> None:
    rig = sim_device
    storage = rig.config.storage
    rig.wait_state("idle")
    rig.free_space.set(storage.reserve_mb * MIB - MIB)
    rig.wait_state("fault")
    rig.free_space.set(storage.reserve_mb * MIB + 64 * MIB)  # above the reserve again
    rig.sleep(2 * POLL_S)
    assert rig.state == "fault"  # latched: a device at the reserve must not flicker
    rig.free_space.set(storage.nearly_full_mb * MIB + 64 * MIB)  # offloaded
    rig.wait_state("idle")
    rig.wait_until(lambda: amber(rig) is False)
    rig.stop()

    records = rig.audit()
    assert alarms(records) == ["storage_nearly_full", "storage_full"]
    assert [r["alarm"] for r in records if r["event"] == "alarm_cleared"] == ["storage_full"]
    assert transitions(records)[:3] == [("booting", "idle"), ("idle", "fault"),
                                        ("fault", "idle")]


def test_critical_battery_in_the_dock_shuts_down_once_undocked(
        sim_device: RunningSimDevice) -> None:
    rig = sim_device
    rig.hardware.power.set_docked(True)
    rig.wait_state("docked")
    rig.hardware.power.set_battery(rig.config.power.battery_critical_percent - 2)
    rig.wait_audit(lambda r: r["event"] == "alarm" and r["alarm"] == "battery_critical")
    rig.sleep(2 * POLL_S)
    assert rig.state == "docked"  # charging
    rig.hardware.power.set_docked(False)
    rig.wait_state("off")
    rig.stop()

    records = rig.audit()
    assert transitions(records) == [("booting", "idle"), ("idle", "docked"),
                                    ("docked", "idle"), ("idle", "shutting_down"),
                                    ("shutting_down", "off")]
    assert alarms(records).count("battery_critical") == 1
    assert [r["docked"] for r in records if r["event"] == "dock"] == [True, False]


def test_docking_while_recording_takes_effect_after_it_ends(
        sim_device: RunningSimDevice) -> None:
    rig = sim_device
    rig.tap("record")
    rig.wait_state("recording")
    rig.hardware.power.set_docked(True)
    rig.wait_audit(lambda r: r["event"] == "dock")
    rig.sleep(POLL_S)
    assert rig.state == "recording"
    rig.hold("record", rig.config.buttons.hold_seconds + 0.3)
    rig.wait_state("docked")
    rig.stop()

    states = [r for r in rig.audit() if r["event"] == "state"]
    assert [(r["from"], r["to"]) for r in states][1:4] == [
        ("idle", "recording"), ("recording", "display_on"), ("display_on", "docked")]
    assert states[3]["cause"] == "dock contact (after recording)"


# ---------------------------------------------------------------------------- the class


def conditions() -> Conditions:
    config = load_config()
    return Conditions(config.storage)


def test_storage_alarms_come_before_the_fault_they_cause() -> None:
    cond = conditions()
    effects = cond.poll_storage(100 * MIB, in_storage_fault=False)
    assert [type(e) for e in effects] == [RaiseAlarm, RaiseAlarm, Apply]
    assert effects[2] == Apply("storage_full", "storage full (reserve reached)")
    assert cond.storage_full
    assert cond.storage_became_full("a write failed") == []  # alarmed once, whoever saw it
    assert cond.poll_storage(100 * MIB, in_storage_fault=True) == []
    freed = cond.poll_storage(10_000 * MIB, in_storage_fault=True)
    assert freed == [ClearAlarm("storage_nearly_full", "storage_nearly_full"),
                     Apply("fault_cleared", "storage space freed"),
                     ClearAlarm("storage_full", detail="10000 MB free")]


def test_freed_space_does_not_clear_a_fault_that_has_another_cause() -> None:
    cond = conditions()
    cond.poll_storage(100 * MIB, in_storage_fault=False)
    freed = cond.poll_storage(10_000 * MIB, in_storage_fault=False)
    assert not any(isinstance(e, Apply) for e in freed)
    assert not cond.storage_full


def test_dock_edge_then_repost_only_where_dock_was_only_acknowledged() -> None:
    cond = conditions()
    docked = PowerStatus(battery_percent=None, charging=True, docked=True)
    assert cond.poll_power(docked, "recording") == [
        Apply("dock", "dock contact"), Report("dock", {"docked": True, "charging": True})]
    assert cond.poll_power(docked, "recording") == []
    assert cond.poll_power(docked, "display_on") == [
        Apply("dock", "dock contact (after recording)")]
    assert cond.poll_power(docked, "fault") == []

"""What the device says at boot, through the simulated hardware: a provisioning file that
firstboot rejected is alarmed (amber pattern, buzzer, audit record) while the camera keeps
running, and records, on its previous valid configuration; it never enters fault for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from device_rig import MakeDevice, RunningSimDevice
from signed_provisioning import sign_beside

from bodycam.firmware.device.feedback import ALARMS
from bodycam.firmware.device.firstboot import (
    BOOT_CONFIG_NAME,
    ERROR_FILE_NAME,
    FAULT_FILE_NAME,
    DeviceLayout,
    ImportResult,
    Owner,
    import_from_boot,
)
from bodycam.firmware.evidence.verify import verify_log, verify_recording
from bodycam.hal.clocks import SimClock

REJECTED_TOML = '[device]\nid = "UNSET"\n'  # no serial and no recipient: not fit for service


def alarms(rig: RunningSimDevice) -> list[dict[str, Any]]:
    return [r for r in rig.audit() if r["event"] == "alarm"]


def rejected_layout(root: Path) -> DeviceLayout:
    """A device root on which firstboot has just rejected a provisioning file."""
    layout = DeviceLayout(root=root)
    layout.boot_dir.mkdir(parents=True)
    (layout.boot_dir / BOOT_CONFIG_NAME).write_text(REJECTED_TOML, encoding="utf-8")
    sign_beside(layout.boot_dir / BOOT_CONFIG_NAME)  # signed: refused for what it says
    assert import_from_boot(layout, Owner.current(), SimClock()) is ImportResult.REJECTED
    assert (layout.boot_dir / ERROR_FILE_NAME).is_file()
    return layout


def test_rejected_provisioning_alarms_at_boot_and_the_camera_still_records(
        make_sim_device: MakeDevice, tmp_path: Path) -> None:
    rig = make_sim_device(layout=rejected_layout(tmp_path / "root"))
    assert rig.wait_state("idle") == "idle"  # not fault: the old configuration is valid
    assert rig.hardware.indicators.led_state("amber") == ALARMS["provisioning_rejected"].amber
    rig.tap("record")
    rig.wait_state("recording")
    rig.sleep(1.5)
    rig.hold("record", rig.config.buttons.hold_seconds + 0.3)
    rig.wait_state("display_on")
    rig.stop()

    [alarm] = alarms(rig)
    assert alarm["alarm"] == "provisioning_rejected"
    assert ERROR_FILE_NAME in alarm["detail"] and "previous configuration" in alarm["detail"]
    assert "device.id" in alarm["detail"] and "evidence.recipients" in alarm["detail"]
    records = rig.audit()
    # at boot; a first start also records its configuration (test_device_clock_config)
    assert [r["event"] for r in records[:4]] == ["boot", "config_changed", "state", "alarm"]
    assert not any(r["event"] == "state" and r["to"] == "fault" for r in records)
    [recording] = rig.recordings()
    assert verify_recording(recording).status == "verified"
    assert verify_log(rig.device.audit.path).status == "verified"


def test_unreadable_fault_marker_is_still_alarmed_and_boot_goes_on(
        make_sim_device: MakeDevice, tmp_path: Path) -> None:
    layout = DeviceLayout(root=tmp_path / "root")
    layout.etc_dir.mkdir(parents=True)
    (layout.etc_dir / FAULT_FILE_NAME).write_bytes(b"\xff\xfe torn by a power cut")
    rig = make_sim_device(layout=layout)
    rig.wait_state("idle")
    rig.stop()

    [alarm] = alarms(rig)
    assert alarm["alarm"] == "provisioning_rejected"
    assert "could not be read" in alarm["detail"] and "fix:" in alarm["detail"]


def test_no_fault_marker_no_alarm(sim_device: RunningSimDevice) -> None:
    assert not (sim_device.layout.etc_dir / FAULT_FILE_NAME).exists()
    sim_device.wait_state("idle")
    assert sim_device.hardware.indicators.led_state("amber") is False
    sim_device.stop()
    assert alarms(sim_device) == []

"""Clock changes and configuration changes reach the signed audit log."""

from __future__ import annotations

from datetime import timedelta

from conftest import MakeDevice

from bodycam.firmware.evidence.verify import verify_log


def test_clock_sync_changes_and_steps_are_audited(make_sim_device: MakeDevice) -> None:
    rig = make_sim_device()
    rig.clock.set_synchronised(False)
    lost = rig.wait_audit(lambda r: r["event"] == "clock" and r["synchronised"] is False)
    rig.clock.set_wall(rig.clock.wall() + timedelta(hours=1))
    stepped = rig.wait_audit(lambda r: r["event"] == "clock" and r["step_seconds"] > 3000,
                             after=lost)
    assert 3590 < rig.audit()[stepped]["step_seconds"] < 3610
    rig.clock.set_synchronised(True)
    synced = rig.wait_audit(lambda r: r["event"] == "clock" and r["synchronised"] is True,
                            after=stepped)
    rig.wait_audit(lambda r: r["event"] == "alarm_cleared" and r["alarm"] == "clock_unset",
                   after=synced)
    path = rig.device.audit.path
    rig.stop()
    assert verify_log(path).status == "verified"


def test_configuration_change_is_audited_once_at_the_start_that_uses_it(
        make_sim_device: MakeDevice) -> None:
    def config_changes(*overrides: str) -> list[dict[str, object]]:
        rig = make_sim_device(*overrides, name="camera")
        rig.stop()
        return [r for r in rig.audit() if r["event"] == "config_changed"]

    first = config_changes()
    assert len(first) == 1 and first[0]["previous_digest"] is None
    assert len(config_changes()) == 1  # same configuration: nothing new
    changed = config_changes("evidence.prerecord_seconds=5")
    assert len(changed) == 2
    assert changed[1]["previous_digest"] == first[0]["config_digest"]
    assert changed[1]["config_digest"] != first[0]["config_digest"]

"""Battery health end to end: the camera audits a discharge's capacity estimate in the
dock, the offload carries its audit log to a real `bodycam-server serve`, and
`bodycam-server device battery` shows it per camera (through the access gate)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from device_rig import MakeDevice
from offload_rig import booted, finished
from offload_server import EvidenceServer, evidence_server, run_server

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError, Actor
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.devices.battery import (
    UnknownDeviceError,
    battery_devices,
    battery_history,
)

__all__ = ["evidence_server"]  # the fixture

pytestmark = pytest.mark.slow
POLL_S = 1.5


def test_battery_health_reaches_the_server_per_camera(
        make_sim_device: MakeDevice, evidence_server: EvidenceServer) -> None:
    rig = booted(make_sim_device, evidence_server, "power.shift_hours=0")
    rig.wait_state("idle")
    power = rig.hardware.power
    power.set_battery(90.0)
    rig.sleep(POLL_S)
    power.set_battery(60.0)  # a 30-point discharge the gauge vouches for
    rig.sleep(POLL_S)
    power.set_charging(True)  # the dock's charger, then its link
    found = rig.wait_audit(lambda r: r["event"] == "battery_health")
    audited = rig.audit()[found]
    start = len(rig.audit())
    power.set_docked(True)
    done = finished(rig, start)
    assert done["audit_lines"]
    rig.stop()

    data_dir = str(evidence_server.data_dir)
    listed = run_server("device", "battery", "--data-dir", data_dir, "--json")
    assert listed.returncode == 0, listed.stderr
    [history] = json.loads(listed.stdout)
    assert history["device"] == rig.config.device.id
    [reading] = history["readings"]
    for key in ("health_percent", "capacity_mwh", "design_capacity_mwh", "worn", "time"):
        assert reading[key] == audited[key], key
    assert history["worn"] is audited["worn"]
    table = run_server("device", "battery", "--data-dir", data_dir)
    assert rig.config.device.id in table.stdout
    assert f"{audited['health_percent']:.1f}%" in table.stdout
    assert ("WORN: swap the pack" in table.stdout) is audited["worn"]
    unknown = run_server("device", "battery", "--data-dir", data_dir, "--device", "BC-NONE")
    assert unknown.returncode == 1
    assert "no camera 'BC-NONE' is enrolled" in unknown.stderr and "Fix:" in unknown.stderr

    context = ServerContext.open(Path(data_dir))
    try:
        access = Access.of(context)
        reviewer = Actor(7, "reviewer", frozenset({Permission.VIEW}))
        with pytest.raises(AccessError), access.work(reviewer, "device.battery") as work:
            battery_devices(work)
        with pytest.raises(UnknownDeviceError), access.work(
                Actor(None, "console", frozenset({Permission.DEVICES})), "x") as work:
            battery_devices(work, "BC-NONE")
        assert battery_history(context, rig.config.device.id).latest is not None
    finally:
        context.close()

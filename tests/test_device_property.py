"""Property: whatever happens to the hardware, no recording is lost or made up.

Hypothesis draws short random sequences of what can happen to a worn camera (presses and
holds of each button, battery levels, dock contact, camera/microphone stalls, free space
falling or recovering, pauses) and plays them on a fresh simulated device. Afterwards:

- the audit log verifies;
- every recording directory is sealed and verifies (nothing lost, nothing half-written);
- recordings exist exactly for the audited transitions into `recording`: each such
  transition is followed by the recorder's `recording_started` (whose id names one
  directory) or by its `recording_refused`, and there is no other directory.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

from device_rig import MIB, MakeDevice, RunningSimDevice
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bodycam.firmware.evidence.verify import verify_log, verify_recording
from bodycam.hal.interfaces import BUTTON_NAMES, ButtonName

Record = dict[str, Any]
EXAMPLE_NUMBERS = itertools.count()  # a fresh data directory for every example


class Action:
    """One thing that happens to the camera; the label is what hypothesis reports."""

    def __init__(self, label: str, run: Callable[[RunningSimDevice], None]) -> None:
        self.label = label
        self.run = run

    def __repr__(self) -> str:
        return self.label


def tap(button: ButtonName) -> Action:
    return Action(f"tap {button}", lambda rig: rig.tap(button))


def hold(button: ButtonName, seconds: float) -> Action:
    return Action(f"hold {button} {seconds:g}s", lambda rig: rig.hold(button, seconds))


def battery(percent: float) -> Action:
    return Action(f"battery {percent:g}%",
                  lambda rig: rig.hardware.power.set_battery(percent))


def docked(on: bool) -> Action:
    return Action("dock" if on else "undock", lambda rig: rig.hardware.power.set_docked(on))


def stall(source: str) -> Action:
    def run(rig: RunningSimDevice) -> None:
        device = rig.hardware.camera if source == "camera" else rig.hardware.microphone
        device.stall(4.0)

    return Action(f"{source} stall 4s", run)


def free_space(label: str, above_reserve_mb: float) -> Action:
    """Free space relative to the reserve: below it, just above it (too little for the
    store to begin a recording, which the controller asks before it changes state), or
    plenty."""

    def run(rig: RunningSimDevice) -> None:
        rig.free_space.set(int((rig.config.storage.reserve_mb + above_reserve_mb) * MIB))

    return Action(f"free space {label}", run)


def wait(seconds: float) -> Action:
    return Action(f"wait {seconds:g}s", lambda rig: rig.sleep(seconds))


ACTIONS = st.one_of(
    st.sampled_from([tap(b) for b in BUTTON_NAMES]),
    st.sampled_from([hold("record", 3.3), hold("display", 1.0), hold("power", 3.3)]),
    st.sampled_from([battery(100), battery(15), battery(3)]),
    st.sampled_from([docked(True), docked(False)]),
    st.sampled_from([stall("camera"), stall("microphone")]),
    st.sampled_from([free_space("below reserve", -1), free_space("at reserve", 0.5),
                     free_space("plenty", 10_000)]),
    st.sampled_from([wait(0.5), wait(2.0)]),
)


def check_recordings_match_audit(rig: RunningSimDevice, records: list[Record]) -> None:
    pending = 0
    started: list[str] = []
    for record in records:
        if record["event"] == "state" and record["to"] == "recording":
            pending += 1
        elif record["event"] in ("recording_started", "recording_refused"):
            assert pending > 0, f"{record['event']} without a transition into recording"
            pending -= 1
            if record["event"] == "recording_started":
                started.append(record["recording_id"])
    assert pending == 0, "a transition into recording neither started nor was refused"
    assert sorted(started) == [p.name for p in rig.recordings()]


@settings(max_examples=15, deadline=None, derandomize=os.environ.get("CI") == "true",
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=st.lists(ACTIONS, min_size=1, max_size=7))
def test_random_hardware_never_loses_or_invents_a_recording(
        make_sim_device: MakeDevice, actions: list[Action]) -> None:
    rig = make_sim_device(name=f"device-{next(EXAMPLE_NUMBERS)}", speed=8.0)
    for action in actions:
        if rig.finished:  # powered off (power hold, critical battery): nothing more to do
            break
        action.run(rig)
    rig.sleep(0.5)
    rig.stop("property end")

    records = rig.audit()
    assert verify_log(rig.device.audit.path).status == "verified"
    assert records[-1]["event"] in ("state", "gesture")  # nothing after powering off
    for recording in rig.recordings():
        report = verify_recording(recording)
        assert report.status == "verified", report.summary()
        assert report.sealed
    check_recordings_match_audit(rig, records)

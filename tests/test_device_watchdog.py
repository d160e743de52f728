"""The systemd watchdog and media failures through the real device program (audit H5).

The audit's `watchdog.py` / `watchdog2.py`: the device program assembled on simulated
hardware, a real notify datagram socket standing in for systemd, WATCHDOG_USEC set, and
a microphone that stalls while recording or is dead from boot. Before the fix the pings
stopped with the media and systemd would have killed the camera program within 10 s,
ending the recording. Now the pings follow the program's own liveness: the recording
goes on (video only, with a gap in the manifest), the wearer is alarmed, and the source
is reopened in-process.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from device_rig import MakeDevice, RunningSimDevice

from bodycam.firmware.device.feedback import ALARMS
from bodycam.firmware.device.sdnotify import SystemdNotifier
from bodycam.firmware.device.sources import BACKOFF_SECONDS
from bodycam.firmware.evidence.verify import verify_log, verify_recording
from bodycam.hal.interfaces import HardwareError
from bodycam.hal.sim.hardware import SimHardware

WATCHDOG_USEC = 10_000_000  # the unit's WatchdogSec=10s, as in the audit's scripts
WATCHDOG_S = WATCHDOG_USEC / 1_000_000
Record = dict[str, Any]


class NotifySocket:
    """A stand-in for systemd's notify socket that stamps messages with simulated time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []
        self.rig: RunningSimDevice | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            t = self.rig.clock.monotonic() if self.rig is not None else 0.0
            self.messages.extend((t, line) for line in data.decode().splitlines())

    def notifier(self) -> SystemdNotifier:
        return SystemdNotifier(environ={"NOTIFY_SOCKET": str(self.path),
                                        "WATCHDOG_USEC": str(WATCHDOG_USEC)})

    def pings(self, start: float, end: float) -> list[float]:
        return [t for t, m in list(self.messages) if m == "WATCHDOG=1" and start <= t <= end]

    def longest_silence(self, start: float, end: float) -> float:
        """Longest stretch of simulated time in [start, end] without a ping."""
        stamps = [start, *self.pings(start, end), end]
        return max(b - a for a, b in itertools.pairwise(stamps))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.close()


def events(records: list[Record], name: str) -> list[Record]:
    return [r for r in records if r["event"] == name]


def restarts(records: list[Record], source: str) -> list[Record]:
    return [r for r in events(records, "source_restart") if r["source"] == source]


def manifest(recording: Path) -> list[Record]:
    return [json.loads(line) for line in (recording / "manifest.jsonl").open()]


def alarmed(records: list[Record], name: str) -> bool:
    return any(r["alarm"] == name for r in events(records, "alarm"))


def stop_and_power_off(rig: RunningSimDevice, sock: NotifySocket) -> list[Record]:
    """The wearer's recording is still running: stop it, power off, and check that the
    watchdog was pinged throughout (never half of WatchdogSec plus a second without)."""
    end = rig.clock.monotonic()
    assert rig.state == "recording"
    rig.hold("record", rig.config.buttons.hold_seconds + 0.3)
    rig.wait_state("display_on")
    rig.stop()
    assert sock.longest_silence(1.0, end) < WATCHDOG_S / 2 + 1.0
    return rig.audit()


def booted(make: MakeDevice, sock: NotifySocket, **kwargs: Any) -> RunningSimDevice:
    rig = make(notifier=sock.notifier(), **kwargs)
    sock.rig = rig
    return rig


def test_microphone_stall_while_recording_keeps_the_watchdog_fed(
        make_sim_device: MakeDevice, notify_socket: NotifySocket) -> None:
    """watchdog.py: RECORD at 2 s, the microphone stalls for 30 s at 5 s."""
    rig = booted(make_sim_device, notify_socket, speed=6.0)
    rig.sleep(2.0 - rig.clock.monotonic())
    rig.tap("record")
    rig.wait_state("recording")
    rig.sleep(5.0 - rig.clock.monotonic())
    stalled_at = rig.clock.monotonic()
    rig.hardware.microphone.stall(30.0)
    rig.wait_audit(lambda r: r["event"] == "alarm" and r["alarm"] == "microphone_failed")
    assert rig.hardware.indicators.led_state("amber") == ALARMS["media_stall"].amber
    rig.sleep(stalled_at + 30.0 - rig.clock.monotonic())
    rig.wait_audit(lambda r: r["event"] == "alarm_cleared"
                   and r["alarm"] == "microphone_failed")
    rig.sleep(2.0)
    records = stop_and_power_off(rig, notify_socket)
    assert len(events(records, "recording_started")) == 1
    assert len(events(records, "recording_sealed")) == 1
    tries = restarts(records, "microphone")
    assert len(tries) >= 2 and all(r["ok"] for r in tries)
    assert not restarts(records, "camera")
    [recording] = rig.recordings()
    report = verify_recording(recording)
    assert report.status == "verified" and report.sealed, report.summary()
    assert report.seal_reason is not None and report.seal_reason.startswith("stopped by wearer")
    gaps = [r for r in manifest(recording) if r["event"] == "gap" and r["end_us"] is not None]
    assert {g["source"] for g in gaps} == {"microphone"}
    assert max(g["end_us"] - g["start_us"] for g in gaps) >= 25_000_000
    assert verify_log(rig.device.audit.path).status == "verified"


def test_microphone_dead_from_boot_keeps_the_watchdog_fed(
        make_sim_device: MakeDevice, notify_socket: NotifySocket) -> None:
    """watchdog2.py: the microphone delivers nothing from boot, nothing is pressed."""

    def dead_microphone(hardware: SimHardware) -> None:
        hardware.microphone.fail()

    rig = booted(make_sim_device, notify_socket, speed=6.0, prepare=dead_microphone)
    rig.sleep(40.0 - rig.clock.monotonic())
    end = rig.clock.monotonic()
    assert rig.state == "idle"
    rig.tap("record")  # and the camera still records: video only
    rig.wait_state("recording")
    rig.sleep(4.0)
    rig.hold("record", rig.config.buttons.hold_seconds + 0.3)
    rig.wait_state("display_on")
    rig.stop()

    assert notify_socket.longest_silence(1.0, end) < WATCHDOG_S / 2 + 1.0
    records = rig.audit()
    assert alarmed(records, "microphone_failed")
    tries = restarts(records, "microphone")
    # backed off: attempts at the first stall and then after 3, 3, 5, 10 s, ... at most
    assert 2 <= len(tries) <= 2 + sum(1 for b in itertools.accumulate(BACKOFF_SECONDS)
                                      if b < end)
    [recording] = rig.recordings()
    assert verify_recording(recording).status == "verified"
    assert any(r["event"] == "gap" and r["source"] == "microphone"
               for r in manifest(recording))


def test_unplugged_microphone_is_video_only_and_is_reopened_when_plugged_back(
        make_sim_device: MakeDevice, notify_socket: NotifySocket) -> None:
    """Missing at boot (start() raises): recording goes on video-only with an alarm; when
    the microphone is back, the in-process reopen hears it again (no restart needed)."""

    def unplugged(hardware: SimHardware) -> None:
        hardware.microphone.unplug()

    rig = booted(make_sim_device, notify_socket, prepare=unplugged)
    failed = rig.wait_audit(lambda r: r["event"] == "alarm"
                            and r["alarm"] == "microphone_failed")
    assert "not connected" in rig.audit()[failed]["detail"]
    rig.tap("record")
    rig.wait_state("recording")
    rig.sleep(6.0)
    rig.hardware.microphone.plug()
    rig.wait_audit(lambda r: r["event"] == "alarm_cleared"
                   and r["alarm"] == "microphone_failed", after=failed)
    rig.sleep(3.0)
    records = stop_and_power_off(rig, notify_socket)
    assert [r["ok"] for r in restarts(records, "microphone")][-1] is True
    assert not any(r["ok"] for r in restarts(records, "microphone")[:-1])
    [recording] = rig.recordings()
    assert verify_recording(recording).status == "verified"
    gaps = [r for r in manifest(recording) if r["event"] == "gap"]
    assert gaps and all(g["source"] == "microphone" for g in gaps)
    assert gaps[-1]["end_us"] is not None  # the sound came back before the stop


def test_a_microphone_the_pi_could_not_open_at_boot_is_alarmed_at_boot(
        make_sim_device: MakeDevice, notify_socket: NotifySocket) -> None:
    """`bodycam run` used to exit on this HardwareError (restart loop, dead unit); the
    program now boots, audits the hardware's own words and records video only."""
    problem = HardwareError("microphone", "default sound input",
                            "no sound input device (-9996)", "connect the USB microphone")

    def unplugged(hardware: SimHardware) -> None:
        hardware.microphone.unplug()

    rig = booted(make_sim_device, notify_socket, prepare=unplugged,
                 missing_sources={"microphone": problem}, speed=6.0)
    alarm = rig.wait_audit(lambda r: r["event"] == "alarm"
                           and r["alarm"] == "microphone_failed")
    rig.sleep(25.0)
    end = rig.clock.monotonic()
    assert rig.state == "idle"
    rig.stop()

    records = rig.audit()
    boot = next(i for i, r in enumerate(records) if r["event"] == "boot")
    fault = next(i for i, r in enumerate(records) if r["event"] == "fault")
    assert boot < fault < alarm
    assert records[fault]["reason"] == str(problem)
    assert "cannot open the microphone" in records[alarm]["detail"]
    assert len([r for r in events(records, "alarm") if r["alarm"] == "microphone_failed"]) == 1
    assert notify_socket.longest_silence(1.0, end) < WATCHDOG_S / 2 + 1.0


def test_a_camera_that_stays_dead_is_an_alarm_not_a_restart(
        make_sim_device: MakeDevice, notify_socket: NotifySocket) -> None:
    """The camera stalls for 40 s while recording: reopened with backoff, `camera_failed`
    for the wearer, the sound goes on being recorded, the program is never killed."""
    rig = booted(make_sim_device, notify_socket, speed=6.0)
    rig.tap("record")
    rig.wait_state("recording")
    rig.sleep(1.0)
    rig.hardware.camera.stall(40.0)
    rig.wait_audit(lambda r: r["event"] == "alarm" and r["alarm"] == "camera_failed")
    rig.wait_until(lambda: rig.hardware.indicators.led_state("amber")
                   == ALARMS["camera_failed"].amber)
    rig.wait_audit(lambda r: r["event"] == "alarm_cleared" and r["alarm"] == "camera_failed",
                   timeout=60.0)
    rig.sleep(2.0)
    records = stop_and_power_off(rig, notify_socket)
    assert len(restarts(records, "camera")) >= 2
    assert len(events(records, "recording_started")) == 1
    [recording] = rig.recordings()
    report = verify_recording(recording)
    assert report.status == "verified", report.summary()
    camera_gaps = [r for r in manifest(recording) if r["event"] == "gap"
                   and r["source"] == "camera" and r["end_us"] is not None]
    assert camera_gaps and max(g["end_us"] - g["start_us"] for g in camera_gaps) >= 30_000_000


def test_pings_go_on_while_docked_with_the_camera_off(
        make_sim_device: MakeDevice, notify_socket: NotifySocket) -> None:
    rig = booted(make_sim_device, notify_socket)
    rig.hardware.power.set_docked(True)  # the controller switches the camera off
    rig.wait_state("docked")
    docked_at = rig.clock.monotonic()
    rig.sleep(25.0)
    end = rig.clock.monotonic()
    rig.stop()

    assert any(m == "READY=1" for _, m in notify_socket.messages)
    assert notify_socket.longest_silence(docked_at, end) < WATCHDOG_S / 2 + 1.0
    assert not events(rig.audit(), "source_restart")

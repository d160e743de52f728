"""The systemd watchdog through the real device: pings only while the media sources the
controller runs keep delivering, so a hung camera gets the service restarted, while a
camera the controller switched off on purpose (docked) does not."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MakeDevice, RunningSimDevice

from bodycam.firmware.device.sdnotify import SystemdNotifier

WATCHDOG_USEC = 1_000_000  # WatchdogSec=1s: a ping every 0.5 simulated seconds
STALL_S = 6.0


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

    def pings(self, start: float, end: float) -> list[float]:
        return [t for t, m in list(self.messages) if m == "WATCHDOG=1" and start <= t <= end]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.close()


def test_watchdog_pings_follow_the_health_of_running_sources(
        make_sim_device: MakeDevice, notify_socket: NotifySocket) -> None:
    notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": str(notify_socket.path),
                                        "WATCHDOG_USEC": str(WATCHDOG_USEC)})
    rig = make_sim_device(notifier=notifier)  # idle: camera on for the pre-record buffer
    notify_socket.rig = rig
    stall_limit = rig.config.evidence.stall_seconds
    rig.sleep(2.0)
    stalled_at = rig.clock.monotonic()
    rig.hardware.camera.stall(STALL_S)
    rig.sleep(STALL_S + 2.0)
    resumed_at = stalled_at + STALL_S
    rig.hardware.power.set_docked(True)  # the controller switches the camera off
    rig.wait_state("docked")
    docked_at = rig.clock.monotonic()
    rig.sleep(stall_limit + 2.0)
    rig.stop()

    assert any(m == "READY=1" for _, m in notify_socket.messages)
    assert len(notify_socket.pings(0.5, stalled_at)) >= 2
    silent_from = stalled_at + stall_limit + 0.5  # the stall is noticed after stall_seconds
    assert notify_socket.pings(silent_from, resumed_at - 0.5) == []
    assert notify_socket.pings(resumed_at + 0.5, docked_at)
    assert len(notify_socket.pings(docked_at + stall_limit + 0.5, docked_at + stall_limit + 2)) >= 2

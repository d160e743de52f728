"""HealthMonitor on a manual clock: media stalls are reported, the watchdog gate follows
only the program's own liveness (the recorder's progress), never a media source."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from bodycam.firmware.device.health import HealthMonitor
from bodycam.firmware.device.sdnotify import SystemdNotifier
from bodycam.hal.clocks import ManualClock

STALL = 3.0
HANG = 30.0


class Progress:
    """A recorder's progress stamp that the test moves by hand."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_source_is_watched_from_its_start_and_gets_a_stall_period() -> None:
    clock = ManualClock()
    health = HealthMonitor(clock, STALL)
    clock.advance(10.0)
    assert health.stalled() == []  # nothing started: nothing to wait for
    health.watch("camera")
    clock.advance(STALL)
    assert health.stalled() == []
    clock.advance(0.5)
    assert health.stalled() == ["camera"]
    assert health.silent_for("camera") == pytest.approx(3.5)
    assert health.silent_for("microphone") is None


def test_only_the_stalled_source_is_reported() -> None:
    clock = ManualClock(start_monotonic=100.0)
    health = HealthMonitor(clock, STALL)
    health.watch("camera")
    health.watch("microphone")
    clock.advance(2.0)
    health.note_video(clock.monotonic())  # last frame at 102.0, then the camera hangs
    for _ in range(6):
        clock.advance(1.0)
        health.note_audio(clock.monotonic())
    assert health.stalled() == ["camera"]
    assert health.silent_for("camera") == pytest.approx(6.0)


def test_unwatch_forgets_and_watch_again_grants_a_new_stall_period() -> None:
    clock = ManualClock()
    health = HealthMonitor(clock, STALL)
    health.watch("camera")
    clock.advance(5.0)
    assert health.stalled() == ["camera"]
    health.unwatch("camera")
    assert health.stalled() == []
    health.watch("camera")  # a restart
    clock.advance(STALL)
    assert health.stalled() == []
    clock.advance(0.5)
    assert health.stalled() == ["camera"]


def test_delivered_after_tells_a_restart_that_worked_from_one_that_did_not() -> None:
    clock = ManualClock()
    health = HealthMonitor(clock, STALL)
    health.watch("microphone")
    clock.advance(1.0)
    restarted_at = clock.monotonic()
    health.watch("microphone", restarted_at)
    assert not health.delivered_after("microphone", restarted_at)
    clock.advance(0.5)
    health.note_audio(clock.monotonic())
    assert health.delivered_after("microphone", restarted_at)


def test_note_from_another_thread_is_seen() -> None:
    clock = ManualClock()
    health = HealthMonitor(clock, STALL)
    health.watch("camera")
    clock.advance(5.0)
    camera_thread = threading.Thread(target=health.note_video, args=(5.0,))
    camera_thread.start()
    camera_thread.join()
    assert health.stalled() == []


def test_stalled_media_never_make_the_program_dead() -> None:
    """The H5 cause: a stalled source used to withhold the watchdog pings."""
    clock = ManualClock()
    progress = Progress()
    health = HealthMonitor(clock, STALL, recorder_progress=progress)
    health.watch("camera")
    health.watch("microphone")
    for _ in range(100):  # 100 s in which neither source delivers anything
        clock.advance(1.0)
        progress.t = clock.monotonic()
        assert health.alive().ok
    assert health.stalled() == ["camera", "microphone"]


def test_a_recorder_without_progress_is_a_hang() -> None:
    clock = ManualClock()
    progress = Progress()
    health = HealthMonitor(clock, STALL, recorder_progress=progress, hang_seconds=HANG)
    clock.advance(HANG)
    assert health.alive().ok
    clock.advance(0.5)
    report = health.alive()
    assert not report.ok
    assert str(report) == "recorder stalled: no progress for 30.5 s (limit 30 s)"
    progress.t = clock.monotonic()
    assert health.alive().ok


def test_due_for_ping_applies_the_interval_and_records_the_ping() -> None:
    clock = ManualClock()
    health = HealthMonitor(clock, STALL, ping_interval=5.0)
    assert health.due_for_ping()
    assert not health.due_for_ping()
    clock.advance(4.9)
    assert not health.due_for_ping()
    clock.advance(0.1)
    assert health.due_for_ping()


def test_never_due_without_a_watchdog() -> None:
    clock = ManualClock()
    health = HealthMonitor(clock, STALL, ping_interval=None)
    assert not health.due_for_ping()
    clock.advance(100.0)
    assert not health.due_for_ping()


@pytest.mark.parametrize("kwargs", [{"stall_seconds": 0}, {"stall_seconds": 3.0,
                                                           "hang_seconds": -1.0}])
def test_limits_must_be_positive(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        HealthMonitor(ManualClock(), **kwargs)


def test_the_gate_pings_through_a_camera_stall_and_stops_for_a_hung_recorder(
        tmp_path: Path) -> None:
    """The main loop's gate end to end on a real datagram socket: a camera that hangs at
    4 s changes nothing; a recorder that stops making progress at 20 s does."""
    path = tmp_path / "notify"
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(str(path))
    systemd.setblocking(False)
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"})
    clock = ManualClock()
    progress = Progress()
    health = HealthMonitor(clock, STALL, ping_interval=notifier.watchdog_interval(),
                           recorder_progress=progress, hang_seconds=5.0)
    health.watch("camera")
    pings: list[float] = []
    try:
        for _ in range(120):  # 30 s of a 4 Hz main loop
            clock.advance(0.25)
            now = clock.monotonic()
            if now < 4.0:
                health.note_video(now)
            if now < 20.0:
                progress.t = now
            if health.alive(now).ok and health.due_for_ping(now):
                notifier.watchdog()
                assert systemd.recv(64) == b"WATCHDOG=1"
                pings.append(now)
    finally:
        systemd.close()
        notifier.close()
    assert health.stalled(30.0) == ["camera"]
    # one ping a second from 0.25 s; the recorder's last progress (19.75 s) is more than
    # 5 s old from 24.75 s on, so the ping due at 25.25 s is withheld, and every later one
    assert pings == [0.25 + i for i in range(25)]

"""HealthMonitor stale detection and the health-gated watchdog, on a manual clock."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from bodycam.firmware.device.health import HealthMonitor
from bodycam.firmware.device.sdnotify import SystemdNotifier
from bodycam.hal.clocks import ManualClock

STALL = 3.0


def test_fresh_monitor_is_healthy_during_the_first_stall_period() -> None:
    clock = ManualClock()
    health = HealthMonitor(clock, STALL)
    clock.advance(STALL)
    report = health.check()
    assert report.ok
    assert report.problems == []
    assert str(report) == "healthy"


def test_every_silent_source_is_named_with_how_long() -> None:
    clock = ManualClock()
    health = HealthMonitor(clock, STALL, watch_loop=True)
    clock.advance(4.5)
    report = health.check()
    assert not report.ok
    assert report.problems == [
        "camera stalled: no video packets for 4.5 s (limit 3 s)",
        "microphone stalled: no audio chunks for 4.5 s (limit 3 s)",
        "controller stalled: controller loop has not run for 4.5 s (limit 3 s)",
    ]


def test_only_the_stalled_camera_is_reported() -> None:
    clock = ManualClock(start_monotonic=100.0)
    health = HealthMonitor(clock, STALL, watch_loop=True)
    clock.advance(2.0)
    health.note_video(clock.monotonic())  # last frame at 102.0, then the camera hangs
    for _ in range(6):
        clock.advance(1.0)
        health.note_audio(clock.monotonic())
        health.note_loop(clock.monotonic())
    report = health.check(clock.monotonic())
    assert report.problems == ["camera stalled: no video packets for 6.0 s (limit 3 s)"]


def test_microphone_is_not_watched_when_audio_is_disabled() -> None:
    clock = ManualClock()
    health = HealthMonitor(clock, STALL, audio_enabled=False)
    clock.advance(10.0)
    health.note_video(10.0)
    assert health.check().ok


def test_loop_heartbeat_is_watched_only_when_asked_for() -> None:
    clock = ManualClock()
    health = HealthMonitor(clock, STALL, audio_enabled=False)
    watched = HealthMonitor(clock, STALL, audio_enabled=False, watch_loop=True)
    clock.advance(5.0)
    for monitor in (health, watched):
        monitor.note_video(5.0)
    assert health.check().ok
    assert watched.check().problems == [
        "controller stalled: controller loop has not run for 5.0 s (limit 3 s)"]


def test_paused_source_is_ignored_and_resume_grants_a_new_stall_period() -> None:
    clock = ManualClock()
    health = HealthMonitor(clock, STALL, audio_enabled=False)
    health.pause("camera")
    clock.advance(10.0)
    assert health.check().ok
    health.resume("camera")
    clock.advance(STALL)
    assert health.check().ok
    clock.advance(0.5)
    assert health.check().problems == ["camera stalled: no video packets for 3.5 s (limit 3 s)"]


def test_note_from_another_thread_is_seen() -> None:
    clock = ManualClock()
    health = HealthMonitor(clock, STALL, audio_enabled=False)
    clock.advance(5.0)
    camera_thread = threading.Thread(target=health.note_video, args=(5.0,))
    camera_thread.start()
    camera_thread.join()
    assert health.check().ok


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


def test_stall_seconds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="stall_seconds must be positive"):
        HealthMonitor(ManualClock(), 0)


def test_a_stalled_camera_stops_the_watchdog_pings(tmp_path: Path) -> None:
    """The main loop's gate end to end: pings reach systemd only while frames arrive."""
    path = tmp_path / "notify"
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(str(path))
    systemd.setblocking(False)
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"})
    clock = ManualClock()
    health = HealthMonitor(clock, STALL, audio_enabled=False,
                           ping_interval=notifier.watchdog_interval())
    pings: list[float] = []
    try:
        for _ in range(40):  # 10 s of a 4 Hz main loop; the camera hangs at 4 s
            clock.advance(0.25)
            now = clock.monotonic()
            if now < 4.0:
                health.note_video(now)
            if health.check(now).ok and health.due_for_ping(now):
                notifier.watchdog()
                assert systemd.recv(64) == b"WATCHDOG=1"
                pings.append(now)
    finally:
        systemd.close()
        notifier.close()
    # last frame at 3.75 s: stale from 7.0 s on (more than 3 s), so the 7.25 s ping is withheld
    assert pings == [0.25, 1.25, 2.25, 3.25, 4.25, 5.25, 6.25]

"""SystemClock, SimClock and ManualClock (hal/clocks.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bodycam.hal.clocks import ManualClock, SimClock, SystemClock, timesyncd_synchronised

START = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


class FakeHostTime:
    """Stands in for the host's time.monotonic/time.sleep so speed is tested exactly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_sim_clock_runs_speed_times_faster_than_host_time() -> None:
    host = FakeHostTime()
    clock = SimClock(START, speed=10.0, start_monotonic=5.0,
                     real_monotonic=host.monotonic, real_sleep=host.sleep)
    assert clock.monotonic() == 5.0
    host.now += 0.5
    assert clock.monotonic() == pytest.approx(10.0)
    assert clock.wall() == START + timedelta(seconds=5)
    clock.sleep(2.0)  # two simulated seconds are a fifth of a real second
    assert host.slept == [pytest.approx(0.2)]
    assert clock.monotonic() == pytest.approx(12.0)
    assert clock.speed == 10.0


def test_sim_clock_rejects_non_positive_speed() -> None:
    with pytest.raises(ValueError, match="speed must be > 0"):
        SimClock(START, speed=0)


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(START, start_monotonic=100.0)
    assert clock.monotonic() == 100.0
    clock.advance(1.5)
    clock.sleep(0.5)  # sleep advances time itself instead of waiting
    assert clock.monotonic() == 102.0
    assert clock.wall() == START + timedelta(seconds=2)
    with pytest.raises(ValueError, match="cannot go backwards"):
        clock.advance(-1)


def test_set_wall_jumps_wall_time_but_not_monotonic_time() -> None:
    clock = ManualClock(START)
    clock.advance(10)
    synced = datetime(2026, 6, 1, 0, 0, 0, tzinfo=UTC)
    clock.set_wall(synced)
    assert clock.monotonic() == 10
    clock.advance(3)
    assert clock.wall() == synced + timedelta(seconds=3)


def test_sync_flag_is_scriptable() -> None:
    clock = ManualClock(START, synchronised=False)
    assert not clock.synchronised()
    clock.set_synchronised(True)
    assert clock.synchronised()


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(START).set_wall(datetime(2025, 1, 1))


def test_manual_clock_is_thread_safe() -> None:
    clock = ManualClock(START)

    def tick() -> None:
        for _ in range(1000):
            clock.advance(0.25)

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.monotonic() == 1000.0


def test_system_clock_uses_the_injected_sync_probe() -> None:
    answers = iter([False, True])
    clock = SystemClock(sync_probe=lambda: next(answers))
    assert not clock.synchronised()
    assert clock.synchronised()
    assert clock.wall().tzinfo is UTC
    before = clock.monotonic()
    assert clock.monotonic() >= before


def test_timesyncd_probe_checks_the_marker_file(tmp_path: Path) -> None:
    marker = tmp_path / "synchronized"
    dock = tmp_path / "dock-synchronized"
    assert not timesyncd_synchronised(marker, dock)
    marker.touch()
    assert timesyncd_synchronised(marker, dock)


def test_the_docks_signed_time_also_counts_as_synchronised(tmp_path: Path) -> None:
    """bodycam-clock.service leaves its marker once it set the clock in the dock."""
    dock = tmp_path / "dock-synchronized"
    assert not timesyncd_synchronised(tmp_path / "none", dock)
    dock.write_text("2026-12-06T08:00:00.000Z")
    assert timesyncd_synchronised(tmp_path / "none", dock)

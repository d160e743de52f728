"""GridPacer: the clock-driven production grid behind the simulated camera and microphone."""

from __future__ import annotations

import threading
from fractions import Fraction

from bodycam.hal.clocks import ManualClock
from bodycam.hal.sim.pacing import GridPacer


def run_pacer(clock: ManualClock, produce_extra: dict[int, float], count: int,
              fail_at: int | None = None) -> tuple[GridPacer, list[int]]:
    """Run a 0.1 s grid until `count` items; produce_extra[i] = seconds item i takes."""
    produced: list[int] = []
    done = threading.Event()

    def produce(index: int) -> None:
        if index == fail_at:
            done.set()
            raise RuntimeError("encoder broke")
        if len(produced) < count:
            produced.append(index)
        clock.advance(produce_extra.get(index, 0.0))  # a slow producer, in clock time
        if len(produced) >= count:
            done.set()

    pacer = GridPacer("test", clock, Fraction(1, 10), produce)
    pacer.start()
    assert done.wait(10)
    while clock.monotonic() < 5.0:  # let the thread run on (it advances the clock itself)
        threading.Event().wait(0.001)
    pacer.stop()
    return pacer, produced


def test_items_follow_the_grid_from_the_start_time() -> None:
    pacer, produced = run_pacer(ManualClock(start_monotonic=0.95), {}, 4)
    assert produced == [10, 11, 12, 13]
    assert pacer.pts_us(10) == 1_000_000 and pacer.dropped == 0


def test_short_delays_are_caught_up_without_loss() -> None:
    pacer, produced = run_pacer(ManualClock(), {1: 0.5}, 8)
    assert produced == list(range(8))
    assert pacer.dropped == 0


def test_falling_more_than_a_second_behind_drops_like_a_sensor() -> None:
    pacer, produced = run_pacer(ManualClock(), {1: 2.55}, 4)
    # item 1 ended at 2.65 s: items 2..26 are more than 1 s late and skipped
    assert produced == [0, 1, 27, 28]
    assert pacer.dropped == 25


def test_a_failing_producer_stops_delivering() -> None:
    clock = ManualClock()
    _, produced = run_pacer(clock, {}, 99, fail_at=3)
    assert produced == [0, 1, 2]  # nothing more during the 5 s that followed

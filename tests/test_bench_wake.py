"""The press-to-first-frame benchmark (tools/bench/wake.py) measures what it claims: the
camera really is stopped in idle without pre-record and running with it, and each press
yields one sample (figures are reported, never judged here: the machine is shared)."""

from __future__ import annotations

import math

from bodycam.tools.bench.wake import measure_press_to_first_frame


def test_press_to_first_frame_reports_both_modes() -> None:
    result = measure_press_to_first_frame(2)
    assert len(result["samples_standby_ms"]) == len(result["samples_running_ms"]) == 2
    for key in ("standby_p50_ms", "standby_max_ms", "running_p50_ms", "running_max_ms"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert math.isfinite(result["standby_cost_ms"])

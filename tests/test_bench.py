"""`bodycam bench`: the quick run produces every figure as a number (no timing limits)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest

from bodycam.firmware.config.model import AudioConfig, VideoConfig
from bodycam.hal.interfaces import AudioChunk, VideoPacket
from bodycam.tools.bench.age_header import measure_headers
from bodycam.tools.bench.media import encode_stream, replay
from bodycam.tools.bench.report import FIGURES, format_table


@pytest.fixture(scope="module")
def quick_report() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bodycam.firmware.cli", "bench", "--quick", "--json"],
        capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)  # --json: stdout is only the JSON
    return report


@pytest.mark.slow
def test_quick_bench_reports_every_figure_as_a_number(quick_report: dict[str, Any]) -> None:
    assert quick_report["errors"] == {}
    for key in FIGURES:
        value = quick_report[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value), (key, value)
        assert key in quick_report["targets"] and key in quick_report["ok"]
    assert quick_report["context"]["quick"] is True
    assert set(quick_report["how_measured"]) == set(quick_report["details"])


@pytest.mark.slow
def test_quick_bench_measured_what_it_claims(quick_report: dict[str, Any]) -> None:
    details = quick_report["details"]
    for run in details["pipeline"]["runs"]:
        assert run["verification"] == "verified"
        assert run["dropped_items"] == 0
        assert run["recipient"] == "x25519"
    for run in details["pipeline"]["runs_hybrid"]:
        assert run["verification"] == "verified"
        assert run["dropped_items"] == 0
        assert run["recipient"] == "hybrid"
    assert len(details["pipeline"]["runs_hybrid"]) == len(details["pipeline"]["runs"])
    assert details["pipeline"]["video"] == "1920x1080@30"
    assert details["prerecord"]["bytes_held"] > 0
    assert details["av_sync"]["pairs"] >= 1


@pytest.mark.slow
def test_table_has_a_row_per_figure(quick_report: dict[str, Any]) -> None:
    table = format_table(quick_report)
    for key in FIGURES:
        assert key in table


def test_replay_loops_the_stream_with_continuous_timestamps_and_fresh_payloads() -> None:
    video = VideoConfig(width=160, height=96, fps=10, bitrate_kbps=200, keyframe_interval=5)
    audio = AudioConfig(enabled=True, sample_rate=8000, channels=1, bitrate_kbps=32)
    stream = encode_stream(0.3, video, audio)  # rounded up to one GOP: 0.5 s
    assert stream.loop_us == 500_000 and len(stream.video) == 5

    items = list(replay(stream, 1.2, start_us=1_000_000))

    frames = [i for i in items if isinstance(i, VideoPacket)]
    chunks = [i for i in items if isinstance(i, AudioChunk)]
    assert [f.pts_us for f in frames] == [1_000_000 + n * 100_000 for n in range(12)]
    assert [f.keyframe for f in frames] == [n % 5 == 0 for n in range(12)]
    assert [c.pts_us for c in chunks] == [1_000_000 + n * 20_000 for n in range(60)]
    assert [i.pts_us for i in items] == sorted(i.pts_us for i in items)
    assert frames[5].data == stream.video[0].data
    assert frames[5].data is not stream.video[0].data  # a camera delivers fresh buffers


def test_header_benchmark_measures_real_headers_of_each_kind() -> None:
    """The sizes are fixed by the age format: 168 bytes for one X25519 stanza, 1627 for
    one mlkem768x25519 stanza (1120-byte encapsulated key); 98 and 1557 more per extra
    recipient."""
    one, two = measure_headers(3), measure_headers(3, recipients_per_header=2)
    assert (one["x25519"]["header_bytes"], one["hybrid"]["header_bytes"]) == (168, 1627)
    assert (two["x25519"]["header_bytes"], two["hybrid"]["header_bytes"]) == (266, 3184)
    for kind in ("x25519", "hybrid"):
        for step in ("create", "decrypt"):
            timing = one[kind][step]
            assert 0 < timing["median_ms"] <= timing["p99_ms"]

"""`bodycam-server bench`: a tiny run yields every figure as a positive number, measured
on what it claims (no timing limits: the machine is shared)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bodycam.server.bench.curl import CURL_MISSING, CurlTarget, curl_upload
from bodycam.server.bench.report import FIGURES, TARGETS, format_table, nearest_rank

TINY = ("--segment-kib", "64", "--segments", "2", "--repeats", "1",
        "--camera-recordings", "1")


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bodycam.server.cli", "bench", *args],
                          capture_output=True, text=True, check=False, timeout=900)


@pytest.fixture(scope="module")
def tiny_report() -> dict[str, Any]:
    done = bench("--json", *TINY)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)  # --json: stdout is only the JSON
    return report


@pytest.mark.slow
@pytest.mark.system_clock
def test_every_figure_is_a_positive_number_with_its_target(
        tiny_report: dict[str, Any]) -> None:
    assert tiny_report["errors"] == {}
    for key in FIGURES:
        value = tiny_report[key]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, value)
        assert key in tiny_report["how_measured"]
        assert tiny_report["targets"][key] == (TARGETS[key].text if key in TARGETS else "-")
        assert tiny_report["ok"][key] in ((True, False) if key in TARGETS else (None,))
    assert tiny_report["context"]["plan"] == {
        "segment_bytes": 65536, "segments": 2, "repeats": 1, "camera_recordings": 1,
        "cameras": 8, "link_mbit": 50.0}


@pytest.mark.slow
@pytest.mark.system_clock
def test_the_figures_come_from_what_was_uploaded(tiny_report: dict[str, Any]) -> None:
    details = tiny_report["details"]
    [camera] = details["single_camera"]["camera"]
    [curl] = details["single_camera"]["curl"]
    # the same sizes both ways: two segments of 64 KiB of media plus age's overhead
    assert camera["bytes"] == curl["bytes"] > 2 * 65536
    assert camera["files"] == 2 and camera["held_before"] == 0
    assert curl["requests"] == 4  # manifest, one PATCH per segment, receipt
    assert camera["cpu_s"] > 0 and camera["last_byte_to_receipt_s"] > 0
    eight = details["eight_cameras"]
    assert eight["cameras"] == 8 and eight["recordings"] == 8
    assert eight["bytes"] == 8 * camera["bytes"]
    link = details["shaped_link"]
    [link_camera], [link_curl] = link["runs"], link["curl"]
    assert link_camera["bytes"] == link_curl["bytes"] == camera["bytes"]
    assert link["rate_mbit"] == 50.0
    # what a plain TCP stream gets through the same shaped link: below the rate, not 0
    assert 0 < link["tcp_stream_share"] < 1
    # the server's peak memory is a whole Python server's, not a child's or a stub's
    assert tiny_report["server_peak_rss_mb"] > 20


@pytest.mark.slow
@pytest.mark.system_clock
def test_the_table_has_a_row_per_figure(tiny_report: dict[str, Any]) -> None:
    table = format_table(tiny_report)
    for key in FIGURES:
        assert key in table
    assert "ERROR" not in table


@pytest.mark.parametrize("args", [("--segments", "0", 1000), ("--repeats", "x", 1000),
                                  ("--segment-kib", "1048577", 1048576)])
def test_a_size_out_of_range_is_refused_naming_the_range(args: tuple[str, str, int]) -> None:
    option, value, high = args
    done = bench(option, value)
    assert done.returncode == 2
    assert f"{value!r} is not a whole number from 1 to {high}" in done.stderr


def test_without_curl_the_comparison_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    target = CurlTarget("https://127.0.0.1:1", tmp_path / "ca.pem", "")
    with pytest.raises(RuntimeError) as raised:
        curl_upload(None, None, "BENCH", target, tmp_path)  # type: ignore[arg-type]
    assert str(raised.value) == CURL_MISSING and "apt-get install curl" in CURL_MISSING


def test_nearest_rank_p99_is_a_sample_that_happened() -> None:
    assert nearest_rank([float(n) for n in range(1, 101)], 0.99) == 99.0
    assert nearest_rank([3.0, 1.0, 2.0], 0.99) == 3.0
    assert nearest_rank([0.5], 0.99) == 0.5

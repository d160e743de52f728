"""`python -m bodycam.server.bench.deletion` at a small size: it deletes every seeded
recording and every blob it stored, and reports each figure. The figures themselves
are not judged here (a shared machine)."""

from __future__ import annotations

import json

import pytest

from bodycam.server.bench.deletion import main


def test_the_deletion_bench_deletes_everything_it_seeded_and_reports_figures(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--recordings", "12", "--cameras", "3", "--repeats", "2",
                 "--backend", "sqlite", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == {}
    figures = report["figures"]["sqlite"]
    assert len(figures["runs_ms_per_recording"]) == 2
    assert figures["blobs_per_run"] == 12 * 4  # three segments and a manifest each
    assert 0 < figures["blob_ms_per_recording"] < figures["ms_per_recording"]
    assert figures["statements_per_recording"] > 0


def test_the_deletion_bench_refuses_a_plan_of_nothing(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--recordings", "0"])
    assert "--recordings must be 1 or more" in capsys.readouterr().err

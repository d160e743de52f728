"""`bodycam-server bench --evidence` at a small size, on both databases: every figure is
measured (none missing, none failed) and the JSON has the shape the README's table is
made from. The figures themselves are not judged here (a shared machine)."""

from __future__ import annotations

import json

from server_rig import run_server

from bodycam.server.bench.evidence import FIGURES


def test_the_evidence_bench_measures_every_figure_on_both_databases() -> None:
    result = run_server("bench", "--evidence", "--json", "--recordings", "120",
                        "--cameras", "6", "--requests", "3", "--browsers", "2",
                        "--ingest-segments", "1", check=False)
    report = json.loads(result.stdout)
    assert report["errors"] == {}, report["errors"]
    assert result.returncode == 0
    assert set(report["figures"]) == {"sqlite", "postgresql"}
    for name, figures in report["figures"].items():
        assert list(figures) == list(FIGURES)
        missing = [k for k, v in figures.items() if v is None]
        assert missing == [], (name, missing)
        assert figures["audit_records"] >= 120  # one per seeded recording, and more
        assert 0 < figures["search_page_p50_ms"] <= figures["search_page_p95_ms"]
        assert 0 < figures["recording_page_p50_ms"] <= figures["recording_page_p95_ms"]
        assert figures["pages_served_while_ingesting"] > 0
        assert figures["split_pages_served_while_ingesting"] > 0  # serve --part people
        runs = report["details"][name]["retention_runs"]
        assert runs["first"]["registered"] == 120 and runs["first"]["pending"] == 0
        assert runs["two_days_on"]["pending"] > 0  # the month's first day expired
    assert report["context"]["plan"]["recordings"] == 120

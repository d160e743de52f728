"""`bodycam-keyholder bench` at a small size: it runs a real key holder over its socket
and prints every figure the README quotes (no timing is asserted: shared machine)."""

from __future__ import annotations

import json

import pytest

from bodycam.server.keyholder.cli import main


def test_bench_prints_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--grants", "3", "--segments", "2", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert [f["authority"] for f in figures] == ["X25519", "post-quantum (mlkem768x25519)"]
    for f in figures:
        assert set(f) == {"authority", "grants", "segments_per_grant", "grant_p50_ms",
                          "grant_p95_ms", "per_segment_ms", "grants_per_s", "segments_per_s"}
        assert (f["grants"], f["segments_per_grant"]) == (3, 2)
        assert f["grant_p95_ms"] >= f["grant_p50_ms"] > 0 and f["grants_per_s"] > 0

"""Wall-clock steps in the export report (audit L12): a marker's wall time a year off
never reaches the custodian without a flag, and the flag says whether a signed `clock`
record explains it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from export_support import export, report_of
from media_fixtures import clip
from test_evidence_support import AgeIdentity
from test_export import _mux_segment

from bodycam.firmware.evidence.signed_log import utc_iso
from bodycam.firmware.evidence.store import FileEvidenceStore, FileRecordingWriter
from bodycam.hal.clocks import ManualClock
from bodycam.tools.custody.export.clock import wall_flags

pytest_plugins = ("export_fixtures",)

START = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
YEAR_S = 365 * 86400


def at(seconds: float) -> str:
    return utc_iso(START + timedelta(seconds=seconds))


def manifest(*records: dict[str, Any]) -> list[dict[str, Any]]:
    """Header at media 0 and wall START, a segment opened with it, then `records`."""
    return [{"event": "header", "start": at(0), "prerecord_us": 0,
             "clock_synchronised": True},
            {"event": "segment_open", "index": 0, "media_start_us": 0, "wall_start": at(0)},
            *records]


def marker(media_s: float, wall_s: float) -> dict[str, Any]:
    return {"event": "marker", "media_us": int(media_s * 1e6), "wall": at(wall_s)}


def step(media_s: float, seconds: float) -> dict[str, Any]:
    """A manifest `clock` record as docs/formats.md defines it (some fields left out)."""
    return {"event": "clock", "media_us": int(media_s * 1e6), "step_seconds": seconds}


def test_wall_times_that_follow_media_time_are_not_flagged() -> None:
    records = manifest(marker(1.0, 1.0), marker(5.0, 6.5),  # 1.5 s: latency, not a step
                       {"event": "segment_open", "index": 1, "media_start_us": 60_000_000,
                        "wall_start": at(60)})
    assert wall_flags(records) == []


def test_a_marker_after_a_signed_step_back_is_flagged_as_explained() -> None:
    (flag,) = wall_flags(manifest(step(1.0, -YEAR_S), marker(1.5, 1.5 - YEAR_S)))
    assert flag.what == "marker 1" and flag.off_s == pytest.approx(-YEAR_S)
    assert flag.went_back and flag.explained_by == (0,)
    note = flag.note([step(1.0, -YEAR_S)])
    assert "-365.00 days" in note and "went backwards" in note
    assert "explained by the signed clock record(s) at media 1.000 s" in note


def test_a_step_without_a_clock_record_is_flagged_as_unexplained() -> None:
    (flag,) = wall_flags(manifest(marker(1.5, 1.5 - YEAR_S)))
    assert flag.explained_by == ()
    assert "no clock record in the manifest explains it" in flag.note([])


def test_segment_wall_times_inconsistent_with_media_time_are_flagged() -> None:
    records = manifest({"event": "segment", "index": 0, "media_start_us": 0,
                        "wall_start": at(0)},
                       {"event": "segment_open", "index": 1, "media_start_us": 2_000_000,
                        "wall_start": at(2 + 3600)})
    (flag,) = wall_flags(records)
    assert flag.what == "segment 1" and flag.off_s == pytest.approx(3600)
    assert not flag.went_back and flag.explained_by == ()


def test_a_step_undone_later_flags_only_the_times_between() -> None:
    records = manifest(step(1.0, -YEAR_S), marker(2.0, 2.0 - YEAR_S),
                       step(3.0, YEAR_S), marker(4.0, 4.0))
    (flag,) = wall_flags(records)
    assert flag.what == "marker 1" and flag.explained_by == (0,)


def test_a_step_noticed_just_after_a_marker_explains_it() -> None:
    """The camera looks at its clock once a second: the record can come after a marker
    the step already moved, and a later, unrelated step must not spoil the sum."""
    records = manifest(marker(5.5, 5.5 - YEAR_S), step(5.9, -YEAR_S),
                       marker(10.0, 10.0 - YEAR_S), step(11.0, 3600.0))
    first, second = wall_flags(records)
    assert first.explained_by == (0,) and second.explained_by == (0,)


def test_steps_that_do_not_add_up_do_not_explain() -> None:
    (flag,) = wall_flags(manifest(step(1.0, -60.0), marker(2.0, 2.0 - YEAR_S)))
    assert flag.explained_by == ()


def record_with_a_clock_step(writer: FileRecordingWriter, *, signed: bool) -> None:
    """The audit's clockjump: the clock goes back a year 1 s into a 4 s recording, and
    the wearer marks a moment at 1.5 s."""
    _mux_segment(writer.open_segment(0, START), clip(4.0)).close(4_000_000)
    if signed:  # the record FileRecordingWriter.note_clock_step writes (docs/formats.md)
        writer._append("clock", media_us=1_000_000, step_seconds=-float(YEAR_S),
                       wall_before=at(1.0), wall_after=at(1.0 - YEAR_S), synchronised=True)
    writer.add_marker(1_500_000, START + timedelta(seconds=1.5 - YEAR_S))
    writer.add_marker(3_000_000, START + timedelta(seconds=3.0 - YEAR_S))
    writer.seal("stopped by wearer")


@pytest.mark.parametrize("signed", [True, False], ids=["clock record", "no clock record"])
def test_the_report_flags_a_marker_a_year_off(
        tmp_path: Path, store: FileEvidenceStore, clock: ManualClock,
        identity: AgeIdentity, *, signed: bool) -> None:
    writer = store.begin_recording(wall_start=START, clock_synchronised=True,
                                   prerecord_us=0)
    record_with_a_clock_step(writer, signed=signed)
    out = tmp_path / "clockjump.mp4"
    assert export(writer.directory, identity, out) == 0  # a step is no integrity failure
    report = report_of(out)
    first, second = report["markers"]  # type: ignore[misc]
    assert first["wall"] == utc_iso(START + timedelta(seconds=1.5 - YEAR_S))  # as signed
    for entry in (first, second):
        assert "-365.00 days" in entry["wall_flag"]
        assert ("explained by the signed clock record(s) at media 1.000 s" if signed else
                "no clock record in the manifest explains it") in entry["wall_flag"]
    section = report["clock"]
    assert len(section["flagged_wall_times"]) == 2  # type: ignore[index]
    assert section["steps"] == ([{"media_us": 1_000_000, "step_seconds": -float(YEAR_S),  # type: ignore[index]
                                  "wall_before": at(1.0), "wall_after": at(1.0 - YEAR_S),
                                  "synchronised": True}] if signed else [])
    notes = " ".join(report["notes"])  # type: ignore[arg-type]
    assert "marker 1 at media 1.500 s" in notes and "marker 2 at media 3.000 s" in notes

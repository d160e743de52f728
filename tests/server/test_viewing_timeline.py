"""The player's timeline from a camera's signed manifest: segments, the wearer's marker
and the gaps (an open one runs to the end) in media seconds; a manifest changed after
signing gives no timeline at all."""

from __future__ import annotations

from pathlib import Path

from test_evidence_support import TS_PACKET, age_identity, make_store, new_session

from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.hal.clocks import ManualClock
from bodycam.server.viewing.timeline import view_timeline


def _recording(tmp_path: Path) -> Path:
    clock = ManualClock(start_monotonic=50.0)
    store = make_store(tmp_path, age_identity(tmp_path), clock, new_session(clock))
    writer = store.begin_recording(wall_start=clock.wall(), clock_synchronised=True,
                                   prerecord_us=0)
    for index in range(2):
        segment = writer.open_segment(index * 10_000_000, clock.wall())
        segment.write(TS_PACKET * 50)
        clock.advance(10)
        segment.close((index + 1) * 10_000_000)
    writer.add_marker(3_500_000, clock.wall())
    writer.note_gap("microphone", 12_000_000, 13_000_000)
    writer.note_gap("camera", 18_000_000, None)
    writer.seal("stopped by wearer")
    return writer.directory / MANIFEST_NAME


def test_segments_markers_and_gaps_in_media_seconds(tmp_path: Path) -> None:
    timeline = view_timeline(_recording(tmp_path).read_bytes())
    assert timeline["verified"] is True
    assert [(s["start_s"], s["end_s"]) for s in timeline["segments"]] == [(0.0, 10.0),
                                                                          (10.0, 20.0)]
    (marker,) = timeline["markers"]
    assert marker["media_s"] == 3.5 and marker["wall"]
    assert timeline["gaps"] == [{"source": "microphone", "start_s": 12.0, "end_s": 13.0},
                                {"source": "camera", "start_s": 18.0, "end_s": None}]


def test_a_manifest_changed_after_signing_gives_no_timeline(tmp_path: Path) -> None:
    data = _recording(tmp_path).read_bytes().replace(b'"media_us":3500000', b'"media_us":3600000')
    assert b"3600000" in data
    assert view_timeline(data) == {"verified": False, "segments": [], "markers": [],
                                   "gaps": []}

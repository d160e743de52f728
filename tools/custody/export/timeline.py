"""The recording's markers and gaps, placed on the exported MP4's timeline.

The custodian reads the report next to the video: a marker the wearer set, or a stretch
where the camera or microphone delivered nothing, must be findable in the MP4 (its own
time) and in the world (wall-clock time), not only in the manifest's media time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from bodycam.firmware.evidence.signed_log import utc_iso
from bodycam.tools.custody.export.clock import (
    clock_section,
    clock_steps,
    parse_wall,
    wall_flags,
)

__all__ = ["merged_gaps", "recording_timeline", "wall_at"]


def recording_timeline(records: Sequence[Mapping[str, Any]],
                       offset_s: float | None) -> dict[str, Any]:
    """The manifest's markers and gaps, placed on the MP4's timeline for the custodian.

    Media times in the manifest count from the recording's first packet; `offset_s`
    converts them to MP4 time. A gap record has no wall time of its own, so it is
    derived from the segment whose start it follows (each segment_open pairs a media
    time with the wall clock). A wall time that does not follow the recording's start
    clock (the clock stepped) carries its flag (`wall_flag`), and so does one derived
    from it; `clock` lists the steps and every flagged wall time.
    """
    flags = {flag.what: flag.note(clock_steps(records)) for flag in wall_flags(records)}
    anchors = sorted((r["media_start_us"], r["wall_start"], f"segment {r.get('index')}")
                     for r in records if r.get("event") == "segment_open"
                     and isinstance(r.get("media_start_us"), int)
                     and isinstance(r.get("wall_start"), str))

    def place(media_us: Any) -> dict[str, Any]:
        if not isinstance(media_us, int):
            return {"media_s": None, "mp4_s": None, "wall": None, "wall_flag": None}
        media_s = media_us / 1_000_000
        wall, anchor = wall_at(anchors, media_us)
        return {"media_s": media_s,
                "mp4_s": None if offset_s is None else round(media_s + offset_s, 6),
                "wall": wall, "wall_flag": flags.get(anchor or "")}

    marker_records = [r for r in records if r.get("event") == "marker"]
    markers = [{**place(r.get("media_us")), "wall": r.get("wall"),
                "wall_flag": flags.get(f"marker {number}")}
               for number, r in enumerate(marker_records, 1)]
    gaps = [{"source": r.get("source"),
             **{f"start_{k}": v for k, v in place(r.get("start_us")).items()},
             **{f"end_{k}": v for k, v in place(r.get("end_us")).items()}}
            for r in merged_gaps(records)]
    return {"markers": markers, "gaps": gaps, "clock": clock_section(records)}


def merged_gaps(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One gap record per (source, start), in order of opening; a closing record (end
    known) wins over the opening one."""
    gaps: dict[tuple[Any, Any], Mapping[str, Any]] = {}
    for record in records:
        if record.get("event") != "gap":
            continue
        key = (record.get("source"), record.get("start_us"))
        if key not in gaps or record.get("end_us") is not None:
            gaps[key] = record
    return list(gaps.values())


def wall_at(anchors: Sequence[tuple[int, str, str]],
            media_us: int) -> tuple[str | None, str | None]:
    """Wall time of a media time, from the last segment start at or before it, and
    which segment that was."""
    before = [a for a in anchors if a[0] <= media_us]
    if not before:
        return None, None
    start_us, wall, label = before[-1]
    moment = parse_wall(wall)
    if moment is None:
        return None, label
    return utc_iso(moment + timedelta(microseconds=media_us - start_us)), label

"""Wall-clock steps during a recording, flagged wherever the report gives a wall time.

Media time (the camera's monotonic clock) never jumps; the wall clock can (NTP, the
dock, someone setting the time). Every wall time the manifest holds (the header's
start, each segment's wall_start, each marker's wall) should therefore advance with
media time from the recording's start. One that does not, by more than the camera's
own step threshold, is flagged: with the signed `clock` records (the camera noticed a
step) whose steps add up to it, or as unexplained, so a custodian never reads a wall
time a year off without being told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from bodycam.firmware.evidence.signed_log import utc_iso

__all__ = ["TOLERANCE_S", "WallFlag", "clock_section", "clock_steps", "parse_wall", "wall_flags"]

# The camera records a `clock` step when the wall clock moves more than this against
# the monotonic clock (ClockWatch's threshold); smaller differences are latency.
TOLERANCE_S: Final = 2.0
_ENVELOPE: Final = frozenset({"seq", "prev", "sig", "time", "event", "signer"})
# The camera looks at its clock once a second: a `clock` record's media_us may come up
# to about that much media after the step (docs/formats.md, clock records); doubled.
_NOTICED_WITHIN_US: Final = 2_000_000


@dataclass(frozen=True)
class _Reading:
    """One wall time in the manifest and the media time it belongs to."""

    what: str  # "segment 2", "marker 1" (1-based, as in the report's list)
    media_us: int
    wall: datetime


@dataclass(frozen=True)
class WallFlag:
    """A wall time that does not follow the recording's start clock."""

    what: str
    media_us: int
    wall: datetime
    expected: datetime  # start wall time + media time since the start
    off_s: float  # wall - expected
    went_back: bool  # earlier than the wall time before it in the manifest
    explained_by: tuple[int, ...]  # 0-based indexes into the clock steps; () unexplained

    def note(self, steps: Sequence[Mapping[str, Any]]) -> str:
        direction = " (the wall clock went backwards)" if self.went_back else ""
        head = (f"{self.what} at media {self.media_us / 1e6:.3f} s: wall time "
                f"{utc_iso(self.wall)} is {_duration(self.off_s)} off the recording's "
                f"start clock ({utc_iso(self.expected)}){direction}; ")
        if self.explained_by:
            named = ", ".join(f"at media {_media_s(steps[i])} s, step "
                              f"{steps[i].get('step_seconds')} s" for i in self.explained_by)
            return head + f"explained by the signed clock record(s) {named}"
        return head + ("no clock record in the manifest explains it: treat this wall time "
                       "as unreliable (the camera's audit log may record the step)")

    def to_json(self, steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {"what": self.what, "media_s": self.media_us / 1e6, "wall": utc_iso(self.wall),
                "expected_wall": utc_iso(self.expected), "off_s": round(self.off_s, 3),
                "went_back": self.went_back, "explained_by": list(self.explained_by),
                "note": self.note(steps)}


def clock_steps(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The manifest's signed `clock` records (fields as signed, without the envelope)."""
    return [{k: v for k, v in r.items() if k not in _ENVELOPE} for r in records
            if r.get("event") == "clock"]


def wall_flags(records: Sequence[Mapping[str, Any]]) -> list[WallFlag]:
    """Every wall time in the manifest more than TOLERANCE_S off the start clock."""
    readings = _readings(records)
    if not readings:
        return []
    steps = clock_steps(records)
    start = readings[0]
    flags: list[WallFlag] = []
    previous = start.wall
    for reading in readings[1:]:
        expected = start.wall + timedelta(microseconds=reading.media_us - start.media_us)
        off = (reading.wall - expected).total_seconds()
        if abs(off) > TOLERANCE_S:
            flags.append(WallFlag(reading.what, reading.media_us, reading.wall, expected,
                                  off, reading.wall < previous,
                                  _explaining(steps, start.media_us, reading.media_us, off)))
        previous = reading.wall
    return flags


def clock_section(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The report's `clock`: the signed steps and the flagged wall times."""
    steps = clock_steps(records)
    header = next((r for r in records if r.get("event") == "header"), {})
    return {"synchronised_at_start": header.get("clock_synchronised"),
            "steps": steps, "tolerance_s": TOLERANCE_S,
            "flagged_wall_times": [flag.to_json(steps) for flag in wall_flags(records)]}


def _readings(records: Sequence[Mapping[str, Any]]) -> list[_Reading]:
    """Wall times in manifest order, the header's start (at media prerecord_us) first."""
    readings: list[_Reading] = []
    markers = 0
    seen_segments: set[Any] = set()
    for record in records:
        event = record.get("event")
        if event == "header":
            media, wall, what = record.get("prerecord_us", 0), record.get("start"), "start"
        elif event in ("segment_open", "segment", "recovery"):
            if record.get("index") in seen_segments:
                continue  # the same wall_start again
            seen_segments.add(record.get("index"))
            media, wall = record.get("media_start_us"), record.get("wall_start")
            what = f"segment {record.get('index')}"
        elif event == "marker":
            markers += 1
            media, wall, what = record.get("media_us"), record.get("wall"), f"marker {markers}"
        else:
            continue
        moment = parse_wall(wall)
        if isinstance(media, int) and moment is not None:
            readings.append(_Reading(what, media, moment))
    return readings


def _explaining(steps: Sequence[Mapping[str, Any]], start_us: int, media_us: int,
                off: float) -> tuple[int, ...]:
    """The clock steps since the start that add up to `off`, or () when none do.

    The camera notices a step up to about a second of media after it happened, so a
    step recorded just after `media_us` may be the one that moved it."""
    for until in (media_us, media_us + _NOTICED_WITHIN_US):
        between = [i for i, step in enumerate(steps)
                   if isinstance(step.get("media_us"), int)
                   and start_us <= step["media_us"] <= until
                   and isinstance(step.get("step_seconds"), int | float)]
        total = sum(float(steps[i]["step_seconds"]) for i in between)
        if between and abs(total - off) <= TOLERANCE_S:
            return tuple(between)
    return ()


def parse_wall(value: Any) -> datetime | None:
    """A manifest wall time, or None when it is not one (damaged, or without a zone)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _media_s(step: Mapping[str, Any]) -> str:
    media = step.get("media_us")
    return f"{media / 1e6:.3f}" if isinstance(media, int) else "?"


def _duration(seconds: float) -> str:
    """Signed seconds, with days when that helps a reader (a year off reads as such)."""
    text = f"{seconds:+.3f} s"
    return text + f" ({seconds / 86400:+.2f} days)" if abs(seconds) >= 86400 else text

"""What the player draws under the picture: each segment's stretch, the wearer's markers
and the gaps where the camera or microphone delivered nothing, in the recording's media
seconds, read from the camera's signed manifest (only when its chain and signatures
verify: a page must not show markers nobody signed). The export's reader places them
(tools/custody/export/timeline.py), so the player and the exported MP4's report agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bodycam.firmware.evidence.verify_chain import check_chain
from bodycam.tools.custody.export.timeline import recording_timeline

__all__ = ["view_timeline"]


def _seconds(value: Any) -> float | None:
    return value / 1_000_000 if isinstance(value, int) else None


def view_timeline(manifest: bytes) -> dict[str, Any]:
    """{"verified", "segments": [{file, start_s, end_s}], "markers": [{media_s, wall}],
    "gaps": [{source, start_s, end_s}]}; nothing but verified=False when the manifest
    does not verify (the key holder would not have granted it anyway)."""
    result = check_chain(Path("manifest.jsonl"), data=manifest)
    if result.problems or not result.lines:
        return {"verified": False, "segments": [], "markers": [], "gaps": []}
    records = [line.record for line in result.lines]
    placed = recording_timeline(records, None)
    segments = [{"file": r.get("file"), "start_s": _seconds(r.get("media_start_us")),
                 "end_s": _seconds(r.get("media_end_us"))}
                for r in records if r.get("event") == "segment"]
    return {"verified": True, "segments": segments,
            "markers": [{"media_s": m["media_s"], "wall": m["wall"]}
                        for m in placed["markers"]],
            "gaps": [{"source": g["source"], "start_s": g["start_media_s"],
                      "end_s": g["end_media_s"]} for g in placed["gaps"]]}

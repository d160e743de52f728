"""Time to compose one front-display frame: the live preview with the recording mark.

The DisplayRenderer crops, mirrors and scales a preview frame of the simulated camera's
preview size (256x144, the simulator's moving scene) to the panel and draws the REC
mark with the running time; that is measured per frame. The conversion the display
driver then does (to the panel's mode; Floyd-Steinberg dithering on monochrome panels)
is timed as well and reported alongside, since the display thread pays for both.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bodycam.firmware.device.renderer import DisplayRenderer, OverlayState
from bodycam.hal.interfaces import PanelMode, PreviewFrame
from bodycam.hal.luma_display import to_panel_mode
from bodycam.hal.sim.scene import Scene

PREVIEW_SIZE = (256, 144)  # what SimCamera delivers for 16:9 video (PREVIEW_SHORT_SIDE)
DISTINCT_PREVIEWS = 30
WARMUP_FRAMES = 10  # font loading and first-use caches are not per-frame costs
PANELS: dict[str, tuple[tuple[int, int], PanelMode]] = {
    "colour_128x128": ((128, 128), "RGB"),
    "mono_128x64": ((128, 64), "1"),
}


def preview_frames(count: int = DISTINCT_PREVIEWS) -> list[PreviewFrame]:
    width, height = PREVIEW_SIZE
    scene = Scene(width, height)
    wall = datetime(2025, 1, 1, tzinfo=UTC)
    return [PreviewFrame(scene.render(i + 1, 30, wall), i * 66_666) for i in range(count)]


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.asarray(samples_s) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def measure_panel(size: tuple[int, int], mode: PanelMode, frames: int) -> dict[str, Any]:
    """Per-frame render time (and render + panel conversion) over `frames` frames."""
    renderer = DisplayRenderer(size, mode, mirror=True)
    previews = preview_frames()
    render_s: list[float] = []
    total_s: list[float] = []
    for i in range(WARMUP_FRAMES + frames):
        overlay = OverlayState(recording=True, elapsed_s=i / 15)
        preview = previews[i % len(previews)]
        start = time.perf_counter()
        image = renderer.render(preview, overlay)
        rendered = time.perf_counter()
        to_panel_mode(image, mode)
        done = time.perf_counter()
        if i >= WARMUP_FRAMES:
            render_s.append(rendered - start)
            total_s.append(done - start)
    render = _percentiles(render_s)
    total = _percentiles(total_s)
    return {**render, "with_panel_conversion_p50_ms": total["p50_ms"],
            "with_panel_conversion_p99_ms": total["p99_ms"], "frames": frames}


def measure_display(frames: int) -> dict[str, dict[str, Any]]:
    return {name: measure_panel(size, mode, frames) for name, (size, mode) in PANELS.items()}

"""Figures of the in-browser player (issue 12), printed as JSON: press play -> first
frame (p50/p95) and the Web Worker's decrypt speed, for a simulated recording of
`--minutes` offloaded to a real `serve` on loopback, played `--plays` times in
Debian's Chromium, each press a new key, grant and re-wrap by a real key holder.

    .venv/bin/python tests/server/viewing_bench.py --minutes 10 --plays 10

`play_figures` is also what a test runs (small) to keep the output's shape honest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: the test helpers' folders, as pytest has them
    sys.path[:0] = [str(Path(__file__).resolve().parent),
                    str(Path(__file__).resolve().parent.parent)]

from browser_rig import chromium
from playwright.sync_api import Browser
from server_fixtures import Backend, make_camera, make_server
from viewing_rig import (
    Viewing,
    open_viewing,
    press_play,
    signed_in,
    stats,
    wait_until_all_decrypted,
)

# The camera's configured bitrate (config/defaults: 4 Mbit/s video) in MB/s, the speed
# the decrypt must beat to keep up with playing.
RECORDING_MB_S = 4_000_000 / 8 / 1e6


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def play_figures(browser: Browser, viewing: Viewing, plays: int) -> dict[str, Any]:
    """Press play `plays` times (one signed-in page); the first frame's delay and the
    decrypt speed over every segment of every play."""
    page = signed_in(browser, viewing, "rita")
    # The player decrypts only what lies near the playhead (a minute ahead): widened here
    # so every segment is decrypted and timed, as the figure says. The first frame does
    # not depend on it (the first segment is always decrypted first).
    page.add_init_script("window.bodycamPlayerWindow = { aheadS: 1e9, behindS: 1e9 };")
    first: list[float] = []
    decrypted_bytes = 0
    decrypt_ms = 0.0
    for _ in range(plays):
        press_play(page, viewing)
        wait_until_all_decrypted(page, viewing)
        page.wait_for_function("() => window.bodycamPlayer.firstFrameMs !== null")
        found = stats(page)
        first.append(float(found["firstFrameMs"]))
        decrypted_bytes += sum(int(d["bytes"]) for d in found["decrypts"])
        decrypt_ms += sum(float(d["ms"]) for d in found["decrypts"])
    page.context.close()
    mb_s = decrypted_bytes / 1e6 / (decrypt_ms / 1000) if decrypt_ms else 0.0
    return {"plays": plays, "segments": len(viewing.segments()),
            "recording_bytes": sum(p.stat().st_size for p in viewing.segments()),
            "first_frame_ms": {"p50": round(statistics.median(first), 1),
                               "p95": round(_percentile(first, 0.95), 1)},
            "decrypt_mb_s": round(mb_s, 2),
            "decrypt_vs_4mbit_recording": round(mb_s / RECORDING_MB_S, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--plays", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="player-bench-") as tmp:
        directory = Path(tmp)
        # segments as long as the camera's default (config/defaults.toml: 10 s)
        camera = make_camera(directory / "camera", seconds=args.minutes * 60,
                             segment_seconds=10.0)
        server = make_server(directory, Backend("sqlite"))
        server.enrol(camera)
        viewing_steps = open_viewing(server, camera, directory, None)
        viewing = next(viewing_steps)
        server.serve()
        browsers = chromium()
        try:
            figures = play_figures(next(browsers), viewing, args.plays)
        finally:
            browsers.close()
            viewing_steps.close()
        print(json.dumps({"minutes": args.minutes, **figures}, indent=2))


if __name__ == "__main__":
    main()

"""`bodycam hal-demo`: run the simulated camera, microphone and display for a few seconds.

A developer's check of the simulated hardware layer on its own, without the firmware
(`make demo` runs the whole device). Even here no media is written to disk: only derived
facts (counts, sync marks) and one display frame as PNG.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from pathlib import Path

from PIL import Image

from bodycam.firmware.config.model import AudioConfig, DisplayConfig, VideoConfig
from bodycam.hal.clocks import SimClock
from bodycam.hal.interfaces import AudioChunk, PreviewFrame, VideoPacket
from bodycam.hal.sim.camera import SimCamera
from bodycam.hal.sim.display import SimDisplay
from bodycam.hal.sim.marks import beep_onsets_us, decode_video
from bodycam.hal.sim.microphone import SimMicrophone

LABEL = "Simulated hardware self-demo (the whole device: make demo)"

VIDEO = VideoConfig(width=640, height=360, fps=30, bitrate_kbps=2000, keyframe_interval=30)
AUDIO = AudioConfig(enabled=True, sample_rate=48000, channels=1, bitrate_kbps=64)
DISPLAY = DisplayConfig(driver="ssd1351", width=128, height=128, rotation=0, mirror=True,
                        spi_port=0, spi_device=0, spi_speed_hz=20_000_000, gpio_dc=24,
                        gpio_reset=25, fps=15)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("hal-demo-out"),
                        help="directory for display.png and summary.json")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="simulated seconds to run (default 5)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="simulated seconds per real second (default 1.0)")


def _square_preview(frame: PreviewFrame, size: tuple[int, int]) -> Image.Image:
    """Centre-crop and scale a preview for the panel (a stand-in for the firmware renderer)."""
    image = Image.fromarray(frame.rgb)
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize(size)


def run(args: argparse.Namespace) -> int:
    print(LABEL)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    clock = SimClock(speed=args.speed)
    camera = SimCamera(VIDEO, clock, preview_fps=DISPLAY.fps)
    microphone = SimMicrophone(AUDIO, clock)
    display = SimDisplay(DISPLAY)
    video: list[VideoPacket] = []
    audio: list[AudioChunk] = []
    latest: list[PreviewFrame] = []
    lock = threading.Lock()

    def on_preview(frame: PreviewFrame) -> None:
        with lock:
            latest[:] = [frame]

    started = time.monotonic()
    camera.start(video.append, on_preview)
    microphone.start(audio.append)
    begin = clock.monotonic()
    end = begin + args.seconds
    # Snapshot the panel mid-run, a quarter second away from the whole-second white flash.
    snapshot_at: float | None = math.floor(begin + args.seconds / 2) + 0.25
    while clock.monotonic() < end:  # the "renderer": show the newest preview
        with lock:
            frame = latest[0] if latest else None
        if frame is not None:
            display.show(_square_preview(frame, display.size))
        if snapshot_at is not None and clock.monotonic() >= snapshot_at:
            display.save_png(out / "display.png")
            snapshot_at = None
        clock.sleep(1 / DISPLAY.fps)
    camera.stop()
    microphone.stop()
    elapsed = time.monotonic() - started

    decoded = decode_video(video)
    beeps = beep_onsets_us(audio)
    offsets = [f - b for f in decoded.flash_pts_us for b in beeps if abs(f - b) < 500_000]
    if snapshot_at is not None:  # run too short to reach the snapshot time
        display.save_png(out / "display.png")
    summary = {
        "label": LABEL,
        "simulated_seconds": args.seconds,
        "real_seconds": round(elapsed, 3),
        "frames_encoded": camera.frames_encoded,
        "frames_dropped": camera.frames_dropped,
        "keyframes": len(decoded.keyframe_pts_us),
        "h264_bytes": sum(len(p.data) for p in video),
        "frames_decoded": decoded.frames,
        "flash_pts_us": decoded.flash_pts_us,
        "audio_seconds": round(sum(c.duration_us for c in audio) / 1e6, 3),
        "beep_onsets_us": beeps,
        "av_offsets_us": offsets,
        "display_png": str(out / "display.png"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for key, value in summary.items():
        long_list = isinstance(value, list) and len(value) > 6
        print(f"  {key}: {f'{value[:6]} ... ({len(value)})' if long_list else value}")
    ok = decoded.frames == camera.frames_encoded > 0 and bool(offsets)
    worst = max((abs(o) for o in offsets), default=0)
    print(f"  result: {'OK' if ok else 'PROBLEM'} (worst A/V offset {worst} us)")
    return 0 if ok else 1

"""Peak memory of a process holding a full pre-record buffer of the 10 Mbit/s stream.

Measured in a fresh subprocess, so neither the encoder that made the stream nor the rest
of the benchmark is counted: the parent saves the encoded loop to a temporary directory,
the child loads it, lets a real Recorder buffer `seconds` + 2 s of replayed media (fresh
payload copies, as from a camera; audio kept in the ring too, the worst case) and
reports its peak RSS (VmHWM), its RSS before buffering and the ring's own payload bytes.
The target is "100 MB plus the buffer" (MiB here).

Child entry point: ``python -m bodycam.tools.bench.prerecord INDEX.json --seconds 30``
(prints one JSON object).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bodycam.firmware.evidence.age.keys import generate_identity
from bodycam.firmware.media.recorder import Recorder
from bodycam.hal.clocks import ManualClock
from bodycam.tools.bench.media import BenchStream, drive, load_stream, replay, save_stream
from bodycam.tools.bench.pipeline import bench_evidence_config, bench_store

MIB = 1024 * 1024
BASE_ALLOWANCE_MB = 100.0  # the target: peak RSS <= this + the buffer itself
FILL_MARGIN_S = 2.0  # feed a little more than the window so the ring is full and trimming


def measure_prerecord_rss(stream: BenchStream, seconds: float = 30.0) -> dict[str, Any]:
    """Run the child on `stream` and return its report (see `hold_prerecord`)."""
    with tempfile.TemporaryDirectory(prefix="bodycam-bench-rss-") as tmp:
        index = save_stream(stream, Path(tmp))
        result = subprocess.run(
            [sys.executable, "-m", "bodycam.tools.bench.prerecord", str(index),
             "--seconds", str(seconds)],
            capture_output=True, text=True, check=False, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"the pre-record memory child failed ({result.returncode}): "
                           f"{result.stderr.strip()[-2000:]}")
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _status_mb(field: str) -> float:
    """A memory line of /proc/self/status in MiB.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over exec from the forking
    parent, so a child of a big benchmark process would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"/proc/self/status has no {field} line; this benchmark needs Linux")


def hold_prerecord(stream: BenchStream, seconds: float) -> dict[str, Any]:
    """Fill a Recorder's pre-record ring with `seconds` (+ margin); report memory."""
    baseline = _status_mb("VmRSS")
    _secret, recipient = generate_identity()
    clock = ManualClock()
    with tempfile.TemporaryDirectory(prefix="bodycam-bench-ring-") as tmp:
        recorder = Recorder(clock, bench_store(Path(tmp), recipient, clock),
                            video=stream.video_config, audio=stream.audio_config,
                            evidence=bench_evidence_config(recipient, seconds),
                            on_event=lambda _event: None)
        recorder.start()
        try:
            recorder.start_buffering()
            fed = drive(recorder, clock, replay(stream, seconds + FILL_MARGIN_S))
            held = recorder.prerecord_bytes
            peak = _status_mb("VmHWM")
        finally:
            recorder.shutdown()
    held_mb = held / MIB
    return {
        "peak_rss_mb": peak,
        "baseline_rss_mb": baseline,
        "bytes_held": held,
        "bytes_held_mb": held_mb,
        "target_mb": BASE_ALLOWANCE_MB + held_mb,
        "overhead_mb": peak - held_mb,
        "prerecord_s": seconds,
        "prerecord_audio": True,
        "items_fed": fed,
        "video_kbps": stream.video_kbps,
        "dropped_items": recorder.dropped,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path, help="index.json written by save_stream")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    print(json.dumps(hold_prerecord(load_stream(args.index), args.seconds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`bodycam bench [--json] [--quick]`: performance figures of the firmware on this machine.

A benchmark, not a test: it prints what it measured, each figure next to its target,
and never fails because a figure misses one (exit 1 only when a measurement itself could
not be made). Each figure comes from the real code path; the modules named in
`how_measured` of the JSON output describe exactly how:

* bench_pipeline: recorder -> pre-record -> TS mux (PyAV) -> age -> evidence store;
* bench_prerecord: peak RSS of a fresh process holding a full 30 s pre-record ring;
* bench_sim: A/V sync of a `bodycam sim` recording exported for court; startup time;
* bench_age: CPU of our age encryption against the `age` binary;
* bench_age_header: a segment's age header, X25519 against post-quantum hybrid
  recipients: its size, the camera's time to make it, the custodian's to open it;
* bench_press: press-to-recording on the simulated device at real speed;
* bench_wake: press-to-first-frame with the camera in standby (pre-record off) and
  running (pre-record on), on the simulated device at real speed;
* bench_display: composing one front-display frame;
* bench_report: figure names, targets, machine context and the human table.

Timings are medians (or percentiles) over repeated samples. The machine is shared and
timings vary with its load; the load average at the start is reported as context.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bodycam.tools.bench.age import measure_encrypt_ratio
from bodycam.tools.bench.age_header import measure_headers
from bodycam.tools.bench.display import measure_display
from bodycam.tools.bench.media import BenchStream, encode_stream
from bodycam.tools.bench.pipeline import measure_aac_alone, measure_pipeline
from bodycam.tools.bench.prerecord import measure_prerecord_rss
from bodycam.tools.bench.press import measure_press_latency
from bodycam.tools.bench.report import (
    FIGURES,
    TARGETS,
    format_table,
    machine_context,
    target_limit,
    target_met,
)
from bodycam.tools.bench.sim import measure_sim_av_sync, measure_startup
from bodycam.tools.bench.wake import measure_press_to_first_frame

EXIT_OK = 0
EXIT_MEASUREMENT_FAILED = 1


@dataclass(frozen=True)
class Plan:
    """How much work each section does; --quick trades precision for time."""

    stream_seconds: float  # length of the pre-encoded 1080p loop
    pipeline_runs: int
    pipeline_media_seconds: float
    pipeline_prerecord_seconds: float
    prerecord_seconds: float
    sync_record_seconds: float
    sync_speed: float
    encrypt_mb: int
    presses: int
    startup_runs: int
    display_frames: int
    header_samples: int
    wake_presses: int


FULL = Plan(stream_seconds=4, pipeline_runs=7, pipeline_media_seconds=60,
            pipeline_prerecord_seconds=30, prerecord_seconds=30, sync_record_seconds=10,
            sync_speed=3, encrypt_mb=64, presses=30, startup_runs=5, display_frames=500,
            header_samples=500, wake_presses=10)
QUICK = Plan(stream_seconds=2, pipeline_runs=3, pipeline_media_seconds=10,
             pipeline_prerecord_seconds=4, prerecord_seconds=30, sync_record_seconds=4,
             sync_speed=3, encrypt_mb=16, presses=5, startup_runs=3, display_frames=200,
             header_samples=100, wake_presses=3)


HOW_MEASURED = {
    "pipeline": "pre-encoded 1080p30 H.264 (libx264, measured bitrate in details) and 48 kHz "
                "mono int16 PCM replayed with rewritten timestamps through the real Recorder "
                "(first part buffered in the pre-record ring, then recorded), TS mux + AAC "
                "(PyAV), age encryption, FileEvidenceStore in a temp dir; clock follows media "
                "time; CPU = time.process_time() of the whole process over the pipeline only; "
                "median over runs (bodycam.tools.bench.pipeline); prerecord_flush_s = wall "
                "time from the press until the ring (pipeline_prerecord_seconds of video "
                "and audio) is muxed, encrypted and written (synced but for the last "
                "sync interval); every run is made twice in a row, to one X25519 and to "
                "one post-quantum hybrid recipient (figures *_hybrid; the ratio is the "
                "median of the pairs' ratios)",
    "prerecord": "fresh subprocess loads the encoded stream, a real Recorder buffers 30 s + "
                 "2 s; peak RSS = VmHWM (bodycam.tools.bench.prerecord)",
    "av_sync": "`bodycam sim` with a record-at-1.5 s / hold-to-stop scenario, exported with "
               "`bodycam-evidence export`, flash/beep offsets by tools.avsync (audio - "
               "video) over all pairs (bodycam.tools.bench.sim)",
    "encrypt": "tools.bench_age.measure_encrypt_ratio: median CPU of 3 runs, ours / age",
    "age_header": "one recipient of each kind; creation = constructing an AgeEncryptor (file "
                  "key, stanza, header MAC, nonce: what the camera does per segment), "
                  "decryption = open_payload with the identity (parse, unwrap, MAC: what "
                  "the custodian does per segment); perf_counter wall time, median and p99 "
                  "over header_samples after 5 warm-ups, the kinds interleaved; bytes "
                  "without the 16-byte payload nonce (bodycam.tools.bench.age_header)",
    "press": "simulated device at real speed: RECORD mock pin driven low -> red LED mock "
             "pin high with state recording, from gpiozero's mock pin change logs; "
             "buttons.hold_seconds shortened for the stop (bodycam.tools.bench.press)",
    "wake": "simulated device at real speed, pre-record off (camera in standby in idle) "
            "and on (camera running): time.monotonic() before the RECORD mock pin is "
            "driven low -> the first video packet the camera's callback delivers after "
            "it; standby_cost_ms = difference of the medians (bodycam.tools.bench.wake)",
    "startup": "spawn `python -m bodycam.firmware.cli sim` -> line 'booting -> idle'; "
               "median after one unmeasured first boot (bodycam.tools.bench.sim)",
    "display": "DisplayRenderer.render of a 256x144 preview with the REC overlay, after a "
               "warm-up; panel conversion timed separately (bodycam.tools.bench.display)",
}

Figures = dict[str, float]
Section = Callable[[Plan, Path], tuple[Figures, dict[str, Any]]]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print only one JSON object (figures, targets, details)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer samples and shorter media: a smoke run, about a third of the "
                             "full run's time")


def run(args: argparse.Namespace) -> int:
    plan = QUICK if args.quick else FULL
    report = run_bench(plan, progress=None if args.json else _progress)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    return EXIT_MEASUREMENT_FAILED if report["errors"] else EXIT_OK


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ sections


class _Stream:
    """The pre-encoded stream, made on first use and shared by two sections."""

    def __init__(self) -> None:
        self._stream: BenchStream | None = None
        self.encode_s = 0.0

    def get(self, seconds: float) -> BenchStream:
        if self._stream is None:
            started = time.perf_counter()
            self._stream = encode_stream(seconds)
            self.encode_s = time.perf_counter() - started
        return self._stream


def _pipeline(stream: _Stream) -> Section:
    def section(plan: Plan, _work: Path) -> tuple[Figures, dict[str, Any]]:
        encoded = stream.get(plan.stream_seconds)
        runs: list[dict[str, Any]] = []
        hybrid: list[dict[str, Any]] = []
        for _ in range(plan.pipeline_runs):  # interleaved: load drifts hit both kinds
            for kind, into in ((False, runs), (True, hybrid)):
                into.append(measure_pipeline(encoded, plan.pipeline_media_seconds,
                                             plan.pipeline_prerecord_seconds,
                                             post_quantum=kind))
        cpu = statistics.median(r["cpu_s_per_media_s"] for r in runs)
        cpu_hybrid = statistics.median(r["cpu_s_per_media_s"] for r in hybrid)
        ratio = statistics.median(h["cpu_s_per_media_s"] / x["cpu_s_per_media_s"]
                                  for x, h in zip(runs, hybrid, strict=True))
        factor = statistics.median(r["realtime_factor"] for r in runs)
        flush = statistics.median(r["prerecord_flush_s"] for r in runs)
        aac = statistics.median(measure_aac_alone(encoded, plan.pipeline_media_seconds)
                                for _ in range(plan.pipeline_runs))
        details = {
            "video": f"{encoded.video_config.width}x{encoded.video_config.height}@"
                     f"{encoded.video_config.fps}",
            "video_kbps_target": encoded.video_config.bitrate_kbps,
            "video_kbps_actual": round(encoded.video_kbps, 1),
            "loop_s": encoded.loop_us / 1e6,
            "pre_encode_s": round(stream.encode_s, 2),
            # The share of the pipeline that is libav's AAC encoder (same audio, alone).
            "aac_encoder_alone_cpu_s_per_media_s": aac,
            "cpu_s_per_media_s_min_max": [min(r["cpu_s_per_media_s"] for r in runs),
                                          max(r["cpu_s_per_media_s"] for r in runs)],
            "cpu_s_per_media_s_min_max_hybrid": [
                min(r["cpu_s_per_media_s"] for r in hybrid),
                max(r["cpu_s_per_media_s"] for r in hybrid)],
            "runs": runs,
            "runs_hybrid": hybrid,
        }
        return {"pipeline_cpu_s_per_media_s": cpu,
                "pipeline_cpu_s_per_media_s_hybrid": cpu_hybrid,
                "pipeline_cpu_ratio_hybrid_vs_x25519": ratio,
                "pipeline_realtime_factor": factor, "prerecord_flush_s": flush}, details
    return section


def _prerecord(stream: _Stream) -> Section:
    def section(plan: Plan, _work: Path) -> tuple[Figures, dict[str, Any]]:
        result = measure_prerecord_rss(stream.get(plan.stream_seconds), plan.prerecord_seconds)
        return {"peak_rss_mb_prerecord_30s": result["peak_rss_mb"]}, result
    return section


def _av_sync(plan: Plan, work: Path) -> tuple[Figures, dict[str, Any]]:
    result = measure_sim_av_sync(work, speed=plan.sync_speed,
                                 record_seconds=plan.sync_record_seconds)
    return {"av_sync_ms_median": result["median_ms"],
            "av_sync_ms_max_abs": result["max_abs_ms"]}, result


def _encrypt(plan: Plan, _work: Path) -> tuple[Figures, dict[str, Any]]:
    result = measure_encrypt_ratio(plan.encrypt_mb)
    return ({"encrypt_cpu_ratio_vs_age": result["encrypt_cpu_ratio_vs_age"]},
            {**result, "size_mb": plan.encrypt_mb})


def _age_header(plan: Plan, _work: Path) -> tuple[Figures, dict[str, Any]]:
    result = measure_headers(plan.header_samples)
    figures = {}
    for kind in ("x25519", "hybrid"):
        figures[f"age_header_bytes_{kind}"] = float(result[kind]["header_bytes"])
        figures[f"age_header_create_ms_{kind}"] = result[kind]["create"]["median_ms"]
        figures[f"age_header_decrypt_ms_{kind}"] = result[kind]["decrypt"]["median_ms"]
    return figures, result


def _press(plan: Plan, _work: Path) -> tuple[Figures, dict[str, Any]]:
    result = measure_press_latency(plan.presses)
    return {"press_to_recording_ms_p50": result["p50_ms"],
            "press_to_recording_ms_p99": result["p99_ms"]}, result


def _wake(plan: Plan, _work: Path) -> tuple[Figures, dict[str, Any]]:
    result = measure_press_to_first_frame(plan.wake_presses)
    return {"press_to_first_frame_ms_standby_p50": result["standby_p50_ms"],
            "press_to_first_frame_ms_prerecord_p50": result["running_p50_ms"]}, result


def _startup(plan: Plan, work: Path) -> tuple[Figures, dict[str, Any]]:
    result = measure_startup(work, plan.startup_runs)
    return {"startup_ms": result["median_ms"]}, result


def _display(plan: Plan, _work: Path) -> tuple[Figures, dict[str, Any]]:
    result = measure_display(plan.display_frames)
    colour, mono = result["colour_128x128"], result["mono_128x64"]
    return {"display_frame_ms_p50": colour["p50_ms"], "display_frame_ms_p99": colour["p99_ms"],
            "display_frame_ms_mono_p50": mono["p50_ms"],
            "display_frame_ms_mono_p99": mono["p99_ms"]}, result


def sections() -> dict[str, Section]:
    stream = _Stream()
    return {"pipeline": _pipeline(stream), "prerecord": _prerecord(stream),
            "av_sync": _av_sync, "encrypt": _encrypt, "age_header": _age_header,
            "press": _press, "wake": _wake,
            "startup": _startup, "display": _display}


# ------------------------------------------------------------------ run


def run_bench(plan: Plan, *, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every section; a failing section is reported and the others still run."""
    started = time.perf_counter()
    context = {**machine_context(), "quick": plan == QUICK, "plan": dataclasses.asdict(plan)}
    figures: dict[str, float | None] = dict.fromkeys(FIGURES)
    details: dict[str, Any] = {}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bodycam-bench-") as tmp:
        for name, section in sections().items():
            if progress is not None:
                progress(f"bench: {name} ...")
            work = Path(tmp) / name
            work.mkdir()
            section_started = time.perf_counter()
            try:
                measured, details[name] = section(plan, work)
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            figures.update(measured)
            details[name]["section_wall_s"] = round(time.perf_counter() - section_started, 2)
    context["elapsed_s"] = round(time.perf_counter() - started, 1)
    limits = {key: target_limit(key, details) for key in FIGURES}
    ok = {key: target_met(key, figures[key], limits[key]) for key in FIGURES}
    return {**figures, "targets": {k: TARGETS[k].text for k in FIGURES},
            "target_limits": limits, "ok": ok, "context": context, "details": details,
            "how_measured": HOW_MEASURED, "errors": errors}

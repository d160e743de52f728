"""`bodycam-server bench [--json] [--quick]`: what the dock offload achieves, measured.

A benchmark, not a test: it prints figures next to the issue's targets and fails (exit
1) only when a measurement could not be made. Everything is real: the camera's offload
code in processes of its own (camera.py), real `bodycam-server serve` processes
(servers.py), curl for comparison (curl.py), a veth link shaped by tc tbf into a network
namespace (tools/dev/netns.py: needs root and iproute2), recordings made by the camera's
evidence store (card.py). Figures and how each is measured: report.py.

Order of one run: one loopback server for the single-camera uploads (camera and curl
alternating) and then the eight cameras at once, its peak memory read after both; then
a second server at the far end of the shaped link.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.offload.card import sealed_recordings
from bodycam.hal.clocks import SystemClock
from bodycam.server.bench.camera import load_offload_config
from bodycam.server.bench.card import (
    DEFAULT_SEGMENT_BYTES,
    BenchDevice,
    make_device,
    make_recordings,
)
from bodycam.server.bench.curl import CurlTarget, curl_upload
from bodycam.server.bench.report import (
    FIGURES,
    HOW_MEASURED,
    TARGETS,
    format_table,
    met,
    nearest_rank,
)
from bodycam.server.bench.servers import BenchServer
from bodycam.server.bench.tcp import tcp_share
from bodycam.tools.bench.report import machine_context
from bodycam.tools.dev.netns import VethLink

__all__ = ["FULL", "QUICK", "Plan", "configure", "run", "run_bench"]

EXIT_OK: Final = 0
EXIT_MEASUREMENT_FAILED: Final = 1
MB: Final = 1e6
CAMERA_S: Final = 900.0  # real seconds one camera process may take (shared machine)
_CAMERA: Final = [sys.executable, "-m", "bodycam.server.bench.camera"]


@dataclass(frozen=True)
class Plan:
    """How much is sent; --quick and the size options trade precision for time."""

    segment_bytes: int
    segments: int  # per recording
    repeats: int  # single-camera uploads on loopback (each also by curl) and on the link
    camera_recordings: int  # per camera in the eight-camera run
    cameras: int = 8
    link_mbit: float = 50.0


FULL: Final = Plan(DEFAULT_SEGMENT_BYTES, segments=6, repeats=3, camera_recordings=3)
QUICK: Final = Plan(DEFAULT_SEGMENT_BYTES, segments=3, repeats=1, camera_recordings=1)

Figures = dict[str, float]
Progress = Callable[[str], None]


# ------------------------------------------------------------------ cameras


def _camera_command(device: BenchDevice, evidence: Path, offload: Path) -> list[str]:
    return [*_CAMERA, "--state", str(device.state_dir), "--evidence", str(evidence),
            "--device-id", device.device_id, "--offload", str(offload)]


def _result(device: BenchDevice, code: int | None, out: str, err: str) -> dict[str, Any]:
    lines = out.strip().splitlines()
    if code != 0 or not lines:
        raise RuntimeError(f"camera {device.device_id} failed (exit {code}): "
                           f"{err.strip()[-1500:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run_camera(device: BenchDevice, evidence: Path, offload: Path) -> list[dict[str, Any]]:
    """One camera process offloading `evidence`; the figures of each recording."""
    done = subprocess.run(_camera_command(device, evidence, offload), capture_output=True,
                          text=True, check=False, timeout=CAMERA_S)
    recordings: list[dict[str, Any]] = _result(device, done.returncode, done.stdout,
                                               done.stderr)["recordings"]
    return recordings


def run_cameras_together(cameras: list[tuple[BenchDevice, Path]], offload: Path
                         ) -> list[dict[str, Any]]:
    """Start every camera, wait until each has connected and taken the server's time,
    then let them all go at once; each camera's result."""
    processes = [(device, subprocess.Popen(
        [*_camera_command(device, evidence, offload), "--wait"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for device, evidence in cameras]
    try:
        for device, process in processes:
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                out, err = process.communicate(timeout=CAMERA_S)
                _result(device, process.returncode or -1, out, err)
        for _device, process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = []
        for device, process in processes:
            out, err = process.communicate(timeout=CAMERA_S)
            results.append(_result(device, process.returncode, out, err))
        return results
    finally:
        for _device, process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


# ------------------------------------------------------------------ sections


def _card(plan: Plan, device: BenchDevice, directory: Path, count: int = 1) -> Path:
    return make_recordings(device, directory, count=count, segments=plan.segments,
                           segment_bytes=plan.segment_bytes)


def _warm_up(server: BenchServer, device: BenchDevice, work: Path) -> None:
    """One small upload, not counted: a fresh server's first requests pay for imports
    and cold caches, which would otherwise land on whichever upload goes first."""
    card = make_recordings(device, work / "warm-up", count=1, segments=1,
                           segment_bytes=64 * 1024)
    run_camera(device, card, server.offload_file)


def _mb_s(item: dict[str, Any]) -> float:
    return float(item["bytes"]) / float(item["wall_s"]) / MB


def _cpu_s_per_gb(item: dict[str, Any]) -> float:
    return float(item["cpu_s"]) * 1e9 / float(item["bytes"])


@dataclass
class _Pairs:
    """Camera and curl uploads of recordings of the same sizes, one of each per repeat."""

    camera: list[dict[str, Any]]
    curl: list[dict[str, Any]]
    prepare_s: float

    def ratios(self) -> list[float]:
        return [_mb_s(a) / _mb_s(b) for a, b in zip(self.camera, self.curl, strict=True)]


def _camera_and_curl(plan: Plan, server: BenchServer, device: BenchDevice,
                     work: Path) -> _Pairs:
    """After a warm-up, per repeat one upload by the camera's code and one by curl, the
    order swapped each repeat (load drifts hit both)."""
    started = time.perf_counter()
    cards = [(_card(plan, device, work / f"camera-{i}"), _card(plan, device, work / f"curl-{i}"))
             for i in range(plan.repeats)]
    _warm_up(server, device, work)
    pairs = _Pairs([], [], time.perf_counter() - started)
    config = load_offload_config(server.offload_file)
    target = CurlTarget(server.url, server.ca_file, config.server_key)
    signer = SessionKey(device.key_store(), SystemClock())
    for index, (camera_card, curl_card) in enumerate(cards):
        def by_camera(card: Path = camera_card) -> None:
            pairs.camera.extend(run_camera(device, card, server.offload_file))

        def by_curl(card: Path = curl_card, scratch: Path = work / f"curl-{index}-scratch"
                    ) -> None:
            [recording] = sealed_recordings(card)
            pairs.curl.append(curl_upload(recording, signer, device.device_id, target,
                                          scratch))

        for step in ((by_camera, by_curl) if index % 2 == 0 else (by_curl, by_camera)):
            step()
    return pairs


def _single(plan: Plan, server: BenchServer, work: Path) -> tuple[Figures, dict[str, Any]]:
    device = make_device(work / "camera", "BENCH-SOLO")
    server.enrol(device.identity_file)
    pairs = _camera_and_curl(plan, server, device, work)
    figures = {"offload_mb_s": statistics.median(_mb_s(r) for r in pairs.camera),
               "offload_vs_curl_ratio": statistics.median(pairs.ratios()),
               "camera_cpu_s_per_gb": statistics.median(_cpu_s_per_gb(r)
                                                        for r in pairs.camera)}
    return figures, {"prepare_s": round(pairs.prepare_s, 2), "camera": pairs.camera,
                     "curl": pairs.curl, "camera_mb_s": [_mb_s(r) for r in pairs.camera],
                     "curl_mb_s": [_mb_s(r) for r in pairs.curl], "ratios": pairs.ratios()}


def _eight(plan: Plan, server: BenchServer, work: Path) -> tuple[Figures, dict[str, Any]]:
    started = time.perf_counter()
    cameras = []
    for number in range(1, plan.cameras + 1):
        device = make_device(work / f"camera-{number}", f"BENCH-CAM{number}")
        server.enrol(device.identity_file)
        cameras.append((device, _card(plan, device, work / f"camera-{number}",
                                      plan.camera_recordings)))
    prepare_s = time.perf_counter() - started
    results = run_cameras_together(cameras, server.offload_file)
    items = [item for result in results for item in result["recordings"]]
    span = max(i["ended"] for i in items) - min(i["started"] for i in items)
    total = sum(i["bytes"] for i in items)
    waits = [i["last_byte_to_receipt_s"] for i in items]
    figures = {"aggregate_mb_s": total / span / MB,
               "p99_last_byte_to_receipt_s": nearest_rank(waits, 0.99)}
    return figures, {"prepare_s": round(prepare_s, 2), "cameras": len(results),
                     "recordings": len(items), "bytes": total, "span_s": span,
                     "last_byte_to_receipt_s_median": statistics.median(waits),
                     "last_byte_to_receipt_s_max": max(waits),
                     "per_camera_mb_s": [sum(i["bytes"] for i in r["recordings"]) / MB /
                                         (max(i["ended"] for i in r["recordings"]) -
                                          min(i["started"] for i in r["recordings"]))
                                         for r in results],
                     "camera_cpu_s_per_gb": sum(i["cpu_s"] for i in items) * 1e9 / total}


def _link(plan: Plan, work: Path) -> tuple[Figures, dict[str, Any]]:
    """The camera and curl over the shaped link, and a plain TCP stream (the ceiling)."""
    device = make_device(work / "camera", "BENCH-LINK")
    rate = plan.link_mbit * 1e6
    with VethLink(rate_mbit=plan.link_mbit) as link:
        ceiling = tcp_share(link, plan.link_mbit, plan.segments * plan.segment_bytes)
        server = BenchServer.create(work / "server", link)
        server.enrol(device.identity_file)
        server.start()
        try:
            pairs = _camera_and_curl(plan, server, device, work)
        finally:
            server.stop()
    shares = [_mb_s(r) * MB * 8 / rate for r in pairs.camera]
    curl_shares = [_mb_s(r) * MB * 8 / rate for r in pairs.curl]
    return {"link_share": statistics.median(shares)}, {
        "rate_mbit": plan.link_mbit, "shaping": "tc tbf burst 64kb latency 50ms",
        "tcp_stream_share": ceiling, "shares": shares, "curl_shares": curl_shares,
        "runs": pairs.camera, "curl": pairs.curl,
        "camera_cpu_s_per_gb": statistics.median(_cpu_s_per_gb(r) for r in pairs.camera)}


# ------------------------------------------------------------------ run


def _curl_version() -> str:
    try:
        done = subprocess.run(["curl", "--version"], capture_output=True, text=True,
                              check=False, timeout=30)
    except OSError:
        return "curl missing"
    return " ".join(done.stdout.split()[:2]) or "curl missing"


def run_bench(plan: Plan, *, progress: Progress | None = None) -> dict[str, Any]:
    """Every section; one that fails is reported and the others still run."""
    started = time.perf_counter()
    context = {**machine_context(), "curl": _curl_version(), "plan": dataclasses.asdict(plan)}
    figures: dict[str, float | None] = dict.fromkeys(FIGURES)
    details: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def section(name: str, measure: Callable[[Path], tuple[Figures, dict[str, Any]]],
                work: Path) -> None:
        if progress is not None:
            progress(f"bench: {name} ...")
        work.mkdir(parents=True)
        began = time.perf_counter()
        try:
            measured, details[name] = measure(work)
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
            return
        figures.update(measured)
        details[name]["section_wall_s"] = round(time.perf_counter() - began, 2)

    with tempfile.TemporaryDirectory(prefix="bodycam-server-bench-") as tmp:
        root = Path(tmp)

        def loopback(work: Path) -> tuple[Figures, dict[str, Any]]:
            server = BenchServer.create(work / "server")
            server.start()
            try:
                section("single_camera", lambda w: _single(plan, server, w), work / "single")
                section("eight_cameras", lambda w: _eight(plan, server, w), work / "eight")
                return {"server_peak_rss_mb": server.peak_rss_mb()}, {"url": server.url}
            finally:
                server.stop()

        section("loopback_server", loopback, root / "loopback")
        section("shaped_link", lambda w: _link(plan, w), root / "link")
    context["elapsed_s"] = round(time.perf_counter() - started, 1)
    return {**figures, "targets": {k: TARGETS[k].text if k in TARGETS else "-"
                                   for k in FIGURES},
            "ok": {k: met(k, figures[k]) for k in FIGURES}, "context": context,
            "details": details, "how_measured": HOW_MEASURED, "errors": errors}


# ------------------------------------------------------------------ command line


def _whole(high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to `high`, or the error naming the range."""
    def parse(text: str) -> int:
        if not text.isdigit() or not 1 <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {high}")
        return int(text)
    return parse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print only one JSON object (figures, targets, details)")
    parser.add_argument("--quick", action="store_true",
                        help="shorter recordings, one repeat: a smoke run")
    parser.add_argument("--segment-kib", type=_whole(1024 * 1024), metavar="KIB",
                        help=f"segment size (default {DEFAULT_SEGMENT_BYTES} bytes: 10 s of "
                             "the default bit rates)")
    parser.add_argument("--segments", type=_whole(1000), metavar="N",
                        help="segments per recording")
    parser.add_argument("--repeats", type=_whole(1000), metavar="N",
                        help="single-camera uploads on loopback and on the link")
    parser.add_argument("--camera-recordings", type=_whole(1000), metavar="N",
                        help="recordings per camera in the eight-camera run")


def plan_of(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    changes: dict[str, int] = {}
    if args.segment_kib is not None:
        changes["segment_bytes"] = args.segment_kib * 1024
    for name in ("segments", "repeats", "camera_recordings"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    return dataclasses.replace(plan, **changes)


def run(args: argparse.Namespace) -> int:
    report = run_bench(plan_of(args), progress=None if args.json else _progress)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return EXIT_MEASUREMENT_FAILED if report["errors"] else EXIT_OK


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

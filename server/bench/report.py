"""The offload benchmark's figures, their targets (issue 10, "Measured") and the table.

Kept apart from the measuring so the JSON's promised keys and what "meets the target"
means are defined in one place.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["FIGURES", "HOW_MEASURED", "TARGETS", "Target", "format_table", "nearest_rank"]


@dataclass(frozen=True)
class Target:
    """The goal `value >= limit`."""

    limit: float
    text: str


FIGURES: Final = ("offload_mb_s", "offload_vs_curl_ratio", "link_share",
                  "camera_cpu_s_per_gb", "aggregate_mb_s", "p99_last_byte_to_receipt_s",
                  "server_peak_rss_mb")
TARGETS: Final = {
    "offload_vs_curl_ratio": Target(0.8, ">= 0.8 (aim 1.0)"),
    "link_share": Target(0.9, ">= 0.9"),
}
UNITS: Final = {"offload_mb_s": "MB/s", "offload_vs_curl_ratio": "", "link_share": "",
                "camera_cpu_s_per_gb": "CPU s/GB", "aggregate_mb_s": "MB/s",
                "p99_last_byte_to_receipt_s": "s", "server_peak_rss_mb": "MiB"}
HOW_MEASURED: Final = {
    "offload_mb_s": "the camera's offload code (firmware/offload: Connection, signed time, "
                    "upload_recording, check_receipt) in a process of its own uploads one "
                    "sealed recording to a real `bodycam-server serve` (SQLite + blob "
                    "folder) on loopback; segment bytes / seconds from the manifest PUT to "
                    "the checked receipt (connection and time sync before); MB = 10^6 "
                    "bytes; median over repeats, after one small upload not counted "
                    "(the fresh server's first requests)",
    "offload_vs_curl_ratio": "camera MB/s / curl MB/s, median over pairs; curl sends the "
                             "same sequence (manifest PUT, PATCH per chunk, receipt POST) of "
                             "a recording of the same sizes to the same server, on one "
                             "kept-alive connection, with RFC 9421 headers signed "
                             "beforehand by the protocol's sign_request; curl's time is the "
                             "sum of its time_total (server/bench/curl.py); the order "
                             "alternates between repeats",
    "link_share": "the camera upload over a veth pair into a network namespace, the "
                  "camera's side shaped by tc tbf (rate, burst 64kb, latency 50ms), server "
                  "in the namespace: segment bits per second / link rate; median. Details: "
                  "curl's share (same protocol, server/bench/curl.py) and a plain TCP "
                  "stream's (the link's own ceiling: tbf counts Ethernet frames)",
    "camera_cpu_s_per_gb": "time.process_time() of the camera process over the loopback "
                           "uploads per 10^9 segment bytes; median",
    "aggregate_mb_s": "eight camera processes (eight enrolled devices) connect and take "
                      "the server's time, then start together and each upload their "
                      "recordings to the loopback server: all segment bytes / (last "
                      "receipt - first manifest PUT)",
    "p99_last_byte_to_receipt_s": "in the eight-camera run, per recording: from handing "
                                  "the last 64 KiB piece of the last file to the socket "
                                  "until the receipt is in hand and checked; nearest-rank "
                                  "p99 over all recordings",
    "server_peak_rss_mb": "VmHWM of the loopback serve process after all of the above",
}


def nearest_rank(values: Sequence[float], quantile: float) -> float:
    """The nearest-rank percentile (no interpolation: a sample that happened)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


def met(key: str, value: float | None) -> bool | None:
    target = TARGETS.get(key)
    if target is None or value is None:
        return None
    return value >= target.limit


def _link_note(details: dict[str, Any]) -> list[str]:
    link = details.get("shaped_link")
    if link is None:
        return []
    return [f"on the link: a plain TCP stream gets {link['tcp_stream_share']:.3f} of it, "
            f"curl (same requests) {statistics.median(link['curl_shares']):.3f}"]


def format_table(report: dict[str, Any]) -> str:
    """One line per figure (value, unit, target), then what was measured and errors."""
    lines = [f"{'figure':30} {'value':>10}  {'unit':9} {'target':17} ok?",
             "-" * 74]
    for key in FIGURES:
        value = report[key]
        shown = "n/a" if value is None else f"{value:.4g}"
        verdict = {None: "-", True: "yes", False: "NO"}[report["ok"][key]]
        lines.append(f"{key:30} {shown:>10}  {UNITS[key]:9} {report['targets'][key]:17} "
                     f"{verdict}")
    plan, context = report["context"]["plan"], report["context"]
    lines += ["", f"recordings of {plan['segments']} segments x {plan['segment_bytes']} bytes; "
              f"{plan['repeats']} repeat(s) on loopback and on the {plan['link_mbit']:g} "
              f"Mbit/s link; {plan['cameras']} cameras x {plan['camera_recordings']} "
              "recording(s)", *_link_note(report["details"]),
              f"machine: {context['cpu']} ({context['cpus']} CPUs, load "
              f"{context['load_average_at_start']} at start), Python {context['python']}, "
              f"{context['curl']}; run took {context['elapsed_s']} s"]
    lines += [f"ERROR in {name}: {error}" for name, error in report["errors"].items()]
    return "\n".join(lines)

"""`bodycam-keyholder bench`: re-wrap latency and grants per second, through the socket.

A throwaway key holder (its own directory, identity and log, every fsync real) serves a
socket in a temporary directory; a sample recording of `--segments` segments (60: ten
minutes at the camera's 10 s segments) is granted `--grants` times, one grant after the
other, each with a fresh nonce. Printed: per-grant latency p50/p95 (client side: frame,
checks, manifest verification, re-wrap, log fsync, answer), grants/s and segments/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodycam.firmware.evidence.age.keys import generate_identity
from bodycam.server.identity.signing_key import public_b64
from bodycam.server.keyholder.client import KeyholderClient
from bodycam.server.keyholder.config import SETTINGS_FILE
from bodycam.server.keyholder.holder import KeyHolder
from bodycam.server.keyholder.sample import request_for, sample_recording
from bodycam.server.keyholder.service import KeyholderService
from bodycam.server.keyholder.setup import initialise

__all__ = ["HELP", "configure", "measure", "run"]

HELP: Final = ("measure the key holder: re-wrap latency per grant (p50/p95) and grants "
               "per second over its Unix socket, X25519 and post-quantum authorities")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grants", type=int, default=200, help="grants per run (200)")
    parser.add_argument("--segments", type=int, default=60,
                        help="segments per grant (60: a 10-minute recording)")
    parser.add_argument("--json", action="store_true", help="machine-readable")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(grants: int, segments: int, *, post_quantum: bool) -> dict[str, Any]:
    """One run with a fresh key holder; the figures as a dict."""
    with tempfile.TemporaryDirectory(prefix="keyholder-bench-") as tmp:
        root = Path(tmp)
        server_key = Ed25519PrivateKey.generate()
        result = initialise(root / "holder", public_b64(server_key), identity=None,
                            post_quantum=post_quantum, socket=root / "holder.sock", group=None)
        settings = root / "holder" / SETTINGS_FILE
        settings.write_text(settings.read_text().replace("rate_per_person = 30",
                                                         f"rate_per_person = {grants + 1}")
                            .replace("rate_total = 300", f"rate_total = {grants + 1}"))
        recording = sample_recording(root / "recordings", result.recipients,
                                     segments=segments, segment_bytes=4096)
        _secret, viewer = generate_identity()
        holder = KeyHolder.open(root / "holder")
        service = KeyholderService(holder)
        thread = threading.Thread(target=service.serve_forever, daemon=True)
        thread.start()
        try:
            client = KeyholderClient(root / "holder.sock")
            requests = [request_for(recording, server_key, viewer) for _ in range(grants)]
            latencies = []
            started = time.perf_counter()
            for request in requests:
                begin = time.perf_counter()
                client.unwrap(request)
                latencies.append(time.perf_counter() - begin)
            elapsed = time.perf_counter() - started
        finally:
            service.shutdown()
            service.server_close()
            holder.close()
    return {"authority": "post-quantum (mlkem768x25519)" if post_quantum else "X25519",
            "grants": grants, "segments_per_grant": segments,
            "grant_p50_ms": round(statistics.median(latencies) * 1000, 2),
            "grant_p95_ms": round(_percentile(latencies, 0.95) * 1000, 2),
            "per_segment_ms": round(statistics.median(latencies) * 1000 / segments, 3),
            "grants_per_s": round(grants / elapsed, 1),
            "segments_per_s": round(grants * segments / elapsed)}


def run(args: argparse.Namespace) -> int:
    if args.grants < 1 or args.segments < 1:
        raise ValueError("--grants and --segments must be at least 1")
    figures = [measure(args.grants, args.segments, post_quantum=pq) for pq in (False, True)]
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for f in figures:
        print(f"{f['authority']}: {f['segments_per_grant']} segments per grant, "
              f"p50 {f['grant_p50_ms']} ms, p95 {f['grant_p95_ms']} ms per grant "
              f"({f['per_segment_ms']} ms per segment); {f['grants_per_s']} grants/s, "
              f"{f['segments_per_s']} segments/s")
    return 0

"""One benchmark camera: the camera's own offload code uploading its card, timed.

Run as a process of its own (``python -m bodycam.server.bench.camera``), so its CPU time
is the uploading side's alone and eight of them run side by side as eight cameras do.
What it runs is the offload worker's path for each sealed recording, oldest first: one
kept-alive TLS connection to the pinned server, the signed time first, then
`upload_recording` (manifest, every file from the server's offset in signed PATCHes,
the receipt) paced by the worker's token bucket, and `check_receipt` against the pinned
key. It does not remove segments (the card is the benchmark's, not evidence).

With ``--wait`` it connects and takes the server's time, prints ``ready`` and waits for
a line on stdin before it uploads, so several cameras start together. Its last line on
stdout is one JSON object: per recording the bytes, wall and CPU seconds, and the time
from handing the last piece of the last file to the socket until the checked receipt.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bodycam.firmware.config.model import OffloadConfig
from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.offloaded import check_receipt
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.offload.bandwidth import TokenBucket
from bodycam.firmware.offload.card import CardRecording, sealed_recordings
from bodycam.firmware.offload.connection import Connection
from bodycam.firmware.offload.protocol import OffloadClient
from bodycam.firmware.offload.timesync import TimeSync, take_server_time
from bodycam.firmware.offload.upload import upload_recording
from bodycam.hal.clocks import SystemClock

__all__ = ["load_offload_config", "main"]


def load_offload_config(path: Path) -> OffloadConfig:
    """The [offload] table of a server's camera-offload.toml, as the camera takes it."""
    table = tomllib.loads(path.read_text(encoding="utf-8"))["offload"]
    return OffloadConfig(**table)


def _upload_one(client: OffloadClient, recording: CardRecording,
                config: OffloadConfig, bucket: TokenBucket) -> dict[str, Any]:
    last_piece = [0.0]

    def pace(count: int) -> None:
        bucket.take(count)
        last_piece[0] = time.monotonic()

    cpu = time.process_time()
    started = time.monotonic()
    uploaded = upload_recording(client, recording, pace)
    check_receipt(uploaded.receipt, recording.manifest, config.server_key)
    ended = time.monotonic()
    return {"recording_id": recording.recording_id, "bytes": uploaded.sent,
            "held_before": uploaded.held, "files": len(recording.manifest.files),
            "started": started, "ended": ended, "wall_s": ended - started,
            "cpu_s": time.process_time() - cpu,
            "last_byte_to_receipt_s": ended - last_piece[0]}


def offload_card(state_dir: Path, evidence_dir: Path, device_id: str, offload: Path, *,
                 wait: bool) -> dict[str, Any]:
    """Upload every sealed recording in `evidence_dir`; the figures of each."""
    clock = SystemClock()
    config = load_offload_config(offload)
    session = SessionKey(SoftwareKeyStore.open(state_dir), clock)
    connection = Connection(config)
    try:
        sync: list[TimeSync] = []
        client = OffloadClient(connection, session, device_id,
                               lambda: sync[0].server_now(clock))
        sync.append(take_server_time(client, config.server_key, clock))
        recordings = sealed_recordings(evidence_dir)
        if wait:
            print("ready", flush=True)
            sys.stdin.readline()
        bucket = TokenBucket(config.bandwidth_kbps, clock)
        done = [_upload_one(client, recording, config, bucket) for recording in recordings]
    finally:
        connection.close()
    return {"device_id": device_id, "recordings": done}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True, help="the device key's directory")
    parser.add_argument("--evidence", type=Path, required=True, help="the card's evidence dir")
    parser.add_argument("--device-id", required=True)
    parser.add_argument("--offload", type=Path, required=True, help="camera-offload.toml")
    parser.add_argument("--wait", action="store_true", help="print ready, wait for stdin")
    args = parser.parse_args(argv)
    print(json.dumps(offload_card(args.state, args.evidence, args.device_id, args.offload,
                                  wait=args.wait)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

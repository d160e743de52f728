"""`bodycam-evidence bench-package DIR -i IDENTITY`: export package time per recorded minute.

Builds the package for the recording in DIR several times (C2PA manifest, the agency's
own timestamp authority on loopback, signed index, hashes) and, in the same run, the same
package without C2PA (the plain export, the baseline), and prints the medians, seconds
per recorded minute and the ratio. The disclosure uses the camera's own headers: the key
holder's re-wrap is measured by its own benchmark (`bodycam-keyholder bench`), not here.
Scratch keys and packages live in a temporary directory and are removed.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bodycam.tools.custody.package.build import (
    Disclosure,
    RecordingInput,
    build_package,
    header_length,
)
from bodycam.tools.custody.package.command import UsageError, identities_of
from bodycam.tools.custody.package.keys import create


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, metavar="DIR",
                        help="a sealed recording directory (e.g. demo-out/fetched/<id>/)")
    parser.add_argument("-i", "--identity", type=Path, action="append", required=True,
                        metavar="IDENTITY", help="an identity that decrypts it")
    parser.add_argument("--runs", type=int, default=5, help="runs of each kind (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def measure(directory: Path, identity_files: list[Path], runs: int) -> dict[str, Any]:
    identities = identities_of(identity_files)
    headers = {p.name: base64.b64encode(p.read_bytes()[:header_length(p.read_bytes(),
                                                                      p.name)]).decode()
               for p in sorted(directory.glob("*.age"))}
    item = RecordingInput(directory, Disclosure.from_json({"recipient": "bench",
                                                           "headers": headers}), b"{}")
    times: dict[str, list[float]] = {"c2pa": [], "plain": []}
    seconds = 0.0
    with tempfile.TemporaryDirectory(prefix="bodycam-bench-package-") as scratch:
        keys = create(Path(scratch) / "keys", "Benchmark agency")
        for run in range(runs):
            for kind in ("plain", "c2pa"):
                out = Path(scratch) / f"{kind}-{run}"
                start = time.perf_counter()
                build_package([item], identities, keys, out, c2pa=kind == "c2pa")
                times[kind].append(time.perf_counter() - start)
                report = json.loads(next(out.glob("recordings/*/*.report.json")).read_bytes())
                video = report["output"]["streams"]["video"]
                seconds = video["end_s"] - video["start_s"]
    minutes = seconds / 60
    c2pa, plain = statistics.median(times["c2pa"]), statistics.median(times["plain"])
    return {"recorded_s": round(seconds, 2), "runs": runs,
            "package_s_median": round(c2pa, 3), "plain_s_median": round(plain, 3),
            "package_s_per_recorded_min": round(c2pa / minutes, 3),
            "plain_s_per_recorded_min": round(plain / minutes, 3),
            "ratio_package_to_plain": round(c2pa / plain, 2)}


def run(args: argparse.Namespace) -> int:
    if args.runs < 1:
        print("bodycam-evidence bench-package: --runs must be at least 1")
        return 2
    try:
        result = measure(args.directory, args.identity, args.runs)
    except UsageError as exc:
        print(f"bodycam-evidence bench-package: {exc}")
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"prosecutor package, {result['recorded_s']} s recorded, median of "
              f"{result['runs']} runs:\n"
              f"  with C2PA + timestamp: {result['package_s_median']} s "
              f"({result['package_s_per_recorded_min']} s per recorded minute)\n"
              f"  plain export (no C2PA): {result['plain_s_median']} s "
              f"({result['plain_s_per_recorded_min']} s per recorded minute)\n"
              f"  ratio: {result['ratio_package_to_plain']}x")
    return 0

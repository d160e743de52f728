"""What the TPM key store costs: TPM2_Sign and TPM2_NV_Increment times, median and p90.

The figures decide where the TPM may be used: a real TPM on SPI needs tens of
milliseconds per ECDSA signature (docs/tpm.md cites published figures), so the device key
certifies one RAM-only session key per boot instead of signing each log line.

By default a private swtpm is started and measured (create, then `runs` signatures and
`runs` counter increments). With `--tcti device:/dev/tpmrm0` on a camera it opens the
camera's existing key (no key is ever created there) and measures signatures only; the
camera's counter is bound to its logs, so it is advanced only with `--counter`, on a
camera out of service (its next session then starts `runs + 1` higher).

    python -m bodycam.tools.bench.tpm [--runs 50] [--tcti TCTI [--counter]]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bodycam.hal.tpm import TpmKeyStore
from bodycam.tools.dev.swtpm import SwTpm

RUNS = 50
_MESSAGE = b'{"event":"session_key","public_key":"' + b"A" * 43 + b'"}'  # a certificate's size


def _millis(operation: Callable[[], object], runs: int) -> list[float]:
    operation()  # warm-up: first-use costs (session setup, caches) are not per-call costs
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        operation()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _summary(name: str, samples: list[float]) -> dict[str, float]:
    return {f"{name}_ms_p50": statistics.median(samples),
            f"{name}_ms_p90": statistics.quantiles(samples, n=10)[8]}


def measure_store(store: TpmKeyStore, runs: int, counter: bool) -> dict[str, float]:
    """Median and p90 milliseconds of sign (and of next_counter when `counter`)."""
    figures = _summary("tpm_sign", _millis(lambda: store.sign(_MESSAGE), runs))
    if counter:
        figures |= _summary("tpm_counter", _millis(store.next_counter, runs))
    return figures


def measure_swtpm(runs: int = RUNS) -> dict[str, float]:
    """The figures on a private swtpm (software: the floor, not a chip's cost)."""
    with tempfile.TemporaryDirectory(prefix="bench-tpm-") as tmp, SwTpm(Path(tmp)) as tpm:
        start = time.perf_counter()
        store = TpmKeyStore.create(tpm.tcti)
        create_ms = (time.perf_counter() - start) * 1000
        try:
            return {"tpm_create_ms": create_ms} | measure_store(store, runs, counter=True)
        finally:
            store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bodycam.tools.bench.tpm",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="samples per figure")
    parser.add_argument("--tcti", help="measure this TPM's existing bodycam key (sign only) "
                                       "instead of a private swtpm")
    parser.add_argument("--counter", action="store_true",
                        help="with --tcti: also time counter increments (advances the "
                             "camera's real counter)")
    args = parser.parse_args(argv)
    if args.counter and args.tcti is None:
        parser.error("--counter goes with --tcti (the swtpm run always times the counter)")
    if args.tcti is None:
        where, figures = "swtpm (private, started for this run)", measure_swtpm(args.runs)
    else:
        store = TpmKeyStore.open(args.tcti)
        try:
            where, figures = f"{args.tcti}: {store.describe()}", measure_store(
                store, args.runs, counter=args.counter)
        finally:
            store.close()
    print(f"TPM: {where}; {args.runs} runs each")
    for name, value in figures.items():
        print(f"{name}: {value:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What a segment's age header costs, X25519 against post-quantum hybrid recipients.

The camera makes one header per segment (every 10 s by default) on the recorder's
thread: a fresh file key, one stanza per recipient (an X25519 exchange, or an HPKE
ML-KEM-768 + X25519 encapsulation), the header MAC and the payload nonce. That is
exactly what constructing an AgeEncryptor does, so that is what is timed (the sink
discards the bytes; they are counted for the size). The custodian pays the other side
once per segment: parsing the header, unwrapping the file key with the identity and
checking the MAC (`open_payload`), timed the same way.

Wall time per header with `time.perf_counter`, median and 99th percentile over the
samples, after a warm-up; each kind is measured interleaved with the other so that a
busy moment of the shared machine hits both alike. Also runnable alone:
``python -m bodycam.tools.bench.age_header``.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bodycam.firmware.evidence.age import AgeEncryptor, open_payload
from bodycam.firmware.evidence.age.keys import (
    Identity,
    generate_identity,
    parse_identity,
    parse_recipient,
)

KINDS = {"x25519": False, "hybrid": True}
_WARM_UP = 5


def _encrypted_header(recipients: list[str]) -> bytes:
    """Header and payload nonce of a new file to `recipients`, as a segment begins."""
    out = bytearray()
    AgeEncryptor([parse_recipient(r) for r in recipients], out.extend)
    return bytes(out)


def _discard(_data: bytes) -> None:
    """The sink: only making the header is timed, not storing it."""


def _open(identities: list[Identity], header: bytes) -> None:
    open_payload(identities, io.BytesIO(header))


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000.0


def _summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {"median_ms": statistics.median(ordered),
            "p99_ms": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]}


def measure_headers(samples: int, recipients_per_header: int = 1) -> dict[str, Any]:
    """Per kind: header bytes, creation and decryption time per header (median, p99)."""
    pairs = {kind: [generate_identity(post_quantum=pq) for _ in range(recipients_per_header)]
             for kind, pq in KINDS.items()}
    keys = {kind: [parse_recipient(r) for _, r in pairs[kind]] for kind in KINDS}
    identities = {kind: [parse_identity(pairs[kind][0][0])] for kind in KINDS}
    headers = {kind: _encrypted_header([r for _, r in pairs[kind]]) for kind in KINDS}
    create: dict[str, list[float]] = {kind: [] for kind in KINDS}
    open_: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for n in range(_WARM_UP + samples):
        for kind in KINDS:
            made = _timed(partial(AgeEncryptor, keys[kind], _discard))
            opened = _timed(partial(_open, identities[kind], headers[kind]))
            if n >= _WARM_UP:
                create[kind].append(made)
                open_[kind].append(opened)
    return {
        kind: {
            "recipients": recipients_per_header,
            "header_bytes": len(headers[kind]) - 16,  # without the 16-byte payload nonce
            "create": _summary(create[kind]),
            "decrypt": _summary(open_[kind]),
        }
        for kind in KINDS
    } | {"samples": samples}


def main() -> int:
    for recipients in (1, 2):
        result = measure_headers(200, recipients)
        for kind in KINDS:
            r = result[kind]
            print(f"{kind:7} x{recipients}: header {r['header_bytes']} bytes, create "
                  f"{r['create']['median_ms']:.3f} ms (p99 {r['create']['p99_ms']:.3f}), "
                  f"decrypt {r['decrypt']['median_ms']:.3f} ms "
                  f"(p99 {r['decrypt']['p99_ms']:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

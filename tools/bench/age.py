"""CPU cost of our age encryption relative to the reference `age` binary.

Recording encrypts every byte of video on the camera, whose CPUs have no AES and little
headroom, so the in-process encryptor must stay close to the Go reference (target:
within 1.5x). CPU time, not wall time, is compared so that a busy machine or disk
does not distort the ratio. Used by the benchmark command; also runnable alone:
``python -m bodycam.tools.bench.age``.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bodycam.firmware.evidence.age import AgeEncryptor
from bodycam.firmware.evidence.age.keys import generate_identity, parse_recipient

RUNS = 3
_WRITE_SIZE = 1 << 20


def _null_sink(_data: bytes) -> None:
    """Discards ciphertext, so only encryption is measured (like age's -o /dev/null)."""


def _ours_cpu_s(data: bytes, recipient: str) -> float:
    key = parse_recipient(recipient)
    view = memoryview(data)
    start = time.process_time()
    encryptor = AgeEncryptor([key], _null_sink)
    for offset in range(0, len(view), _WRITE_SIZE):
        encryptor.write(view[offset:offset + _WRITE_SIZE])
    encryptor.close()
    return time.process_time() - start


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _age_cpu_s(age: str, source: Path, recipient: str) -> float:
    before = _children_cpu_s()
    subprocess.run([age, "-r", recipient, "-o", os.devnull, str(source)], check=True)
    return _children_cpu_s() - before


def measure_encrypt_ratio(size_mb: int = 64) -> dict[str, float]:
    """Median CPU seconds over 3 runs to encrypt the same `size_mb` MiB of random bytes,
    ours in-process vs `age -r ... -o /dev/null`, and their ratio (ours / age)."""
    age = shutil.which("age")
    if age is None:
        raise RuntimeError("the `age` program is not installed; install the Debian package age")
    data = os.urandom(size_mb << 20)
    _secret, recipient = generate_identity()
    with tempfile.TemporaryDirectory(prefix="bench-age-") as tmp:
        # Random bytes standing in for ciphertext-like media; not evidence plaintext.
        source = Path(tmp) / "random.bin"
        source.write_bytes(data)
        ours = statistics.median(_ours_cpu_s(data, recipient) for _ in range(RUNS))
        theirs = statistics.median(_age_cpu_s(age, source, recipient) for _ in range(RUNS))
    return {
        "encrypt_cpu_s_ours": ours,
        "encrypt_cpu_s_age": theirs,
        "encrypt_cpu_ratio_vs_age": ours / theirs,
    }


def main() -> int:
    result = measure_encrypt_ratio()
    for name, value in result.items():
        print(f"{name}: {value:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The SHA-256 of each file's next PATCH body, worked out ahead on a thread of its own.

Every PATCH is signed with its body's digest, so a file is read twice: hashed, then
sent. Hashing the next file while this one is on the wire keeps the link busy: a Pi Zero
2 W has no SHA-256 instructions and takes tens of milliseconds per 5 MB segment, time
the link would otherwise stand idle before every segment. hashlib releases the GIL while
it hashes, so the sender is not slowed. A digest that cannot be made ahead (the file is
short or unreadable) is simply not there: the sender hashes the range itself and
reports the damage exactly.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Final

from bodycam.firmware.evidence.verify_chain import open_regular

__all__ = ["DigestsAhead"]

_BLOCK: Final = 1024 * 1024

_Key = tuple[str, int, int]  # file name, offset, length


def _digest(path: Path, offset: int, length: int) -> bytes | None:
    digest = hashlib.sha256()
    try:
        with open_regular(path) as stream:
            stream.seek(offset)
            left = length
            while left:
                block = stream.read(min(_BLOCK, left))
                if not block:
                    return None
                digest.update(block)
                left -= len(block)
    except OSError:
        return None
    return digest.digest()


class DigestsAhead:
    """`with DigestsAhead(directory) as ahead:` `ahead.plan(...)` every range to be sent,
    in order; `ahead.take(...)` its digest (waiting for it) or None."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="offload-digest")
        self._ahead: dict[_Key, Future[bytes | None]] = {}

    def __enter__(self) -> DigestsAhead:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Drop what is not started; one running digest finishes on its own."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def plan(self, name: str, offset: int, length: int) -> None:
        self._ahead[name, offset, length] = self._pool.submit(
            _digest, self._directory / name, offset, length)

    def take(self, name: str, offset: int, length: int) -> bytes | None:
        future = self._ahead.pop((name, offset, length), None)
        return None if future is None else future.result()

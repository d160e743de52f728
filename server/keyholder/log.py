"""The key holder's own log: one signed, hash-chained line per unlock and per refusal.

It is a signed log in exactly the camera's format (firmware/evidence/signed_log.py,
docs/formats.md): each start makes a session key in RAM, certified by the key holder's
long-term Ed25519 log key (a software key store in its directory), so `bodycam-evidence
verify keyholder.jsonl --device-key LOGKEY` checks it like a camera's audit log. The
evidence server pulls its lines (`lines_after`) into its own audit trail and checks the
chain and signatures as they arrive (server/keyholder/pull.py).

A line is fsync'd before the key holder answers: no record, no key.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Final

from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.signed_log import SignedLog, canonical_json, line_hash
from bodycam.hal.interfaces import Clock

__all__ = ["LOG_FILE", "LOG_KEY_DIR", "MAX_PULL", "HolderLog"]

LOG_FILE: Final = "keyholder.jsonl"
LOG_KEY_DIR: Final = "log-key"
MAX_PULL: Final = 1000  # lines per pull


class HolderLog:
    """The open log, and an index of where each line starts (for pulls). Thread-safe."""

    def __init__(self, log: SignedLog, key: DevicePublicKey) -> None:
        self._log = log
        self.key = key
        self._lock = threading.Lock()
        self._offsets = _line_offsets(log.path)

    @classmethod
    def open(cls, directory: Path, clock: Clock) -> HolderLog:
        """KeyStoreError names the fix when the log key is missing or not private."""
        store = SoftwareKeyStore.open(directory / LOG_KEY_DIR)
        log = SignedLog.open(directory / LOG_FILE, SessionKey(store, clock), clock)
        return cls(log, store.public_key)

    def append(self, event: str, **fields: Any) -> tuple[int, str]:
        """Write and fsync one record; (seq, chain hash) of it."""
        with self._lock:
            start = os.stat(self._log.path).st_size
            record = self._log.append(event, **fields)
            self._offsets.append(start)
            return record["seq"], line_hash(canonical_json(record))

    def lines_after(self, after: int, limit: int = MAX_PULL) -> list[str]:
        """The log's lines with seq > `after` (at most `limit`), as written."""
        with self._lock:
            first = max(0, after + 1)
            if first >= len(self._offsets):
                return []
            end = min(len(self._offsets), first + max(1, min(limit, MAX_PULL)))
            stop = (self._offsets[end] if end < len(self._offsets)
                    else os.stat(self._log.path).st_size)
            with open(self._log.path, "rb") as stream:
                stream.seek(self._offsets[first])
                data = stream.read(stop - self._offsets[first])
        return data.decode("utf-8").splitlines()

    def close(self) -> None:
        self._log.close()


def _line_offsets(path: Path) -> list[int]:
    """Where each line of the log starts (one read at start; appends add to it)."""
    offsets: list[int] = []
    position = 0
    with open(path, "rb") as stream:
        for line in stream:
            offsets.append(position)
            position += len(line)
    return offsets

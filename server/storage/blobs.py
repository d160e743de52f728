"""What the server needs of a blob store, whichever kind holds the bytes.

Blobs are named by their SHA-256, so the same bytes are kept once however often they
arrive. An upload in progress is kept as *pieces*: each request's body becomes one piece
under a fresh name, and the database says which pieces, in which order, make up a file.
A piece is durable before the database names it, so any server process can resume an
upload another one started (or one that was killed), and two requests racing for the
same offset never write into each other's bytes: the loser's piece is simply dropped.
When the pieces add up to the signed size and their hash is right, `promote` makes them
one blob. "Durable" means fsync'd (folder) or acknowledged by the object store (S3):
nothing the server confirms to a camera rests on a cache.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from bodycam.firmware.evidence.durable import write_all

__all__ = ["BLOCK", "BlobStore", "Spool", "StorageError", "StorageFullError", "full_error",
           "sha256_hex"]

BLOCK: Final = 1024 * 1024


class StorageError(RuntimeError):
    """The blob store failed; the message names the store and the fix."""


class StorageFullError(StorageError):
    """No byte more fits: the camera keeps everything and tries again later."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def full_error(where: Path) -> StorageFullError:
    return StorageFullError(f"{where} is full; nothing more can be stored. Fix: free space "
                            "or move the data directory to a larger disk; cameras keep "
                            "everything and try again")


class Spool:
    """A request body on its way to becoming a piece: a local file, hashed as written.
    A full disk raises StorageFullError (whatever the step), other failures OSError."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / f"spool-{secrets.token_hex(12)}"
        self._fd = -1
        self._hash = hashlib.sha256()
        self.length = 0
        with self._full_is_full():
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                               0o600)

    @contextlib.contextmanager
    def _full_is_full(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise full_error(self.path.parent) from exc
            raise

    def write(self, data: bytes) -> None:
        with self._full_is_full():
            write_all(self._fd, data)
        self._hash.update(data)
        self.length += len(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def finish(self) -> None:
        """Make the bytes durable and close the file (it stays for add_piece)."""
        try:
            with self._full_is_full():
                os.fsync(self._fd)
        finally:
            self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class BlobStore(ABC):
    """Content-addressed blobs plus upload pieces; every method is safe to call from
    several processes at once."""

    url: str
    spool_dir: Path

    def spool(self) -> Spool:
        """A new local file for a request body (see Spool)."""
        return Spool(self.spool_dir)

    @abstractmethod
    def check(self) -> None:
        """Reachable and writable, or StorageError naming the fix (checked at serve)."""

    @abstractmethod
    def put_bytes(self, data: bytes) -> str:
        """Store a small blob (a manifest, audit lines) durably; its SHA-256 hex."""

    @abstractmethod
    def add_piece(self, spool: Spool) -> str:
        """Make a finished spool a durable piece (the spool file is consumed); its key."""

    @abstractmethod
    def read_piece(self, key: str) -> Iterator[bytes]:
        """A piece's bytes, in blocks."""

    @abstractmethod
    def delete_piece(self, key: str) -> None:
        """Remove a piece that is no longer needed (absent is fine)."""

    @abstractmethod
    def promote(self, pieces: Sequence[str], sha256: str) -> None:
        """Make the concatenation of `pieces` (whose hash the caller checked) the durable
        blob `sha256`; nothing to do if that blob exists. The pieces stay."""

    @abstractmethod
    def has(self, sha256: str) -> bool:
        """Whether the blob is stored."""

    @abstractmethod
    def read(self, sha256: str) -> Iterator[bytes]:
        """A blob's bytes, in blocks."""

    @abstractmethod
    def delete(self, sha256: str) -> None:
        """Remove a blob for good (absent is fine). Only deletion of evidence calls this,
        after checking that no other recording names the same bytes."""

    def read_all(self, sha256: str) -> bytes:
        return b"".join(self.read(sha256))

    def hash_pieces(self, pieces: Sequence[str]) -> str:
        """SHA-256 hex of the pieces' concatenation, read back from the store (what is
        stored is what gets checked, not what was meant to be written)."""
        digest = hashlib.sha256()
        for key in pieces:
            for block in self.read_piece(key):
                digest.update(block)
        return digest.hexdigest()

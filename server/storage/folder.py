"""Blobs in a folder: the embedded default, nothing to install or start.

Layout: `blobs/ab/cd/<sha256>`, pieces in `pieces/`, request bodies spooled in `tmp/`
(the same file system, so a piece and a single-piece blob are a rename, not a copy).
Every write is fsync'd, and so is the directory entry, before anyone is told it exists.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from bodycam.firmware.evidence.durable import fsync_directory
from bodycam.server.storage.blobs import BLOCK, BlobStore, Spool, StorageError, full_error

__all__ = ["FolderBlobStore"]

_FULL: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
_SHA: Final = re.compile(r"[0-9a-f]{64}")
_PIECE: Final = re.compile(r"piece-[0-9a-f]{24}")


class FolderBlobStore(BlobStore):
    def __init__(self, root: Path, *, reserve_bytes: int = 0) -> None:
        self.root = root
        self.url = root.as_uri()
        self.reserve_bytes = reserve_bytes
        self.spool_dir = root / "tmp"
        self._blobs = root / "blobs"
        self._pieces = root / "pieces"

    def create(self) -> None:
        for directory in (self.root, self.spool_dir, self._blobs, self._pieces):
            directory.mkdir(mode=0o750, parents=True, exist_ok=True)

    def check(self) -> None:
        for directory in (self.spool_dir, self._blobs, self._pieces):
            if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
                raise StorageError(f"the blob folder {directory} is missing or not "
                                   "writable. Fix: run `bodycam-server init` for this data "
                                   "directory, or give the service user write access")

    def spool(self) -> Spool:
        """Refuses once less than `reserve_bytes` are free, so the database on the same
        disk still has room to record what was stored."""
        if self.reserve_bytes:
            info = os.statvfs(self.root)
            if info.f_bavail * info.f_frsize < self.reserve_bytes:
                raise full_error(self.root)
        return super().spool()

    def _translate(self, exc: OSError) -> StorageError:
        if exc.errno in _FULL:
            return full_error(self.root)
        return StorageError(f"the blob folder {self.root} failed: {exc}")

    def _blob(self, sha256: str) -> Path:
        if not _SHA.fullmatch(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self._blobs / sha256[:2] / sha256[2:4] / sha256

    def _piece(self, key: str) -> Path:
        if not _PIECE.fullmatch(key):
            raise ValueError(f"not a piece key: {key!r}")
        return self._pieces / key

    def _install(self, source: Path, sha256: str) -> None:
        """Rename a durable file into its blob place (a blob that exists already is the
        same bytes: the source is dropped)."""
        target = self._blob(sha256)
        target.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        if target.exists():
            source.unlink(missing_ok=True)
            return
        os.replace(source, target)
        fsync_directory(target.parent)

    def put_bytes(self, data: bytes) -> str:
        spool = self.spool()
        try:
            spool.write(data)
            spool.finish()
            self._install(spool.path, spool.sha256)
        except OSError as exc:
            spool.discard()
            raise self._translate(exc) from exc
        return spool.sha256

    def add_piece(self, spool: Spool) -> str:
        key = f"piece-{secrets.token_hex(12)}"
        try:
            os.replace(spool.path, self._piece(key))
            fsync_directory(self._pieces)
        except OSError as exc:
            spool.discard()
            raise self._translate(exc) from exc
        return key

    def read_piece(self, key: str) -> Iterator[bytes]:
        return _blocks(self._piece(key))

    def delete_piece(self, key: str) -> None:
        self._piece(key).unlink(missing_ok=True)

    def promote(self, pieces: Sequence[str], sha256: str) -> None:
        if self.has(sha256):
            return
        if len(pieces) == 1:  # the usual case, a segment sent in one request: a hard link
            target = self._blob(sha256)
            try:
                target.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
                os.link(self._piece(pieces[0]), target)
                fsync_directory(target.parent)
            except FileExistsError:
                pass
            except OSError as exc:
                raise self._translate(exc) from exc
            return
        spool = self.spool()
        try:
            for key in pieces:  # a copy, not a rename: the pieces stay until the DB says so
                with self._piece(key).open("rb") as source:
                    while block := source.read(BLOCK):
                        spool.write(block)
            spool.finish()
            self._install(spool.path, sha256)
        except OSError as exc:
            spool.discard()
            raise self._translate(exc) from exc

    def has(self, sha256: str) -> bool:
        return self._blob(sha256).is_file()

    def read(self, sha256: str) -> Iterator[bytes]:
        return _blocks(self._blob(sha256))

    def delete(self, sha256: str) -> None:
        path = self._blob(sha256)
        try:
            path.unlink(missing_ok=True)
            fsync_directory(path.parent)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._translate(exc) from exc


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while block := stream.read(BLOCK):
            yield block

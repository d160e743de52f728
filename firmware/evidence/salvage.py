"""Account for a segment file that was not closed normally, without any private key.

Used by power-loss recovery at start and by a recording whose segment failed to close
(I/O error). An age file is a text header ending with the ``--- MAC`` line, a 16-byte
nonce, then sealed chunks of 64 KiB + 16 bytes; every whole chunk of a cut-short file
still decrypts, so counting whole chunks says exactly how much media survived. Nothing is
deleted: ``NNNNN.age.partial`` is renamed (never over an existing name) to
``NNNNN.truncated.age``, whose name says it ends early.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

from bodycam.firmware.evidence.age import CHUNK_SIZE, HeaderError, UnsupportedError
from bodycam.firmware.evidence.age.header import read_header
from bodycam.firmware.evidence.age.stream import PAYLOAD_NONCE_SIZE, SEALED_CHUNK_SIZE
from bodycam.firmware.evidence.durable import fsync_directory
from bodycam.firmware.evidence.segment_file import PARTIAL_SUFFIX

__all__ = [
    "TRUNCATED_SUFFIX",
    "ChunkLayout",
    "SalvageState",
    "SalvagedSegment",
    "chunk_layout",
    "missing_segment",
    "preamble_sha256",
    "recovery_fields",
    "salvage_file",
    "segment_files",
    "segment_index",
    "sha256_file",
]

TRUNCATED_SUFFIX: Final = ".truncated.age"
_SEGMENT_FILE = re.compile(r"^(\d{5})(?:-\d+)?(\.age|\.age\.partial|\.truncated\.age)$")

# truncated: was being written; closed: complete (renamed) but its segment record was
# never written; missing: opened in the manifest but the file never reached the disk.
SalvageState = Literal["truncated", "closed", "missing"]


@dataclass(frozen=True)
class ChunkLayout:
    """How much of an age file is whole."""

    header_bytes: int  # 0: the header itself is incomplete (nothing decrypts)
    whole_chunks: int  # full-size sealed chunks after header and nonce
    tail_bytes: int  # bytes after the last whole chunk (a cut chunk, or a short final one)

    @property
    def whole_bytes(self) -> int:
        """Plaintext (media) bytes the whole chunks decrypt to."""
        return self.whole_chunks * CHUNK_SIZE


@dataclass(frozen=True)
class SalvagedSegment:
    index: int
    file: str  # name on disk after salvage; "" when the file never reached the disk
    state: SalvageState
    size: int
    sha256: str
    layout: ChunkLayout


def chunk_layout(path: Path) -> ChunkLayout:
    """Whole age chunks in `path` (header parsed up to its ``---`` MAC line)."""
    size = path.stat().st_size
    with path.open("rb") as src:
        try:
            read_header(src)
        except (HeaderError, UnsupportedError):
            return ChunkLayout(header_bytes=0, whole_chunks=0, tail_bytes=size)
        header = src.tell()
    payload = size - header - PAYLOAD_NONCE_SIZE
    if payload < 0:
        return ChunkLayout(header_bytes=header, whole_chunks=0, tail_bytes=size - header)
    return ChunkLayout(header_bytes=header, whole_chunks=payload // SEALED_CHUNK_SIZE,
                       tail_bytes=payload % SEALED_CHUNK_SIZE)


def segment_index(name: str) -> int | None:
    """The segment index a file name belongs to (any of the device's segment names)."""
    match = _SEGMENT_FILE.match(name)
    return int(match.group(1)) if match else None


def segment_files(directory: Path, index: int | None = None) -> list[tuple[int, str]]:
    """(index, name) of every segment file in `directory` (optionally one index only)."""
    found: list[tuple[int, str]] = []
    for path in sorted(directory.iterdir()):
        match = _SEGMENT_FILE.match(path.name)
        if match and path.is_file() and index in (None, int(match.group(1))):
            found.append((int(match.group(1)), path.name))
    return found


def salvage_file(directory: Path, index: int, name: str) -> SalvagedSegment:
    """Rename a ``.partial`` to ``.truncated.age`` and measure the file."""
    if name.endswith(PARTIAL_SUFFIX):
        name = _rename_truncated(directory, index, name)
    state: SalvageState = "truncated" if name.endswith(TRUNCATED_SUFFIX) else "closed"
    path = directory / name
    return SalvagedSegment(index=index, file=name, state=state, size=path.stat().st_size,
                           sha256=sha256_file(path), layout=chunk_layout(path))


def missing_segment(index: int) -> SalvagedSegment:
    return SalvagedSegment(index=index, file="", state="missing", size=0,
                           sha256=hashlib.sha256(b"").hexdigest(),
                           layout=ChunkLayout(header_bytes=0, whole_chunks=0, tail_bytes=0))


def recovery_fields(item: SalvagedSegment, segment_open: dict[str, Any]) -> dict[str, Any]:
    """The fields of the manifest's ``recovery`` record for `item`."""
    return {"index": item.index, "file": item.file, "state": item.state, "size": item.size,
            "sha256": item.sha256, "whole_chunks": item.layout.whole_chunks,
            "whole_bytes": item.layout.whole_bytes, "tail_bytes": item.layout.tail_bytes,
            "media_start_us": segment_open.get("media_start_us"),
            "wall_start": segment_open.get("wall_start")}


def preamble_sha256(stream: BinaryIO) -> str | None:
    """SHA-256 of an age file's header and payload nonce, read from the start of
    `stream` (what the manifest's segment_open record signs); None when the file does not
    even hold a whole header and nonce."""
    stream.seek(0)
    try:
        read_header(stream)
    except (HeaderError, UnsupportedError, ValueError):
        return None
    size = stream.tell() + PAYLOAD_NONCE_SIZE
    stream.seek(0)
    preamble = stream.read(size)
    return hashlib.sha256(preamble).hexdigest() if len(preamble) == size else None


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (segments can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _rename_truncated(directory: Path, index: int, name: str) -> str:
    """Rename without ever replacing an existing file (rename(2) would)."""
    for n in range(1000):
        target = f"{index:05d}" + (f"-{n}" if n else "") + TRUNCATED_SUFFIX
        if not (directory / target).exists():
            os.rename(directory / name, directory / target)
            fsync_directory(directory)
            return target
    raise OSError(f"{directory}: cannot find a free name for {name}")

"""Power-loss recovery: finish every recording a power cut left unsealed.

Runs at start, before any new recording, and needs no private key: the device cannot
decrypt, it can only count. An age file is a text header ending with the ``--- MAC``
line, a 16-byte nonce, then sealed chunks of 64 KiB + 16 bytes; every whole chunk of a
cut-short file still decrypts, so the whole-chunk count says exactly how much media
survived. Nothing is ever deleted: a ``NNNNN.age.partial`` is renamed to
``NNNNN.truncated.age`` (the name says it ends early; ``age -d`` prints its whole chunks
and then reports the truncation), and each such file gets a signed ``recovery`` record
with its size, SHA-256 and whole-chunk count, followed by a seal whose reason is
``recovered after power loss``. Running it again after a cut during recovery is safe:
files already named in a record are not recorded twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from bodycam.firmware.evidence.age import CHUNK_SIZE, HeaderError, UnsupportedError
from bodycam.firmware.evidence.age_header import read_header
from bodycam.firmware.evidence.age_stream import PAYLOAD_NONCE_SIZE, SEALED_CHUNK_SIZE
from bodycam.firmware.evidence.device_key import fsync_directory
from bodycam.firmware.evidence.segment_file import PARTIAL_SUFFIX
from bodycam.firmware.evidence.signed_log import SignedLog, Signer, read_records
from bodycam.firmware.evidence.store import EVIDENCE_DIR, MANIFEST_NAME, STAGING_SUFFIX, Event
from bodycam.hal.interfaces import Clock

__all__ = [
    "RECOVERED_REASON",
    "ChunkLayout",
    "RecoveryReport",
    "SalvagedSegment",
    "chunk_layout",
    "recover_unfinished",
    "sha256_file",
]

RECOVERED_REASON: Final = "recovered after power loss"
TRUNCATED_SUFFIX: Final = ".truncated.age"
_SEGMENT_FILE = re.compile(r"^(\d{5})(?:-\d+)?(\.age|\.age\.partial|\.truncated\.age)$")
_log = logging.getLogger(__name__)

SalvageState = Literal["truncated", "closed", "missing"]


@dataclass(frozen=True)
class ChunkLayout:
    """How much of an age file is whole, worked out without the key."""

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
    file: str  # name on disk after recovery; "" when the file never reached the disk
    # truncated: was being written; closed: renamed but its manifest record was lost;
    # missing: opened in the manifest but the file never reached the disk.
    state: SalvageState
    size: int
    sha256: str
    layout: ChunkLayout


@dataclass(frozen=True)
class RecoveryReport:
    recording_id: str
    directory: Path
    salvaged: tuple[SalvagedSegment, ...]
    torn_manifest_bytes: int  # bytes of a torn manifest line moved into a side file
    abandoned_start: bool = False  # power cut while creating the directory: nothing recorded


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


def recover_unfinished(data_dir: Path, key: Signer, clock: Clock) -> list[RecoveryReport]:
    """Seal every unsealed recording under `data_dir`; call before recording starts."""
    parent = data_dir / EVIDENCE_DIR
    if not parent.is_dir():
        return []
    reports: list[RecoveryReport] = []
    for directory in sorted(p for p in parent.iterdir() if p.is_dir()):
        if directory.name.startswith(".") and directory.name.endswith(STAGING_SUFFIX):
            _log.warning("%s: power was lost while creating this recording; it holds no "
                         "segments and is left as it is", directory)
            recording_id = directory.name[1:-len(STAGING_SUFFIX)]
            reports.append(RecoveryReport(recording_id, directory, (), 0, abandoned_start=True))
            continue
        manifest = directory / MANIFEST_NAME
        if not manifest.is_file():
            _log.error("%s has no %s; left untouched for the custodian", directory,
                       MANIFEST_NAME)
            continue
        records = read_records(manifest)
        if records and records[-1].get("event") == Event.SEAL:
            continue
        reports.append(_recover(directory, records, key, clock))
    return reports


def _recover(directory: Path, records: list[dict[str, Any]], key: Signer,
             clock: Clock) -> RecoveryReport:
    opened = {r["index"]: r for r in records if r.get("event") == Event.SEGMENT_OPEN}
    accounted = {r.get("file") for r in records if r.get("event") in (Event.SEGMENT,
                                                                       Event.RECOVERY)}
    handled = {r["index"] for r in records
               if r.get("event") in (Event.SEGMENT, Event.RECOVERY)}
    with SignedLog.open(directory / MANIFEST_NAME, key, clock) as log:
        torn = log.torn_tail["bytes"] if log.torn_tail else 0
        salvaged = [_salvage(directory, index, name)
                    for index, name in _unaccounted_files(directory, accounted)]
        seen = {s.index for s in salvaged}
        salvaged += [_missing(index) for index in sorted(opened)
                     if index not in handled and index not in seen]
        for item in salvaged:
            start = opened.get(item.index, {})
            log.append(Event.RECOVERY, index=item.index, file=item.file, state=item.state,
                       size=item.size, sha256=item.sha256,
                       whole_chunks=item.layout.whole_chunks,
                       whole_bytes=item.layout.whole_bytes, tail_bytes=item.layout.tail_bytes,
                       media_start_us=start.get("media_start_us"),
                       wall_start=start.get("wall_start"))
        log.append(Event.SEAL, reason=RECOVERED_REASON,
                   segments=max([*opened, *handled, *seen], default=-1) + 1)
    recording_id = str(records[0].get("recording_id", directory.name)) if records \
        else directory.name
    _log.warning("%s: recovered after power loss (%d segment(s) salvaged, %d torn manifest "
                 "bytes kept aside)", recording_id, len(salvaged), torn)
    return RecoveryReport(recording_id, directory, tuple(salvaged), torn)


def _unaccounted_files(directory: Path, accounted: set[Any]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for path in sorted(directory.iterdir()):
        match = _SEGMENT_FILE.match(path.name)
        if match and path.name not in accounted and path.is_file():
            found.append((int(match.group(1)), path.name))
    return found


def _salvage(directory: Path, index: int, name: str) -> SalvagedSegment:
    if name.endswith(PARTIAL_SUFFIX):
        name = _rename_truncated(directory, index, name)
    state: SalvageState = "truncated" if name.endswith(TRUNCATED_SUFFIX) else "closed"
    path = directory / name
    return SalvagedSegment(index=index, file=name, state=state, size=path.stat().st_size,
                           sha256=sha256_file(path), layout=chunk_layout(path))


def _rename_truncated(directory: Path, index: int, name: str) -> str:
    """Rename without ever replacing an existing file (rename(2) would)."""
    for n in range(1000):
        target = f"{index:05d}" + (f"-{n}" if n else "") + TRUNCATED_SUFFIX
        if not (directory / target).exists():
            os.rename(directory / name, directory / target)
            fsync_directory(directory)
            return target
    raise OSError(f"{directory}: cannot find a free name for {name}")


def _missing(index: int) -> SalvagedSegment:
    return SalvagedSegment(index=index, file="", state="missing", size=0,
                           sha256=hashlib.sha256(b"").hexdigest(),
                           layout=ChunkLayout(header_bytes=0, whole_chunks=0, tail_bytes=0))


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (segments can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()

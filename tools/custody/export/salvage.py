"""What a forced export can still rescue from damaged or unrecovered evidence.

Per-chunk decryption: `age.decrypt` stops at the first chunk that fails, as `age -d`
does, which is right for normal use. But age STREAM chunks are sealed independently
(chunk i under nonce counter i, the last one with the final flag), so one damaged chunk
does not make the chunks after it any less authentic. A forced export of damaged
evidence must keep all of them and say exactly where the hole is; this module finds the
runs of consecutive good chunks and the chunks between them that failed. Only
authenticated plaintext is ever returned.

Unaccounted files: a recording exported before the camera ran its power-loss recovery
still holds the segment that was open at the cut (``NNNNN.age.partial``) or one that was
closed just before its manifest record could be written. They are real media, so a
forced export includes them (and says so); any other segment file the manifest does not
name is left out, and named, because nothing may be dropped silently.

Notes: what the report says about such a file must be what is known, no more: a
damaged header is not an empty file, and a file the camera closed may have been cut
on its way to the custodian.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bodycam.firmware.evidence.age import (
    AgeError,
    HeaderError,
    NoIdentityMatch,
    UnsupportedError,
    open_payload,
)
from bodycam.firmware.evidence.age.header import header_length
from bodycam.firmware.evidence.age.keys import Identity
from bodycam.firmware.evidence.age.stream import (
    CHUNK_SIZE,
    PAYLOAD_NONCE_SIZE,
    SEALED_CHUNK_SIZE,
    TAG_SIZE,
    open_chunk,
    payload_aead,
)
from bodycam.firmware.evidence.salvage import TRUNCATED_SUFFIX, segment_files
from bodycam.firmware.evidence.segment_file import PARTIAL_SUFFIX
from bodycam.tools.custody.export.inputs import name_refusal

__all__ = [
    "ChunkSalvage",
    "ManifestSources",
    "Piece",
    "PlainRun",
    "RefusedName",
    "SegmentSource",
    "SkippedChunk",
    "UnaccountedFile",
    "header_failure",
    "manifest_sources",
    "salvage_chunks",
    "unaccounted_files",
    "unrecovered_note",
    "whole_chunks_in",
]


@dataclass(frozen=True)
class PlainRun:
    """Consecutive authenticated chunks: their plaintext and where it starts."""

    offset: int  # plaintext byte offset of the run's first chunk in the whole file
    first_chunk: int
    data: bytes


@dataclass(frozen=True)
class SkippedChunk:
    """A chunk that failed authentication: its plaintext is lost."""

    index: int
    start: int  # plaintext byte range [start, end) the chunk would have held
    end: int


Piece = PlainRun | SkippedChunk


@dataclass(frozen=True)
class ChunkSalvage:
    """What survived of one age file, in file order."""

    pieces: tuple[Piece, ...]  # runs of good chunks and the failed chunks between them
    chunks: int  # chunks that authenticated
    final_seen: bool  # the final chunk authenticated; False: the file ends early
    tail: SkippedChunk | None = None  # a short last piece that does not authenticate

    @property
    def skipped(self) -> tuple[SkippedChunk, ...]:
        return tuple(p for p in self.pieces if isinstance(p, SkippedChunk))

    @property
    def plaintext_bytes(self) -> int:
        return sum(len(p.data) for p in self.pieces if isinstance(p, PlainRun))

    @classmethod
    def whole(cls, plaintext: bytes, chunks: int, final_seen: bool) -> ChunkSalvage:
        """A file that decrypted without a hole (possibly ending early)."""
        return cls((PlainRun(0, 0, plaintext),) if plaintext else (), chunks, final_seen)


def salvage_chunks(identities: Sequence[Identity], src: BinaryIO) -> ChunkSalvage:
    """Decrypt `src` chunk by chunk, skipping (not stopping at) chunks that fail.

    Header failures still raise (HeaderError, NoIdentityMatch, HmacError): without a
    verified header no chunk can be trusted. A short last piece that does not
    authenticate is a cut (power loss) or a damaged final chunk; only the caller knows
    which, so it is returned as `tail`, not among the skipped chunks.
    """
    aead = _payload_aead(identities, src)
    collector = _Collector()
    index = 0
    while piece := _read_piece(src):
        plaintext, final = _open_chunk(aead, index, piece)
        if plaintext is not None:
            collector.keep(index, plaintext, final)
        elif len(piece) < SEALED_CHUNK_SIZE:
            collector.tail = SkippedChunk(index, index * CHUNK_SIZE,
                                          index * CHUNK_SIZE + max(0, len(piece) - TAG_SIZE))
        else:
            collector.skip(index)
        index += 1
    return collector.result()


def _payload_aead(identities: Sequence[Identity], src: BinaryIO) -> ChaCha20Poly1305:
    """The payload cipher, once the header proved the file key (age.open_payload)."""
    return payload_aead(*open_payload(identities, src))


def _read_piece(src: BinaryIO) -> bytes:
    """One sealed chunk's worth of bytes; shorter only at end of file (pipes read short)."""
    piece = b""
    while len(piece) < SEALED_CHUNK_SIZE:
        more = src.read(SEALED_CHUNK_SIZE - len(piece))
        if not more:
            break
        piece += more
    return piece


def _open_chunk(aead: ChaCha20Poly1305, index: int, piece: bytes) -> tuple[bytes | None, bool]:
    """(plaintext, final) of chunk `index`; (None, False) when it does not authenticate.

    A full-size piece may be a middle chunk or a full final chunk; a short one can only
    be the final chunk.
    """
    if len(piece) < TAG_SIZE:
        return None, False
    flags = (False, True) if len(piece) == SEALED_CHUNK_SIZE else (True,)
    for final in flags:
        plaintext = open_chunk(aead, index, piece, final=final)
        if plaintext is not None:
            return plaintext, final
    return None, False


class _Collector:
    """Groups authenticated chunks into runs and records the holes between them."""

    def __init__(self) -> None:
        self.pieces: list[Piece] = []
        self.chunks = 0
        self.final_seen = False
        self.tail: SkippedChunk | None = None
        self._pending: list[bytes] = []
        self._first = 0

    def keep(self, index: int, plaintext: bytes, final: bool) -> None:
        if not self._pending:
            self._first = index
        self._pending.append(plaintext)
        self.chunks += 1
        self.final_seen = self.final_seen or final

    def skip(self, index: int) -> None:
        self._close_run()
        self.pieces.append(SkippedChunk(index, index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE))

    def result(self) -> ChunkSalvage:
        self._close_run()
        return ChunkSalvage(tuple(self.pieces), self.chunks, self.final_seen, self.tail)

    def _close_run(self) -> None:
        if self._pending:
            self.pieces.append(PlainRun(self._first * CHUNK_SIZE, self._first,
                                      b"".join(self._pending)))
            self._pending = []


# ------------------------------------------------------------------ segment sources


@dataclass(frozen=True)
class SegmentSource:
    """One segment file to export, and what is known about how it ended."""

    index: int
    file: str
    salvage: bool  # recovery found it cut short: decrypt up to the last whole chunk
    whole_chunks: int | None = None  # as recovery counted them (None: not salvaged)
    unrecovered: str | None = None  # not in the manifest: why a forced export includes it
    sha256: str | None = None  # of the ciphertext, as the manifest signed it
    size: int | None = None  # bytes, as the manifest signed it

    @property
    def empty(self) -> bool:
        """Cut before its first whole chunk: no media of it exists anywhere."""
        return self.salvage and self.whole_chunks == 0


@dataclass(frozen=True)
class RefusedName:
    """A file name the manifest gives for a segment that export will not open."""

    index: int
    file: str
    why: str

    def note(self) -> str:
        return (f"refused: the manifest names {self.file!r} for segment {self.index}, "
                f"which was not read: {self.why}")


@dataclass(frozen=True)
class ManifestSources:
    """The segments the manifest accounts for, and the names it gives that are refused."""

    by_index: dict[int, SegmentSource]
    refused: dict[int, RefusedName]


def manifest_sources(records: Sequence[Mapping[str, Any]]) -> ManifestSources:
    """index -> source for every segment the manifest closed or recovery accounted for,
    by a name the camera writes (any other name is refused: see export_inputs)."""
    by_index: dict[int, SegmentSource] = {}
    refused: dict[int, RefusedName] = {}
    for record in records:
        event, index, name = record.get("event"), record.get("index"), record.get("file")
        if not isinstance(index, int) or not isinstance(name, str) or not name:
            continue
        if not (event == "segment" or (event == "recovery" and index not in by_index)):
            continue  # a segment record wins over recovery's account of the same file
        if (why := name_refusal(index, name)) is not None:
            refused.setdefault(index, RefusedName(index, name, why))
            continue
        digest, size, chunks = (record.get(k) for k in ("sha256", "size", "whole_chunks"))
        by_index[index] = SegmentSource(
            index, name, salvage=event == "recovery" and record.get("state") == "truncated",
            whole_chunks=chunks if event == "recovery" and isinstance(chunks, int) else None,
            sha256=digest if isinstance(digest, str) else None,
            size=size if isinstance(size, int) else None)
    for index in by_index:
        refused.pop(index, None)  # a good record for the segment wins
    return ManifestSources(by_index, refused)


# ------------------------------------------------------------------ unaccounted files


@dataclass(frozen=True)
class UnaccountedFile:
    """A segment file the manifest does not account for, and what export does with it."""

    index: int
    file: str
    include: bool
    why: str  # for the report's notes


_INCLUDED_BECAUSE: Final = {
    PARTIAL_SUFFIX: "it was being written when the power was cut",
    TRUNCATED_SUFFIX: "recovery renamed it but its recovery record was never written",
    ".age": "the camera had closed it, but the power was cut before its segment record "
            "was written",
}


def unaccounted_files(directory: Path, records: Sequence[Mapping[str, Any]],
                      used: Mapping[int, str], *, force: bool,
                      refused: Mapping[int, str] | None = None) -> list[UnaccountedFile]:
    """Every segment-like file in `directory` that `used` (index -> file) leaves out.

    Nothing may be dropped silently: each file comes back either to be included (with
    --force, a segment the manifest opened but never closed, i.e. a recording that was
    not recovered after a power cut) or with the reason it is left out. A symbolic link
    is never included, nor a file for a segment whose manifest record names another,
    `refused` (index -> name), file: that record is damaged, not unfinished.
    """
    opened = {index for r in records if r.get("event") == "segment_open"
              and type(index := r.get("index")) is int}  # a damaged record names none
    no_segment_records = not opened and not used
    taken = dict(used)
    refused = refused or {}
    found: list[UnaccountedFile] = []
    for index, name in segment_files(directory):
        if name in used.values():
            continue
        if (directory / name).is_symlink():
            why = "a symbolic link (the camera never writes one; it may point outside " \
                  "the recording)"
        elif index in taken:
            why = f"segment {index} is exported from {taken[index]}"
        elif index in refused:
            why = f"the manifest's record for segment {index} names {refused[index]!r} " \
                  "instead, which was refused"
        elif not force:
            why = "the manifest has no segment record for it; --force would consider it"
        elif index in opened or no_segment_records:
            taken[index] = name
            why = _included_because(name) if index in opened else \
                "the manifest names no segment at all, so every segment file is exported"
            found.append(UnaccountedFile(index, name, True, why))
            continue
        else:
            why = "not named in the manifest (inserted, or its manifest record was removed)"
        found.append(UnaccountedFile(index, name, False, why))
    return found


def _included_because(name: str) -> str:
    suffix = next(s for s in (PARTIAL_SUFFIX, TRUNCATED_SUFFIX, ".age") if name.endswith(s))
    return _INCLUDED_BECAUSE[suffix]


# ------------------------------------------------------------------ notes


def whole_chunks_in(data: bytes, recorded: int | None) -> int:
    """Whole chunks in a cut file: the signed recovery record's count if there is one,
    else measured from the bytes export read (from their length alone when the header
    does not parse)."""
    if recorded is not None:
        return recorded
    try:
        header = header_length(data)
    except (HeaderError, UnsupportedError):
        return len(data) // SEALED_CHUNK_SIZE
    return max(0, len(data) - header - PAYLOAD_NONCE_SIZE) // SEALED_CHUNK_SIZE


def header_failure(exc: AgeError, whole_chunks: int | None) -> str:
    """Why a file whose header did not open gives no media (`whole_chunks`: a cut
    file's count, None for a complete file)."""
    cause = ("its header opens with none of the given identities (the header is damaged, "
             "or the file was encrypted to another recipient)"
             if isinstance(exc, NoIdentityMatch) else "its header is damaged")
    count = "" if whole_chunks is None else f"; its {whole_chunks} whole chunk(s) are lost"
    return f"{cause}, so none of its chunks can be authenticated ({exc}{count})"


def unrecovered_note(file: str, why: str, salvage: ChunkSalvage) -> str:
    """A file a forced export included without a manifest hash: what decrypted."""
    end = ("the final chunk authenticated" if salvage.final_seen else
           "the final chunk is missing (the file ends early: the media after the last "
           "whole chunk is not in this copy)")
    return (f"included {file}: {salvage.chunks} whole chunks salvaged, recording not "
            f"recovered on the device ({why}); the signed manifest holds no hash of it, "
            "so nothing shows that the camera wrote it: age authenticates each chunk "
            "against damage, not who made it, and anyone holding the authority's public "
            f"recipient can make such a file; {end}")

"""Forced-export salvage: per-chunk age decryption and unaccounted segment files."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from bodycam.firmware.evidence.age import (
    CHUNK_SIZE,
    AgeEncryptor,
    HmacError,
    NoIdentityMatch,
    decrypt,
)
from bodycam.firmware.evidence.age.stream import SEALED_CHUNK_SIZE
from bodycam.tools.custody.export.salvage import (
    ChunkSalvage,
    PlainRun,
    SkippedChunk,
    salvage_chunks,
    unaccounted_files,
)

IDENTITY = X25519PrivateKey.generate()
PLAINTEXT = random.Random(7).randbytes(4 * CHUNK_SIZE + 1000)  # chunks 0-3 full, 4 short


def encrypt(plaintext: bytes = PLAINTEXT) -> tuple[bytearray, int]:
    """(age file, offset of its first sealed chunk)."""
    out = bytearray()
    encryptor = AgeEncryptor([IDENTITY.public_key()], out.extend)
    first = len(out)  # the constructor wrote the header and the payload nonce
    encryptor.write(plaintext)
    encryptor.close()
    return out, first


def damage(data: bytearray, first: int, chunk: int) -> None:
    data[first + chunk * SEALED_CHUNK_SIZE + 100] ^= 0x01


def salvage(data: bytes | bytearray) -> ChunkSalvage:
    return salvage_chunks([IDENTITY], io.BytesIO(bytes(data)))


def runs(result: ChunkSalvage) -> list[tuple[int, bytes]]:
    return [(p.offset, p.data) for p in result.pieces if isinstance(p, PlainRun)]


def test_an_intact_file_is_one_run_equal_to_what_decrypt_gives() -> None:
    data, _ = encrypt()
    result = salvage(data)
    plain = io.BytesIO()
    decrypt([IDENTITY], io.BytesIO(bytes(data)), plain)
    assert runs(result) == [(0, plain.getvalue())]
    assert result.final_seen and result.chunks == 5 and result.tail is None
    assert result.skipped == () and result.plaintext_bytes == len(PLAINTEXT)


def test_a_damaged_middle_chunk_costs_only_itself() -> None:
    data, first = encrypt()
    damage(data, first, 1)
    result = salvage(data)
    assert result.skipped == (SkippedChunk(1, CHUNK_SIZE, 2 * CHUNK_SIZE),)
    assert runs(result) == [(0, PLAINTEXT[:CHUNK_SIZE]),
                            (2 * CHUNK_SIZE, PLAINTEXT[2 * CHUNK_SIZE:])]
    assert result.final_seen and result.chunks == 4
    assert [type(p) for p in result.pieces] == [PlainRun, SkippedChunk, PlainRun]


def test_first_and_consecutive_damaged_chunks_are_each_named() -> None:
    data, first = encrypt()
    for chunk in (0, 2, 3):
        damage(data, first, chunk)
    result = salvage(data)
    assert [c.index for c in result.skipped] == [0, 2, 3]
    assert runs(result) == [(CHUNK_SIZE, PLAINTEXT[CHUNK_SIZE:2 * CHUNK_SIZE]),
                            (4 * CHUNK_SIZE, PLAINTEXT[4 * CHUNK_SIZE:])]


def test_a_file_cut_mid_chunk_keeps_its_whole_chunks_and_reports_the_tail() -> None:
    data, first = encrypt()
    cut = bytes(data[:first + 2 * SEALED_CHUNK_SIZE + 500])
    result = salvage(cut)
    assert runs(result) == [(0, PLAINTEXT[:2 * CHUNK_SIZE])]
    assert not result.final_seen and result.skipped == ()
    # taken as a final chunk: its last 16 bytes would be the tag
    assert result.tail == SkippedChunk(2, 2 * CHUNK_SIZE, 2 * CHUNK_SIZE + 500 - 16)


def test_a_damaged_short_final_chunk_is_the_tail() -> None:
    data, _ = encrypt()
    data[-5] ^= 0x01
    result = salvage(data)
    assert result.tail is not None and result.tail.index == 4
    assert not result.final_seen and result.plaintext_bytes == 4 * CHUNK_SIZE


def test_a_damaged_full_final_chunk_is_skipped() -> None:
    plaintext = PLAINTEXT[:2 * CHUNK_SIZE]  # the final chunk is full-size
    data, first = encrypt(plaintext)
    damage(data, first, 1)
    result = salvage(data)
    assert result.skipped == (SkippedChunk(1, CHUNK_SIZE, 2 * CHUNK_SIZE),)
    assert runs(result) == [(0, plaintext[:CHUNK_SIZE])] and not result.final_seen


def test_header_failures_still_raise() -> None:
    data, _ = encrypt()
    with pytest.raises(NoIdentityMatch):
        salvage_chunks([X25519PrivateKey.generate()], io.BytesIO(bytes(data)))
    mac_line = data.index(b"\n---") + 5
    data[mac_line] = ord("A") if data[mac_line] != ord("A") else ord("B")
    with pytest.raises(HmacError):
        salvage(data)


# ------------------------------------------------------------------ unaccounted files


def opened(*indexes: int) -> list[dict[str, Any]]:
    return [{"event": "segment_open", "index": i, "file": f"{i:05d}.age"} for i in indexes]


def files(directory: Path, *names: str) -> Path:
    for name in names:
        (directory / name).write_bytes(b"x")
    return directory


def test_files_of_an_unrecovered_recording_are_included_only_when_forced(
        tmp_path: Path) -> None:
    directory = files(tmp_path, "00000.age", "00001.age", "00002.age.partial")
    used = {0: "00000.age"}
    included = unaccounted_files(directory, opened(0, 1, 2), used, force=True)
    assert [(f.file, f.include) for f in included] == [("00001.age", True),
                                                      ("00002.age.partial", True)]
    assert "segment record was written" in included[0].why
    assert "being written when the power was cut" in included[1].why
    refused = unaccounted_files(directory, opened(0, 1, 2), used, force=False)
    assert [(f.file, f.include) for f in refused] == [("00001.age", False),
                                                     ("00002.age.partial", False)]
    assert all("--force" in f.why for f in refused)


def test_files_the_manifest_never_opened_or_already_exported_are_named(
        tmp_path: Path) -> None:
    directory = files(tmp_path, "00000.age", "00000-1.truncated.age", "00007.age",
                      "notes.txt")
    found = unaccounted_files(directory, opened(0), {0: "00000.age"}, force=True)
    assert [(f.file, f.include) for f in found] == [("00000-1.truncated.age", False),
                                                   ("00007.age", False)]
    assert "exported from 00000.age" in found[0].why
    assert "not named in the manifest" in found[1].why


def test_without_any_segment_record_every_segment_file_is_included(tmp_path: Path) -> None:
    directory = files(tmp_path, "00000.age", "00001.age.partial")
    found = unaccounted_files(directory, [], {}, force=True)
    assert [(f.file, f.include) for f in found] == [("00000.age", True),
                                                   ("00001.age.partial", True)]

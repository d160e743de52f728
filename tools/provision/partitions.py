"""Find the FAT boot partition in a disk image or SD card from its partition table.

Read directly from the first sectors (MBR, and GPT behind a protective MBR) so the
technician's laptop needs neither root, nor mounting, nor a Linux-only tool: the offset
found here is handed to mtools as `IMAGE@@OFFSET`.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["SECTOR", "Partition", "PartitionError", "find_boot_partition", "read_partitions"]

SECTOR = 512  # SD cards and Raspberry Pi OS images use 512-byte logical sectors
_MBR_SIGNATURE = b"\x55\xaa"
_MBR_TABLE = 446
_MBR_ENTRY = struct.Struct("<B3sB3sII")  # status, CHS, type, CHS, first LBA, sectors
_MBR_FAT_TYPES = {0x01: "FAT12", 0x04: "FAT16", 0x06: "FAT16", 0x0B: "FAT32",
                  0x0C: "FAT32 (LBA)", 0x0E: "FAT16 (LBA)"}
_MBR_GPT_PROTECTIVE = 0xEE
_GPT_SIGNATURE = b"EFI PART"
# signature, revision, header size, CRC, reserved, LBAs (current, backup, first and last
# usable), disk GUID, entries LBA, entry count, entry size
_GPT_HEADER = struct.Struct("<8s4xI4x4x8x8x8x8x16sQII")
_GPT_ENTRY = struct.Struct("<16s16sQQ8x72s")  # type, unique, first, last, attrs, name
_GPT_FAT_TYPES = {
    uuid.UUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B"): "EFI system (FAT)",
    uuid.UUID("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"): "basic data (FAT)",
}
_GPT_MAX_ENTRIES = 256


class PartitionError(ValueError):
    """The image has no usable partition table or no FAT partition; says what to do."""


@dataclass(frozen=True)
class Partition:
    number: int  # 1-based, as in /dev/sdX1
    offset: int  # bytes from the start of the image
    size: int  # bytes
    kind: str  # human-readable type
    fat: bool


def read_partitions(image: Path) -> list[Partition]:
    """Partitions of the MBR or GPT at the start of `image` (file or block device)."""
    with image.open("rb") as disk:
        mbr = disk.read(SECTOR)
        if len(mbr) < SECTOR or mbr[510:512] != _MBR_SIGNATURE:
            raise PartitionError(
                f"{image}: no partition table (no MBR signature). Fix: give the whole "
                "image or card (e.g. /dev/sdb, not /dev/sdb1), or the mounted boot folder")
        entries = [_MBR_ENTRY.unpack_from(mbr, _MBR_TABLE + 16 * i) for i in range(4)]
        if any(entry[2] == _MBR_GPT_PROTECTIVE for entry in entries):
            disk.seek(SECTOR)
            return _gpt(image, disk.read(SECTOR), disk)
    return [Partition(n, first * SECTOR, count * SECTOR,
                      _MBR_FAT_TYPES.get(kind, f"type 0x{kind:02x}"), kind in _MBR_FAT_TYPES)
            for n, (_, _, kind, _, first, count) in enumerate(entries, start=1)
            if kind and count]


def _gpt(image: Path, header: bytes, disk: BinaryIO) -> list[Partition]:
    signature, _, _, entries_lba, count, entry_size = _GPT_HEADER.unpack_from(header)
    if signature != _GPT_SIGNATURE or entry_size < _GPT_ENTRY.size:
        raise PartitionError(f"{image}: protective MBR but no valid GPT header. Fix: "
                             "check the image is complete (re-download or re-copy it)")
    disk.seek(entries_lba * SECTOR)
    table = disk.read(min(count, _GPT_MAX_ENTRIES) * entry_size)
    found = []
    for index in range(len(table) // entry_size):
        kind_raw, _, first, last, _ = _GPT_ENTRY.unpack_from(table, index * entry_size)
        kind = uuid.UUID(bytes_le=kind_raw)
        if kind.int == 0:
            continue
        found.append(Partition(index + 1, first * SECTOR, (last - first + 1) * SECTOR,
                               _GPT_FAT_TYPES.get(kind, str(kind)), kind in _GPT_FAT_TYPES))
    return found


def find_boot_partition(image: Path) -> Partition:
    """The first FAT partition: where Raspberry Pi OS keeps /boot/firmware."""
    partitions = read_partitions(image)
    for partition in partitions:
        if partition.fat:
            return partition
    listed = ", ".join(f"{p.number}: {p.kind}" for p in partitions) or "none"
    raise PartitionError(f"{image}: no FAT partition (partitions: {listed}). Fix: give a "
                         "Raspberry Pi OS image or card, whose first partition is the FAT "
                         "boot partition")

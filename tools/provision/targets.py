"""Where provisioning files go: a FAT partition inside an image or card, or a folder.

The FAT partition is written with mtools (`mcopy -i IMAGE@@OFFSET`), which works on a
file or a block device the user may write, without root and without mounting it, on
Linux and macOS alike.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from bodycam.firmware.evidence.durable import replace_file
from bodycam.tools.provision.partitions import Partition, find_boot_partition

__all__ = ["BootDirectory", "BootTarget", "FatPartition", "TargetError", "open_target"]


class TargetError(RuntimeError):
    """The target cannot be read or written; the message says how to fix that."""


class BootTarget(Protocol):
    def describe(self) -> str: ...

    def names(self) -> set[str]:
        """File names in the partition's top folder, in lower case (FAT ignores case)."""

    def read(self, name: str) -> bytes: ...

    def write(self, name: str, data: bytes) -> None: ...


class BootDirectory:
    """A mounted boot partition (or any folder standing in for one)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return f"folder {self.path}"

    def names(self) -> set[str]:
        return {entry.name.lower() for entry in self.path.iterdir()}

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()

    def write(self, name: str, data: bytes) -> None:
        # Atomic: a camera watching this folder never sees half a file.
        replace_file(self.path / name, data, 0o644, fat=True)


class FatPartition:
    """The FAT file system at `partition.offset` inside `image`, through mtools."""

    def __init__(self, image: Path, partition: Partition) -> None:
        self.image = image
        self.partition = partition

    def describe(self) -> str:
        p = self.partition
        return (f"{self.image} partition {p.number} ({p.kind}, {p.size // 2**20} MiB "
                f"at byte offset {p.offset})")

    def names(self) -> set[str]:
        listing = self._mtools("mdir", "-b", "::/").stdout.decode("utf-8", "replace")
        return {line.removeprefix("::/").lower() for line in listing.splitlines() if line}

    def read(self, name: str) -> bytes:
        return self._mtools("mtype", f"::/{name}").stdout

    def write(self, name: str, data: bytes) -> None:
        with tempfile.TemporaryDirectory(prefix="bodycam-provision-") as tmp:
            source = Path(tmp) / name
            source.write_bytes(data)
            self._mtools("mcopy", "-o", "-D", "o", str(source), f"::/{name}")

    def _mtools(self, tool: str, *args: str) -> subprocess.CompletedProcess[bytes]:
        program = shutil.which(tool)
        if program is None:
            raise TargetError(f"{tool} not found: mtools is needed to write into an image "
                              "without mounting it. Fix: install mtools (Debian/Ubuntu: "
                              "apt install mtools; macOS: brew install mtools)")
        # No user or system mtools drive configuration may redirect "::".
        env = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "MTOOLSRC": os.devnull}
        spec = f"{self.image}@@{self.partition.offset}"
        done = subprocess.run([program, "-i", spec, *args], env=env, capture_output=True,
                              check=False)
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip()
            raise TargetError(f"{tool} failed on {self.describe()}: {detail}. Fix: check "
                              "the image or card is complete and writable by you")
        return done


def open_target(path: Path) -> BootTarget:
    """A folder is used as is; a file or block device is searched for its FAT partition."""
    if path.is_dir():
        return BootDirectory(path)
    if not path.exists():
        raise TargetError(f"{path} does not exist. Fix: give an image file, the SD card "
                          "device (e.g. /dev/sdb or /dev/disk4) or the mounted boot folder")
    try:
        return FatPartition(path, find_boot_partition(path))
    except PermissionError:
        raise TargetError(f"{path}: permission denied. Fix: make the card writable for "
                          "your user (e.g. add yourself to the 'disk' group) or use "
                          "the mounted boot folder instead") from None

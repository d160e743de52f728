"""replace_file on the FAT boot partition: vfat refuses chmod, the write must still land."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bodycam.firmware.evidence import durable


def _vfat_chmod(path: object, mode: int) -> None:
    raise PermissionError(1, "Operation not permitted", str(path))


def test_fat_target_tolerates_refused_chmod(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "chmod", _vfat_chmod)  # what a vfat mount does
    target = tmp_path / "BODYCAM-ERROR.txt"
    durable.replace_file(target, b"line\r\n", 0o644, fat=True)
    assert target.read_bytes() == b"line\r\n"
    assert [p.name for p in tmp_path.iterdir()] == ["BODYCAM-ERROR.txt"]


def test_unix_target_still_fails_loudly_when_chmod_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "chmod", _vfat_chmod)
    target = tmp_path / "bodycam.toml"
    target.write_bytes(b"old")
    with pytest.raises(PermissionError):
        durable.replace_file(target, b"new", 0o640)
    assert target.read_bytes() == b"old"  # the previous file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["bodycam.toml"]

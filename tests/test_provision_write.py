"""`bodycam-provision write` into real disk images (sfdisk + mkfs.vfat), checked with mtools.

The images are 40 MiB sparse files laid out like Raspberry Pi OS: partition 1 FAT32
(the boot partition, with config.txt), partition 2 Linux.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from signed_provisioning import write_key_files
from test_provision_check import INVALID_FILES, OTHER, VALID, write_case

from bodycam.tools.provision.cli import main
from bodycam.tools.provision.partitions import (
    SECTOR,
    PartitionError,
    find_boot_partition,
    read_partitions,
)

IMAGE_MIB = 40
BOOT_START = 2048  # sectors, as Raspberry Pi OS: 1 MiB alignment
BOOT_SECTORS = 75776  # 37 MiB: enough clusters for a genuine FAT32 with 512-byte clusters
MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "MTOOLSRC": os.devnull}


def _run(*cmd: str, stdin: str | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, input=stdin.encode() if stdin else None, env=MTOOLS_ENV,
                          capture_output=True, check=True)


def make_image(path: Path, label: str = "dos", boot_marker: bool = True) -> Path:
    """A sparse disk image with a real partition table and a FAT32 first partition."""
    with path.open("wb") as image:
        image.truncate(IMAGE_MIB * 2**20)
    boot_type = "c" if label == "dos" else "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    linux_type = "83" if label == "dos" else "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
    _run("sfdisk", "-q", str(path), stdin=(
        f"label: {label}\n"
        f"start={BOOT_START}, size={BOOT_SECTORS}, type={boot_type}\n"
        f"start={BOOT_START + BOOT_SECTORS}, size=2048, type={linux_type}\n"))
    _run("mkfs.vfat", "-F", "32", "-s", "1", "-n", "bootfs", "--offset", str(BOOT_START),
         str(path), str(BOOT_SECTORS * SECTOR // 1024))
    if boot_marker:
        marker = path.with_name("config.txt")
        marker.write_text("dtparam=audio=on\n")
        _run("mcopy", "-i", f"{path}@@{BOOT_START * SECTOR}", str(marker), "::/config.txt")
    return path


def mtype(image: Path, name: str) -> bytes:
    return _run("mtype", "-i", f"{image}@@{BOOT_START * SECTOR}", f"::/{name}").stdout


def mdir(image: Path) -> set[str]:
    out = _run("mdir", "-b", "-i", f"{image}@@{BOOT_START * SECTOR}", "::/").stdout.decode()
    return {line.removeprefix("::/") for line in out.splitlines()}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return make_image(tmp_path / "raspios.img")


Writer = Callable[[list[str]], int]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """`bodycam-provision write --sign-key AGENCY.key ARGS`, the technician's usual call."""
    keys = tmp_path / "keys"
    keys.mkdir()
    key, _ = write_key_files(keys)
    return lambda argv: main(["write", "--sign-key", str(key), *argv])


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    return write_case(source, VALID)


# ------------------------------------------------------------------ partition table


def test_mbr_partitions_match_sfdisk(image: Path) -> None:
    table = json.loads(_run("sfdisk", "--json", str(image)).stdout)["partitiontable"]
    expected = [(p["start"] * SECTOR, p["size"] * SECTOR) for p in table["partitions"]]
    found = read_partitions(image)
    assert [(p.offset, p.size) for p in found] == expected
    assert [p.fat for p in found] == [True, False]


def test_gpt_boot_partition_is_found(tmp_path: Path) -> None:
    gpt = make_image(tmp_path / "gpt.img", label="gpt")
    boot = find_boot_partition(gpt)
    assert (boot.number, boot.offset, boot.fat) == (1, BOOT_START * SECTOR, True)


def test_no_partition_table_is_explained(tmp_path: Path) -> None:
    blank = tmp_path / "blank.img"
    blank.write_bytes(bytes(4096))
    with pytest.raises(PartitionError, match="not /dev/sdb1"):
        find_boot_partition(blank)


# ------------------------------------------------------------------ writing


def test_write_into_image_without_mounting(write: Writer, image: Path, config_file: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert write([str(config_file), str(image)]) == 0
    assert mtype(image, "bodycam.toml") == config_file.read_bytes()
    assert mdir(image) == {"config.txt", "bodycam.toml", "bodycam.toml.sig"}
    assert "partition 1" in capsys.readouterr().out


def test_writing_again_replaces_the_file(write: Writer, image: Path, config_file: Path) -> None:
    assert write([str(config_file), str(image)]) == 0
    config_file.write_text(VALID.replace("BC-0042", "BC-0043"))
    assert write([str(config_file), str(image)]) == 0
    assert b"BC-0043" in mtype(image, "bodycam.toml")


def test_dry_run_writes_nothing(write: Writer, image: Path, config_file: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    before = sha256(image)
    assert write(["--dry-run", str(config_file), str(image)]) == 0
    assert sha256(image) == before
    out = capsys.readouterr().out
    assert "would write bodycam.toml" in out and "nothing written" in out


@pytest.mark.parametrize(("content", "expected"),
                         [(c, e) for _, c, e in INVALID_FILES[:6]],
                         ids=[case for case, _, _ in INVALID_FILES[:6]])
def test_invalid_file_never_touches_the_image(
        image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        content: str | bytes, expected: str) -> None:
    before = sha256(image)
    bad = write_case(tmp_path, content)
    assert main(["write", str(bad), str(image)]) == 1  # refused before any key is needed
    assert sha256(image) == before
    assert expected in capsys.readouterr().err


def test_fat_disk_without_config_txt_needs_force(write: Writer, tmp_path: Path, config_file: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    stick = make_image(tmp_path / "usbstick.img", boot_marker=False)
    assert write([str(config_file), str(stick)]) == 1
    assert "not a Raspberry Pi boot partition" in capsys.readouterr().err
    assert "bodycam.toml" not in mdir(stick)
    assert write(["--force", str(config_file), str(stick)]) == 0
    assert mtype(stick, "bodycam.toml") == config_file.read_bytes()


def test_write_into_mounted_boot_folder(write: Writer, tmp_path: Path, config_file: Path) -> None:
    boot = tmp_path / "bootfs"
    boot.mkdir()
    (boot / "config.txt").write_text("")
    assert write([str(config_file), str(boot)]) == 0
    assert (boot / "bodycam.toml").read_bytes() == config_file.read_bytes()
    assert sorted(p.name for p in boot.iterdir()) == ["bodycam.toml", "bodycam.toml.sig",
                                                      "config.txt"]


def test_missing_target_is_explained(write: Writer, tmp_path: Path, config_file: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert write([str(config_file), str(tmp_path / "nope.img")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_recipients_file_goes_onto_the_fat_partition(write: Writer, image: Path, config_file: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    recipients = config_file.with_name("authority.txt")
    recipients.write_text(f"# evidence authority\n{OTHER}\n")
    before = sha256(image)
    argv = ["--recipients", str(recipients), str(config_file), str(image)]
    assert write(["--dry-run", *argv]) == 0
    assert sha256(image) == before
    assert "would write bodycam-recipients.txt" in capsys.readouterr().out
    assert write(argv) == 0
    assert mtype(image, "bodycam-recipients.txt") == recipients.read_bytes()
    assert mdir(image) == {"config.txt", "bodycam.toml", "bodycam-recipients.txt",
                           "bodycam.toml.sig", "bodycam-recipients.txt.sig"}


def test_invalid_recipients_file_never_touches_the_image(write: Writer,
        image: Path, config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipients = config_file.with_name("authority.txt")
    recipients.write_text(f"{OTHER}\nage1notakey\n")
    before = sha256(image)
    assert write(["--recipients", str(recipients), str(config_file),
                 str(image)]) == 1
    assert sha256(image) == before
    assert "line 2" in capsys.readouterr().err

"""What root does with hostile entries on the boot partition and in its own trees.

The audit's reproductions, each run the way fb/harness.sh ran them (a camera root in a
temporary folder, firstboot's entry point as on the device): a file changing while it
is imported (L1), a TOML bomb and directories under every name firstboot uses, a full
partition (L2), a link to a secret file and a FIFO (L3), a link planted by the service
user in place of its key (L4), a secret key as a key name (L7), 3,900 recipients (L8),
and `..` in the storage paths (H4).
"""

from __future__ import annotations

import logging
import os
import pwd
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import provisioning_rig
import pytest
from provisioning_rig import (
    WHEN,
    Recorder,
    camera_root,
    drop,
    drop_recipients,
    error_text,
    mode,
    recipients_file,
    run_import,
)
from signed_provisioning import sign_beside
from test_provision_check import RECIPIENT, SECRET, VALID, _with

from bodycam.firmware.config.loader import load_config
from bodycam.firmware.device.firstboot import (
    BOOT_CONFIG_NAME,
    ERROR_FILE_NAME,
    IDENTITY_FILE_NAME,
    RECIPIENTS_FILE_NAME,
    REJECTED_NAME,
    DeviceLayout,
    ImportResult,
    Owner,
    main,
    pending_fault,
)
from bodycam.firmware.device.identity import IDENTITY_SNAPSHOT
from bodycam.firmware.evidence.age.keys import generate_identity
from bodycam.firmware.evidence.device_key import KEY_FILE_NAME
from bodycam.hal.clocks import ManualClock

INVALID = VALID + '\n[video]\nfps = "broken"\n'
TRIGGERS = (BOOT_CONFIG_NAME, RECIPIENTS_FILE_NAME)  # what bodycam-provision.path watches

layout, hooks = provisioning_rig.layout, provisioning_rig.hooks  # shared fixtures


def boot(layout: DeviceLayout, hooks: Recorder) -> int:
    """firstboot's entry point as the unit runs it (as the calling user here)."""
    user = pwd.getpwuid(Owner.current().service_uid).pw_name
    return main(["--root", str(layout.root), "--user", user], clock=ManualClock(WHEN),
                audit=hooks.audit, indicate=hooks.indicate)


def no_trigger_left(layout: DeviceLayout) -> bool:
    """Nothing left under a watched name: the path unit is not started again and again."""
    return not any(os.path.lexists(layout.boot_dir / name) for name in TRIGGERS)


# ------------------------------------------------------------------ L1: a file that changes


_REWRITES: dict[str, list[bytes | None]] = {}
_in_hook = threading.local()


def _rewrite_on_open(event: str, args: tuple[Any, ...]) -> None:
    """Before the Nth open of a watched file, give it the Nth content (a writer racing
    the import, made deterministic)."""
    if event != "open" or getattr(_in_hook, "active", False) or not args:
        return
    path = args[0]
    if not isinstance(path, str | bytes | os.PathLike):
        return
    queue = _REWRITES.get(os.fsdecode(path))
    if not queue:
        return
    content = queue.pop(0)
    if content is not None:
        _in_hook.active = True
        try:
            Path(os.fsdecode(path)).write_bytes(content)
        finally:
            _in_hook.active = False


sys.addaudithook(_rewrite_on_open)


@pytest.fixture
def racing_writer() -> Iterator[Callable[[Path, list[bytes | None]], None]]:
    def arm(path: Path, contents: list[bytes | None]) -> None:
        _REWRITES[str(path)] = contents

    yield arm
    _REWRITES.clear()


def test_the_bytes_checked_are_the_bytes_installed(
        layout: DeviceLayout, hooks: Recorder,
        racing_writer: Callable[[Path, list[bytes | None]], None]) -> None:
    """L1 repro (race.py): invalid while snapshotted, valid while validated, invalid
    again when compared. The import read the file three times; it installed invalid
    bytes and the camera refused to start. Now it reads it once."""
    path = drop(layout, INVALID)  # signed as it is first read: it gets past the signature
    racing_writer(path, [None, VALID.encode(), INVALID.encode()])
    run_import(layout, hooks)
    assert not layout.config_file.exists() or load_config(layout.config_file)
    assert hooks.names()[-1] == "config.rejected"


def test_a_file_changed_after_reading_installs_what_was_read(
        layout: DeviceLayout, hooks: Recorder,
        racing_writer: Callable[[Path, list[bytes | None]], None]) -> None:
    path = drop(layout, VALID)
    racing_writer(path, [None, INVALID.encode(), INVALID.encode()])
    assert run_import(layout, hooks) is ImportResult.INSTALLED
    assert layout.config_file.read_text() == VALID


# ------------------------------------------------------------------ L2: bombs, directories


def test_toml_bomb_is_a_clear_rejection_and_identity_is_still_written(
        tmp_path: Path, hooks: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    """L2 repro on a fresh camera: a traceback, no error file, no fault marker, the file
    left in place for the path unit, and no BODYCAM-IDENTITY.txt."""
    fresh = camera_root(tmp_path / "fresh", pinned=False)
    drop(fresh, "a = " + "[" * 5000 + "]" * 5000 + "\n")
    assert boot(fresh, hooks) == 1
    assert "nested too deeply" in error_text(fresh)
    assert "nested too deeply" in (pending_fault(fresh) or "")
    assert (fresh.boot_dir / IDENTITY_FILE_NAME).is_file()
    assert no_trigger_left(fresh)
    assert "Traceback" not in caplog.text


# name on the boot partition that is a directory, what else is there, exit code, message
DIRECTORY_CASES = [
    (BOOT_CONFIG_NAME, None, 1, "bodycam.toml is a directory, not a file"),
    (RECIPIENTS_FILE_NAME, None, 1, "bodycam-recipients.txt is a directory, not a file"),
    (f"{BOOT_CONFIG_NAME}.sig", VALID, 1, "bodycam.toml.sig is a directory, not a file"),
    (REJECTED_NAME, INVALID, 1, "video.fps"),
    (f"{RECIPIENTS_FILE_NAME}.rejected", INVALID, 1, "video.fps"),
    (ERROR_FILE_NAME, INVALID, 1, None),
    (IDENTITY_FILE_NAME, VALID, 1, None),
]


@pytest.mark.parametrize("case", DIRECTORY_CASES, ids=[case[0] for case in DIRECTORY_CASES])
def test_a_directory_under_any_provisioning_name_is_no_traceback(
        layout: DeviceLayout, hooks: Recorder, caplog: pytest.LogCaptureFixture,
        case: tuple[str, str | None, int, str | None]) -> None:
    """L2 repro: `mkdir bodycam.toml`, `mkdir BODYCAM-ERROR.txt` beside a bad file, ..."""
    directory, toml, code, message = case
    (layout.boot_dir / directory / "inside").mkdir(parents=True)  # not even empty
    if toml is not None:
        drop(layout, toml, signed=not directory.endswith(".sig"))
    assert boot(layout, hooks) == code
    assert no_trigger_left(layout)
    assert (layout.boot_dir / directory).is_dir() or (
        layout.boot_dir / f"{directory}.rejected").is_dir()  # set aside, never deleted
    if message is not None:
        assert message in error_text(layout) and message in (pending_fault(layout) or "")
    if toml == INVALID:
        assert pending_fault(layout) is not None and not layout.config_file.exists()
    if toml == VALID and directory == IDENTITY_FILE_NAME:
        assert layout.config_file.read_text() == VALID  # the import stands
        assert "delete whatever is called BODYCAM-IDENTITY.txt" in caplog.text
    assert "Traceback" not in caplog.text


def test_many_rejected_directories_do_not_stop_the_rejection(layout: DeviceLayout,
                                                              hooks: Recorder) -> None:
    for name in (REJECTED_NAME, *(f"{REJECTED_NAME}-{n}" for n in range(2, 5))):
        (layout.boot_dir / name / "x").mkdir(parents=True)
    drop(layout, INVALID)
    assert run_import(layout, hooks) is ImportResult.REJECTED
    assert (layout.boot_dir / f"{REJECTED_NAME}-5").is_file()
    assert no_trigger_left(layout)


@pytest.fixture
def full_boot_partition(layout: DeviceLayout, monkeypatch: pytest.MonkeyPatch) -> Iterator[
        Callable[[], None]]:
    """A boot partition with no space left. As root (the camera, CI): a real 256 KiB
    tmpfs filled up. Otherwise the write fails as a full FAT partition fails it."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "bodycam-test-boot",
                        str(layout.boot_dir)], check=True)

        def fill() -> None:
            fd = os.open(layout.boot_dir / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                with pytest.raises(OSError, match="No space left"):
                    while True:
                        os.write(fd, b"\0" * 4096)
            finally:
                os.close(fd)

        try:
            yield fill
        finally:
            subprocess.run(["umount", str(layout.boot_dir)], check=True)
        return
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        if Path(os.readlink(f"/proc/self/fd/{fd}")).parent == layout.boot_dir:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    def fill() -> None:
        monkeypatch.setattr(os, "write", write)

    yield fill


def test_full_boot_partition_does_not_undo_the_rejection(
        layout: DeviceLayout, hooks: Recorder, full_boot_partition: Callable[[], None],
        caplog: pytest.LogCaptureFixture) -> None:
    """L2(c): BODYCAM-ERROR.txt cannot be written; the rejection stands, the fault
    marker in /etc/bodycam is written, the file is set aside, nothing half-written."""
    drop(layout, INVALID)
    full_boot_partition()
    assert run_import(layout, hooks) is ImportResult.REJECTED
    assert "video.fps" in (pending_fault(layout) or "")
    assert not (layout.boot_dir / ERROR_FILE_NAME).exists()
    assert no_trigger_left(layout)
    assert sorted(p.name for p in layout.boot_dir.iterdir()
                  if p.name != "filler") == [REJECTED_NAME, f"{BOOT_CONFIG_NAME}.sig.rejected"]
    assert "could not write BODYCAM-ERROR.txt" in caplog.text


# ------------------------------------------------------------------ L3: links and FIFOs


def test_link_to_a_secret_file_is_not_followed(layout: DeviceLayout, hooks: Recorder,
                                               tmp_path: Path) -> None:
    """L3 repro: `ln -sf /etc/shadow bodycam.toml` put shadow's first line into
    BODYCAM-ERROR.txt (the TOML error echoed it)."""
    shadow = tmp_path / "shadow"
    shadow.write_text("root:*:20228:0:99999:7:::\n")
    (layout.boot_dir / BOOT_CONFIG_NAME).symlink_to(shadow)
    (layout.boot_dir / f"{BOOT_CONFIG_NAME}.sig").symlink_to(shadow)
    assert boot(layout, hooks) == 1
    assert "bodycam.toml is a symbolic link, not a file" in error_text(layout)
    assert "20228" not in error_text(layout) and "20228" not in (pending_fault(layout) or "")
    assert (layout.boot_dir / REJECTED_NAME).is_symlink()  # the link itself set aside
    assert shadow.read_text() == "root:*:20228:0:99999:7:::\n"


def test_fifo_is_refused_without_hanging(layout: DeviceLayout, hooks: Recorder) -> None:
    """L3 repro: `mkfifo bodycam.toml` hung firstboot forever, and bodycam.service waits
    for it. The bound below only keeps a regression from hanging the test run."""
    os.mkfifo(layout.boot_dir / BOOT_CONFIG_NAME)
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(boot(layout, hooks)),
                              daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert results == [1], "firstboot blocked on a FIFO"
    assert "bodycam.toml is a FIFO (named pipe), not a file" in error_text(layout)
    assert no_trigger_left(layout)


# ------------------------------------------------------------------ L4: planted links


@pytest.fixture
def booted(layout: DeviceLayout, hooks: Recorder) -> DeviceLayout:
    drop(layout, VALID)
    assert boot(layout, hooks) == 0
    return layout


def test_key_link_planted_by_the_service_user_is_not_followed(
        booted: DeviceLayout, hooks: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    """L4 repro: state/device-ed25519.pem -> /etc/bodycam/bodycam.toml, and the next
    firstboot made the configuration 0600 root (the camera could no longer read it)."""
    key = booted.root / "var/lib/bodycam/state" / KEY_FILE_NAME
    key.unlink()
    key.symlink_to(booted.config_file)
    before = os.stat(booted.config_file)
    assert boot(booted, hooks) == 1
    after = os.stat(booted.config_file)
    assert (stat.S_IMODE(after.st_mode), after.st_uid, after.st_gid) == (
        0o640, before.st_uid, before.st_gid)
    assert "is a symbolic link" in caplog.text and "Traceback" not in caplog.text
    assert key.is_symlink()


def test_state_directory_link_is_not_followed(booted: DeviceLayout, hooks: Recorder) -> None:
    state = booted.root / "var/lib/bodycam/state"
    state.rename(state.with_name("state.old"))
    state.symlink_to(booted.etc_dir)
    assert boot(booted, hooks) == 1
    assert mode(booted.etc_dir) == 0o750 and mode(booted.config_file) == 0o640
    assert not (booted.etc_dir / KEY_FILE_NAME).exists()


# ------------------------------------------------------------------ L7, L8, H4 on the camera


def test_secret_key_name_reaches_no_log(layout: DeviceLayout, hooks: Recorder,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """L7 repro (s10.toml): the secret key as a TOML key name was echoed by the error
    file, the fault marker, the journal and the config.rejected audit keys."""
    caplog.set_level(logging.DEBUG)
    drop(layout, f'[device]\nid="BC-0001"\n[evidence]\nrecipients=["{RECIPIENT}"]\n'
                 f"{SECRET} = 1\n")
    assert boot(layout, hooks) == 1
    for text in (error_text(layout), pending_fault(layout) or "", caplog.text,
                 repr(hooks.events)):
        assert SECRET not in text and SECRET.lower() not in text
    assert "evidence.<AGE-SECRET-KEY-1... secret key, not repeated>" in error_text(layout)


def test_thousands_of_recipients_are_refused(layout: DeviceLayout, hooks: Recorder) -> None:
    """L8 repro: 3,900 recipients were installed (each segment then carried a 392 KB
    header). A file that long is refused by its count."""
    drop(layout, VALID)
    run_import(layout, hooks)
    drop_recipients(layout, recipients_file(*(generate_identity()[1] for _ in range(3900))))
    assert run_import(layout, hooks) is ImportResult.REJECTED
    assert "3900 recipients; at most 8 are allowed" in error_text(layout)
    assert layout.config_file.read_text() == VALID


def test_eight_recipients_are_enough(layout: DeviceLayout, hooks: Recorder) -> None:
    drop(layout, VALID)
    drop_recipients(layout, recipients_file(*(generate_identity()[1] for _ in range(7))))
    assert run_import(layout, hooks) is ImportResult.INSTALLED
    drop(layout, VALID)
    drop_recipients(layout, recipients_file(*(generate_identity()[1] for _ in range(8))))
    assert run_import(layout, hooks) is ImportResult.REJECTED  # 1 + 8 merged
    assert "a list of 9" in error_text(layout)


def test_dotdot_storage_paths_are_refused_and_no_key_lands_on_the_boot_partition(
        layout: DeviceLayout, hooks: Recorder) -> None:
    """H4 repro (fb/harness.sh dotdot): state_dir ../../../boot/firmware/keys put a new
    device key on the boot partition, data_dir ../../../run/bodycam/data put evidence
    where a restart wipes it."""
    drop(layout, _with("storage",
                       'state_dir = "/var/lib/bodycam/../../../boot/firmware/keys"\n'
                       'data_dir = "/var/lib/bodycam/../../../run/bodycam/data"'))
    assert boot(layout, hooks) == 1
    text = error_text(layout)
    assert "this path means '/boot/firmware/keys'" in text
    assert "this path means '/run/bodycam/data'" in text
    assert not (layout.boot_dir / "keys").exists()
    assert "device.key_generated" in hooks.names()  # the default state dir, below /var/lib
    assert (layout.root / "var/lib/bodycam/state" / KEY_FILE_NAME).is_file()


def test_signature_of_a_link_target_counts_for_nothing(layout: DeviceLayout, hooks: Recorder,
                                                        tmp_path: Path) -> None:
    """A correctly signed file reached through a link is still refused: root reads no
    link on the boot partition."""
    real = tmp_path / "elsewhere.toml"
    real.write_text(VALID)
    sign_beside(real, BOOT_CONFIG_NAME)
    (layout.boot_dir / BOOT_CONFIG_NAME).symlink_to(real)
    (layout.boot_dir / f"{BOOT_CONFIG_NAME}.sig").write_bytes(
        real.with_name(real.name + ".sig").read_bytes())
    assert run_import(layout, hooks) is ImportResult.REJECTED
    assert "symbolic link" in error_text(layout)


def test_identity_snapshot_fifo_planted_by_the_service_user_does_not_hang_the_boot(
        layout: DeviceLayout, hooks: Recorder) -> None:
    """With a TPM key store root copies the identity the camera program left in its
    state directory: a FIFO there must not hang the boot (bodycam.service waits for it).
    The bound only keeps a regression from hanging the test run."""
    drop(layout, _with("device", 'key_store = "tpm"'))
    state = layout.root / "var/lib/bodycam/state"
    state.mkdir(parents=True)
    os.mkfifo(state / IDENTITY_SNAPSHOT)
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(boot(layout, hooks)),
                              daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert results == [0], "firstboot blocked on the identity snapshot"
    assert layout.config_file.exists()
    assert not (layout.boot_dir / IDENTITY_FILE_NAME).exists()

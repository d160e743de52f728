"""First boot on the device: import from the boot partition, identity, all in a temp root."""

from __future__ import annotations

import logging
import os
import pwd
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_provision_check import INVALID_FILES, SECRET, VALID, write_case

from bodycam.firmware.device.firstboot import (
    ERROR_FILE_NAME,
    FAULT_PROVISIONING,
    IDENTITY_FILE_NAME,
    REJECTED_NAME,
    DeviceLayout,
    ImportResult,
    JournalFormatter,
    Owner,
    import_from_boot,
    main,
    pending_fault,
    write_identity,
)
from bodycam.firmware.evidence.device_key import KEY_FILE_NAME, DeviceKey
from bodycam.hal.clocks import ManualClock

WHEN = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


class Recorder:
    """Collects what the audit and indicator hooks receive."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []
        self.patterns: list[str] = []

    def audit(self, event: str, details: dict[str, object]) -> None:
        self.events.append((event, details))

    def indicate(self, pattern: str) -> None:
        self.patterns.append(pattern)

    def names(self) -> list[str]:
        return [event for event, _ in self.events]


@pytest.fixture
def layout(tmp_path: Path) -> DeviceLayout:
    layout = DeviceLayout(root=tmp_path / "root")
    layout.boot_dir.mkdir(parents=True)
    return layout


@pytest.fixture
def hooks() -> Recorder:
    return Recorder()


def drop(layout: DeviceLayout, content: str | bytes) -> Path:
    return write_case(layout.boot_dir, content)


def run_import(layout: DeviceLayout, hooks: Recorder) -> ImportResult:
    return import_from_boot(layout, Owner.current(), ManualClock(WHEN), hooks.audit,
                            hooks.indicate)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_nothing_on_the_boot_partition_changes_nothing(layout: DeviceLayout,
                                                       hooks: Recorder) -> None:
    assert run_import(layout, hooks) is ImportResult.NOTHING
    assert not layout.config_file.exists()
    assert hooks.events == [] and hooks.patterns == []


def test_valid_file_is_installed_audited_and_removed(layout: DeviceLayout,
                                                     hooks: Recorder) -> None:
    drop(layout, VALID)
    assert run_import(layout, hooks) is ImportResult.INSTALLED
    assert layout.config_file.read_text() == VALID
    assert mode(layout.config_file) == 0o640 and mode(layout.etc_dir) == 0o750
    assert list(layout.boot_dir.iterdir()) == []
    [(event, details)] = hooks.events
    assert event == "config.provisioned"
    assert details["changed"] is True and details["previous_sha256"] is None
    assert details["device_id"] == "BC-0042"
    assert hooks.patterns == []


@pytest.mark.parametrize(("content", "expected"), [(c, e) for _, c, e in INVALID_FILES],
                         ids=[case for case, _, _ in INVALID_FILES])
def test_invalid_file_keeps_the_previous_configuration(
        layout: DeviceLayout, hooks: Recorder, content: str | bytes, expected: str) -> None:
    drop(layout, VALID)
    run_import(layout, hooks)
    drop(layout, content)
    assert run_import(layout, hooks) is ImportResult.REJECTED
    assert layout.config_file.read_text() == VALID
    error = (layout.boot_dir / ERROR_FILE_NAME).read_bytes()
    assert expected.encode() in error
    assert error.count(b"\n") == error.count(b"\r\n") > 5  # CRLF for Notepad
    assert b"2025-03-04 05:06:07 UTC" in error
    assert SECRET.encode() not in error
    assert not (layout.boot_dir / "bodycam.toml").exists()
    assert (layout.boot_dir / REJECTED_NAME).exists()
    assert hooks.patterns == [FAULT_PROVISIONING]
    assert hooks.names() == ["config.provisioned", "config.rejected"]
    assert expected in (pending_fault(layout) or "")


def test_invalid_first_file_installs_nothing(layout: DeviceLayout, hooks: Recorder) -> None:
    drop(layout, "")
    assert run_import(layout, hooks) is ImportResult.REJECTED
    assert not layout.config_file.exists()


def test_repeated_imports(layout: DeviceLayout, hooks: Recorder) -> None:
    drop(layout, VALID)
    assert run_import(layout, hooks) is ImportResult.INSTALLED
    drop(layout, VALID)
    assert run_import(layout, hooks) is ImportResult.UNCHANGED
    assert hooks.events[-1][1]["changed"] is False
    assert run_import(layout, hooks) is ImportResult.NOTHING
    changed = VALID.replace("BC-0042", "BC-0043")
    drop(layout, changed)
    assert run_import(layout, hooks) is ImportResult.INSTALLED
    assert hooks.events[-1][1]["previous_sha256"] == hooks.events[0][1]["sha256"]
    assert layout.config_file.read_text() == changed


def test_valid_file_after_a_rejected_one_clears_the_fault(layout: DeviceLayout,
                                                          hooks: Recorder) -> None:
    drop(layout, "[video]\nfps = 500\n")
    assert run_import(layout, hooks) is ImportResult.REJECTED
    assert pending_fault(layout) is not None
    drop(layout, VALID)
    assert run_import(layout, hooks) is ImportResult.INSTALLED
    assert list(layout.boot_dir.iterdir()) == []
    assert pending_fault(layout) is None


def test_identity_is_written_once_and_follows_the_device_id(layout: DeviceLayout,
                                                            hooks: Recorder) -> None:
    drop(layout, VALID)
    run_import(layout, hooks)
    identity = write_identity(layout, Owner.current(), hooks.audit)
    state_dir = layout.root / "var/lib/bodycam/state"
    key = DeviceKey.load_or_create(state_dir)
    text = identity.read_bytes().decode()
    assert identity.name == IDENTITY_FILE_NAME
    assert "BC-0042" in text and key.public_key_b64 in text and key.fingerprint in text
    assert "\r\n" in text
    assert mode(state_dir / KEY_FILE_NAME) == 0o600 and mode(state_dir) == 0o700
    assert mode(layout.root / "var/lib/bodycam") == 0o700
    assert hooks.names() == ["config.provisioned", "device.key_generated"]

    write_identity(layout, Owner.current(), hooks.audit)  # second boot: same key, no event
    assert identity.read_bytes().decode() == text
    assert hooks.names().count("device.key_generated") == 1

    drop(layout, VALID.replace("BC-0042", "BC-0099"))
    run_import(layout, hooks)
    write_identity(layout, Owner.current(), hooks.audit)
    assert "BC-0099" in identity.read_text() and key.fingerprint in identity.read_text()


def test_entry_point_imports_and_writes_identity(layout: DeviceLayout, hooks: Recorder) -> None:
    user = pwd.getpwuid(Owner.current().service_uid).pw_name
    argv = ["--root", str(layout.root), "--user", user]
    drop(layout, VALID)
    assert main(argv, clock=ManualClock(WHEN), audit=hooks.audit,
                indicate=hooks.indicate) == 0
    assert layout.config_file.exists()
    assert (layout.boot_dir / IDENTITY_FILE_NAME).exists()
    drop(layout, "[video]\nfps = 500\n")
    assert main(argv, clock=ManualClock(WHEN), audit=hooks.audit,
                indicate=hooks.indicate) == 1
    assert hooks.patterns == [FAULT_PROVISIONING]


def test_camera_program_restarts_only_when_the_configuration_changed(
        layout: DeviceLayout, hooks: Recorder, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """systemctl is the stand-in here (no systemd runs in the test); it records calls."""
    calls = tmp_path / "systemctl.log"
    stub = tmp_path / "bin" / "systemctl"
    stub.parent.mkdir()
    stub.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stub.parent}{os.pathsep}{os.environ['PATH']}")
    user = pwd.getpwuid(Owner.current().service_uid).pw_name
    argv = ["--root", str(layout.root), "--user", user,
            "--restart-if-changed", "bodycam.service"]

    def boot() -> int:
        return main(argv, clock=ManualClock(WHEN), audit=hooks.audit, indicate=hooks.indicate)

    drop(layout, VALID)
    assert boot() == 0
    assert calls.read_text() == "try-restart bodycam.service\n"
    drop(layout, VALID)  # the same file again: no restart
    assert boot() == 0
    assert boot() == 0  # nothing on the boot partition: no restart
    drop(layout, "[video]\nfps = 500\n")  # rejected: no restart
    assert boot() == 1
    assert calls.read_text() == "try-restart bodycam.service\n"


def test_entry_point_names_a_missing_service_user(layout: DeviceLayout) -> None:
    assert main(["--root", str(layout.root), "--user", "no-such-user-bodycam"]) == 1


@pytest.mark.parametrize(("level", "prefix"), [(logging.ERROR, "<3>"), (logging.WARNING, "<4>"),
                                               (logging.INFO, "<6>"), (logging.DEBUG, "<7>")])
def test_log_lines_carry_the_journal_priority(level: int, prefix: str) -> None:
    record = logging.LogRecord("x", level, __file__, 1, "message", None, None)
    assert JournalFormatter("%(message)s").format(record) == f"{prefix}message"

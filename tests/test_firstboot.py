"""First boot on the device: import from the boot partition, identity, all in a temp root."""

from __future__ import annotations

import logging
import os
import pwd
import stat
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_provision_check import (
    INVALID_FILES,
    OTHER,
    RECIPIENT,
    SECRET,
    VALID,
    _with,
    write_case,
)

from bodycam.firmware.device.firstboot import (
    ERROR_FILE_NAME,
    FAULT_PROVISIONING,
    IDENTITY_FILE_NAME,
    RECIPIENTS_FILE_NAME,
    RECIPIENTS_REJECTED_NAME,
    REJECTED_NAME,
    DeviceLayout,
    ImportResult,
    JournalFormatter,
    Owner,
    import_from_boot,
    main,
    pending_fault,
    validate_provisioning,
    write_identity,
)
from bodycam.firmware.evidence.device_key import KEY_FILE_NAME, SoftwareKeyStore
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
    key = SoftwareKeyStore.open(state_dir)
    assert identity is not None
    text = identity.read_bytes().decode()
    assert identity.name == IDENTITY_FILE_NAME
    assert "BC-0042" in text and key.public_key.b64 in text and key.fingerprint in text
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


# ------------------------------------------------------------------ recipients file


def drop_recipients(layout: DeviceLayout, text: str) -> Path:
    path = layout.boot_dir / RECIPIENTS_FILE_NAME
    path.write_text(text, encoding="utf-8")
    return path


def recipients_file(*keys: str) -> str:
    return "# evidence authority keys\n\n" + "".join(f"{key}\n" for key in keys)


def installed_recipients(layout: DeviceLayout) -> list[str]:
    recipients = tomllib.loads(layout.config_file.read_text())["evidence"]["recipients"]
    assert isinstance(recipients, list)
    return recipients


def test_recipients_file_is_merged_into_the_installed_configuration(
        layout: DeviceLayout, hooks: Recorder) -> None:
    """A key listed inline and in the file is kept once (de-duplicated, not refused)."""
    drop(layout, VALID)
    drop_recipients(layout, recipients_file(OTHER, f"  {RECIPIENT}  "))
    assert run_import(layout, hooks) is ImportResult.INSTALLED
    assert installed_recipients(layout) == [RECIPIENT, OTHER]
    config = validate_provisioning(layout.config_file)  # valid on its own
    assert config.device.id == "BC-0042" and config.evidence.prerecord_seconds == 20
    assert list(layout.boot_dir.iterdir()) == []
    assert hooks.events[-1][1]["files"] == ["bodycam.toml", RECIPIENTS_FILE_NAME]


def test_recipients_file_supplies_the_only_recipients(layout: DeviceLayout,
                                                      hooks: Recorder) -> None:
    drop(layout, VALID.replace(f'"{RECIPIENT}"', ""))
    drop_recipients(layout, recipients_file(OTHER))
    assert run_import(layout, hooks) is ImportResult.INSTALLED
    assert installed_recipients(layout) == [OTHER]


@pytest.mark.parametrize(("lines", "expected"), [
    ([RECIPIENT, "age1notakey"], "line 4: got 'age1notakey'"),
    ([RECIPIENT, OTHER, RECIPIENT], "line 5"),
    ([SECRET], "line 3: got '<AGE-SECRET-KEY-1... secret key, not repeated>'"),
    ([f"key: {SECRET}"], "line 3"),
    ([], "got 'no recipient'"),
], ids=["bad-key", "repeated", "secret-key", "secret-key-in-text", "empty"])
def test_invalid_recipients_file_changes_nothing(layout: DeviceLayout, hooks: Recorder,
                                                 lines: list[str], expected: str) -> None:
    drop(layout, VALID)
    run_import(layout, hooks)
    drop(layout, VALID.replace("BC-0042", "BC-0043"))
    drop_recipients(layout, recipients_file(*lines))
    assert run_import(layout, hooks) is ImportResult.REJECTED
    assert layout.config_file.read_text() == VALID
    error = (layout.boot_dir / ERROR_FILE_NAME).read_text(encoding="utf-8")
    assert f"{RECIPIENTS_FILE_NAME}: {expected}" in error
    assert SECRET not in error and SECRET not in (pending_fault(layout) or "")
    assert {p.name for p in layout.boot_dir.iterdir()} == {
        ERROR_FILE_NAME, REJECTED_NAME, RECIPIENTS_REJECTED_NAME}
    assert hooks.patterns == [FAULT_PROVISIONING]


def test_recipients_file_alone_replaces_only_the_recipients(layout: DeviceLayout,
                                                            hooks: Recorder) -> None:
    drop(layout, _with("video", "fps = 25"))
    run_import(layout, hooks)
    drop_recipients(layout, recipients_file(OTHER))
    assert run_import(layout, hooks) is ImportResult.INSTALLED
    assert installed_recipients(layout) == [OTHER]
    config = validate_provisioning(layout.config_file)
    assert (config.device.id, config.video.fps) == ("BC-0042", 25)
    assert list(layout.boot_dir.iterdir()) == []
    drop_recipients(layout, recipients_file(OTHER))
    assert run_import(layout, hooks) is ImportResult.UNCHANGED


def test_recipients_file_alone_needs_an_installed_configuration(
        layout: DeviceLayout, hooks: Recorder) -> None:
    drop_recipients(layout, recipients_file(OTHER))
    assert run_import(layout, hooks) is ImportResult.REJECTED
    assert not layout.config_file.exists()
    assert "--recipients" in (layout.boot_dir / ERROR_FILE_NAME).read_text(encoding="utf-8")


def test_invalid_configuration_beside_a_recipients_file_is_named(
        layout: DeviceLayout, hooks: Recorder) -> None:
    drop(layout, _with("video", "fps = 500"))
    drop_recipients(layout, recipients_file(OTHER))
    assert run_import(layout, hooks) is ImportResult.REJECTED
    error = (layout.boot_dir / ERROR_FILE_NAME).read_text(encoding="utf-8")
    assert "bodycam.toml: video.fps" in error

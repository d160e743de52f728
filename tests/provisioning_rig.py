"""A camera's root in a temporary folder, for the provisioning import tests.

`camera_root` builds one (boot partition, /etc/bodycam with the agency's key pinned as
an image would bring it); `drop`/`drop_recipients` put signed files on its boot
partition; `Recorder` collects what the audit and indicator hooks receive. Test modules
take the `layout` and `hooks` fixtures with `layout, hooks = provisioning_rig.layout, ...`.
"""

from __future__ import annotations

import stat
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from signed_provisioning import AGENCY, sign_beside
from test_provision_check import write_case

from bodycam.firmware.device.firstboot import (
    PINNED_KEY_NAME,
    RECIPIENTS_FILE_NAME,
    DeviceLayout,
    ImportResult,
    Owner,
    import_from_boot,
)
from bodycam.firmware.device.provisioning_signature import public_key_file
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

    def last(self, event: str) -> dict[str, object]:
        return [details for name, details in self.events if name == event][-1]


def camera_root(root: Path, *, pinned: bool = True) -> DeviceLayout:
    """A camera whose image brought the agency's provisioning key (the recommended way),
    or with pinned=False a fresh one that pins the key of its first provisioning."""
    layout = DeviceLayout(root=root)
    layout.boot_dir.mkdir(parents=True)
    if pinned:
        layout.etc_dir.mkdir(parents=True)
        (layout.etc_dir / PINNED_KEY_NAME).write_bytes(public_key_file(AGENCY.public_key()))
    return layout


@pytest.fixture
def layout(tmp_path: Path) -> DeviceLayout:
    return camera_root(tmp_path / "root")


@pytest.fixture
def hooks() -> Recorder:
    return Recorder()


def drop(layout: DeviceLayout, content: str | bytes, *, signed: bool = True) -> Path:
    """bodycam.toml on the boot partition, signed with the agency key unless told not."""
    path = write_case(layout.boot_dir, content)
    if signed:
        sign_beside(path)
    return path


def drop_recipients(layout: DeviceLayout, text: str, *, signed: bool = True) -> Path:
    path = layout.boot_dir / RECIPIENTS_FILE_NAME
    path.write_text(text, encoding="utf-8")
    if signed:
        sign_beside(path)
    return path


def recipients_file(*keys: str) -> str:
    return "# evidence authority keys\n\n" + "".join(f"{key}\n" for key in keys)


def installed_recipients(layout: DeviceLayout) -> list[str]:
    recipients = tomllib.loads(layout.config_file.read_text())["evidence"]["recipients"]
    assert isinstance(recipients, list)
    return recipients


def run_import(layout: DeviceLayout, hooks: Recorder) -> ImportResult:
    return import_from_boot(layout, Owner.current(), ManualClock(WHEN), hooks.audit,
                            hooks.indicate)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def error_text(layout: DeviceLayout) -> str:
    return (layout.boot_dir / "BODYCAM-ERROR.txt").read_text(encoding="utf-8")

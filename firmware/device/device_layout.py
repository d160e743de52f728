"""Where provisioning puts things on the camera, and who owns them.

Shared by the import (provisioning_import), the device identity and the camera program
(which shows a rejected provisioning as a fault). `DeviceLayout.root` moves everything,
for tests and image building.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bodycam.firmware.config.loader import DEVICE_CONFIG_FILE

__all__ = [
    "BOOT_CONFIG_NAME",
    "ERROR_FILE_NAME",
    "FAULT_FILE_NAME",
    "IDENTITY_FILE_NAME",
    "SERVICE_USER",
    "Audit",
    "DeviceLayout",
    "Owner",
    "ensure_config_dir",
    "log_audit",
    "pending_fault",
]

BOOT_CONFIG_NAME = "bodycam.toml"
ERROR_FILE_NAME = "BODYCAM-ERROR.txt"
IDENTITY_FILE_NAME = "BODYCAM-IDENTITY.txt"
# Left in the configuration directory while the last provisioning attempt failed, so the
# camera program can keep showing the fault after the import has exited.
FAULT_FILE_NAME = "provisioning-fault.txt"
SERVICE_USER = "bodycam"
_CONFIG_DIR_MODE = 0o750

Audit = Callable[[str, dict[str, object]], None]
_log = logging.getLogger(__name__)


def log_audit(event: str, details: dict[str, object]) -> None:
    """Default audit sink: one journal line. The signed audit log has a single writer, the
    camera program, which audits the new configuration at the start that uses it."""
    _log.info("audit %s %s", event, json.dumps(details, sort_keys=True))


def _log_indicate(pattern: str) -> None:
    _log.warning("fault pattern %s requested (no indicator attached)", pattern)


@dataclass(frozen=True)
class Owner:
    """Who the installed files belong to: this process (root on the device) and the
    service group, which may read the configuration."""

    uid: int
    gid: int  # the service user's group: may read the configuration
    service_uid: int  # owns the state directory and the device key

    @classmethod
    def service_user(cls, name: str = SERVICE_USER) -> Owner:
        entry = pwd.getpwnam(name)
        return cls(uid=os.getuid(), gid=entry.pw_gid, service_uid=entry.pw_uid)

    @classmethod
    def current(cls) -> Owner:
        """Everything owned by the calling user (tests, developer machines)."""
        return cls(uid=os.getuid(), gid=os.getgid(), service_uid=os.getuid())


@dataclass(frozen=True)
class DeviceLayout:
    """Where things are on the device; `root` moves all of it (tests, image building)."""

    root: Path = Path("/")
    boot: Path = Path("/boot/firmware")
    config_dir: Path = DEVICE_CONFIG_FILE.parent

    def under_root(self, path: Path) -> Path:
        return self.root / path.relative_to(path.anchor)

    @property
    def boot_dir(self) -> Path:
        return self.under_root(self.boot)

    @property
    def etc_dir(self) -> Path:
        return self.under_root(self.config_dir)

    @property
    def config_file(self) -> Path:
        return self.etc_dir / BOOT_CONFIG_NAME


def pending_fault(layout: DeviceLayout = DeviceLayout()) -> str | None:
    """The last rejected provisioning attempt's error text, or None when there is none.

    The camera program calls this at start to keep showing the provisioning fault.
    """
    try:
        return (layout.etc_dir / FAULT_FILE_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def ensure_config_dir(layout: DeviceLayout, owner: Owner) -> None:
    """root:bodycam 0750: the service reads its configuration and cannot change it."""
    layout.etc_dir.mkdir(mode=_CONFIG_DIR_MODE, parents=True, exist_ok=True)
    os.chown(layout.etc_dir, owner.uid, owner.gid)
    layout.etc_dir.chmod(_CONFIG_DIR_MODE)

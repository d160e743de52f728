"""The camera program's one hole in its firewall: the pinned evidence server's address.

bodycam.service denies every IP address (IPAddressDeny=any, a cgroup filter the kernel
applies to the whole program). This writes the drop-in that allows exactly the address
the configuration's `[offload]` table connects to, nothing when offload is off. It runs
as root in bodycam-firstboot at every boot and after every provisioning import
(firstboot.py), which reloads systemd when the drop-in changed, so the filter always
follows the installed, signed configuration; the camera program itself cannot change
it (it can write neither /etc nor its own unit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from bodycam.firmware.config.model import OffloadConfig
from bodycam.firmware.config.offload_rules import parse_server_url
from bodycam.firmware.evidence.durable import make_dirs, replace_file

__all__ = ["DROPIN", "allowed_address", "dropin_text", "write_dropin"]

DROPIN: Final = Path("/etc/systemd/system/bodycam.service.d/50-offload-server.conf")
_HEADER: Final = ("# Written by bodycam-firstboot from /etc/bodycam/bodycam.toml ([offload]) "
                  "at every boot\n# and provisioning (firmware/offload/firewall.py); edits "
                  "are overwritten.\n")


def allowed_address(offload: OffloadConfig) -> str | None:
    """The one address the camera program may reach, or None (offload off)."""
    if not offload.enabled:
        return None
    return offload.server_address or parse_server_url(offload.server_url).address


def dropin_text(offload: OffloadConfig) -> str:
    address = allowed_address(offload)
    if address is None:
        return _HEADER + "# No evidence server is configured: the camera program reaches " \
                         "no address.\n[Service]\n"
    return _HEADER + f"[Service]\nIPAddressAllow={address}\n"


def write_dropin(offload: OffloadConfig, target: Path = DROPIN) -> bool:
    """Write the drop-in when it differs from what is there; True when it changed."""
    text = dropin_text(offload).encode("ascii")
    try:
        if target.read_bytes() == text:
            return False
    except FileNotFoundError:
        pass
    make_dirs(target.parent, 0o755)
    replace_file(target, text, 0o644)
    return True

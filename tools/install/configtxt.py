"""Switch on the SPI and I2C buses and the USB gadget port in config.txt, idempotently.

config.txt is read top to bottom by the firmware; lines below a conditional section
header such as `[pi4]` apply to that model only, and `[all]` ends the condition. A
setting therefore counts only where it applies to every model. The Raspberry Pi OS file
ships `#dtparam=spi=on` commented out: that line is switched on in place, as raspi-config
does; otherwise the setting is appended below an `[all]` header. The dock link is USB
gadget Ethernet: `dtoverlay=dwc2,dr_mode=peripheral` makes the camera's USB port (the
Pi 4's and 5's USB-C, the Zero 2 W's data port) a device the dock's host talks to.

A body-worn camera runs on a battery, so the board's power settings are set too
(`save_power`, each with its measured or cited saving in docs/technician.md, "Power"):
Bluetooth off (`dtoverlay=disable-bt`: nothing on the camera uses it), the board's
activity LED off (`dtparam=act_led_trigger=none`: it would also betray a camera in
stealth mode), HDMI off (`nohdmi` on the vc4-kms-v3d overlay: the camera has no monitor;
where that overlay is not loaded there is nothing to switch off). Wi-Fi stays: the
dock's network may be the dock link.

Runs with the system python3 before the virtual environment exists (stdlib only):
    python3 tools/install/configtxt.py /boot/firmware/config.txt
prints one line per change and nothing when the file already has everything.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

# The front display uses SPI0; the battery gauge I2C1 (pins 3 and 5 on the header).
REQUIRED = (("spi", "SPI for the front display"), ("i2c_arm", "I2C for the battery gauge"))
# The camera's USB port as a device (gadget), so the dock can be its network link.
OVERLAY = ("dwc2,dr_mode=peripheral", "USB gadget Ethernet: the dock link on the USB port")
_OVERLAY_LINE = re.compile(r"\s*dtoverlay\s*=\s*dwc2\b(?P<rest>[^#]*)")
_ON = {"on", "true", "yes", "1", ""}
_DTPARAM = re.compile(r"\s*dtparam\s*=\s*(?P<items>.*?)\s*(?:#.*)?$")
_KMS_LINE = re.compile(r"\s*dtoverlay\s*=\s*vc4-kms-v3d(?:-pi[45])?(?P<params>[^#]*?)\s*(?:#.*)?$")
# Settings that must simply be present for every model, with why (for the comment).
POWER_LINES = (
    ("dtoverlay=disable-bt", "Bluetooth off (power): nothing on the camera uses it"),
    ("dtparam=act_led_trigger=none", "board activity LED off (power, and no light that "
                                     "betrays a camera in stealth mode)"),
)
_COMMENTED = re.compile(r"\s*#+\s*(?P<line>dtparam\s*=.*)$")


@dataclass(frozen=True)
class _Hit:
    line: int
    on: bool


def _items(value: str) -> list[tuple[str, str]]:
    """`i2c_arm=on,spi` -> [("i2c_arm", "on"), ("spi", "")]."""
    pairs = []
    for item in value.split(","):
        name, _, setting = item.partition("=")
        pairs.append((name.strip(), setting.strip().lower()))
    return pairs


def _applies_to_all(lines: list[str]) -> list[bool]:
    """For each line: does a setting there apply to every Pi model?"""
    result, everywhere = [], True
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            everywhere = stripped.lower() == "[all]"
        result.append(everywhere)
    return result


def _settings(line: str, commented: bool) -> list[tuple[str, str]]:
    """The dtparam items on an active line, or on a commented-out one."""
    if commented:
        match = _COMMENTED.match(line)
        if match is None:
            return []
        line = match.group("line")
    active = _DTPARAM.match(line)
    return _items(active.group("items")) if active else []


def _last(lines: list[str], scope: list[bool], param: str, commented: bool) -> _Hit | None:
    """The line that decides `param` (the firmware takes the last one), if any."""
    hit = None
    for number, line in enumerate(lines):
        items = _settings(line, commented) if scope[number] else []
        if commented and len(items) != 1:
            continue  # only switch on a commented line that holds this setting alone
        for name, setting in items:
            if name == param:
                hit = _Hit(number, setting in _ON)
    return hit


def _switched_on(line: str, param: str) -> str:
    items = [(name, "on" if name == param else setting)
             for name, setting in _settings(line, commented=False)]
    return "dtparam=" + ",".join(f"{n}={v}" if v else n for n, v in items)


def enable_buses(text: str) -> tuple[str, list[str]]:
    """The new config.txt text and a description of each change (empty: nothing to do)."""
    lines = text.splitlines()
    changes: list[str] = []
    for param, why in REQUIRED:
        scope = _applies_to_all(lines)
        wanted = f"dtparam={param}=on"
        active = _last(lines, scope, param, commented=False)
        if active is not None and active.on:
            continue
        if active is not None:
            lines[active.line] = _switched_on(lines[active.line], param)
            changes.append(f"config.txt: {wanted} (was switched off)")
            continue
        commented = _last(lines, scope, param, commented=True)
        if commented is not None and commented.on:
            lines[commented.line] = wanted
            changes.append(f"config.txt: {wanted} (uncommented)")
            continue
        if not scope or not scope[-1]:
            lines.append("[all]")
        lines += [f"# bodycam: {why}", wanted]
        changes.append(f"config.txt: {wanted} (added)")
    return _joined(text, lines, changes), changes


def enable_usb_gadget(text: str) -> tuple[str, list[str]]:
    """The dwc2 overlay in peripheral mode for every model (the dock link), if missing."""
    lines = text.splitlines()
    overlay, why = OVERLAY
    scope = _applies_to_all(lines)
    found = [m for n, line in enumerate(lines) if scope[n]
             and (m := _OVERLAY_LINE.match(line)) is not None]
    if found and "dr_mode=peripheral" in found[-1].group("rest"):
        return text, []
    if not scope or not scope[-1]:
        lines.append("[all]")
    lines += [f"# bodycam: {why}", f"dtoverlay={overlay}"]
    changes = [f"config.txt: dtoverlay={overlay} (added)"]
    return _joined(text, lines, changes), changes


def save_power(text: str) -> tuple[str, list[str]]:
    """Bluetooth, the activity LED and HDMI off for every model, if not already."""
    lines = text.splitlines()
    changes: list[str] = []
    for wanted, why in POWER_LINES:
        scope = _applies_to_all(lines)
        if any(scope[n] and line.split("#")[0].replace(" ", "") == wanted
               for n, line in enumerate(lines)):
            continue
        if not scope or not scope[-1]:
            lines.append("[all]")
        lines += [f"# bodycam: {why}", wanted]
        changes.append(f"config.txt: {wanted} (added)")
    scope = _applies_to_all(lines)
    for number, line in enumerate(lines):
        match = _KMS_LINE.match(line) if scope[number] else None
        if match is None:
            continue
        params = [p.strip() for p in match.group("params").split(",") if p.strip()]
        if "nohdmi" not in params:
            lines[number] = line.split("#")[0].rstrip() + ",nohdmi"
            changes.append(f"config.txt: {lines[number].strip()} (HDMI off: the camera has "
                           "no monitor)")
    return _joined(text, lines, changes), changes


def _joined(text: str, lines: list[str], changes: list[str]) -> str:
    newline = "\r\n" if "\r\n" in text else "\n"  # edited on Windows: keep it that way
    return newline.join(lines) + newline if changes else text


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: configtxt.py /boot/firmware/config.txt", file=sys.stderr)
        return 2
    path = Path(argv[0])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        print(f"{path} not found: this is not Raspberry Pi OS Bookworm (the boot partition "
              "is mounted at /boot/firmware there). Fix: install on Raspberry Pi OS Lite "
              "Bookworm, or pass --root to a tree that has it", file=sys.stderr)
        return 1
    new_text, changes = enable_buses(text)
    for step in (enable_usb_gadget, save_power):
        new_text, more = step(new_text)
        changes += more
    if changes:
        tmp = path.with_name(f".{path.name}.bodycam-tmp")
        tmp.write_text(new_text, encoding="utf-8")
        with tmp.open("rb") as stream:
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    for change in changes:
        print(change)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

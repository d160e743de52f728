"""The unit files: `systemd-analyze verify` and `security --offline` run for real.

No running systemd is needed: both commands get `--root` pointing at a temporary tree
holding a copy of this machine's system units (verify resolves sysinit.target and
friends there), our units in etc/systemd/system, and stand-in executables at the
ExecStart paths (verify refuses a unit whose program does not exist).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bodycam.firmware.device import firstboot

UNIT_DIR = Path(__file__).resolve().parent.parent / "systemd"
UNITS = sorted(p.name for p in UNIT_DIR.iterdir() if p.suffix in {".service", ".path"})
MAX_EXPOSURE = 2.5
HOST_UNIT_DIRS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
_EXEC = re.compile(r"^Exec\w+=[-+!@:]*(/\S+)", re.MULTILINE)


def directives(unit: str) -> dict[str, list[str]]:
    """key -> every value it is given (systemd allows repeats), comments ignored."""
    found: dict[str, list[str]] = {}
    for line in (UNIT_DIR / unit).read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unitroot")
    host_units = next(d for d in HOST_UNIT_DIRS if (d / "sysinit.target").exists())
    shutil.copytree(host_units, root / "usr/lib/systemd/system", symlinks=True)
    shutil.copytree(UNIT_DIR, root / "etc/systemd/system")
    for unit in UNITS:
        for program in _EXEC.findall((UNIT_DIR / unit).read_text()):
            stand_in = root / program.lstrip("/")
            stand_in.parent.mkdir(parents=True, exist_ok=True)
            stand_in.write_text("#!/bin/sh\nexit 0\n")
            stand_in.chmod(0o755)
    return root


def analyze(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", f"--root={root}", *args], capture_output=True,
                          text=True, check=False, timeout=120)


def test_all_units_present() -> None:
    assert UNITS == ["bodycam-firstboot.service", "bodycam-provision.path",
                     "bodycam-provision.service", "bodycam.service"]


@pytest.mark.parametrize("unit", UNITS)
def test_unit_verifies_without_any_warning(root: Path, unit: str) -> None:
    done = analyze(root, "verify", unit)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # unknown or misspelt keys are only warnings: refuse them too


def test_verify_catches_a_misspelt_directive(root: Path, tmp_path: Path) -> None:
    """The check above has teeth: a typo in a hardening key is reported."""
    broken = tmp_path / "root"
    shutil.copytree(root, broken, symlinks=True)
    unit = broken / "etc/systemd/system/bodycam.service"
    unit.write_text(unit.read_text().replace("NoNewPrivileges=", "NoNewPrivilegs="))
    assert "Unknown key" in analyze(broken, "verify", "bodycam.service").stderr


def exposure(root: Path, unit: str) -> float:
    done = analyze(root, "security", "--offline=true", unit)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout)
    assert match, done.stdout + done.stderr
    return float(match.group(1))


def test_main_service_exposure_is_at_most_2_5(root: Path) -> None:
    assert exposure(root, "bodycam.service") <= MAX_EXPOSURE
    # systemd's own threshold check (0-100 scale) agrees.
    done = analyze(root, "security", "--offline=true",
                   f"--threshold={int(MAX_EXPOSURE * 10)}", "bodycam.service")
    assert done.returncode == 0, done.stdout


def test_technician_guide_states_the_measured_score(root: Path) -> None:
    doc = (UNIT_DIR.parent / "docs/technician.md").read_text()
    stated = re.search(r"security --offline=true bodycam.service` rates it\s+\*\*(\d\.\d)\*\*",
                       doc)
    assert stated, "docs/technician.md must state the exposure score"
    assert float(stated.group(1)) == exposure(root, "bodycam.service")


@pytest.mark.parametrize("unit", ["bodycam-firstboot.service", "bodycam-provision.service"])
def test_root_helpers_are_sandboxed_too(root: Path, unit: str) -> None:
    assert exposure(root, unit) <= MAX_EXPOSURE


def test_main_service_contract() -> None:
    d = directives("bodycam.service")
    assert d["Type"] == ["notify"] and d["WatchdogSec"] and d["Restart"] == ["always"]
    assert d["StartLimitBurst"] and d["StartLimitIntervalSec"]
    assert d["User"] == [firstboot.SERVICE_USER]
    assert d["SupplementaryGroups"] == ["video audio gpio spi i2c"]
    assert d["ProtectSystem"] == ["strict"] and "ReadWritePaths" not in d
    # The only writable tree is the state directory, the one provisioning allows.
    assert [f"/var/lib/{name}" for name in d["StateDirectory"]] == [
        str(firstboot.SERVICE_WRITABLE)]
    assert d["CapabilityBoundingSet"] == [""] and d["NoNewPrivileges"] == ["yes"]
    assert d["LogLevelMax"] == ["info"]


def test_units_match_the_first_boot_code() -> None:
    path_unit = directives("bodycam-provision.path")
    layout = firstboot.DeviceLayout()
    assert path_unit["PathExists"] == [str(layout.boot / firstboot.BOOT_CONFIG_NAME),
                                       str(layout.boot / firstboot.RECIPIENTS_FILE_NAME)]
    assert path_unit["Unit"] == ["bodycam-provision.service"]
    for unit in ("bodycam-firstboot.service", "bodycam-provision.service"):
        d = directives(unit)
        assert f" -m {firstboot.__name__}" in d["ExecStart"][0]
        assert set(d["ReadWritePaths"][0].split()) == {
            str(layout.config_dir), str(firstboot.SERVICE_WRITABLE), str(layout.boot)}

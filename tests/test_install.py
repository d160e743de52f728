"""tools/install.sh against a fake root.

apt-get/dpkg-query, groupadd/useradd/usermod, systemctl and pip are stand-ins on PATH:
they record their arguments and apply the minimal effect the real tool has on the tree
(a package counts as installed, a passwd/group line, an enabled unit, a console script
in the venv), so the installer's own checks see a consistent system on the second run.
Everything the installer itself writes (directories, owners, modes, units, config.txt,
the venv) is checked for real.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent
SOURCE_PARTS = ("pyproject.toml", "hal", "firmware", "tools", "config", "systemd", "docs")
IS_ROOT = os.geteuid() == 0

BOOKWORM_CONFIG_TXT = """\
# For more options and information see
# http://rptl.io/configtxt
# Some settings may impact device functionality. See link above for details

# Uncomment some or all of these to enable the optional hardware interfaces
#dtparam=i2c_arm=on
#dtparam=i2s=on
#dtparam=spi=on

# Enable audio (loads snd_bcm2835)
dtparam=audio=on

# Automatically load overlays for detected cameras
camera_auto_detect=1

[cm4]
otg_mode=1

[all]
"""

STUB_PREAMBLE = f"""\
#!{sys.executable}
import os, sys
from pathlib import Path
STATE = Path(os.environ["STUB_STATE"])
name = Path(sys.argv[0]).name
args = sys.argv[1:]
with (STATE / "calls.log").open("a") as log:
    log.write(" ".join([name, *args]) + "\\n")
def root():
    return Path(args[args.index("--root") + 1]) if "--root" in args else Path("/")
def add_line(path, line):
    with path.open("a") as f:
        f.write(line + "\\n")
def add_member(etc, group, user):
    lines = (etc / "group").read_text().splitlines()
    out = []
    for line in lines:
        parts = line.split(":")
        if parts[0] == group:
            members = [m for m in parts[3].split(",") if m] + [user]
            parts[3] = ",".join(members)
        out.append(":".join(parts))
    (etc / "group").write_text("\\n".join(out) + "\\n")
"""

STUBS = {
    "dpkg-query": """
installed = STATE / "packages"
if installed.exists() and args[-1] in installed.read_text().split():
    print("install ok installed", end="")
else:
    sys.exit(1)
""",
    "apt-get": """
if "install" in args:
    add_line(STATE / "packages", " ".join(a for a in args if not a.startswith("-")
                                          and a != "install"))
""",
    "groupadd": """
etc = root() / "etc"
gid = 900 + len((etc / "group").read_text().splitlines())
add_line(etc / "group", f"{args[-1]}:x:{gid}:")
""",
    "useradd": """
etc = root() / "etc"
user = args[-1]
gid = 900 + len((etc / "group").read_text().splitlines())
add_line(etc / "group", f"{user}:x:{gid}:")
add_line(etc / "passwd", f"{user}:x:{gid}:{gid}::/var/lib/bodycam:/usr/sbin/nologin")
for group in args[args.index("--groups") + 1].split(","):
    add_member(etc, group, user)
""",
    "usermod": """
add_member(root() / "etc", args[args.index("--groups") + 1], args[-1])
""",
    "systemctl": """
enabled = STATE / "enabled"
unit = args[-1]
if "is-enabled" in args:
    sys.exit(0 if enabled.exists() and unit in enabled.read_text().split() else 1)
if "enable" in args:
    add_line(enabled, unit)
""",
    "pip": """
venv_bin = Path(args[args.index("--python") + 1]).parent
console = venv_bin / "bodycam"
console.write_text(f"#!{sys.executable}\\n" + (STATE / "selftest_stub.py").read_text())
console.chmod(0o755)
""",
}


def snapshot(target: Path) -> Path:
    """A copy of the source the installer installs from, frozen for the test (the work
    tree may change while the tests run, which the installer would rightly reinstall)."""
    target.mkdir()
    for part in SOURCE_PARTS:
        source = CHECKOUT / part
        if source.is_dir():
            shutil.copytree(source, target / part,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / part)
    return target


# The `bodycam` console script pip "installs": records the call, prints selftest JSON.
SELFTEST_STUB = """\
import json, os, sys
from pathlib import Path
STATE = Path(os.environ["STUB_STATE"])
with (STATE / "calls.log").open("a") as log:
    log.write(" ".join(["bodycam", *sys.argv[1:]]) + "\\n")
failing = STATE / "selftest-failing"
bad = failing.read_text().split() if failing.exists() else []
parts = ["camera", "display", "recipients", "device-key"]
print(json.dumps([dict(part=p, ok=p not in bad, detail="measured", fix="do this")
                  for p in parts]))
"""


class FakeSystem:
    def __init__(self, base: Path) -> None:
        self.src = snapshot(base / "src")
        self.root = base / "root"
        self.state = base / "state"
        self.bin = base / "bin"
        for directory in (self.state, self.bin, self.root / "etc",
                          self.root / "boot/firmware"):
            directory.mkdir(parents=True)
        (self.root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
        (self.root / "etc/group").write_text("root:x:0:\nvideo:x:44:\naudio:x:29:\n")
        (self.root / "boot/firmware/config.txt").write_text(BOOKWORM_CONFIG_TXT)
        (self.state / "selftest_stub.py").write_text(SELFTEST_STUB)
        for name, body in STUBS.items():
            stub = self.bin / name
            stub.write_text(STUB_PREAMBLE + textwrap.dedent(body))
            stub.chmod(0o755)

    def install(self, *extra: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
               "STUB_STATE": str(self.state)}
        env.pop("BODYCAM_ROOT", None)
        self.mark()
        command = ["bash", str(self.src / "tools/install.sh"), "--root", str(self.root)]
        return subprocess.run([*command, *extra], env=env, capture_output=True, text=True,
                              check=False, timeout=120)

    def mark(self) -> None:
        self._log_start = len(self.calls(all_runs=True))

    def calls(self, all_runs: bool = False) -> list[str]:
        log = self.state / "calls.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return lines if all_runs else lines[self._log_start:]

    def ids(self, name: str, table: str = "passwd") -> int:
        for line in (self.root / "etc" / table).read_text().splitlines():
            if line.split(":")[0] == name:
                return int(line.split(":")[2])
        raise KeyError(name)


@pytest.fixture
def fake(tmp_path: Path) -> FakeSystem:
    return FakeSystem(tmp_path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def called(calls: list[str], prefix: str) -> list[str]:
    return [c for c in calls if c.startswith(prefix)]


def test_first_run_installs_everything(fake: FakeSystem) -> None:
    done = fake.install()
    assert done.returncode == 0, done.stderr
    root, calls = fake.root, fake.calls()

    [apt] = called(calls, "apt-get install")
    assert "python3-picamera2" in apt and "python3-libcamera" in apt
    assert "portaudio19-dev" in apt
    [useradd] = called(calls, "useradd")
    assert "--groups video,audio,gpio,spi,i2c" in useradd and "--system" in useradd
    assert sorted(c.split()[-1] for c in called(calls, "groupadd")) == ["gpio", "i2c", "spi"]
    assert sorted(c.split()[-1] for c in called(calls, "systemctl --root")
                  if " enable " in c) == [
        "bodycam-firstboot.service", "bodycam-provision.path", "bodycam.service"]
    [pip] = called(calls, "pip")
    assert f"--python {root}/opt/bodycam/venv/bin/python install" in pip
    assert pip.endswith(f"{fake.src}[pi]") and "--constraint" in pip
    assert called(calls, "bodycam selftest")

    for unit in (fake.src / "systemd").iterdir():
        installed = root / "etc/systemd/system" / unit.name
        assert installed.read_bytes() == unit.read_bytes() and mode(installed) == 0o644
    venv = root / "opt/bodycam/venv"
    assert "include-system-site-packages = true" in (venv / "pyvenv.cfg").read_text()
    assert (root / "usr/share/doc/bodycam/technician.md").read_bytes() == (
        fake.src / "docs/technician.md").read_bytes()
    config_txt = (root / "boot/firmware/config.txt").read_text().splitlines()
    assert "dtparam=spi=on" in config_txt and "dtparam=i2c_arm=on" in config_txt
    assert "#dtparam=spi=on" not in config_txt
    assert "i2c-dev" in (root / "etc/modules-load.d/bodycam.conf").read_text()

    etc_dir, state_dir = root / "etc/bodycam", root / "var/lib/bodycam"
    assert (mode(etc_dir), mode(state_dir)) == (0o750, 0o700)
    if IS_ROOT:  # owners can only be set by root (CI runs as root)
        gid = fake.ids("bodycam", "group")
        assert (etc_dir.stat().st_uid, etc_dir.stat().st_gid) == (0, gid)
        assert (state_dir.stat().st_uid, state_dir.stat().st_gid) == (fake.ids("bodycam"), gid)
    assert "Reboot to switch on SPI/I2C" in done.stdout


def test_second_run_changes_nothing(fake: FakeSystem) -> None:
    assert fake.install().returncode == 0
    before = {p: p.read_bytes() for p in fake.root.rglob("*") if p.is_file()}
    done = fake.install()
    assert done.returncode == 0, done.stderr
    assert "changed:" not in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "nothing changed"
    after = {p: p.read_bytes() for p in fake.root.rglob("*") if p.is_file()}
    assert after == before
    mutating = [c for c in fake.calls()
                if c.startswith(("apt-get", "groupadd", "useradd", "usermod", "pip"))
                or " enable " in c]
    assert mutating == []
    assert called(fake.calls(), "bodycam selftest")  # the self-test still runs every time


def test_drift_is_repaired_and_reported(fake: FakeSystem) -> None:
    assert fake.install().returncode == 0
    unit = fake.root / "etc/systemd/system/bodycam.service"
    unit.write_text(unit.read_text().replace("NoNewPrivileges=yes", ""))
    (fake.root / "var/lib/bodycam").chmod(0o755)
    config_txt = fake.root / "boot/firmware/config.txt"
    config_txt.write_text(config_txt.read_text().replace("dtparam=spi=on", "dtparam=spi=off"))
    done = fake.install("--skip-selftest")
    assert done.returncode == 0, done.stderr
    changes = [line for line in done.stdout.splitlines() if line.startswith("changed:")]
    assert changes == [
        "changed: mode of /var/lib/bodycam: 755 -> 0700",
        "changed: installed /etc/systemd/system/bodycam.service",
        "changed: config.txt: dtparam=spi=on (was switched off)",
    ]
    assert unit.read_bytes() == (fake.src / "systemd/bodycam.service").read_bytes()


def test_existing_pi_groups_and_membership_are_reused(fake: FakeSystem) -> None:
    group = fake.root / "etc/group"
    group.write_text(group.read_text() + "gpio:x:997:\nspi:x:999:\ni2c:x:998:\n")
    assert fake.install().returncode == 0
    assert called(fake.calls(), "groupadd") == []


def test_skip_selftest(fake: FakeSystem) -> None:
    assert fake.install("--skip-selftest").returncode == 0
    assert called(fake.calls(), "bodycam selftest") == []


def test_failing_hardware_fails_the_install(fake: FakeSystem) -> None:
    (fake.state / "selftest-failing").write_text("camera")
    done = fake.install()
    assert done.returncode == 1
    assert "FAIL     camera: measured; fix: do this" in done.stdout
    assert "the self-test failed" in done.stderr


def test_before_provisioning_recipients_and_key_are_pending(fake: FakeSystem) -> None:
    (fake.state / "selftest-failing").write_text("recipients device-key")
    done = fake.install()
    assert done.returncode == 0, done.stderr
    assert called(fake.calls(), "bodycam selftest --config /dev/null --json")
    assert "pending  recipients" in done.stdout and "pending  device-key" in done.stdout


def test_once_provisioned_every_part_must_pass(fake: FakeSystem) -> None:
    assert fake.install("--skip-selftest").returncode == 0
    (fake.root / "etc/bodycam/bodycam.toml").write_text("[device]\nid = \"BC-1\"\n")
    (fake.state / "selftest-failing").write_text("recipients")
    done = fake.install()
    assert done.returncode == 1
    assert called(fake.calls(), "bodycam selftest --json")
    assert "FAIL     recipients" in done.stdout


def test_missing_config_txt_is_explained(fake: FakeSystem) -> None:
    (fake.root / "boot/firmware/config.txt").unlink()
    done = fake.install("--skip-selftest")
    assert done.returncode == 1
    assert "not Raspberry Pi OS Bookworm" in done.stderr

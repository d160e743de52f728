"""tools/install/install.sh against a fake root shaped like a Raspberry Pi OS Bookworm card
prepared with Raspberry Pi Imager (user `pi` with sudo, ssh host keys, a Wi-Fi profile).

apt-get/dpkg-query, groupadd/useradd/usermod, systemctl and pip are stand-ins on PATH:
they record their arguments and apply the minimal effect the real tool has on the tree
(a package counts as installed, a passwd/group line, an enabled unit, a console script
in the venv), so the installer's own checks see a consistent system on the second run.
The lock-down is done by the real tools: `usermod --prefix` and `systemctl --root
mask/disable` are handed to the system's own binaries, which edit only the fake root
(as on the device, that needs root: the developers' machines and CI run as root).
Everything the installer itself writes (directories, owners, modes, units, config.txt,
the venv, the lock-down) is checked for real.
"""

from __future__ import annotations

import configparser
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from dataclasses import dataclass
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

PI_HASH = "$y$j9T$Xs1w5Yx3CSL7QzVUZ0Jx/.$e0yW9Xw7sHkhQm0n6eV7rUP0Vd3S1gwkVfJ0c9D6G2B"
# What Raspberry Pi Imager leaves on a Bookworm Lite card (user pi, ssh, Wi-Fi), cut down
# to the files the installer reads or changes.
IMAGER_CARD = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/bash\n"
                  "pi:x:1000:1000:,,,:/home/pi:/bin/bash\n",
    "etc/login.defs": "UID_MIN\t\t\t 1000\nUID_MAX\t\t\t60000\n",
    "etc/shadow": "root:*:19800:0:99999:7:::\n"
                  f"pi:{PI_HASH}:19800:0:99999:7:::\n",
    "etc/group": "root:x:0:\nsudo:x:27:pi\nvideo:x:44:pi\naudio:x:29:pi\npi:x:1000:\n",
    "etc/gshadow": "root:*::\nsudo:*::pi\nvideo:*::pi\naudio:*::pi\npi:!::\n",
    "etc/sudoers.d/010_pi-nopasswd": "pi ALL=(ALL) NOPASSWD: ALL\n",
    "etc/sudoers.d/README": "# Files in this directory are read by sudo.\n",
    "etc/systemd/system/getty@tty1.service.d/autologin.conf":
        "[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin pi --noclear %I $TERM\n",
    "etc/ssh/ssh_host_ed25519_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nmaster\n",
    "etc/ssh/ssh_host_ed25519_key.pub": "ssh-ed25519 AAAAmaster root@raspberrypi\n",
    "etc/ssh/ssh_host_rsa_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nmaster\n",
    "etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\n",
    "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
    "var/lib/dbus/machine-id": "0123456789abcdef0123456789abcdef\n",
    "var/lib/systemd/random-seed": "seed shared by every copy of the card",
    "etc/NetworkManager/system-connections/preconfigured.nmconnection":
        "[connection]\nid=preconfigured\ntype=wifi\n[wifi]\nssid=office\n"
        "[wifi-security]\nkey-mgmt=wpa-psk\npsk=office-password\n",
    "etc/NetworkManager/system-connections/Wired.nmconnection":
        "[connection]\nid=Wired\ntype=ethernet\n",
    "boot/firmware/firstrun.sh": "#!/bin/bash\n# user pi, password hash, Wi-Fi password\n",
    "boot/firmware/cmdline.txt": "console=tty1 root=PARTUUID=1-02 rootwait\n",
    "etc/dphys-swapfile": "CONF_SWAPSIZE=512\n",
    "var/swap": "swapped-out pages",
    "etc/fstab": "proc /proc proc defaults 0 0\n"
                 "PARTUUID=1-01 /boot/firmware vfat defaults 0 2\n"
                 "PARTUUID=1-02 / ext4 defaults,noatime 0 1\n",
}

STUB_PREAMBLE = f"""\
#!{sys.executable}
import os, shutil, sys
from pathlib import Path
STATE = Path(os.environ["STUB_STATE"])
name = Path(sys.argv[0]).name
args = sys.argv[1:]
with (STATE / "calls.log").open("a") as log:
    log.write(" ".join([name, *args]) + "\\n")
def run_the_real_tool():
    here = str(Path(sys.argv[0]).parent)
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if d != here)
    real = shutil.which(name, path=path + os.pathsep + "/usr/sbin:/sbin")
    os.execv(real, [real, *args])
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
    "dpkg": """
arch = STATE / "arch"
print(arch.read_text().strip() if arch.exists() else "arm64")
""",
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
if "--prefix" in args:
    run_the_real_tool()
add_member(root() / "etc", args[args.index("--groups") + 1], args[-1])
""",
    "systemctl": """
if "mask" in args or "disable" in args:
    run_the_real_tool()
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
        self.extra_env: dict[str, str] = {}
        self.src = snapshot(base / "src")
        self.root = base / "root"
        self.state = base / "state"
        self.bin = base / "bin"
        for directory in (self.state, self.bin, self.root / "etc",
                          self.root / "boot/firmware"):
            directory.mkdir(parents=True)
        for path, text in IMAGER_CARD.items():
            (self.root / path).parent.mkdir(parents=True, exist_ok=True)
            (self.root / path).write_text(text)
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
        env.pop("SUDO_USER", None)
        env.update(self.extra_env)
        self.mark()
        command = ["bash", str(self.src / "tools/install/install.sh"), "--root", str(self.root)]
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
    assert "portaudio19-dev" in apt and "rfkill" in apt
    [useradd] = called(calls, "useradd")
    assert "--groups video,audio,gpio,spi,i2c,tss" in useradd and "--system" in useradd
    assert sorted(c.split()[-1] for c in called(calls, "groupadd")) == ["gpio", "i2c", "spi", "tss"]
    assert sorted(c.split()[-1] for c in called(calls, "systemctl --root")
                  if " enable " in c) == [
        "bodycam-clock.path", "bodycam-firstboot.service", "bodycam-provision.path",
        "bodycam-radio.path", "bodycam.service"]
    [pip] = called(calls, "pip")
    assert f"--python {root}/opt/bodycam/venv/bin/python install" in pip
    assert pip.endswith(f"{fake.src}[pi,tpm]") and "--constraint" in pip
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
    assert done.stdout.strip().splitlines()[-1].startswith("The tree is ready")


@pytest.mark.parametrize("arch", ["armhf", "armel"])
def test_a_32_bit_image_is_refused_before_anything_changes(fake: FakeSystem, arch: str) -> None:
    """Post-quantum evidence encryption needs cryptography >= 47 with ML-KEM: 64-bit only."""
    (fake.state / "arch").write_text(arch)
    before = sorted(str(p.relative_to(fake.root)) for p in fake.root.rglob("*"))
    done = fake.install()
    assert done.returncode == 1
    assert f"32-bit image (Debian architecture {arch})" in done.stderr
    assert "Nothing was changed" in done.stderr
    assert 'Fix: write "Raspberry Pi OS Lite (64-bit)"' in done.stderr
    assert sorted(str(p.relative_to(fake.root)) for p in fake.root.rglob("*")) == before
    assert [c for c in fake.calls() if not c.startswith("dpkg ")] == []


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
                or " enable " in c or " mask " in c or " disable " in c]
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
    group.write_text(group.read_text() + "gpio:x:997:\nspi:x:999:\ni2c:x:998:\ntss:x:996:\n")
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
    # Not locked yet: the technician can still log in and fix the wiring.
    assert account(fake.root, "pi").password == PI_HASH
    assert (fake.root / "etc/ssh/ssh_host_ed25519_key").exists()


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


# ------------------------------------------------------------------ lock-down (M4, M5)


@dataclass(frozen=True)
class Account:
    password: str
    expires: str
    shell: str


def account(root: Path, name: str) -> Account:
    shadow = {line.split(":")[0]: line.split(":")
              for line in (root / "etc/shadow").read_text().splitlines()}
    passwd = {line.split(":")[0]: line.split(":")
              for line in (root / "etc/passwd").read_text().splitlines()}
    return Account(shadow[name][1], shadow[name][7], passwd[name][6])


def group_members(root: Path, group: str) -> list[str]:
    for line in (root / "etc/group").read_text().splitlines():
        name, _, _, members = line.split(":")
        if name == group:
            return [m for m in members.split(",") if m]
    raise KeyError(group)


def masked(root: Path, unit: str) -> bool:
    """systemd's own answer, read from the tree by the real systemctl."""
    done = subprocess.run(["systemctl", f"--root={root}", "is-enabled", unit],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() == "masked"


def test_nobody_can_log_in_after_install(fake: FakeSystem) -> None:
    """M5: the Imager user (password known to whoever set up the card) and its sudo rule
    are what let anyone on the network into every camera cloned from the card."""
    done = fake.install()
    assert done.returncode == 0, done.stderr
    root = fake.root
    pi = account(root, "pi")
    assert pi == Account(password="!", expires="1", shell="/usr/sbin/nologin")
    assert "pi" not in group_members(root, "sudo")
    assert "pi" in group_members(root, "video")  # nothing else is taken away
    assert not (root / "etc/sudoers.d/010_pi-nopasswd").exists()
    assert (root / "etc/sudoers.d/README").exists()
    assert account(root, "root").password in {"*", "!"}
    assert PI_HASH not in (root / "etc/shadow-").read_text()  # usermod's backup copy
    assert not (root / "etc/systemd/system/getty@tty1.service.d/autologin.conf").exists()
    for unit in ("ssh.service", "ssh.socket", "sshswitch.service"):
        assert masked(root, unit), unit
    assert "changed: locked the login account pi" in done.stdout


def test_a_copied_card_shares_no_identity_or_secret(fake: FakeSystem) -> None:
    """M5: host keys, machine-id (and D-Bus's copy, which systemd falls back to), the
    random seed and the Wi-Fi password would be the same on every camera."""
    assert fake.install().returncode == 0
    root = fake.root
    assert list((root / "etc/ssh").glob("ssh_host_*")) == []
    assert (root / "etc/ssh/sshd_config").exists()
    assert (root / "etc/machine-id").read_bytes() == b""
    dbus_id = root / "var/lib/dbus/machine-id"
    assert dbus_id.is_symlink() and os.readlink(dbus_id) == "/etc/machine-id"
    assert not (root / "var/lib/systemd/random-seed").exists()
    connections = root / "etc/NetworkManager/system-connections"
    assert sorted(p.name for p in connections.iterdir()) == [
        "Wired.nmconnection", "bodycam-dock-usb0.nmconnection"]  # the dock link: no secret
    assert not (root / "boot/firmware/firstrun.sh").exists()
    assert (root / "boot/firmware/cmdline.txt").exists()


def test_no_swap_and_no_core_files(fake: FakeSystem) -> None:
    """M4: Raspberry Pi OS swaps to /var/swap on the card (dphys-swapfile); the kernel
    would also write a crashed camera program's memory to a core file."""
    fstab = fake.root / "etc/fstab"
    fstab.write_text(fstab.read_text() + "/dev/mmcblk0p3 none swap sw 0 0\n")
    done = fake.install()
    assert done.returncode == 0, done.stderr
    root = fake.root
    assert masked(root, "dphys-swapfile.service")
    assert not (root / "var/swap").exists()
    lines = fstab.read_text().splitlines()
    assert [line for line in lines if "swap" in line.split()[2:3]] == []
    assert "# bodycam: no swap on the card (plaintext media): /dev/mmcblk0p3 none swap sw 0 0" \
        in lines
    assert "PARTUUID=1-02 / ext4 defaults,noatime 0 1" in lines
    sysctl = (root / "etc/sysctl.d/99-bodycam-no-coredump.conf").read_text().splitlines()
    assert "kernel.core_pattern=|/bin/false" in sysctl and "fs.suid_dumpable=0" in sysctl
    coredump = (root / "etc/systemd/coredump.conf.d/bodycam.conf").read_text().splitlines()
    assert "Storage=none" in coredump and "ProcessSizeMax=0" in coredump


def test_swap_file_named_in_dphys_config_is_removed(fake: FakeSystem) -> None:
    (fake.root / "etc/dphys-swapfile").write_text("CONF_SWAPFILE=/var/swap2\n")
    (fake.root / "var/swap2").write_text("pages")
    assert fake.install().returncode == 0
    assert not (fake.root / "var/swap2").exists()


def test_lock_down_is_idempotent(fake: FakeSystem) -> None:
    assert fake.install().returncode == 0
    done = fake.install()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "nothing changed"
    assert account(fake.root, "pi").password == "!"


def test_keep_ssh_is_loud_and_keeps_the_login(fake: FakeSystem) -> None:
    """A development image: ssh and the Imager user stay, with a warning on every run;
    host keys are still removed, and ssh makes its own before it starts."""
    done = fake.install("--keep-ssh")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("DEVELOPMENT IMAGE") == 2  # at the start and at the end
    assert "Never put this card in service" in done.stderr
    root = fake.root
    assert account(root, "pi").password == PI_HASH
    assert "pi" in group_members(root, "sudo")
    assert not masked(root, "ssh.service")
    assert list((root / "etc/ssh").glob("ssh_host_*")) == []
    dropin = (root / "etc/systemd/system/ssh.service.d/bodycam-host-keys.conf").read_text()
    assert dropin.splitlines()[-3:] == [
        "ExecStartPre=", "ExecStartPre=/usr/bin/ssh-keygen -A", "ExecStartPre=/usr/sbin/sshd -t"]
    again = fake.install("--keep-ssh")
    assert again.stdout.strip().splitlines()[-1] == "nothing changed"
    assert "DEVELOPMENT IMAGE" in again.stderr


def test_keep_wifi_keeps_the_dock_network(fake: FakeSystem) -> None:
    assert fake.install("--keep-wifi").returncode == 0
    connections = fake.root / "etc/NetworkManager/system-connections"
    assert (connections / "preconfigured.nmconnection").exists()


DOCK_PROFILE = "etc/NetworkManager/system-connections/bodycam-dock-usb0.nmconnection"


def modules_loaded(conf: Path) -> list[str]:
    """What systemd-modules-load reads from a modules-load.d file: each line that is not
    empty or a comment is one module name, whole (a trailing "# ..." would be part of
    the name: modules-load.d(5))."""
    return [line.strip() for line in conf.read_text().splitlines()
            if line.strip() and line.strip()[0] not in "#;"]


def test_the_usb_port_becomes_the_dock_link(fake: FakeSystem) -> None:
    """USB gadget Ethernet: the dwc2 overlay, the dwc2 and g_ether modules at boot, and
    usb0 addressed by the dock (DHCP / router advertisements) with a MAC that stays the
    same per camera; the mDNS responder that would listen on the dock network is off."""
    done = fake.install()
    assert done.returncode == 0, done.stderr
    root = fake.root
    assert modules_loaded(root / "etc/modules-load.d/bodycam.conf") == [
        "i2c-dev", "dwc2", "g_ether"]
    config_txt = (root / "boot/firmware/config.txt").read_text().splitlines()
    assert "dtoverlay=dwc2,dr_mode=peripheral" in config_txt
    keyfile = root / DOCK_PROFILE
    assert mode(keyfile) == 0o600  # NetworkManager ignores a keyfile others can read
    profile = configparser.ConfigParser(interpolation=None, comment_prefixes=("#",))
    profile.read_string(keyfile.read_text())
    connection = profile["connection"]
    assert (connection["type"], connection["interface-name"], connection["autoconnect"],
            connection["autoconnect-retries"]) == ("ethernet", "usb0", "true", "0")
    assert int(connection["autoconnect-priority"]) > 0  # above Imager's generic "Wired"
    assert profile["ethernet"]["cloned-mac-address"] == "stable"
    assert (profile["ipv4"]["method"], profile["ipv6"]["method"]) == ("auto", "auto")
    for unit in ("avahi-daemon.service", "avahi-daemon.socket"):
        assert masked(root, unit), unit
        assert (f"changed: masked {unit} (the camera listens on no port of the dock "
                "network)") in done.stdout


def test_a_changed_dock_link_is_put_back(fake: FakeSystem) -> None:
    assert fake.install().returncode == 0
    keyfile = fake.root / DOCK_PROFILE
    keyfile.write_text(keyfile.read_text().replace("method=auto", "method=disabled"))
    modules = fake.root / "etc/modules-load.d/bodycam.conf"
    modules.write_text("i2c-dev\n")
    done = fake.install("--skip-selftest")
    assert done.returncode == 0, done.stderr
    assert "changed: installed /etc/modules-load.d/bodycam.conf" in done.stdout
    assert f"changed: installed /{DOCK_PROFILE}" in done.stdout
    assert keyfile.read_bytes() == (
        fake.src / "tools/install/bodycam-dock-usb0.nmconnection").read_bytes()
    assert modules_loaded(modules) == ["i2c-dev", "dwc2", "g_ether"]


def test_the_user_who_ran_sudo_is_locked_too(fake: FakeSystem) -> None:
    """An account made by hand outside the usual range, used for the installation."""
    passwd = fake.root / "etc/passwd"
    passwd.write_text(passwd.read_text() + "tech:x:900:900::/home/tech:/bin/bash\n")
    shadow = fake.root / "etc/shadow"
    shadow.write_text(shadow.read_text() + f"tech:{PI_HASH}:19800:0:99999:7:::\n")
    fake.extra_env["SUDO_USER"] = "tech"
    assert fake.install().returncode == 0
    assert account(fake.root, "tech").password == "!"


def test_a_root_password_is_locked(fake: FakeSystem) -> None:
    shadow = fake.root / "etc/shadow"
    shadow.write_text(shadow.read_text().replace("root:*:", f"root:{PI_HASH}:"))
    done = fake.install()
    assert done.returncode == 0, done.stderr
    assert account(fake.root, "root").password == "!"
    assert "changed: locked root's password" in done.stdout


def test_a_card_with_a_device_key_is_no_master_image(fake: FakeSystem) -> None:
    state = fake.root / "var/lib/bodycam/state"
    state.mkdir(parents=True)
    (state / "device-ed25519.pem").write_text("key")
    done = fake.install()
    assert done.returncode == 0, done.stderr
    assert "already holds a device key" in done.stderr


def test_the_agency_provisioning_key_goes_into_the_image(fake: FakeSystem,
                                                          tmp_path: Path) -> None:
    """H3: a camera from this image trusts the agency's key from its first boot (no
    trust on first use); a file that is not such a key is refused before anything."""
    from bodycam.tools.provision.cli import main as provision

    wrong = tmp_path / "wrong.pub"
    wrong.write_text("# not a key\nage1qqqq\n")
    refused = fake.install("--provisioning-key", str(wrong))
    assert refused.returncode == 1 and "is not a provisioning public key" in refused.stderr
    assert not (fake.root / "etc/bodycam/provisioning-key.pub").exists()

    assert provision(["keygen", "-o", str(tmp_path / "agency.key")]) == 0
    public = tmp_path / "agency.key.pub"
    assert fake.install("--provisioning-key", str(public)).returncode == 0
    pinned = fake.root / "etc/bodycam/provisioning-key.pub"
    assert pinned.read_bytes() == public.read_bytes() and mode(pinned) == 0o644

"""The offload's units: the camera program reaches the pinned server and nothing else,
and only the clock unit, with CAP_SYS_TIME alone, sets the clock."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from offload_support import make_pki, offload_toml, server_key_b64
from test_systemd_units import MAX_EXPOSURE, analyze, directives, exposure, root, security_items

from bodycam.firmware.config.loader import load_config
from bodycam.firmware.device import firstboot
from bodycam.firmware.offload import set_clock, timesync
from bodycam.firmware.offload.firewall import DROPIN, dropin_text, write_dropin
from bodycam.hal.clocks import DOCK_TIME_MARKER

__all__ = ["root"]  # the fixture, shared with test_systemd_units

PKI = make_pki()
KEY = server_key_b64(Ed25519PrivateKey.generate())


def offload(tmp_path: Path, url: str, **extra: object) -> Path:
    path = tmp_path / "camera-offload.toml"
    path.write_text(offload_toml(url, PKI.ca_pem, KEY, **extra))
    return path


def test_the_camera_program_may_reach_only_the_configured_server(tmp_path: Path) -> None:
    config = load_config(offload(tmp_path, "https://10.20.0.5:8443"))
    assert dropin_text(config.offload).endswith("[Service]\nIPAddressAllow=10.20.0.5\n")
    named = load_config(offload(tmp_path, "https://evidence.test:8443",
                                server_address="fd00::5"))
    assert "IPAddressAllow=fd00::5\n" in dropin_text(named.offload)
    off = dropin_text(load_config().offload)
    assert "IPAddressAllow" not in off and "reaches no address" in off


def test_the_unit_with_its_drop_in_verifies_and_stays_below_the_bar(
        root: Path, tmp_path: Path) -> None:
    tree = tmp_path / "root"
    shutil.copytree(root, tree, symlinks=True)
    config = load_config(offload(tmp_path, "https://10.20.0.5:8443"))
    assert write_dropin(config.offload, tree / DROPIN.relative_to("/"))
    assert not write_dropin(config.offload, tree / DROPIN.relative_to("/"))  # unchanged
    done = analyze(tree, "verify", "bodycam.service")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    # 1.3 without a server, 1.4 with its address allowed (systemd counts the allow list)
    assert exposure(tree, "bodycam.service") > exposure(root, "bodycam.service")
    assert exposure(tree, "bodycam.service") <= MAX_EXPOSURE
    assert security_items(root, "bodycam.service")["IPAddressDeny="]  # without: none
    assert security_items(tree, "bodycam.service")["RestrictAddressFamilies=~AF_PACKET"]


def test_the_camera_unit_denies_every_address_itself() -> None:
    """Without the drop-in (no server, or none written yet) nothing is reachable."""
    d = directives("bodycam.service")
    assert d["IPAddressDeny"] == ["any"] and "IPAddressAllow" not in d
    assert "PrivateNetwork" not in d
    assert set(d["RestrictAddressFamilies"][0].split()) == {
        "AF_UNIX", "AF_NETLINK", "AF_INET", "AF_INET6"}
    # the request to the clock unit goes to the program's runtime directory, which the
    # clock unit (group bodycam) may read
    assert Path("/run", d["RuntimeDirectory"][0]) == timesync.DEFAULT_REQUEST_FILE.parent
    assert d["RuntimeDirectoryMode"] == ["0750"]


def test_firstboot_writes_the_drop_in_from_the_installed_configuration(
        tmp_path: Path) -> None:
    """At every boot and provisioning the firewall follows /etc/bodycam/bodycam.toml."""
    layout = firstboot.DeviceLayout(root=tmp_path)
    layout.etc_dir.mkdir(parents=True)
    layout.config_file.write_text(offload_toml("https://10.20.0.5:8443", PKI.ca_pem, KEY))
    target = layout.under_root(DROPIN)
    assert firstboot._allow_offload_server(layout)
    assert "IPAddressAllow=10.20.0.5" in target.read_text()
    assert not firstboot._allow_offload_server(layout)
    layout.config_file.write_text(offload_toml("https://10.20.0.9:8443", PKI.ca_pem, KEY))
    assert firstboot._allow_offload_server(layout)
    assert "IPAddressAllow=10.20.0.9" in target.read_text()
    assert "10.20.0.5" not in target.read_text()


def test_the_clock_unit_holds_cap_sys_time_and_nothing_else(root: Path) -> None:
    d = directives("bodycam-clock.service")
    assert d["CapabilityBoundingSet"] == ["CAP_SYS_TIME"]
    assert d["AmbientCapabilities"] == ["CAP_SYS_TIME"]
    assert d["DynamicUser"] == ["yes"] and "User" not in d
    assert d["SupplementaryGroups"] == [firstboot.SERVICE_USER]
    assert f" -m {set_clock.__name__}" in d["ExecStart"][0]
    items = security_items(root, "bodycam-clock.service")
    for check in ("PrivateNetwork=", "IPAddressDeny=", "CapabilityBoundingSet=~CAP_SYS_ADMIN",
                  "PrivateDevices=", "ProcSubset="):
        assert items[check], check
    assert not items["ProtectClock="]  # its one job
    # The camera program itself may not touch the clock.
    camera = directives("bodycam.service")
    assert camera["ProtectClock"] == ["yes"] and camera["CapabilityBoundingSet"] == [""]
    assert "@clock" in camera["SystemCallFilter"][1]


def test_the_clock_units_paths_match_the_code() -> None:
    path_unit = directives("bodycam-clock.path")
    assert path_unit["PathChanged"] == [str(timesync.DEFAULT_REQUEST_FILE)]
    assert path_unit["Unit"] == ["bodycam-clock.service"]
    d = directives("bodycam-clock.service")
    assert Path("/var/lib", d["StateDirectory"][0]) == set_clock.DEFAULT_STATE.parent
    assert Path("/run", d["RuntimeDirectory"][0]) == DOCK_TIME_MARKER.parent
    assert d["RuntimeDirectoryPreserve"] == ["yes"]  # the marker outlives the oneshot


@pytest.mark.parametrize("unit", ["bodycam-firstboot.service", "bodycam-provision.service"])
def test_the_root_helpers_may_write_the_drop_in(unit: str) -> None:
    paths = {p for line in directives(unit)["ReadWritePaths"] for p in line.split()}
    assert str(DROPIN.parent) in paths

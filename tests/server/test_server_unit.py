"""systemd/bodycam-server.service: verified and scored by systemd-analyze for real (no
running systemd needed; see tests/test_systemd_units.py for the camera's units)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_systemd_units import SERVER_UNIT, agency_unit_root, analyze, directives, exposure

# systemd's score for a network service that writes one directory: what is left open is
# the network itself (PrivateNetwork, AF_INET, no IP allow list), AF_UNIX (journal,
# sd_notify, a local PostgreSQL) and CAP_NET_BIND_SERVICE for port 443.
MAX_EXPOSURE = 1.2


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return agency_unit_root(tmp_path_factory.mktemp("serverunit"), SERVER_UNIT,
                            "bodycam-server")


def test_the_server_unit_verifies_without_any_warning(root: Path) -> None:
    done = analyze(root, "verify", SERVER_UNIT)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_the_server_unit_is_hardened(root: Path) -> None:
    assert exposure(root, SERVER_UNIT) <= MAX_EXPOSURE


def test_the_server_unit_runs_serve_on_its_state_directory() -> None:
    d = directives(SERVER_UNIT)
    assert d["Type"] == ["notify"]  # serve says READY=1 (tested in test_server_setup.py)
    assert d["ExecStart"] == ["/opt/bodycam/venv/bin/bodycam-server serve --data-dir "
                              "/var/lib/bodycam-server"]
    assert d["StateDirectory"] == ["bodycam-server"] and d["ProtectSystem"] == ["strict"]
    assert d["User"] == ["bodycam-server"] and d["NoNewPrivileges"] == ["yes"]
    assert d["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]

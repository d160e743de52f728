"""systemd/bodycam-keyholder.service: verified and scored by systemd-analyze for real
(as tests/server/test_server_unit.py does for the server): the key holder gets no
network at all, its own user, and a socket directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_systemd_units import agency_unit_root, analyze, directives, exposure

UNIT = "bodycam-keyholder.service"
# Far below the server's 1.2: no network, no capability; what is left is AF_UNIX (its
# socket and the journal) and the user/IPC namespaces systemd counts.
MAX_EXPOSURE = 0.6  # measured here: 0.4


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return agency_unit_root(tmp_path_factory.mktemp("keyholderunit"), UNIT,
                            "bodycam-keyholder")


def test_the_keyholder_unit_verifies_without_any_warning(root: Path) -> None:
    done = analyze(root, "verify", UNIT)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_the_keyholder_unit_is_hardened(root: Path) -> None:
    assert exposure(root, UNIT) <= MAX_EXPOSURE


def test_the_keyholder_has_no_network_and_its_own_user() -> None:
    d = directives(UNIT)
    assert d["ExecStart"] == ["/opt/bodycam/venv/bin/bodycam-keyholder serve --dir "
                              "/var/lib/bodycam-keyholder"]
    assert d["PrivateNetwork"] == ["yes"] and d["RestrictAddressFamilies"] == ["AF_UNIX"]
    assert d["User"] == ["bodycam-keyholder"] and d["StateDirectoryMode"] == ["0700"]
    assert d["CapabilityBoundingSet"] == [""]

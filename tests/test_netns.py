"""The test network link itself: reachable, shaped, cut and restored for real."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator

import pytest

from bodycam.tools.dev.netns import MISSING, VethLink

_ECHO = ("import socket,sys;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,"
         "socket.SO_REUSEADDR,1);s.bind((sys.argv[1],7007));s.listen();print('ready',"
         "flush=True)\nwhile True:\n c,_=s.accept()\n while (d:=c.recv(65536)):\n  "
         "c.sendall(d[:1])\n c.close()")


def need_root() -> None:
    """Root builds links (CI runs as root: there a missing right is a failure)."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING)
        pytest.skip(MISSING)


@pytest.fixture
def link() -> Iterator[VethLink]:
    need_root()
    with VethLink(rate_mbit=50) as made:
        yield made


def test_the_far_end_is_reached_and_the_cut_is_real(link: VethLink) -> None:
    server = link.popen([sys.executable, "-c", _ECHO, link.far_address])
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
        with socket.create_connection((link.far_address, 7007), timeout=5) as conn:
            conn.sendall(b"x")
            assert conn.recv(1) == b"x"
            link.cut()
            conn.settimeout(1.0)
            conn.sendall(b"y")
            with pytest.raises(TimeoutError):
                conn.recv(1)  # nothing comes back over a pulled cable
            link.restore()
            conn.settimeout(10.0)
            assert conn.recv(1) == b"y"  # TCP retransmits once the cable is back
    finally:
        server.kill()
        server.wait()


def test_the_link_is_shaped_to_its_rate(link: VethLink) -> None:
    """6 MB sent at once over a link shaped to 50 Mbit/s: the token bucket (tbf) holds
    packets back (its own counters say so; no timing on a shared machine), and it stays
    in place across a cut and a restore."""
    assert link.shaper() == {"sent": 0, "overlimits": 0}
    link.cut()
    link.restore()
    server = link.popen([sys.executable, "-c", _ECHO, link.far_address])
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
        payload = b"\0" * (6 * 1024 * 1024)
        with socket.create_connection((link.far_address, 7007), timeout=30) as conn:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        counters = link.shaper()
        assert counters["sent"] >= len(payload)
        assert counters["overlimits"] > 0
    finally:
        server.kill()
        server.wait()


def test_an_unshaped_link_has_no_token_bucket() -> None:
    need_root()
    with VethLink() as made:
        assert made.shaper() == {}

"""The ceiling of the shaped link: what one plain TCP stream gets through it.

tbf counts whole Ethernet frames, so TCP/IP headers alone take about 4 % of the rate
before any TLS, HTTP or protocol round trip; `link_share` is measured against the full
rate, and this figure says how much of the gap is the link's own. The sink runs inside
the link's namespace (a fresh one: any port is free there) and answers one byte once it
has read everything, so the time covers the last byte's arrival.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import Final

from bodycam.tools.dev.netns import VethLink

__all__ = ["tcp_share"]

PORT: Final = 5201
_BLOCK: Final = 1024 * 1024
MIN_BYTES: Final = 16 * _BLOCK  # ~3 s at 50 Mbit/s: slow start is a small part of it
_SINK: Final = """
import socket, sys
server = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
peer, _ = server.accept()
while peer.recv(1 << 20):
    pass
peer.sendall(b"x")
"""


def tcp_share(link: VethLink, rate_mbit: float, size: int) -> float:
    """Send `size` bytes (at least MIN_BYTES) through `link` to a sink at its far end;
    bits/s / rate."""
    blocks = max(size, MIN_BYTES) // _BLOCK
    sink = subprocess.Popen(["ip", "netns", "exec", link.namespace, sys.executable, "-c",
                             _SINK, link.far_address, str(PORT)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        if sink.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the TCP sink in {link.namespace} did not start: "
                               f"{sink.communicate(timeout=30)[1].strip()[-500:]}")
        block = bytes(_BLOCK)
        with socket.create_connection((link.far_address, PORT), timeout=60) as stream:
            started = time.monotonic()
            for _ in range(blocks):
                stream.sendall(block)
            stream.shutdown(socket.SHUT_WR)
            if stream.recv(1) != b"x":
                raise RuntimeError("the TCP sink closed before it read everything")
            seconds = time.monotonic() - started
        sink.wait(30)
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
    return blocks * _BLOCK * 8 / seconds / (rate_mbit * 1e6)

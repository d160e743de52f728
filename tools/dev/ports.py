"""A free TCP port on loopback, for the services the tests start (a race with other
programs is possible but harmless: the service fails to bind and the test says so)."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port

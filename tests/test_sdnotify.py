"""SystemdNotifier against real AF_UNIX datagram sockets (file path and abstract)."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bodycam.firmware.device.sdnotify import SystemdNotifier, socket_address

PID = 4242


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """systemd's side: a datagram socket bound to a path, and its NOTIFY_SOCKET value."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    yield sock, str(path)
    sock.close()


def received(sock: socket.socket) -> list[bytes]:
    """Every datagram waiting on the socket (the notifier sends synchronously)."""
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096))
        except BlockingIOError:
            return messages


def test_ready_status_stopping_and_errno_reach_a_path_socket(
        listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": address}, pid=PID)
    assert notifier.enabled
    notifier.ready("recording off,\nidle")
    notifier.status("battery 80 %")
    notifier.stopping()
    notifier.errno(5)
    notifier.close()
    assert received(sock) == [b"READY=1\nSTATUS=recording off, idle", b"STATUS=battery 80 %",
                              b"STOPPING=1", b"ERRNO=5"]


def test_abstract_socket_name_starting_with_at_is_used() -> None:
    name = f"bodycam-test-{secrets.token_hex(6)}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.setblocking(False)
    try:
        notifier = SystemdNotifier({"NOTIFY_SOCKET": f"@{name}"}, pid=PID)
        notifier.ready()
        assert received(sock) == [b"READY=1"]
    finally:
        sock.close()


def test_socket_address_forms() -> None:
    assert socket_address("@abc") == b"\0abc"
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("vsock:2:1234") is None


def test_watchdog_interval_is_half_of_watchdog_usec_and_pings(
        listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "10000000",
                                "WATCHDOG_PID": str(PID)}, pid=PID)
    assert notifier.watchdog_interval() == 5.0
    notifier.watchdog()
    assert received(sock) == [b"WATCHDOG=1"]


def test_watchdog_without_pid_applies_to_this_process(
        listener: tuple[socket.socket, str]) -> None:
    _, address = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "3000000"})
    assert notifier.watchdog_interval() == 1.5


def test_watchdog_for_another_pid_is_not_ours(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "10000000",
                                "WATCHDOG_PID": str(PID + 1)}, pid=PID)
    assert notifier.watchdog_interval() is None
    notifier.watchdog()
    notifier.status("after")
    assert received(sock) == [b"STATUS=after"]


def test_invalid_watchdog_usec_disables_the_watchdog_with_a_warning(
        listener: tuple[socket.socket, str], caplog: pytest.LogCaptureFixture) -> None:
    _, address = listener
    with caplog.at_level(logging.WARNING):
        notifier = SystemdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "ten"})
    assert notifier.watchdog_interval() is None
    assert "WATCHDOG_USEC='ten'" in caplog.text


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = SystemdNotifier({"WATCHDOG_USEC": "10000000"})
    assert not notifier.enabled
    assert notifier.watchdog_interval() is None
    notifier.ready("x")
    notifier.watchdog()
    notifier.stopping()


def test_default_environment_is_the_process_environment(
        listener: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch) -> None:
    sock, address = listener
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    notifier = SystemdNotifier()
    assert notifier.watchdog_interval() == 1.0
    notifier.watchdog()
    assert received(sock) == [b"WATCHDOG=1"]


def test_send_failure_never_raises_and_warns_once_per_outage(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "notify"
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"})
    with caplog.at_level(logging.INFO, logger="bodycam.firmware.device.sdnotify"):
        notifier.ready()
        notifier.watchdog()
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "cannot notify systemd" in warnings[0].getMessage()

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # systemd is back
        sock.bind(str(path))
        sock.setblocking(False)
        try:
            notifier.watchdog()
            assert received(sock) == [b"WATCHDOG=1"]
        finally:
            sock.close()
    assert "works again" in caplog.text


def test_unusable_notify_socket_value_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "vsock:2:99"})
    assert not notifier.enabled
    assert "NOTIFY_SOCKET='vsock:2:99'" in caplog.text

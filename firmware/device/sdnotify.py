"""The systemd notification channel (sd_notify): readiness, status text, watchdog pings.

Written by hand because the protocol is one datagram on a Unix socket, and the libraries
do not fit: `systemd-python` needs the libsystemd headers and a C compiler on the Pi, and
`sdnotify` on PyPI is unmaintained and does not handle abstract sockets ("@name"), which
systemd may hand out in NOTIFY_SOCKET.

Without NOTIFY_SOCKET (simulator, tests, started by hand) every method does nothing, so
the same main loop runs everywhere. A failed send never reaches the caller: losing a
status line must not stop the camera. If pings stop arriving, systemd restarts the
service, which is exactly what should happen when the channel is broken.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)

US_PER_S = 1_000_000


def socket_address(value: str) -> str | bytes | None:
    """The sendto() address for a NOTIFY_SOCKET value; None when it cannot be used.

    "@name" is an abstract socket (leading NUL byte on the wire); "/path" a file socket.
    Other forms (e.g. systemd's "vsock:" for virtual machines) are not used on a camera.
    """
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


class SystemdNotifier:
    """Sends sd_notify messages to the socket systemd named in the environment.

    `environ` and `pid` are injectable for tests; by default the process's own.
    """

    def __init__(self, environ: Mapping[str, str] | None = None,
                 pid: int | None = None) -> None:
        env = os.environ if environ is None else environ
        self._pid = os.getpid() if pid is None else pid
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._failing = False  # warn once per outage, not on every ping
        raw = env.get("NOTIFY_SOCKET", "")
        self._address = socket_address(raw) if raw else None
        if raw and self._address is None:
            log.warning("NOTIFY_SOCKET=%r is not a Unix socket path or @abstract name; "
                        "systemd notifications are off (readiness and watchdog will time "
                        "out: check the unit's NotifyAccess/Type)", raw)
        self._watchdog_usec = self._read_watchdog(env)

    @property
    def enabled(self) -> bool:
        """Whether systemd asked for notifications (NOTIFY_SOCKET set and usable)."""
        return self._address is not None

    def _read_watchdog(self, env: Mapping[str, str]) -> int | None:
        """WATCHDOG_USEC, if it is meant for this process (WATCHDOG_PID unset or ours)."""
        usec_text = env.get("WATCHDOG_USEC", "")
        if not usec_text:
            return None
        pid_text = env.get("WATCHDOG_PID", "")
        if pid_text and pid_text != str(self._pid):
            return None  # the watchdog belongs to another process (e.g. our parent)
        try:
            usec = int(usec_text)
        except ValueError:
            usec = 0
        if usec <= 0:
            log.warning("WATCHDOG_USEC=%r is not a positive number of microseconds; the "
                        "watchdog is not pinged (fix WatchdogSec= in the unit)", usec_text)
            return None
        return usec

    def watchdog_interval(self) -> float | None:
        """Seconds between pings (half of WatchdogSec=), or None if no watchdog applies."""
        if self._watchdog_usec is None or self._address is None:
            return None
        return self._watchdog_usec / US_PER_S / 2

    def ready(self, status: str | None = None) -> None:
        """Startup finished: systemd considers the service started (Type=notify)."""
        self._send("READY=1", *_status(status))

    def status(self, text: str) -> None:
        """One line shown by `systemctl status`."""
        self._send(*_status(text))

    def watchdog(self) -> None:
        """Keep-alive ping; only call it after the health checks passed."""
        if self.watchdog_interval() is not None:
            self._send("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> None:
        """Shutdown has begun (so systemd does not treat the wait as a hang)."""
        self._send("STOPPING=1", *_status(status))

    def errno(self, code: int) -> None:
        """The errno-style reason for a failure, shown by `systemctl status`."""
        self._send(f"ERRNO={code}")

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def _send(self, *assignments: str) -> None:
        if self._address is None:
            return
        message = "\n".join(assignments)
        with self._lock:
            try:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._socket.setblocking(False)  # a full queue must not stall the loop
                self._socket.sendto(message.encode(), self._address)
            except OSError as exc:
                if not self._failing:
                    log.warning("cannot notify systemd via %s (%s); the service may be "
                                "restarted by its watchdog. Fix: check that NOTIFY_SOCKET "
                                "is reachable (PrivateNetwork/RestrictAddressFamilies must "
                                "allow AF_UNIX)", self._address, exc)
                self._failing = True
            else:
                if self._failing:
                    log.info("notifying systemd works again")
                self._failing = False


def _status(text: str | None) -> tuple[str, ...]:
    """The STATUS= assignment, on one line (a newline would end the assignment)."""
    return () if text is None else (f"STATUS={' '.join(text.split())}",)

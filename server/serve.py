"""`bodycam-server serve`: HTTPS (TLS 1.3 only) on uvicorn, systemd-friendly.

Refuses to start on a database whose schema is not this server's (run `migrate`), or a
blob store it cannot write. Tells systemd READY=1 once the socket listens, STOPPING=1 on
SIGTERM, and finishes the requests in flight before it exits (uvicorn's graceful
shutdown). Any number of these processes may share one database and one blob store.
Each runs the retention job in a thread (retention/job.py; a lease makes one work).
`--part` serves the cameras' or the people's routes only (app.py says why).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any, Final

import uvicorn

from bodycam.firmware.device.sdnotify import SystemdNotifier
from bodycam.server.access.service import Access
from bodycam.server.app import ServePart, create_app
from bodycam.server.context import ServerContext
from bodycam.server.database.migrate import check_schema
from bodycam.server.identity.tls import server_ssl_context
from bodycam.server.retention.job import RetentionJob

__all__ = ["parse_listen", "serve"]

_STALE_SPOOL_S: Final = 24 * 3600
_GRACE_S: Final = 30
_log = logging.getLogger(__name__)


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT ([v6]:PORT for IPv6); ValueError names the form."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen {text!r}: give HOST:PORT, e.g. 0.0.0.0:8443")
    return host.strip("[]") or "0.0.0.0", int(port)


class _NotifyingServer(uvicorn.Server):
    """uvicorn's server telling systemd when it listens and when it stops."""

    def __init__(self, config: uvicorn.Config, notifier: SystemdNotifier) -> None:
        super().__init__(config)
        self._notifier = notifier

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._notifier.ready(f"serving on {self.config.host}:{self.config.port}")

    async def shutdown(self, sockets: Any = None) -> None:
        self._notifier.stopping("finishing requests in flight")
        await super().shutdown(sockets)


def _remove_stale_spools(directory: Path) -> None:
    """Spool files a killed process left behind (a day old: no upload is that slow)."""
    if not directory.is_dir():
        return
    limit = time.time() - _STALE_SPOOL_S
    for path in directory.glob("spool-*"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            continue


def _stopped(_signal: int, _frame: FrameType | None) -> None:
    """The graceful shutdown already happened; nothing is left to do."""


def serve(data_dir: Path, listen: str | None, part: ServePart = "all") -> None:
    """Runs until SIGTERM/SIGINT. Raises the setup errors with their fixes."""
    context = ServerContext.open(data_dir)
    check_schema(context.database)
    context.blobs.check()
    _remove_stale_spools(context.blobs.spool_dir)
    tls = server_ssl_context(context.settings.identity_dir)
    host, port = parse_listen(listen) if listen else ("0.0.0.0", context.settings.port)
    config = uvicorn.Config(
        create_app(context, part), host=host, port=port, lifespan="off", access_log=False,
        ssl_context_factory=lambda _config, _default: tls, server_header=False,
        timeout_graceful_shutdown=_GRACE_S, log_level=os.environ.get("LOG_LEVEL", "info"))
    notifier = SystemdNotifier()
    retention = RetentionJob(context.database, context.blobs, Access.of(context).audit,
                             context.clock).start()
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again with
    # the handlers it found: these make that a plain return, so a stop exits with 0.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, _stopped)
    try:
        _NotifyingServer(config, notifier).run()
    finally:
        retention.stop()
        notifier.close()
        context.close()

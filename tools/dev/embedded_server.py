"""An evidence server on loopback in one folder, for `make demo` and a developer's laptop.

It is the administrator's own sequence (docs: README "Evidence server administrator
guide"): `bodycam-server init` (own CA and certificate for 127.0.0.1), `device enrol`,
then `serve` as a separate process. Readiness is systemd's: `serve` is given a
NOTIFY_SOCKET and is ready when it sends READY=1, exactly as under its unit, so no port
is polled. The other commands run in this process through the console script's `main`
(no second interpreter start per command); their output is printed as the
administrator would see it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from bodycam.server.cli import main as server_main
from bodycam.server.identity.tls import CA_FILE
from bodycam.tools.dev.ports import free_port

__all__ = ["EmbeddedServer", "ServerError"]

READY_S: Final = 60.0  # real seconds for migrations check and uvicorn to listen
STOP_S: Final = 45.0  # the unit's TimeoutStopSec: requests in flight are finished


class ServerError(RuntimeError):
    """A server command failed; the message holds its own error (with the fix)."""


class EmbeddedServer:
    """`bodycam-server` in `data_dir` on https://127.0.0.1:<free port>."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir = data_dir
        self.log = log
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._notify: socket.socket | None = None
        self._notify_dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def offload_file(self) -> Path:
        """The `[offload]` table a camera's provisioning file takes as it is."""
        return self.data_dir / "camera-offload.toml"

    @property
    def ca_file(self) -> Path:
        """The certificate authority `init` made (what a browser must be told to trust)."""
        return self.data_dir / "identity" / CA_FILE

    def run(self, command: str, *args: str, show: bool = True, stdin: str | None = None
            ) -> None:
        """One `bodycam-server` command (not serve; "device enrol" is two words), shown as
        typed; ServerError if it fails. `stdin`: what the person types (a password and a
        code for `--password-stdin`; never shown). The CLI sets the agency's umask for
        its files: the caller's comes back after."""
        argv = [*command.split(), "--data-dir", str(self.data_dir), *args]
        if show:
            print(f"$ bodycam-server {shlex.join(argv)}", flush=True)
        umask = os.umask(0o077)  # reads the current umask (there is no other way)
        saved = sys.stdin
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        try:
            code = server_main(argv)
        finally:
            sys.stdin = saved
            os.umask(umask)
        sys.stdout.flush()
        if code != 0:
            raise ServerError(f"bodycam-server {command} failed (exit {code}); its message "
                              "is above")

    def init(self) -> None:
        self.run("init", "--url", self.url)

    def enrol(self, identity_file: Path) -> None:
        self.run("device enrol", str(identity_file))

    def recordings(self) -> list[dict[str, Any]]:
        """`bodycam-server recordings --json`, parsed."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.run("recordings", "--json", show=False)
        items: list[dict[str, Any]] = json.loads(out.getvalue())
        return items

    def start(self) -> None:
        """`serve` in its own process (output to `log`); returns once it said READY=1.
        The notification socket stays open until stop(): serve also says STOPPING=1."""
        self._notify_dir = tempfile.TemporaryDirectory(prefix="bodycam-notify-")
        address = str(Path(self._notify_dir.name) / "notify")  # AF_UNIX: <= 107 bytes
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._notify.bind(address)
        self._notify.settimeout(0.5)
        print(f"$ bodycam-server serve --data-dir {shlex.quote(str(self.data_dir))}"
              f"   (in the background; log: {self.log})", flush=True)
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bodycam.server.cli", "serve",
                 "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "NOTIFY_SOCKET": address, "LOG_LEVEL": "warning"})
        self._await_ready(self._notify)

    def _await_ready(self, notify: socket.socket) -> None:
        assert self._process is not None
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if (code := self._process.poll()) is not None:
                self._process = None
                self._close_notify()
                raise ServerError(f"bodycam-server serve exited with {code}; see {self.log}")
            with contextlib.suppress(TimeoutError):
                if "READY=1" in notify.recv(4096).decode(errors="replace").splitlines():
                    return
        self.stop()
        raise ServerError(f"bodycam-server serve was not ready within {READY_S:g} s; "
                          f"see {self.log}")

    def _close_notify(self) -> None:
        if self._notify is not None:
            self._notify.close()
            self._notify = None
        if self._notify_dir is not None:
            self._notify_dir.cleanup()
            self._notify_dir = None

    def stop(self) -> int | None:
        """SIGTERM as systemd stops it; its exit status (None if it was not running)."""
        process, self._process = self._process, None
        if process is None:
            self._close_notify()
            return None
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    return process.wait(STOP_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            return process.returncode
        finally:
            self._close_notify()

    def __enter__(self) -> EmbeddedServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

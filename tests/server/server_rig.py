"""A real `bodycam-server` for the tests: init, enrol and `serve` as processes.

`serve` runs as its own process with a real systemd notification socket: the rig waits
for READY=1 (so readiness is tested on every start), and can stop it with SIGTERM or
kill it with SIGKILL like a power cut, then start it again on the same data.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bodycam.server.cli import main

READY_S: Final = 60.0



def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bodycam.server.cli", *args]


def run_server(*args: str, env: dict[str, str] | None = None,
               check: bool = True) -> subprocess.CompletedProcess[str]:
    """A `bodycam-server` command other than serve, run in this process (the same code
    as the console script, without a second interpreter's start-up per call)."""
    out, err = io.StringIO(), io.StringIO()
    saved = {name: os.environ.get(name) for name in env or {}}
    os.environ.update(env or {})
    umask = os.umask(0o022)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.umask(umask)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    result = subprocess.CompletedProcess(["bodycam-server", *args], code, out.getvalue(),
                                         err.getvalue())
    if check and code != 0:
        raise AssertionError(f"bodycam-server {' '.join(args)} failed:\n{result.stderr}")
    return result


@dataclass
class ServeProcess:
    """One `serve` process; `notices` are the sd_notify datagrams it sent."""

    data_dir: Path
    port: int
    env: dict[str, str]
    args: tuple[str, ...] = ()  # more for `serve`, e.g. ("--part", "cameras")
    notices: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    _socket_dir: Path | None = None
    _socket: socket.socket | None = None
    log: Path | None = None

    def start(self) -> ServeProcess:
        self._socket_dir = Path(tempfile.mkdtemp(prefix="sdn-"))
        path = self._socket_dir / "notify"
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        self._socket.settimeout(0.2)
        self.log = self.data_dir.parent / f"serve-{self.port}.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                server_command("serve", "--data-dir", str(self.data_dir), "--listen",
                               f"127.0.0.1:{self.port}", *self.args),
                env={**os.environ, **self.env, "NOTIFY_SOCKET": str(path)},
                stdout=log, stderr=subprocess.STDOUT)
        self._wait_for("READY=1")
        return self

    def _wait_for(self, word: str) -> None:
        deadline = time.monotonic() + READY_S
        assert self._socket is not None and self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n"
                                     f"{self.output()}")
            try:
                notice = self._socket.recv(4096).decode()
            except TimeoutError:
                continue
            self.notices.append(notice)
            if word in notice.split("\n"):
                return
        raise AssertionError(f"serve did not send {word} within {READY_S} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def terminate(self) -> int:
        """SIGTERM, as systemd stops it; the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self._drain()
        self._close()
        return code

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)
        self._close()

    def _drain(self) -> None:
        assert self._socket is not None
        while True:
            try:
                self.notices.append(self._socket.recv(4096).decode())
            except (TimeoutError, OSError):
                return

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        self._close()

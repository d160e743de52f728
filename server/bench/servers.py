"""A real `bodycam-server` for the benchmark: init, enrol, `serve` as its own process.

On loopback, or inside a VethLink's network namespace (the far end of a shaped link),
where `ip netns exec` execs the server in place, so its pid is the server's own and its
peak memory (VmHWM in /proc) is the server's alone.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bodycam.server.identity.tls import CA_FILE
from bodycam.tools.dev.netns import VethLink
from bodycam.tools.dev.ports import free_port

__all__ = ["BenchServer"]

START_S: Final = 90.0  # migrations and uvicorn on a shared, loaded machine
STOP_S: Final = 60.0
_SERVER: Final = [sys.executable, "-m", "bodycam.server.cli"]


def _run(*args: str) -> None:
    done = subprocess.run([*_SERVER, *args], capture_output=True, text=True, check=False,
                          timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"bodycam-server {args[0]} failed: {done.stderr.strip()}")


@dataclass
class BenchServer:
    """`data_dir` initialised for https://`host`:`port`; `start()` serves it."""

    data_dir: Path
    host: str
    port: int
    link: VethLink | None = None
    part: str = "all"  # `serve --part`: all, cameras or people
    nice: int = 0  # its CPU priority (`nice -n`), as a unit's CPUWeight= would set it
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @classmethod
    def create(cls, data_dir: Path, link: VethLink | None = None,
               init_args: Sequence[str] = ()) -> BenchServer:
        """`init_args`: more for `init`, e.g. ("--database", URL)."""
        host = link.far_address if link is not None else "127.0.0.1"
        server = cls(data_dir, host, free_port(), link)
        _run("init", "--data-dir", str(data_dir), "--url", server.url, *init_args)
        return server

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def offload_file(self) -> Path:
        return self.data_dir / "camera-offload.toml"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "identity" / CA_FILE

    def enrol(self, identity_file: Path) -> None:
        _run("device", "enrol", "--data-dir", str(self.data_dir), str(identity_file))

    def sibling(self, part: str, nice: int = 0) -> BenchServer:
        """Another `serve` of the same data directory, on a port of its own, serving
        `part` at niceness `nice` (not started)."""
        return BenchServer(self.data_dir, self.host, free_port(), self.link, part, nice)

    def start(self) -> None:
        command = [*_SERVER, "serve", "--data-dir", str(self.data_dir), "--listen",
                   f"{self.host}:{self.port}", "--part", self.part]
        if self.nice:  # nice execs the server in place: the pid stays the server's
            command = ["nice", "-n", str(self.nice), *command]
        if self.link is not None:
            command = ["ip", "netns", "exec", self.link.namespace, *command]
        with (self.data_dir.parent / f"serve-{self.port}.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, "LOG_LEVEL": "warning"})
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        ca = tomllib.loads(self.offload_file.read_text(encoding="utf-8"))["offload"]
        context = ssl.create_default_context(cadata=ca["server_ca"])
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"bodycam-server serve exited ({self.process.returncode}): "
                                   f"see {self.data_dir.parent}/serve-{self.port}.log")
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as raw, \
                        context.wrap_socket(raw, server_hostname=self.host):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"bodycam-server serve did not listen on {self.url} within "
                           f"{START_S:.0f} s")

    def peak_rss_mb(self) -> float:
        """The serve process's peak resident memory so far (VmHWM), MiB."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text(encoding="ascii")
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("/proc/PID/status has no VmHWM line; this benchmark needs Linux")

    def stop(self) -> None:
        """SIGTERM as systemd stops it; SIGKILL if it does not stop in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_S)

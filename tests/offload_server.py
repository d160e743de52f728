"""A real evidence server for the camera's offload tests: `bodycam-server init`, `device
enrol` and `serve` over HTTPS on loopback, as an administrator runs them (no mocks).

`evidence_server` (fixture) starts one per test on a free port and stops it after;
`offload_overrides` turns its camera-offload.toml into the `section.key=value` overrides
the simulated devices take.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from custodian_rig import new_custodian

SERVER = [sys.executable, "-m", "bodycam.server.cli"]
START_S = 60.0  # real seconds for migrations and uvicorn to listen (shared machine)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_server(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SERVER, *args], capture_output=True, text=True, check=False,
                          timeout=120, input=stdin)


@dataclass
class EvidenceServer:
    data_dir: Path
    url: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    host: str = "127.0.0.1"  # where the URL points (a namespace's address: link tests)
    prefix: tuple[str, ...] = ()  # what runs `serve` there (`ip netns exec NS`)

    @property
    def offload_file(self) -> Path:
        return self.data_dir / "camera-offload.toml"

    @property
    def offload(self) -> dict[str, Any]:
        table: dict[str, Any] = tomllib.loads(self.offload_file.read_text())["offload"]
        return table

    def overrides(self, **changes: str) -> list[str]:
        """The [offload] table as command-line overrides (PEM in a multi-line string)."""
        table = {**self.offload, **changes}
        return [f'offload.server_url="{table["server_url"]}"',
                f'offload.server_key="{table["server_key"]}"',
                f'offload.server_ca="""{table["server_ca"]}"""']

    def enrol(self, identity_file: Path) -> None:
        done = run_server("device", "enrol", "--data-dir", str(self.data_dir),
                          str(identity_file))
        assert done.returncode == 0, done.stderr

    def recordings(self) -> list[dict[str, Any]]:
        done = run_server("recordings", "--data-dir", str(self.data_dir), "--json")
        assert done.returncode == 0, done.stderr
        items: list[dict[str, Any]] = json.loads(done.stdout)
        return items

    def fetch(self, recording_id: str, out: Path) -> subprocess.CompletedProcess[str]:
        """`fetch` as a custodian added for it (only a person takes a copy)."""
        person = new_custodian()
        data_dir = ("--data-dir", str(self.data_dir))
        added = run_server(*person.add_args(), *data_dir, stdin=person.password_line())
        assert added.returncode == 0, added.stderr
        return run_server(*person.fetch_args(recording_id, "--out", str(out)), *data_dir,
                          stdin=person.sign_in_lines(added.stdout))

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.prefix, *SERVER, "serve", "--data-dir", str(self.data_dir)], stdout=log,
                stderr=subprocess.STDOUT, env={**os.environ, "LOG_LEVEL": "warning"})
        deadline = time.monotonic() + START_S
        context = ssl.create_default_context(cadata=self.offload["server_ca"])
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"bodycam-server serve exited: {self.log.read_text()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as raw, \
                        context.wrap_socket(raw, server_hostname=self.host):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"bodycam-server serve did not listen: {self.log.read_text()}")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(60)
        self.process = None


def make_server(directory: Path, *init_args: str, host: str = "127.0.0.1",
                prefix: tuple[str, ...] = ()) -> EvidenceServer:
    """`init` for https://HOST:free port (more `init` flags in `init_args`); `prefix`
    runs its `serve` elsewhere (another network namespace)."""
    port = free_port()
    url = f"https://{host}:{port}"
    data_dir = directory / "server"
    done = run_server("init", "--data-dir", str(data_dir), "--url", url, *init_args)
    assert done.returncode == 0, done.stderr
    return EvidenceServer(data_dir, url, port, directory / "server.log", host=host,
                          prefix=prefix)


@pytest.fixture
def evidence_server(tmp_path: Path) -> Iterator[EvidenceServer]:
    server = make_server(tmp_path)
    server.start()
    yield server
    server.stop()

"""A private software TPM (swtpm) on free local ports, for the tests and the TPM bench.

The TPM key store is tested against a real TPM 2.0 implementation, not a mock: swtpm runs
the TCG reference code, keeps its NV state (keys, counters) in a directory, and can be
stopped and started again on that directory, which is what a camera's reboot is to its
TPM chip.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Final

HOST: Final = "127.0.0.1"
_READY_S: Final = 10.0
_START_TRIES: Final = 3  # a probed free port can be taken again before swtpm binds it
MISSING: Final = ("swtpm is not installed: install the Debian packages swtpm and "
                  "swtpm-tools (`make .venv/.dev` does)")


def _free_port_pair() -> int:
    """A free port P whose P+1 is free too: the TSS's swtpm TCTI finds swtpm's control
    channel (which it needs to set the locality) at the TPM port + 1."""
    while True:
        with socket.socket() as first, socket.socket() as second:
            first.bind((HOST, 0))
            port: int = first.getsockname()[1]
            try:
                second.bind((HOST, port + 1))
            except OSError:
                continue
            return port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


class SwTpm:
    """`swtpm socket --tpm2` on `state_dir`; `start()` again after `stop()` is a reboot."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def tcti(self) -> str:
        """The TSS2 TCTI string that reaches this TPM."""
        return f"swtpm:host={HOST},port={self.port}"

    def start(self) -> SwTpm:
        """Start swtpm (TPM2_Startup done by swtpm itself) and wait until it answers."""
        binary = shutil.which("swtpm")
        if binary is None:
            raise RuntimeError(MISSING)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        problem = ""
        for _ in range(_START_TRIES):
            self.port = _free_port_pair()
            ctrl = self.port + 1
            with tempfile.TemporaryFile() as log:
                process = subprocess.Popen(
                    [binary, "socket", "--tpm2", "--tpmstate", f"dir={self.state_dir}",
                     "--server", f"type=tcp,port={self.port},bindaddr={HOST}",
                     "--ctrl", f"type=tcp,port={ctrl},bindaddr={HOST}",
                     "--flags", "not-need-init,startup-clear"],
                    stdout=subprocess.DEVNULL, stderr=log)
                deadline = time.monotonic() + _READY_S
                while process.poll() is None and time.monotonic() < deadline:
                    if _accepts(ctrl):  # the control port: probing leaves the TPM port free
                        self._process = process
                        return self
                    time.sleep(0.02)
                process.kill()
                process.wait()
                log.seek(0)
                problem = (log.read().decode(errors="replace").strip()
                           or f"exit {process.returncode}")
        raise RuntimeError(f"swtpm did not start on {self.state_dir}: {problem}")

    def stop(self) -> None:
        """Stop swtpm like a power cut to the chip (its NV state is already on disk)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=_READY_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> SwTpm:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

"""The demo's key holder, so that a newcomer signed in as reviewer.demo can press play on
a recording during the minute `make demo` lingers.

It is set up the way docs/keyholder.md describes (`bodycam-keyholder init` holding the
demo authority identity, `serve` as its own process on a Unix socket, `bodycam-server
keyholder connect`), in the demo's output folder. The demo keeps its own copy of the
identity for the custodian's export step; a real agency keeps the only one in the key
holder.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from bodycam.server.context import ServerContext
from bodycam.server.identity.signing_key import public_b64
from bodycam.server.keyholder.setup import initialise
from bodycam.tools.dev.embedded_server import EmbeddedServer, ServerError

__all__ = ["keyholder_running"]

START_S: Final = 30.0


def _server_key(server: EmbeddedServer) -> str:
    context = ServerContext.open(server.data_dir)
    try:
        return public_b64(context.signing_key)
    finally:
        context.close()


def _wait_for(socket: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_S
    while not socket.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise ServerError(f"the demo key holder did not start (see {log})")
        time.sleep(0.1)


@contextlib.contextmanager
def keyholder_running(out: Path, server: EmbeddedServer, identity: Path) -> Iterator[None]:
    """A key holder on `identity`, connected to `server`, until the block ends."""
    directory = out / "keyholder"
    # AF_UNIX paths are short (107 bytes): the socket lives in a short temporary folder
    with tempfile.TemporaryDirectory(prefix="bodycam-kh-") as run_dir:
        socket = Path(run_dir) / "keyholder.sock"
        result = initialise(directory, _server_key(server), identity=identity,
                            post_quantum=False, socket=socket, group=None)
        print(f"$ bodycam-keyholder init --dir {directory} --identity {identity.name} ...\n"
              f"$ bodycam-keyholder serve --dir {directory}", flush=True)
        log = out / "keyholder.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "bodycam.server.keyholder.cli", "serve", "--dir",
                 str(directory)], stdout=output, stderr=subprocess.STDOUT)
        try:
            _wait_for(socket, process, log)
            server.run("keyholder connect", "--socket", str(socket), "--log-key",
                       result.log_key)
            yield
        finally:
            process.terminate()
            process.wait(timeout=10)

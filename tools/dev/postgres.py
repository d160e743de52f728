"""A private PostgreSQL cluster in a temporary directory, for the tests and the bench.

Debian's `postgresql` package ships initdb and pg_ctl; no system service is needed (and
none is touched): the cluster listens on a free loopback port and on a socket in its own
directory, trusts local connections, and is removed on stop. PostgreSQL refuses to run as
root, so under root (CI) it runs as the package's `postgres` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Final

from bodycam.tools.dev.ports import free_port

__all__ = ["MISSING", "PostgresCluster"]

BIN: Final = Path("/usr/lib/postgresql/15/bin")
MISSING: Final = (f"PostgreSQL 15 is not installed ({BIN}/initdb is missing): install the "
                  "Debian package postgresql (`make .venv/.dev` does)")
_START_S: Final = 60



class PostgresCluster:
    """`with PostgresCluster() as pg: pg.create_database("x")` -> a postgresql:// URL."""

    def __init__(self) -> None:
        self.port = 0
        self.directory: Path | None = None
        self._user: pwd.struct_passwd | None = None

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(BIN / args[0]), *args[1:]]
        if self._user is not None:
            command = ["setpriv", f"--reuid={self._user.pw_uid}",
                       f"--regid={self._user.pw_gid}", "--clear-groups", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False,
                                timeout=_START_S, cwd="/")
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stderr.strip() or result.stdout}")
        return result

    def start(self) -> PostgresCluster:
        if not (BIN / "initdb").exists():
            raise RuntimeError(MISSING)
        self.directory = Path(tempfile.mkdtemp(prefix="bodycam-pg-"))
        if os.geteuid() == 0:
            self._user = pwd.getpwnam("postgres")
            os.chown(self.directory, self._user.pw_uid, self._user.pw_gid)
        data = self.directory / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-instructions")
        self.port = free_port()
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.directory} -c fsync=on "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", str(data), "-l", str(self.directory / "log"), "-w",
                  "-t", str(_START_S), "-o", options, "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q",
                  "-c", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.directory is None:
            return
        try:
            if (self.directory / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate",
                          "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

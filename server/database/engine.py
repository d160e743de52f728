"""One engine per process on the database `server.toml` names; nothing else is shared.

SQLite: WAL (readers never wait for the writer), `synchronous=FULL` (a commit is on disk
when it returns: the server confirms nothing that a power cut could take back), and
every transaction starts with BEGIN IMMEDIATE, so two processes that both read and then
write queue up instead of failing. PostgreSQL: psycopg 3; `postgresql://` URLs are taken
as they are written by people and given the driver here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, Update, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from bodycam.server.settings import SettingsError

__all__ = ["Database", "compare_and_set", "sqlalchemy_url"]

_BUSY_MS = 60_000


def sqlalchemy_url(url: str) -> str:
    """`postgresql://...` with the psycopg 3 driver; SQLite as given; others refused."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Neither the value nor SQLAlchemy's message (which quotes it) is shown: a URL may
        # carry a password, and this error reaches the journal.
        raise SettingsError("--database is not a database URL (its value is not shown: it "
                            "may hold a password). Fix: give sqlite:///PATH or "
                            "postgresql://USER@HOST/DB") from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.drivername == "sqlite" and parsed.database:
        return url
    raise SettingsError(f"--database {parsed.render_as_string()}: only sqlite:///PATH and "
                        "postgresql://USER@HOST/DB are supported")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we say BEGIN ourselves (below)
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                   f"busy_timeout={_BUSY_MS}"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    def __init__(self, url: str) -> None:
        self.url = sqlalchemy_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        options: dict[str, Any] = {"pool_pre_ping": True}
        if self.is_sqlite:
            options["connect_args"] = {"timeout": _BUSY_MS / 1000, "check_same_thread": False}
        self.engine: Engine = create_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block (or rolls back)."""
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def compare_and_set(session: Session, statement: Update) -> bool:
    """Run an UPDATE whose WHERE holds the values the caller read; True if it changed a
    row (the caller's view was still current), False if another process got there first.
    RETURNING, because a driver's rowcount is not the same promise on every database."""
    table = statement.table
    key = next(iter(table.primary_key.columns))  # type: ignore[attr-defined]
    return session.execute(statement.returning(key)).first() is not None

"""Schema changes through Alembic: `init` (and `migrate`) upgrade, `serve` checks.

The scripts live in the package (migrations/), so an installed server migrates its
database without any file of the operator's.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bodycam.server.database.engine import Database

__all__ = ["SchemaError", "check_schema", "upgrade"]


class SchemaError(RuntimeError):
    """The database is not at the schema this server needs; the message names the fix."""


def _config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", "bodycam.server.database:migrations")
    config.attributes["engine"] = database.engine
    return config


def upgrade(database: Database) -> None:
    """Bring the schema to the newest revision (nothing to do when it is there)."""
    command.upgrade(_config(database), "head")


def check_schema(database: Database) -> None:
    """SchemaError unless the database is at the newest revision."""
    head = ScriptDirectory.from_config(_config(database)).get_current_head()
    with database.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        raise SchemaError("the database has no server schema. Fix: run `bodycam-server "
                          "init` for this data directory (or `bodycam-server migrate` if "
                          "the database was made empty on purpose)")
    if current != head:
        raise SchemaError(f"the database schema is at revision {current}, this server needs "
                          f"{head}. Fix: back up, then run `bodycam-server migrate "
                          "--data-dir DIR` once (stop every `serve` first)")

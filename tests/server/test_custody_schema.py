"""Migration 0004 builds exactly the custody models' schema (tables, indexes, the new
permission for the default evidence roles) on SQLite and PostgreSQL, and goes down and
up again cleanly."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from people_rig import DATABASES
from sqlalchemy import text

from bodycam.server.database.engine import Database
from bodycam.server.database.migrate import _config, upgrade
from bodycam.server.database.schema import Base


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres")
        return Database(cluster.create_database(f"s{secrets.token_hex(4)}"))
    return Database(f"sqlite:///{tmp_path / 'server.db'}")


def differences(database: Database) -> list[object]:
    with database.engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def searchers(database: Database) -> list[str]:
    with database.engine.connect() as connection:
        return sorted(connection.execute(text(
            "SELECT role FROM role_permissions WHERE permission = 'recording.search'")
        ).scalars())


def test_the_migrations_build_the_models_schema(database: Database) -> None:
    upgrade(database)
    assert differences(database) == []
    assert searchers(database) == ["approver", "custodian", "reviewer"]
    database.dispose()


def test_0004_goes_down_and_up_again(database: Database) -> None:
    upgrade(database)
    command.downgrade(_config(database), "0002")
    with database.engine.connect() as connection:
        tables = set(connection.dialect.get_table_names(connection))
    assert not tables & {"device_assignments", "cases", "legal_holds", "recording_notes"}
    assert searchers(database) == []
    upgrade(database)
    assert differences(database) == []
    database.dispose()

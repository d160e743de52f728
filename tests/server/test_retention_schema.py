"""Migration 0005 ships the default categories and the job's lease row, and goes down
and up again cleanly on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from alembic import command
from people_rig import DATABASES
from sqlalchemy import text

from bodycam.server.database.engine import Database
from bodycam.server.database.migrate import _config, upgrade
from bodycam.server.retention.categories import DEFAULT_CATEGORIES


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres")
        return Database(cluster.create_database(f"r{secrets.token_hex(4)}"))
    return Database(f"sqlite:///{tmp_path / 'server.db'}")


def shipped(database: Database) -> dict[str, int]:
    with database.engine.connect() as connection:
        return dict(connection.execute(text(
            "SELECT name, period_days FROM retention_categories")).all())


def test_0005_ships_the_defaults_and_goes_down_and_up_again(database: Database) -> None:
    upgrade(database)
    assert shipped(database) == {n: days for n, (days, _) in DEFAULT_CATEGORIES.items()}
    command.downgrade(_config(database), "0004")
    with database.engine.connect() as connection:
        tables = set(connection.dialect.get_table_names(connection))
        indexes = {i["name"] for i in connection.dialect.get_indexes(
            connection, "recording_files")}
    assert not tables & {"retention_categories", "recording_retention", "approvals",
                         "job_leases", "retention_settings"}
    assert "ix_recording_files_sha256" not in indexes
    upgrade(database)
    assert shipped(database) == {n: days for n, (days, _) in DEFAULT_CATEGORIES.items()}
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT holder FROM job_leases")).scalars().all() \
            == [""]
    database.dispose()

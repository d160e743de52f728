"""A database whose audit log was written before the chain (revision 0002): the upgrade
keeps every record, numbers them without gaps, and the first write after it chains and
signs them, in their order, before itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from bodycam.firmware.evidence.public_keys import parse_public_key
from bodycam.server.audit.trail import AuditTrail
from bodycam.server.audit.verify import verify_log
from bodycam.server.database.engine import Database
from bodycam.server.identity.signing_key import public_b64
from bodycam.tools.dev.postgres import PostgresCluster


def config(database: Database) -> Config:
    result = Config()
    result.set_main_option("script_location", "bodycam.server.database:migrations")
    result.attributes["engine"] = database.engine
    return result


@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
def test_records_from_before_the_chain_are_kept_and_chained(
        name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if name == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        url = cluster.create_database("legacy_audit")
    else:
        url = f"sqlite:///{tmp_path / 'legacy.db'}"
    database = Database(url)
    try:
        command.upgrade(config(database), "0002")
        with database.engine.begin() as connection:  # seqs with gaps, as a sequence leaves
            for seq, recording in ((3, "BC-1-20260101T000000Z-abcd"), (7, None), (8, None)):
                connection.execute(text(
                    "INSERT INTO audit_events (seq, at, kind, actor, outcome, rule, details) "
                    "VALUES (:s, 1800000000.5, 'old', 'console', 'done', NULL, :d)"),
                    {"s": seq, "d": json.dumps({"recording": recording, "n": seq})})
        command.upgrade(config(database), "head")
        key = Ed25519PrivateKey.generate()
        trail = AuditTrail(database, lambda: 1_800_000_100.0, key)
        trail.record("new", "console")
        events = trail.events()
        assert [(e.seq, e.kind, json.loads(e.details).get("n")) for e in events] == [
            (0, "old", 3), (1, "old", 7), (2, "old", 8), (3, "new", None)]
        assert events[0].recording_id == "BC-1-20260101T000000Z-abcd"
        assert verify_log(database, [parse_public_key(public_b64(key))]).problems == []
    finally:
        database.dispose()

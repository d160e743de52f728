"""The audit log as a signed hash chain: chain columns, the recording index, the head.

Rows written before this revision are renumbered 0, 1, ... in their order (a chain has
no gaps; PostgreSQL's sequence left some) and are chained and signed by the first write
after the upgrade, under the head lock (bodycam.server.audit.chain): a migration has no
signing key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 07:30:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GENESIS = "0" * 64


def _recording_of(details: str) -> str | None:
    try:
        value = json.loads(details).get("recording")
    except (ValueError, AttributeError):
        return None
    return value[:80] if isinstance(value, str) else None


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recording_id', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('prev', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sig', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('signer', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_events_recording_id'), ['recording_id'],
                              unique=False)
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('signer_key', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    events = sa.table("audit_events", sa.column("seq", sa.Integer),
                      sa.column("details", sa.Text), sa.column("recording_id", sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(events.c.seq, events.c.details)
                              .order_by(events.c.seq)).all()
    # Two passes (to negative numbers, then to 0..n-1), so no new number ever meets an
    # old one of another row.
    for position, (seq, details) in enumerate(rows):
        connection.execute(events.update().where(events.c.seq == seq).values(
            seq=-1 - position, recording_id=_recording_of(details)))
    connection.execute(events.update().where(events.c.seq < 0).values(
        seq=-events.c.seq - 1))
    head = sa.table("audit_head", sa.column("id", sa.Integer), sa.column("seq", sa.Integer),
                    sa.column("hash", sa.String), sa.column("signer_key", sa.String))
    op.bulk_insert(head, [{"id": 1, "seq": -1, "hash": _GENESIS, "signer_key": None}])


def downgrade() -> None:
    op.drop_table('audit_head')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_recording_id'))
        batch_op.drop_column('signer')
        batch_op.drop_column('sig')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev')
        batch_op.drop_column('recording_id')

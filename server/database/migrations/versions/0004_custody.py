"""Custody: device assignments, notes, cases, legal holds; the search's indexes on
recordings; the new permission recording.search for the default evidence roles.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-06 07:12:05.328147
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Who may search recordings from now on, among the roles 0002 shipped (where the agency
# still has them; a role it removed is not made again).
_SEARCH = "recording.search"
_SEARCHERS = ("reviewer", "custodian", "approver")
_RECORDING = ("recording_id", sa.String(length=80))


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    other = target.split(".", maxsplit=1)[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{other}"))


def _index(table: str, name: str, columns: list[str]) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(name, columns, unique=False)


def upgrade() -> None:
    op.create_table(
        'cases',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('reference', sa.String(length=64), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('opened_by', sa.String(length=64), nullable=False),
        sa.Column('opened_at', sa.Float(), nullable=False),
        sa.Column('closed_by', sa.String(length=64), nullable=True),
        sa.Column('closed_at', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
        sa.UniqueConstraint('reference', name=op.f('uq_cases_reference')))
    op.create_table(
        'device_assignments',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('device_id', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('starts', sa.String(length=24), nullable=False),
        sa.Column('ends', sa.String(length=24), nullable=True),
        sa.Column('assigned_by', sa.String(length=64), nullable=False),
        sa.Column('assigned_at', sa.Float(), nullable=False),
        sa.Column('ended_by', sa.String(length=64), nullable=True),
        _fk('device_assignments', 'device_id', 'devices.id'),
        _fk('device_assignments', 'user_id', 'users.id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_device_assignments')))
    _index('device_assignments', 'ix_device_assignments_device_starts',
           ['device_id', 'starts'])
    _index('device_assignments', 'ix_device_assignments_user_device',
           ['user_id', 'device_id', 'starts'])
    op.create_table(
        'case_recordings',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column(*_RECORDING, nullable=False),
        sa.Column('added_by', sa.String(length=64), nullable=False),
        sa.Column('added_at', sa.Float(), nullable=False),
        _fk('case_recordings', 'case_id', 'cases.id'),
        _fk('case_recordings', 'recording_id', 'recordings.id'),
        sa.PrimaryKeyConstraint('case_id', 'recording_id', name=op.f('pk_case_recordings')))
    _index('case_recordings', op.f('ix_case_recordings_recording_id'), ['recording_id'])
    op.create_table(
        'legal_holds',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(*_RECORDING, nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('placed_by', sa.String(length=64), nullable=False),
        sa.Column('placed_at', sa.Float(), nullable=False),
        sa.Column('lifted_by', sa.String(length=64), nullable=True),
        sa.Column('lifted_at', sa.Float(), nullable=True),
        sa.Column('lift_approval', sa.Integer(), nullable=True),
        _fk('legal_holds', 'recording_id', 'recordings.id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds')))
    _index('legal_holds', op.f('ix_legal_holds_recording_id'), ['recording_id'])
    op.create_table(
        'recording_notes',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(*_RECORDING, nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('author', sa.String(length=64), nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        _fk('recording_notes', 'author_id', 'users.id'),
        _fk('recording_notes', 'recording_id', 'recordings.id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recording_notes')))
    _index('recording_notes', op.f('ix_recording_notes_recording_id'), ['recording_id'])
    _index('recordings', 'ix_recordings_device_start', ['device_id', 'start'])
    _index('recordings', 'ix_recordings_start', ['start'])
    _index('recording_files', 'ix_recording_files_incomplete', ['complete', 'recording_id'])

    existing = {row[0] for row in op.get_bind().execute(sa.text("SELECT name FROM roles"))}
    grants = sa.table("role_permissions", sa.column("role", sa.String),
                      sa.column("permission", sa.String))
    op.bulk_insert(grants, [{"role": role, "permission": _SEARCH}
                            for role in _SEARCHERS if role in existing])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM role_permissions WHERE permission = :p").bindparams(
        p=_SEARCH))
    with op.batch_alter_table('recording_files', schema=None) as batch_op:
        batch_op.drop_index('ix_recording_files_incomplete')
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index('ix_recordings_start')
        batch_op.drop_index('ix_recordings_device_start')
    for table in ('recording_notes', 'legal_holds', 'case_recordings', 'device_assignments',
                  'cases'):
        op.drop_table(table)

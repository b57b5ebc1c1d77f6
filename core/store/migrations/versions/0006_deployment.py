"""Deployment: enrolled servers (pinned host keys), routing policies approved by a manager,
releases with the steps they ran, and alerts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TS = sa.String(27)

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('raised_at', TS, nullable=False),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('acknowledged_at', TS, nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', TS, nullable=True),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert'))
    )
    op.create_index('ix_alert_state', 'alert', ['state', 'id'], unique=False)
    op.create_table('routing_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('canary', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', TS, nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_policy')),
    sa.UniqueConstraint('policy_id', 'version', name='uq_routing_policy_policy_id_version')
    )
    op.create_table('server',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('key_path', sa.Text(), nullable=True),
    sa.Column('use_agent', sa.Integer(), nullable=False),
    sa.Column('host_key_type', sa.String(length=64), nullable=False),
    sa.Column('host_key', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=100), nullable=False),
    sa.Column('root', sa.Text(), nullable=False),
    sa.Column('agent_port', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('enrolled_by', sa.String(length=64), nullable=False),
    sa.Column('enrolled_at', TS, nullable=False),
    sa.Column('last_check', sa.Text(), nullable=True),
    sa.Column('last_check_at', TS, nullable=True),
    sa.Column('retired_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server')),
    sa.UniqueConstraint('name', name=op.f('uq_server_name'))
    )
    op.create_table('release',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('release_id', sa.String(length=64), nullable=False),
    sa.Column('server_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=True),
    sa.Column('policy_row_id', sa.Integer(), nullable=True),
    sa.Column('policy_sha256', sa.String(length=64), nullable=False),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=True),
    sa.Column('versions', sa.Text(), nullable=False),
    sa.Column('canary_step', sa.Integer(), nullable=True),
    sa.Column('previous_release', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('requested_at', TS, nullable=False),
    sa.Column('started_at', TS, nullable=True),
    sa.Column('finished_at', TS, nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('parity', sa.Text(), nullable=True),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['policy_row_id'], ['routing_policy.id'], name=op.f('fk_release_policy_row_id_routing_policy')),
    sa.ForeignKeyConstraint(['server_id'], ['server.id'], name=op.f('fk_release_server_id_server')),
    sa.ForeignKeyConstraint(['version_id'], ['model_version.id'], name=op.f('fk_release_version_id_model_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_release')),
    sa.UniqueConstraint('release_id', name=op.f('uq_release_release_id'))
    )
    op.create_index('ix_release_server', 'release', ['server_id', 'id'], unique=False)
    op.create_table('release_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('release_row_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('at', TS, nullable=False),
    sa.Column('seconds', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['release_row_id'], ['release.id'], name=op.f('fk_release_step_release_row_id_release')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_release_step'))
    )
    op.create_index('ix_release_step_release', 'release_step', ['release_row_id', 'id'], unique=False)
    _guards()


def _guards() -> None:
    """A deployment step, once recorded, is never changed or deleted."""
    message = "a deployment step is recorded once"
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER release_step_no_{event.lower()} BEFORE {event} ON "
                       f"release_step BEGIN SELECT RAISE(ABORT, '{message}'); END")
        return
    op.execute(f"""
        CREATE FUNCTION charter_release_step_write_once() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("CREATE TRIGGER release_step_write_once BEFORE UPDATE OR DELETE OR TRUNCATE "
               "ON release_step FOR EACH STATEMENT EXECUTE FUNCTION "
               "charter_release_step_write_once()")


def downgrade() -> None:
    raise NotImplementedError("Charter stores are upgraded, never downgraded; restore a backup.")

"""Workflow: findings, electronic signatures and policy exceptions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TS = sa.String(27)

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('remediation', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('closed_by', sa.String(length=64), nullable=True),
    sa.Column('closed_at', TS, nullable=True),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['model_version.id'], name=op.f('fk_finding_version_id_model_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding'))
    )
    op.create_index('ix_finding_version', 'finding', ['version_id', 'status'], unique=False)
    op.create_index('ix_finding_owner', 'finding', ['owner', 'status'], unique=False)
    op.create_table('signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('meaning', sa.String(length=16), nullable=False),
    sa.Column('signer', sa.String(length=64), nullable=False),
    sa.Column('printed_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('signed_at', TS, nullable=False),
    sa.Column('artifact_sha256', sa.String(length=64), nullable=False),
    sa.Column('documentation_sha256', sa.String(length=64), nullable=True),
    sa.Column('documentation_source_sha256', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['version_id'], ['model_version.id'], name=op.f('fk_signature_version_id_model_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature'))
    )
    op.create_index('ix_signature_version', 'signature', ['version_id', 'id'], unique=False)
    op.create_table('policy_exception',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('granted_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('granted_at', TS, nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['model_version.id'], name=op.f('fk_policy_exception_version_id_model_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_exception'))
    )
    op.create_index('ix_policy_exception_version', 'policy_exception', ['version_id', 'id'],
                    unique=False)
    _guards()


def _guards() -> None:
    """Signatures are never changed or deleted; findings are never deleted."""
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER signature_no_{event.lower()} BEFORE {event} ON signature "
                       "BEGIN SELECT RAISE(ABORT, 'a signature is written once'); END")
        op.execute("CREATE TRIGGER finding_no_delete BEFORE DELETE ON finding "
                   "BEGIN SELECT RAISE(ABORT, 'findings are closed, never deleted'); END")
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER policy_exception_no_{event.lower()} BEFORE {event} ON "
                       "policy_exception BEGIN SELECT RAISE(ABORT, 'a policy exception is "
                       "written once; grant a new one'); END")
        return
    op.execute("""
        CREATE FUNCTION charter_signature_write_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'a signature is written once' USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("CREATE TRIGGER signature_write_once BEFORE UPDATE OR DELETE OR TRUNCATE ON "
               "signature FOR EACH STATEMENT EXECUTE FUNCTION charter_signature_write_once()")
    op.execute("""
        CREATE FUNCTION charter_finding_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'findings are closed, never deleted'
                USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("CREATE TRIGGER finding_no_delete BEFORE DELETE OR TRUNCATE ON finding "
               "FOR EACH STATEMENT EXECUTE FUNCTION charter_finding_no_delete()")
    op.execute("""
        CREATE FUNCTION charter_policy_exception_write_once() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'a policy exception is written once; grant a new one'
                USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("CREATE TRIGGER policy_exception_write_once BEFORE UPDATE OR DELETE OR TRUNCATE "
               "ON policy_exception FOR EACH STATEMENT EXECUTE FUNCTION "
               "charter_policy_exception_write_once()")


def downgrade() -> None:
    raise NotImplementedError("Charter stores are upgraded, never downgraded; restore a backup.")

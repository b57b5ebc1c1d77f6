"""Validations done before Charter: the date and report of a model's last validation outside it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TS = sa.String(27)

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('prior_validation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('validated_on', sa.Date(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('validated_by', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['model.id'], name=op.f('fk_prior_validation_model_id_model')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prior_validation'))
    )
    op.create_index('ix_prior_validation_model', 'prior_validation', ['model_id', 'id'],
                    unique=False)
    _guards()


def _guards() -> None:
    """A recorded prior validation is never changed or deleted; a correction is a new record."""
    message = "a prior validation is recorded once; record a correction"
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER prior_validation_no_{event.lower()} BEFORE {event} ON "
                       f"prior_validation BEGIN SELECT RAISE(ABORT, '{message}'); END")
        return
    op.execute(f"""
        CREATE FUNCTION charter_prior_validation_write_once() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("CREATE TRIGGER prior_validation_write_once BEFORE UPDATE OR DELETE OR TRUNCATE "
               "ON prior_validation FOR EACH STATEMENT EXECUTE FUNCTION "
               "charter_prior_validation_write_once()")


def downgrade() -> None:
    raise NotImplementedError("Charter stores are upgraded, never downgraded; restore a backup.")

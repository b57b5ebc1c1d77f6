"""Validation evidence: evaluations, generated documentation, the owner's documentation texts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TS = sa.String(27)

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('model') as batch:
        batch.add_column(sa.Column('limitations', sa.Text(), nullable=False, server_default=''))
        batch.add_column(sa.Column('monitoring_plan', sa.Text(), nullable=False,
                                   server_default=''))
    op.create_table('evaluation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('artifact_sha256', sa.String(length=64), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('dataset_sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('gate_status', sa.String(length=16), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('evidence_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], name=op.f('fk_evaluation_dataset_id_dataset')),
    sa.ForeignKeyConstraint(['version_id'], ['model_version.id'], name=op.f('fk_evaluation_version_id_model_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation'))
    )
    op.create_index('ix_evaluation_version', 'evaluation', ['version_id', 'id'], unique=False)
    op.create_table('documentation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('generated_at', TS, nullable=False),
    sa.Column('generated_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluation.id'], name=op.f('fk_documentation_evaluation_id_evaluation')),
    sa.ForeignKeyConstraint(['version_id'], ['model_version.id'], name=op.f('fk_documentation_version_id_model_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documentation'))
    )
    op.create_index('ix_documentation_version', 'documentation', ['version_id', 'id'],
                    unique=False)
    _write_once(("evaluation", "documentation"))


def _write_once(tables: tuple[str, ...]) -> None:
    """Evidence is never changed or deleted, by Charter or by anyone editing the database."""
    message = "evaluation evidence is written once; record a new evaluation instead"
    if op.get_bind().dialect.name == "sqlite":
        for table in tables:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
                )
        return
    op.execute(f"""
        CREATE FUNCTION charter_evidence_write_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    for table in tables:
        op.execute(
            f"CREATE TRIGGER {table}_write_once BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION charter_evidence_write_once()"
        )


def downgrade() -> None:
    raise NotImplementedError("Charter stores are upgraded, never downgraded; restore a backup.")

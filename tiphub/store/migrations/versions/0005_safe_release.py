"""safe release: privacy budgets per dataset and release bundles with their approval

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

A dataset's differential-privacy budget is a row of ``privacy_budget``; every release is a
row of ``data_release`` holding its whole bundle (so what was approved is exactly what is
published) and the (ε, δ) it spent.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('privacy_budget',
    sa.Column('dataset', sa.String(length=200), nullable=False),
    sa.Column('epsilon_total', sa.Float(), nullable=False),
    sa.Column('delta_total', sa.Float(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('dataset', name=op.f('pk_privacy_budget')),
    )
    op.create_table('data_release',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=True),
    sa.Column('dataset', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('parameters', _json(), nullable=False),
    sa.Column('epsilon_spent', sa.Float(), nullable=False),
    sa.Column('delta_spent', sa.Float(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('summary', _json(), nullable=False),
    sa.Column('bundle', sa.LargeBinary(), nullable=False),
    sa.Column('bundle_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by', sa.String(length=200), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['dataset'], ['privacy_budget.dataset'],
                            name=op.f('fk_data_release_dataset_privacy_budget')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'],
                            name=op.f('fk_data_release_organisation_id_organisation'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_release')),
    )
    with op.batch_alter_table('data_release', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_release_dataset'), ['dataset'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_data_release_organisation_id'), ['organisation_id'], unique=False
        )
        batch_op.create_index(batch_op.f('ix_data_release_status'), ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('data_release')
    op.drop_table('privacy_budget')

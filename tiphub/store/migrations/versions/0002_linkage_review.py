"""linkage review queue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

The clerical review queue for record linkage: one row per linker run and one per candidate
pair a caseworker is asked to decide. Written by hand; it matches ``tiphub.store.models``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'linkage_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('inputs', sa.Text(), nullable=False),
        sa.Column('settings', _json(), nullable=False),
        sa.Column('record_count', sa.Integer(), nullable=True),
        sa.Column('candidate_pair_count', sa.Integer(), nullable=True),
        sa.Column('link_count', sa.Integer(), nullable=True),
        sa.Column('cluster_count', sa.Integer(), nullable=True),
        sa.Column('estimated_precision', sa.Float(), nullable=True),
        sa.Column('estimated_recall', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_linkage_run')),
    )
    op.create_table(
        'linkage_review_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('left_key', sa.String(length=300), nullable=False),
        sa.Column('right_key', sa.String(length=300), nullable=False),
        sa.Column('left_list', sa.String(length=200), nullable=False),
        sa.Column('right_list', sa.String(length=200), nullable=False),
        sa.Column('match_probability', sa.Float(), nullable=False),
        sa.Column('match_weight', sa.Float(), nullable=False),
        sa.Column('explanation', _json(), nullable=False),
        sa.Column('left_values', _json(), nullable=False),
        sa.Column('right_values', _json(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('decided_by', sa.String(length=200), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'match', 'non_match', 'unsure')",
            name=op.f('ck_linkage_review_item_status'),
        ),
        sa.CheckConstraint(
            'match_probability >= 0 AND match_probability <= 1',
            name=op.f('ck_linkage_review_item_match_probability'),
        ),
        sa.ForeignKeyConstraint(
            ['run_id'], ['linkage_run.id'], name=op.f('fk_linkage_review_item_run_id_linkage_run')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_linkage_review_item')),
        # One row per pair ever, not merely per pending pair: decided pairs must stay decided
        # when a later run proposes them again, and ON CONFLICT needs a plain unique key.
        sa.UniqueConstraint(
            'left_key', 'right_key', name=op.f('uq_linkage_review_item_left_key')
        ),
    )
    with op.batch_alter_table('linkage_review_item', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_linkage_review_item_run_id'), ['run_id'], unique=False
        )
        batch_op.create_index(
            batch_op.f('ix_linkage_review_item_status'), ['status'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('linkage_review_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_linkage_review_item_status'))
        batch_op.drop_index(batch_op.f('ix_linkage_review_item_run_id'))

    op.drop_table('linkage_review_item')
    op.drop_table('linkage_run')

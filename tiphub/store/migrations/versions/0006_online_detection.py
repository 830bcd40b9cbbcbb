"""detect online: collected ads, their contacts as hashes, evidence and chain of custody,
template clusters, hand-overs and the agency licence register

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

An ad's words are sealed (its text with contacts masked); its contacts are kept only as
keyed hashes in ``online_contact``; its original bytes are sealed in ``online_evidence``,
with one ``online_custody_event`` row per step of the chain of custody. Indicator ids,
sector and destination country stay clear for the weekly statistics.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _organisation(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organisation_id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ['organisation_id'], ['organisation.id'],
            name=op.f(f'fk_{table}_organisation_id_organisation'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}')),
    ]


def _index(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)


def upgrade() -> None:
    op.create_table('online_ad',
    *_organisation('online_ad'),
    sa.Column('ad_id', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=1000), nullable=False),
    sa.Column('row', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('location', sa.String(length=1000), nullable=True),
    sa.Column('salary', sa.String(length=1000), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('indicator_ids', _json(), nullable=False),
    sa.Column('indicators', sa.Text(), nullable=True),
    sa.Column('cluster_id', sa.String(length=40), nullable=True),
    sa.Column('sector', sa.String(length=60), nullable=True),
    sa.Column('destination_country', sa.String(length=2), nullable=True),
    sa.Column('screened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_status', sa.String(length=20), nullable=False),
    sa.Column('reviewed_by', sa.String(length=200), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('ingested_by', sa.String(length=200), nullable=False),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint('organisation_id', 'ad_id', name=op.f('uq_online_ad_organisation_id')),
    )
    _index('online_ad', 'organisation_id', 'flagged', 'cluster_id', 'review_status')
    with op.batch_alter_table('online_ad', schema=None) as batch_op:
        batch_op.create_index(
            'ix_online_ad_queue', ['organisation_id', 'flagged', 'id'], unique=False
        )

    op.create_table('online_contact',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('ad_row_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('contact_hash', sa.String(length=32), nullable=False),
    sa.Column('region', sa.String(length=2), nullable=True),
    sa.ForeignKeyConstraint(['ad_row_id'], ['online_ad.id'],
                            name=op.f('fk_online_contact_ad_row_id_online_ad'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_online_contact')),
    )
    _index('online_contact', 'ad_row_id', 'contact_hash')

    op.create_table('online_evidence',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('ad_row_id', sa.Uuid(), nullable=False),
    sa.Column('original', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=1000), nullable=False),
    sa.Column('row', sa.Integer(), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('captured_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('captured_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['ad_row_id'], ['online_ad.id'],
                            name=op.f('fk_online_evidence_ad_row_id_online_ad'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_online_evidence')),
    sa.UniqueConstraint('ad_row_id', name=op.f('uq_online_evidence_ad_row_id')),
    )

    op.create_table('online_custody_event',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('evidence_id', sa.Uuid(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['evidence_id'], ['online_evidence.id'],
                            name=op.f('fk_online_custody_event_evidence_id_online_evidence'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_online_custody_event')),
    )
    _index('online_custody_event', 'evidence_id')

    op.create_table('online_cluster',
    *_organisation('online_cluster'),
    sa.Column('cluster_id', sa.String(length=40), nullable=False),
    sa.Column('template', sa.Text(), nullable=False),
    sa.Column('ad_ids', _json(), nullable=False),
    sa.Column('contact_hashes', _json(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint(
        'organisation_id', 'cluster_id', name=op.f('uq_online_cluster_organisation_id')
    ),
    )
    _index('online_cluster', 'organisation_id')

    op.create_table('online_handover',
    *_organisation('online_handover'),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('ad_row_id', sa.Uuid(), nullable=True),
    sa.Column('cluster_id', sa.String(length=40), nullable=True),
    sa.Column('task_id', sa.Uuid(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ad_row_id'], ['online_ad.id'],
                            name=op.f('fk_online_handover_ad_row_id_online_ad'),
                            ondelete='SET NULL'),
    )
    _index('online_handover', 'organisation_id', 'ad_row_id')

    op.create_table('online_agency',
    *_organisation('online_agency'),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('licence_number', sa.String(length=200), nullable=True),
    sa.Column('entry', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=1000), nullable=False),
    sa.Column('default_region', sa.String(length=2), nullable=True),
    sa.Column('loaded_by', sa.String(length=200), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    )
    _index('online_agency', 'organisation_id')


def downgrade() -> None:
    op.drop_table('online_agency')
    op.drop_table('online_handover')
    op.drop_table('online_cluster')
    op.drop_table('online_custody_event')
    op.drop_table('online_evidence')
    op.drop_table('online_contact')
    op.drop_table('online_ad')

"""screen, identify, refer: screenings, tasks, the service directory, the helpline log

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Referrals learn where a person stands in a national referral mechanism (mechanism, stage,
its dates and deadline), whom they concern and how a provider answered; identification
decisions keep their grounds; criminal proceedings keep the victim's status, protection
measures and the dates the caseworker must hear about. New tables hold screenings
(item-level answers, sealed), tasks, service providers and anonymous helpline calls.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _common(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organisation_id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ['organisation_id'], ['organisation.id'],
            name=op.f(f'fk_{table}_organisation_id_organisation'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}')),
    ]


def _case_link(table: str, ondelete: str = 'CASCADE') -> list[sa.schema.SchemaItem]:
    return [
        sa.Column('case_id', sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ['case_id'], ['case_file.id'],
            name=op.f(f'fk_{table}_case_id_case_file'), ondelete=ondelete,
        ),
    ]


def _index(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)


def upgrade() -> None:
    op.create_table('screening',
    *_common('screening'),
    *_case_link('screening'),
    sa.Column('person_external_id', sa.String(length=200), nullable=True),
    sa.Column('instrument_id', sa.String(length=60), nullable=False),
    sa.Column('instrument_version', sa.String(length=60), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('positive', sa.Boolean(), nullable=False),
    sa.Column('screened_by', sa.String(length=200), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=True),
    sa.Column('screened_on', sa.Date(), nullable=False),
    sa.Column('screened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submission_id', sa.String(length=200), nullable=True),
    sa.UniqueConstraint(
        'organisation_id', 'submission_id', name=op.f('uq_screening_organisation_id')
    ),
    )
    _index('screening', 'organisation_id', 'case_id', 'instrument_id')

    op.create_table('task',
    *_common('task'),
    *_case_link('task'),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=True),
    sa.Column('team', sa.String(length=100), nullable=True),
    sa.Column('assigned_to', sa.String(length=200), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_by', sa.String(length=200), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    )
    _index('task', 'organisation_id', 'case_id')

    op.create_table('service_provider',
    *_common('service_provider'),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('hub_organisation', sa.String(length=100), nullable=True),
    sa.Column('services', _json(), nullable=False),
    sa.Column('sexes', _json(), nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=True),
    sa.Column('max_age', sa.Integer(), nullable=True),
    sa.Column('nationalities', _json(), nullable=False),
    sa.Column('exploitation_types', _json(), nullable=False),
    sa.Column('languages', _json(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('places_free', sa.Integer(), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('city', sa.String(length=200), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('contact', sa.String(length=300), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint('slug', name=op.f('uq_service_provider_slug')),
    )
    _index('service_provider', 'organisation_id')

    op.create_table('helpline_call',
    *_common('helpline_call'),
    *_case_link('helpline_call', ondelete='SET NULL'),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('caller_type', sa.String(length=20), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.Column('indicators_mentioned', _json(), nullable=False),
    sa.Column('advice_given', _json(), nullable=False),
    sa.Column('follow_up', sa.Text(), nullable=True),
    sa.Column('screening_id', sa.Uuid(), nullable=True),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    )
    _index('helpline_call', 'organisation_id', 'case_id', 'received_on')

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('participant_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('reference', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('mechanism', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('stage', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('stage_entered_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('due_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('provider', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('decline_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('responded_on', sa.Date(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_referral_participant_id_case_participant'),
            'case_participant', ['participant_id'], ['id'], ondelete='CASCADE',
        )
        batch_op.create_index(batch_op.f('ix_referral_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_mechanism'), ['mechanism'], unique=False)

    with op.batch_alter_table('identification_decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grounds', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('referral_reference', sa.String(length=60), nullable=True))

    with op.batch_alter_table('criminal_proceeding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('victim_status', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('protection_measures', _json(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('compensation_claimed', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('next_hearing_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('perpetrator_released_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('criminal_proceeding', schema=None) as batch_op:
        for column in ('perpetrator_released_on', 'next_hearing_on', 'compensation_claimed',
                       'protection_measures', 'victim_status'):
            batch_op.drop_column(column)
    with op.batch_alter_table('identification_decision', schema=None) as batch_op:
        batch_op.drop_column('referral_reference')
        batch_op.drop_column('grounds')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_mechanism'))
        batch_op.drop_index(batch_op.f('ix_referral_participant_id'))
        batch_op.drop_constraint(batch_op.f('fk_referral_participant_id_case_participant'), type_='foreignkey')
        for column in ('responded_on', 'decline_reason', 'provider', 'due_on', 'stage_entered_on',
                       'stage', 'mechanism', 'reference', 'participant_id'):
            batch_op.drop_column(column)
    for table in ('helpline_call', 'service_provider', 'task', 'screening'):
        op.drop_table(table)

"""the hub: accounts, sharing, audit, sealed identity

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Users, roles, access tokens, case sharing, the hash-chained audit log (append-only by
trigger), key fingerprints and erasure records. Identity values and free text become
AES-256-GCM ciphertext (``tiphub.store.crypto``): the columns turn into text and every stored
value is sealed in place; the downgrade opens them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# (table, primary key, column, kind) of every value sealed by this revision.
SEALED = (
    ('person_identity', 'person_id', 'salutation', 'str'),
    ('person_identity', 'person_id', 'first_name', 'str'),
    ('person_identity', 'person_id', 'middle_name', 'str'),
    ('person_identity', 'person_id', 'family_name', 'str'),
    ('person_identity', 'person_id', 'title', 'str'),
    ('person_identity', 'person_id', 'birth_date', 'date'),
    ('person_identity', 'person_id', 'email', 'str'),
    ('person_identity', 'person_id', 'home_phone', 'str'),
    ('person_identity', 'person_id', 'mobile_phone', 'str'),
    ('person_identity', 'person_id', 'mailing_street', 'str'),
    ('person_identity', 'person_id', 'mailing_city', 'str'),
    ('person_identity', 'person_id', 'mailing_state', 'str'),
    ('person_identity', 'person_id', 'mailing_postal_code', 'str'),
    ('person_identity', 'person_id', 'mailing_latitude', 'float'),
    ('person_identity', 'person_id', 'mailing_longitude', 'float'),
    ('person_identifier', 'id', 'value', 'str'),
    ('case_file', 'id', 'reason_for_closure', 'str'),
    ('trafficking_event', 'id', 'street', 'str'),
    ('trafficking_event', 'id', 'postal_code', 'str'),
    ('trafficking_event', 'id', 'description', 'str'),
    ('referral', 'id', 'details', 'str'),
    ('support_plan', 'id', 'objectives', 'str'),
    ('support_plan', 'id', 'action_plan', 'str'),
    ('note', 'id', 'text', 'str'),
    ('perpetrator_context', 'participant_id', 'role_details', 'str'),
    ('record_version', 'id', 'data', 'json'),
    ('linkage_review_item', 'id', 'left_values', 'json'),
    ('linkage_review_item', 'id', 'right_values', 'json'),
    ('linkage_review_item', 'id', 'note', 'str'),
)
INDEXED = (
    ('person_identity', 'person_id', 'first_name', 'first_name_index'),
    ('person_identity', 'person_id', 'family_name', 'family_name_index'),
    ('person_identity', 'person_id', 'birth_date', 'birth_date_index'),
    ('person_identifier', 'id', 'value', 'value_index'),
)


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _rewrite_values(seal: bool) -> None:
    """Seal every stored plain value (upgrade) or open every sealed one (downgrade)."""
    from tiphub.store import crypto, keys

    connection = op.get_bind()
    ring = None
    for table, key, column, kind in SEALED:
        rows = connection.execute(
            sa.text(f'SELECT {key}, "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')
        ).all()
        if not rows:
            continue
        if ring is None:
            ring = crypto.load_keyring(create=seal)[0]
            if seal:
                keys.register(connection, ring)
        context = f'{table}.{column}'
        updates = []
        for row_key, raw in rows:
            if seal:
                value = crypto.plain_from_storage(kind, raw)
                updates.append({'k': row_key, 'v': ring.seal(crypto.encode_plain(kind, value), context)})
            else:
                value = crypto.decode_plain(kind, ring.open(str(raw), context))
                updates.append({'k': row_key, 'v': crypto.plain_for_storage(kind, value)})
        connection.execute(
            sa.text(f'UPDATE "{table}" SET "{column}" = :v WHERE {key} = :k'), updates
        )
    if seal:
        for table, key, column, index_column in INDEXED:
            rows = connection.execute(
                sa.text(f'SELECT {key}, "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')
            ).all()
            if not rows:
                continue
            ring = ring or crypto.load_keyring(create=False)[0]
            context = f'{table}.{column}'
            updates = [
                {
                    'k': row_key,
                    'v': ring.blind_index(
                        context, crypto.decode_plain('str', ring.open(str(raw), context))
                    ),
                }
                for row_key, raw in rows
            ]
            connection.execute(
                sa.text(f'UPDATE "{table}" SET "{index_column}" = :v WHERE {key} = :k'), updates
            )


def _audit_append_only() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            """
            CREATE FUNCTION tiphub_audit_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_event is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            'CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event '
            'FOR EACH ROW EXECUTE FUNCTION tiphub_audit_append_only()'
        )
        return
    for verb in ('UPDATE', 'DELETE'):
        op.execute(
            f'CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event '
            "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
        )


def _drop_audit_triggers() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event')
        op.execute('DROP FUNCTION IF EXISTS tiphub_audit_append_only()')
        return
    op.execute('DROP TRIGGER IF EXISTS audit_event_no_update')
    op.execute('DROP TRIGGER IF EXISTS audit_event_no_delete')


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('sequence', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('organisation', sa.String(length=100), nullable=True),
    sa.Column('subject_organisation', sa.String(length=100), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('resource_type', sa.String(length=40), nullable=True),
    sa.Column('resource_id', sa.String(length=100), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('details', _json(), nullable=False),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('previous_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('sequence', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_organisation'), ['organisation'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_subject_organisation'), ['subject_organisation'], unique=False)

    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('erasure_record',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organisation', sa.String(length=100), nullable=False),
    sa.Column('case_reference', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('legal_basis', sa.String(length=200), nullable=False),
    sa.Column('removed', _json(), nullable=False),
    sa.Column('performed_by', sa.String(length=200), nullable=False),
    sa.Column('performed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasure_record'))
    )
    op.create_table('key_check',
    sa.Column('key_id', sa.String(length=40), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_key_check'))
    )
    op.create_table('role_definition',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('permissions', _json(), nullable=False),
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('sees_identity', sa.Boolean(), nullable=False),
    sa.Column('built_in', sa.Boolean(), nullable=False),
    sa.CheckConstraint("scope IN ('own', 'team', 'organisation', 'referred', 'none')", name=op.f('ck_role_definition_scope')),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_role_definition'))
    )
    op.create_table('user_account',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('display_name', sa.String(length=300), nullable=False),
    sa.Column('roles', _json(), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=True),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('totp_secret', sa.Text(), nullable=True),
    sa.Column('totp_last_step', sa.Integer(), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_user_account_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('username', name=op.f('uq_user_account_username'))
    )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_account_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('access_token',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', _json(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_access_token_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_access_token_token_hash'))
    )
    with op.batch_alter_table('access_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_token_user_id'), ['user_id'], unique=False)

    op.create_table('match_notice',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('other_organisation_id', sa.Uuid(), nullable=False),
    sa.Column('linkage_run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['other_organisation_id'], ['organisation.id'], name=op.f('fk_match_notice_other_organisation_id_organisation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_match_notice_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_notice')),
    sa.UniqueConstraint('person_id', 'other_organisation_id', name=op.f('uq_match_notice_person_id'))
    )
    with op.batch_alter_table('match_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_notice_other_organisation_id'), ['other_organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_notice_person_id'), ['person_id'], unique=False)

    op.create_table('case_share',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('from_organisation_id', sa.Uuid(), nullable=False),
    sa.Column('to_organisation_id', sa.Uuid(), nullable=False),
    sa.Column('sections', _json(), nullable=False),
    sa.Column('basis', sa.String(length=20), nullable=False),
    sa.Column('consent_purpose', sa.String(length=40), nullable=True),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("basis IN ('consent', 'child_protection', 'court_order')", name=op.f('ck_case_share_basis')),
    sa.CheckConstraint("state IN ('pending', 'accepted', 'declined', 'completed', 'withdrawn')", name=op.f('ck_case_share_state')),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=op.f('fk_case_share_case_id_case_file'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_organisation_id'], ['organisation.id'], name=op.f('fk_case_share_from_organisation_id_organisation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_organisation_id'], ['organisation.id'], name=op.f('fk_case_share_to_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_share'))
    )
    with op.batch_alter_table('case_share', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_share_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_share_from_organisation_id'), ['from_organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_share_to_organisation_id'), ['to_organisation_id'], unique=False)

    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.create_index('ix_case_file_listing', ['organisation_id', 'id'], unique=False)
        batch_op.add_column(sa.Column('created_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('team', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('linkage_review_item', schema=None) as batch_op:
        batch_op.alter_column('left_values',
               existing_type=_json(),
               type_=sa.Text(),
               existing_nullable=False)
        batch_op.alter_column('right_values',
               existing_type=_json(),
               type_=sa.Text(),
               existing_nullable=False)

    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archive_closed_after_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('delete_archived_after_years', sa.Integer(), nullable=True))

    with op.batch_alter_table('person_identifier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('value_index', sa.String(length=32), nullable=True))
        batch_op.alter_column('value',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=False)
        batch_op.create_index(batch_op.f('ix_person_identifier_value_index'), ['value_index'], unique=False)

    with op.batch_alter_table('person_identity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_name_index', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('family_name_index', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('birth_date_index', sa.String(length=32), nullable=True))
        batch_op.alter_column('salutation',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('first_name',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('middle_name',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('family_name',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('title',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('birth_date',
               existing_type=sa.DATE(),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('email',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('home_phone',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('mobile_phone',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('mailing_street',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('mailing_city',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('mailing_state',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('mailing_postal_code',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('mailing_latitude',
               existing_type=sa.FLOAT(),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('mailing_longitude',
               existing_type=sa.FLOAT(),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.create_index(batch_op.f('ix_person_identity_birth_date_index'), ['birth_date_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_person_identity_family_name_index'), ['family_name_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_person_identity_first_name_index'), ['first_name_index'], unique=False)

    with op.batch_alter_table('record_version', schema=None) as batch_op:
        batch_op.alter_column('data',
               existing_type=_json(),
               type_=sa.Text(),
               existing_nullable=False)

    with op.batch_alter_table('trafficking_event', schema=None) as batch_op:
        batch_op.alter_column('street',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)
        batch_op.alter_column('postal_code',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=True)

    _rewrite_values(seal=True)
    _audit_append_only()


def _sqlite_birth_dates() -> list[dict[str, object]]:
    """SQLite: the opened birth dates, kept aside while the column turns back into DATE.

    Batch mode copies a column whose type affinity changes through CAST, and
    CAST('1990-03-04' AS DATE) is 1990 in SQLite (DATE has numeric affinity).
    """
    connection = op.get_bind()
    if connection.dialect.name != 'sqlite':
        return []
    rows = connection.execute(
        sa.text('SELECT person_id, birth_date FROM person_identity WHERE birth_date IS NOT NULL')
    ).all()
    return [{'k': key, 'v': value} for key, value in rows]


def downgrade() -> None:
    _drop_audit_triggers()
    _rewrite_values(seal=False)
    birth_dates = _sqlite_birth_dates()
    with op.batch_alter_table('trafficking_event', schema=None) as batch_op:
        batch_op.alter_column('postal_code',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.alter_column('street',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)

    with op.batch_alter_table('record_version', schema=None) as batch_op:
        batch_op.alter_column('data',
               existing_type=sa.Text(),
               type_=_json(),
               existing_nullable=False,
               postgresql_using='"data"::jsonb')

    with op.batch_alter_table('person_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_identity_first_name_index'))
        batch_op.drop_index(batch_op.f('ix_person_identity_family_name_index'))
        batch_op.drop_index(batch_op.f('ix_person_identity_birth_date_index'))
        batch_op.alter_column('mailing_longitude',
               existing_type=sa.Text(),
               type_=sa.FLOAT(),
               existing_nullable=True,
               postgresql_using='"mailing_longitude"::double precision')
        batch_op.alter_column('mailing_latitude',
               existing_type=sa.Text(),
               type_=sa.FLOAT(),
               existing_nullable=True,
               postgresql_using='"mailing_latitude"::double precision')
        batch_op.alter_column('mailing_postal_code',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.alter_column('mailing_state',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.alter_column('mailing_city',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.alter_column('mailing_street',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.alter_column('mobile_phone',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.alter_column('home_phone',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.alter_column('email',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.alter_column('birth_date',
               existing_type=sa.Text(),
               type_=sa.DATE(),
               existing_nullable=True,
               postgresql_using='"birth_date"::date')
        batch_op.alter_column('title',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.alter_column('family_name',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.alter_column('middle_name',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.alter_column('first_name',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.alter_column('salutation',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=True)
        batch_op.drop_column('birth_date_index')
        batch_op.drop_column('family_name_index')
        batch_op.drop_column('first_name_index')
    if birth_dates:
        op.get_bind().execute(
            sa.text('UPDATE person_identity SET birth_date = :v WHERE person_id = :k'), birth_dates
        )

    with op.batch_alter_table('person_identifier', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_identifier_value_index'))
        batch_op.alter_column('value',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=False)
        batch_op.drop_column('value_index')

    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_column('delete_archived_after_years')
        batch_op.drop_column('archive_closed_after_days')

    with op.batch_alter_table('linkage_review_item', schema=None) as batch_op:
        batch_op.alter_column('right_values',
               existing_type=sa.Text(),
               type_=_json(),
               existing_nullable=False,
               postgresql_using='"right_values"::jsonb')
        batch_op.alter_column('left_values',
               existing_type=sa.Text(),
               type_=_json(),
               existing_nullable=False,
               postgresql_using='"left_values"::jsonb')

    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.drop_index('ix_case_file_listing')
        batch_op.drop_column('archived_at')
        batch_op.drop_column('team')
        batch_op.drop_column('created_by')

    with op.batch_alter_table('case_share', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_share_to_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_case_share_from_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_case_share_case_id'))

    with op.batch_alter_table('match_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_notice_person_id'))
        batch_op.drop_index(batch_op.f('ix_match_notice_other_organisation_id'))

    op.drop_table('match_notice')
    op.drop_table('case_share')
    with op.batch_alter_table('access_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_token_user_id'))

    op.drop_table('access_token')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_account_organisation_id'))

    op.drop_table('user_account')
    op.drop_table('role_definition')
    op.drop_table('key_check')
    op.drop_table('erasure_record')
    op.drop_table('audit_head')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_subject_organisation'))
        batch_op.drop_index(batch_op.f('ix_audit_event_organisation'))
        batch_op.drop_index(batch_op.f('ix_audit_event_action'))

    op.drop_table('audit_event')

"""The case store's tables (SQLAlchemy 2), identical on SQLite and PostgreSQL.

Identity (names, birth date, contact details, identifiers) lives in ``person_identity``
and ``person_identifier``, apart from case facts, so it can be access-controlled on its own.
Identity values and free text are ``Sealed`` (AES-256-GCM, see ``tiphub.store.crypto``);
exact-match search uses the ``*_index`` blind-index columns. Multi-valued code fields are JSON arrays of codes.
Every write leaves a row in ``record_version``.
"""

from __future__ import annotations

import array
import datetime as dt
import os
import secrets
import time
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tiphub.store.crypto import Sealed

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonList = JSON().with_variant(JSONB(), "postgresql")

_last_millis = 0
_sequence = 0
# Random bits fetched from the system 1,024 IDs at a time: one getrandom call per ID was
# a fifth of the cost of an ID, and an import makes a dozen IDs per case.
_random_words: list[int] = []
_RANDOM_MASK = (1 << 62) - 1
# A forked child must not hand out its parent's remaining bits.
os.register_at_fork(after_in_child=_random_words.clear)


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7 layout) so inserts stay local in B-tree indexes."""
    global _last_millis, _sequence
    millis = time.time_ns() // 1_000_000
    if millis == _last_millis:
        _sequence = (_sequence + 1) & 0xFFF
    else:
        _last_millis, _sequence = millis, secrets.randbits(8)
    try:
        word = _random_words.pop()
    except IndexError:  # (checking first would race with another thread's pop)
        _random_words.extend(array.array("Q", os.urandom(8 * 1024)))
        word = int.from_bytes(os.urandom(8))
    value = (
        (millis & ((1 << 48) - 1)) << 80
        | 0x7 << 76
        | _sequence << 64
        | 0b10 << 62
        | (word & _RANDOM_MASK)
    )
    return uuid.UUID(int=value)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JsonList, list[str]: JsonList}  # noqa: RUF012


def table_of(model: type[Base]) -> Table:
    """A model's table, typed as one (``__table__`` is typed as any FromClause)."""
    return model.__table__  # type: ignore[return-value]


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=new_id)


def _parent(table: str, nullable: bool = False) -> Mapped[Any]:
    return mapped_column(
        Uuid, ForeignKey(f"{table}.id", ondelete="CASCADE"), nullable=nullable, index=True
    )


class Organisation(Base):
    __tablename__ = "organisation"
    id: Mapped[uuid.UUID] = _id()
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    type: Mapped[str | None] = mapped_column(String(60))
    country: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Retention: a closed case is archived after this many days, an archived one deleted
    # after this many years; null keeps it.
    archive_closed_after_days: Mapped[int | None] = mapped_column(Integer)
    delete_archived_after_years: Mapped[int | None] = mapped_column(Integer)


class Person(Base):
    """Non-identifying facts about a person as one organisation holds them."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("organisation_id", "external_id"),)
    id: Mapped[uuid.UUID] = _id()
    organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    external_id: Mapped[str] = mapped_column(String(200))
    gender: Mapped[str | None] = mapped_column(String(40))
    citizenship: Mapped[list[str]] = mapped_column(default=list)
    primary_language: Mapped[str | None] = mapped_column(String(3))
    secondary_language: Mapped[str | None] = mapped_column(String(3))
    marital_status: Mapped[str | None] = mapped_column(String(40))
    education: Mapped[str | None] = mapped_column(String(60))
    number_of_children: Mapped[int | None] = mapped_column(Integer)
    deceased: Mapped[bool | None] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer, default=1)
    source_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PersonIdentity(Base):
    """Identifying details: kept in their own table for encryption and access control."""

    __tablename__ = "person_identity"
    person_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    salutation: Mapped[str | None] = mapped_column(Sealed("person_identity.salutation"))
    first_name: Mapped[str | None] = mapped_column(Sealed("person_identity.first_name"))
    middle_name: Mapped[str | None] = mapped_column(Sealed("person_identity.middle_name"))
    family_name: Mapped[str | None] = mapped_column(Sealed("person_identity.family_name"))
    title: Mapped[str | None] = mapped_column(Sealed("person_identity.title"))
    birth_date: Mapped[dt.date | None] = mapped_column(Sealed("person_identity.birth_date", "date"))
    email: Mapped[str | None] = mapped_column(Sealed("person_identity.email"))
    home_phone: Mapped[str | None] = mapped_column(Sealed("person_identity.home_phone"))
    mobile_phone: Mapped[str | None] = mapped_column(Sealed("person_identity.mobile_phone"))
    mailing_street: Mapped[str | None] = mapped_column(Sealed("person_identity.mailing_street"))
    mailing_city: Mapped[str | None] = mapped_column(Sealed("person_identity.mailing_city"))
    mailing_state: Mapped[str | None] = mapped_column(Sealed("person_identity.mailing_state"))
    mailing_postal_code: Mapped[str | None] = mapped_column(
        Sealed("person_identity.mailing_postal_code")
    )
    mailing_country: Mapped[str | None] = mapped_column(String(2))
    mailing_latitude: Mapped[float | None] = mapped_column(
        Sealed("person_identity.mailing_latitude", "float")
    )
    mailing_longitude: Mapped[float | None] = mapped_column(
        Sealed("person_identity.mailing_longitude", "float")
    )
    # Blind indexes (keyed HMAC of the normalised value) for exact-match search.
    first_name_index: Mapped[str | None] = mapped_column(String(32), index=True)
    family_name_index: Mapped[str | None] = mapped_column(String(32), index=True)
    birth_date_index: Mapped[str | None] = mapped_column(String(32), index=True)


class PersonIdentifier(Base):
    __tablename__ = "person_identifier"
    id: Mapped[uuid.UUID] = _id()
    person_id: Mapped[uuid.UUID] = _parent("person")
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(Sealed("person_identifier.value"))
    value_index: Mapped[str | None] = mapped_column(String(32), index=True)
    issuing_country: Mapped[str | None] = mapped_column(String(2))


class Case(Base):
    __tablename__ = "case_file"
    __table_args__ = (
        UniqueConstraint("organisation_id", "external_id"),
        # The hub's case list: one organisation's cases, newest (largest UUIDv7) first.
        Index("ix_case_file_listing", "organisation_id", "id"),
    )
    id: Mapped[uuid.UUID] = _id()
    organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    external_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str | None] = mapped_column(String(40))
    reason_for_closure: Mapped[str | None] = mapped_column(Sealed("case_file.reason_for_closure"))
    case_owner: Mapped[str | None] = mapped_column(String(1000))
    opened_on: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    source_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Access scope: the user who created it ("own cases") and their team.
    created_by: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(100))
    archived_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class CaseParticipant(Base):
    __tablename__ = "case_participant"
    __table_args__ = (UniqueConstraint("case_id", "person_id"),)
    id: Mapped[uuid.UUID] = _id()
    case_id: Mapped[uuid.UUID] = _parent("case_file")
    person_id: Mapped[uuid.UUID] = _parent("person")
    position: Mapped[int] = mapped_column(Integer, default=0)
    role: Mapped[str] = mapped_column(String(40))


class VictimContext(Base):
    __tablename__ = "victim_context"
    participant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("case_participant.id", ondelete="CASCADE"), primary_key=True
    )
    recruitment_methods: Mapped[list[str]] = mapped_column(default=list)
    recruitment_websites: Mapped[list[str]] = mapped_column(default=list)
    location_of_recruitment: Mapped[str | None] = mapped_column(String(1000))
    means_of_control: Mapped[list[str]] = mapped_column(default=list)
    exploitation_types: Mapped[list[str]] = mapped_column(default=list)
    sex_exploitation_types: Mapped[list[str]] = mapped_column(default=list)
    industry: Mapped[str | None] = mapped_column(String(60))
    location_of_exploitation: Mapped[str | None] = mapped_column(String(1000))
    exploitation_websites: Mapped[list[str]] = mapped_column(default=list)
    age_when_trafficked: Mapped[int | None] = mapped_column(Integer)
    relationship_to_trafficker: Mapped[str | None] = mapped_column(String(40))
    vulnerabilities: Mapped[list[str]] = mapped_column(default=list)


class TraffickingStatusAssertion(Base):
    """Trafficking status is never one truth field: each organisation asserts it, dated."""

    __tablename__ = "trafficking_status_assertion"
    id: Mapped[uuid.UUID] = _id()
    participant_id: Mapped[uuid.UUID] = _parent("case_participant")
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(40))
    decided_by_type: Mapped[str | None] = mapped_column(String(60))
    asserted_by: Mapped[str | None] = mapped_column(String(1000))
    asserted_on: Mapped[dt.date | None] = mapped_column(Date)


class PerpetratorContext(Base):
    __tablename__ = "perpetrator_context"
    participant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("case_participant.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    roles: Mapped[list[str]] = mapped_column(default=list)
    role_details: Mapped[str | None] = mapped_column(Sealed("perpetrator_context.role_details"))
    company_name: Mapped[str | None] = mapped_column(String(1000))
    sex: Mapped[str | None] = mapped_column(String(20))
    age_band: Mapped[str | None] = mapped_column(String(20))
    nationality: Mapped[list[str]] = mapped_column(default=list)


class TraffickingEvent(Base):
    __tablename__ = "trafficking_event"
    id: Mapped[uuid.UUID] = _id()
    case_id: Mapped[uuid.UUID] = _parent("case_file")
    participant_id: Mapped[uuid.UUID | None] = _parent("case_participant", nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    type: Mapped[str] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(2))
    state: Mapped[str | None] = mapped_column(String(1000))
    city: Mapped[str | None] = mapped_column(String(1000))
    street: Mapped[str | None] = mapped_column(Sealed("trafficking_event.street"))
    postal_code: Mapped[str | None] = mapped_column(Sealed("trafficking_event.postal_code"))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    started_on: Mapped[dt.date | None] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Sealed("trafficking_event.description"))


class Consent(Base):
    __tablename__ = "consent"
    id: Mapped[uuid.UUID] = _id()
    case_id: Mapped[uuid.UUID] = _parent("case_file")
    participant_id: Mapped[uuid.UUID] = _parent("case_participant")
    position: Mapped[int] = mapped_column(Integer, default=0)
    purpose: Mapped[str] = mapped_column(String(40))
    given: Mapped[bool] = mapped_column(Boolean)
    recorded_on: Mapped[dt.date | None] = mapped_column(Date)
    recorded_by: Mapped[str | None] = mapped_column(String(1000))


class Referral(Base):
    __tablename__ = "referral"
    id: Mapped[uuid.UUID] = _id()
    case_id: Mapped[uuid.UUID] = _parent("case_file")
    position: Mapped[int] = mapped_column(Integer, default=0)
    direction: Mapped[str] = mapped_column(String(20))
    from_organisation: Mapped[str | None] = mapped_column(String(1000))
    to_organisation: Mapped[str | None] = mapped_column(String(1000))
    referred_on: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(60))
    details: Mapped[str | None] = mapped_column(Sealed("referral.details"))
    services: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str | None] = mapped_column(String(20))
    referring_case_worker: Mapped[str | None] = mapped_column(String(1000))
    referred_case_worker: Mapped[str | None] = mapped_column(String(1000))
    participant_id: Mapped[uuid.UUID | None] = _parent("case_participant", nullable=True)
    reference: Mapped[str | None] = mapped_column(String(60))
    mechanism: Mapped[str | None] = mapped_column(String(60), index=True)
    stage: Mapped[str | None] = mapped_column(String(60))
    stage_entered_on: Mapped[dt.date | None] = mapped_column(Date)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    provider: Mapped[str | None] = mapped_column(String(1000))
    decline_reason: Mapped[str | None] = mapped_column(Sealed("referral.decline_reason"))
    responded_on: Mapped[dt.date | None] = mapped_column(Date)


class SupportPlan(Base):
    __tablename__ = "support_plan"
    id: Mapped[uuid.UUID] = _id()
    case_id: Mapped[uuid.UUID] = _parent("case_file")
    participant_id: Mapped[uuid.UUID | None] = _parent("case_participant", nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    type: Mapped[str | None] = mapped_column(String(60))
    objectives: Mapped[str | None] = mapped_column(Sealed("support_plan.objectives"))
    action_plan: Mapped[str | None] = mapped_column(Sealed("support_plan.action_plan"))
    planned_end_on: Mapped[dt.date | None] = mapped_column(Date)
    actual_end_on: Mapped[dt.date | None] = mapped_column(Date)


class ServiceProvision(Base):
    __tablename__ = "service_provision"
    id: Mapped[uuid.UUID] = _id()
    support_plan_id: Mapped[uuid.UUID] = _parent("support_plan")
    position: Mapped[int] = mapped_column(Integer, default=0)
    service: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str | None] = mapped_column(String(1000))
    started_on: Mapped[dt.date | None] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)


class Note(Base):
    __tablename__ = "note"
    id: Mapped[uuid.UUID] = _id()
    case_id: Mapped[uuid.UUID] = _parent("case_file")
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Sealed("note.text"))
    author: Mapped[str | None] = mapped_column(String(1000))
    written_on: Mapped[dt.date | None] = mapped_column(Date)


class IdentificationDecision(Base):
    __tablename__ = "identification_decision"
    id: Mapped[uuid.UUID] = _id()
    case_id: Mapped[uuid.UUID] = _parent("case_file")
    participant_id: Mapped[uuid.UUID] = _parent("case_participant")
    position: Mapped[int] = mapped_column(Integer, default=0)
    decision_type: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))
    decided_by: Mapped[str | None] = mapped_column(String(1000))
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    jurisdiction: Mapped[str | None] = mapped_column(String(2))
    grounds: Mapped[str | None] = mapped_column(Sealed("identification_decision.grounds"))
    referral_reference: Mapped[str | None] = mapped_column(String(60))


class CriminalProceeding(Base):
    __tablename__ = "criminal_proceeding"
    id: Mapped[uuid.UUID] = _id()
    case_id: Mapped[uuid.UUID] = _parent("case_file")
    perpetrator_participant_id: Mapped[uuid.UUID | None] = _parent(
        "case_participant", nullable=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    jurisdiction: Mapped[str | None] = mapped_column(String(2))
    stage: Mapped[str] = mapped_column(String(20))
    charges: Mapped[list[str]] = mapped_column(default=list)
    opened_on: Mapped[dt.date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_on: Mapped[dt.date | None] = mapped_column(Date)
    sentence_months: Mapped[int | None] = mapped_column(Integer)
    victim_status: Mapped[str | None] = mapped_column(String(40))
    protection_measures: Mapped[list[str]] = mapped_column(default=list)
    compensation_claimed: Mapped[bool | None] = mapped_column(Boolean)
    next_hearing_on: Mapped[dt.date | None] = mapped_column(Date)
    perpetrator_released_on: Mapped[dt.date | None] = mapped_column(Date)


class RecordVersion(Base):
    """Audit trail: one row per write of a case or person, with who, when and what."""

    __tablename__ = "record_version"
    __table_args__ = (Index("ix_record_version_entity", "entity_type", "entity_id", "version"),)
    id: Mapped[uuid.UUID] = _id()
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    version: Mapped[int] = mapped_column(Integer)
    operation: Mapped[str] = mapped_column(String(10))
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    import_batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    changed_fields: Mapped[list[str]] = mapped_column(default=list)
    data: Mapped[dict[str, Any]] = mapped_column(Sealed("record_version.data", "json"))


class ImportBatch(Base):
    __tablename__ = "import_batch"
    id: Mapped[uuid.UUID] = _id()
    source_name: Mapped[str] = mapped_column(String(1000))
    source_sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(20))
    organisation_slug: Mapped[str | None] = mapped_column(String(100))
    imported_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cases_created: Mapped[int] = mapped_column(Integer, default=0)
    cases_updated: Mapped[int] = mapped_column(Integer, default=0)
    cases_unchanged: Mapped[int] = mapped_column(Integer, default=0)


class LinkageRun(Base):
    """One run of the record linker: what it read, how it was set up and what it found."""

    __tablename__ = "linkage_run"
    # Integer keys, unlike the UUIDs above, because caseworkers type review ids at a prompt.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Null until the run finishes, so an interrupted run is recognisable.
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    inputs: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    record_count: Mapped[int | None] = mapped_column(Integer)
    candidate_pair_count: Mapped[int | None] = mapped_column(Integer)
    link_count: Mapped[int | None] = mapped_column(Integer)
    cluster_count: Mapped[int | None] = mapped_column(Integer)
    estimated_precision: Mapped[float | None] = mapped_column(Float)
    estimated_recall: Mapped[float | None] = mapped_column(Float)


class LinkageReviewItem(Base):
    """A candidate pair awaiting, or given, a caseworker's match decision.

    One row per pair ever (keys stored sorted): a pair keeps its first run and its decision,
    so later runs can neither duplicate it in the queue nor reopen it. The identity values
    shown to the reviewer are copied here because the review outlives the input files.
    """

    __tablename__ = "linkage_review_item"
    __table_args__ = (
        UniqueConstraint("left_key", "right_key"),
        CheckConstraint("status IN ('pending', 'match', 'non_match', 'unsure')", name="status"),
        CheckConstraint(
            "match_probability >= 0 AND match_probability <= 1", name="match_probability"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No cascade: a reviewer's decision is worth more than the run that raised the question.
    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("linkage_run.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    left_key: Mapped[str] = mapped_column(String(300))
    right_key: Mapped[str] = mapped_column(String(300))
    left_list: Mapped[str] = mapped_column(String(200))
    right_list: Mapped[str] = mapped_column(String(200))
    match_probability: Mapped[float] = mapped_column(Float)
    match_weight: Mapped[float] = mapped_column(Float)
    explanation: Mapped[list[dict[str, Any]]] = mapped_column(JsonList, default=list)
    left_values: Mapped[dict[str, Any]] = mapped_column(
        Sealed("linkage_review_item.left_values", "json")
    )
    right_values: Mapped[dict[str, Any]] = mapped_column(
        Sealed("linkage_review_item.right_values", "json")
    )
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Sealed("linkage_review_item.note"))


# -- the hub: accounts, sharing, audit, keys ---------------------------------------------


class RoleDefinition(Base):
    """A role as data: which resource × action pairs it grants, over which record scope."""

    __tablename__ = "role_definition"
    __table_args__ = (
        CheckConstraint(
            "scope IN ('own', 'team', 'organisation', 'referred', 'none')", name="scope"
        ),
    )
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    permissions: Mapped[list[str]] = mapped_column(default=list)
    scope: Mapped[str] = mapped_column(String(20))
    sees_identity: Mapped[bool] = mapped_column(Boolean, default=False)
    built_in: Mapped[bool] = mapped_column(Boolean, default=False)


class UserAccount(Base):
    __tablename__ = "user_account"
    id: Mapped[uuid.UUID] = _id()
    username: Mapped[str] = mapped_column(String(200), unique=True)
    organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    display_name: Mapped[str] = mapped_column(String(300), default="")
    roles: Mapped[list[str]] = mapped_column(default=list)
    team: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(300))
    totp_secret: Mapped[str | None] = mapped_column(Sealed("user_account.totp_secret"))
    # The last accepted one-time code's time step, so that a code cannot be replayed.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )


class AccessToken(Base):
    """A browser session or an API token; only the SHA-256 of its secret is stored."""

    __tablename__ = "access_token"
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _parent("user_account")
    kind: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class CaseShare(Base):
    """A case made visible to another organisation by the person's consent or a legal override."""

    __tablename__ = "case_share"
    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'accepted', 'declined', 'completed', 'withdrawn')", name="state"
        ),
        CheckConstraint("basis IN ('consent', 'child_protection', 'court_order')", name="basis"),
    )
    id: Mapped[uuid.UUID] = _id()
    case_id: Mapped[uuid.UUID] = _parent("case_file")
    from_organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    to_organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    sections: Mapped[list[str]] = mapped_column(default=list)
    basis: Mapped[str] = mapped_column(String(20))
    consent_purpose: Mapped[str | None] = mapped_column(String(40))
    override_reason: Mapped[str | None] = mapped_column(Sealed("case_share.override_reason"))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Append-only and hash-chained: each entry's hash covers its fields and the previous hash."""

    __tablename__ = "audit_event"
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(100), index=True)
    # The organisation whose record the action touched, when it is another one (a referred
    # case read, a referral accepted): its auditor sees the entry too.
    subject_organisation: Mapped[str | None] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    resource_type: Mapped[str | None] = mapped_column(String(40))
    resource_id: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last sequence number and hash, so that a cut-off tail is detected too."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    entry_hash: Mapped[str] = mapped_column(String(64))


class KeyCheck(Base):
    """Fingerprints of the keys this database's values are sealed with (never the keys)."""

    __tablename__ = "key_check"
    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ErasureRecord(Base):
    """What an erasure, rectification or retention deletion removed: sections and counts only."""

    __tablename__ = "erasure_record"
    id: Mapped[uuid.UUID] = _id()
    organisation: Mapped[str] = mapped_column(String(100))
    case_reference: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    legal_basis: Mapped[str] = mapped_column(String(200))
    removed: Mapped[dict[str, Any]] = mapped_column(default=dict)
    performed_by: Mapped[str] = mapped_column(String(200))
    performed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MatchNotice(Base):
    """The latest database link found this person also at another organisation.

    It holds no content of the other record: the organisation only learns that a match
    exists, and only where the other organisation shares cases with it.
    """

    __tablename__ = "match_notice"
    __table_args__ = (UniqueConstraint("person_id", "other_organisation_id"),)
    id: Mapped[uuid.UUID] = _id()
    person_id: Mapped[uuid.UUID] = _parent("person")
    other_organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    linkage_run_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Screening(Base):
    """Item-level answers to one screening instrument, kept so the score can be recomputed
    when a rule is revised. A positive screen opens a task, never a trafficking status."""

    __tablename__ = "screening"
    # An offline form's submission is stored once, however often its export is imported.
    __table_args__ = (UniqueConstraint("organisation_id", "submission_id"),)
    id: Mapped[uuid.UUID] = _id()
    organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    case_id: Mapped[uuid.UUID | None] = _parent("case_file", nullable=True)
    person_external_id: Mapped[str | None] = mapped_column(String(200))
    instrument_id: Mapped[str] = mapped_column(String(60), index=True)
    instrument_version: Mapped[str] = mapped_column(String(60))
    language: Mapped[str] = mapped_column(String(10), default="en")
    channel: Mapped[str] = mapped_column(String(20), default="in_person")
    answers: Mapped[dict[str, Any]] = mapped_column(Sealed("screening.answers", "json"))
    result: Mapped[dict[str, Any]] = mapped_column(Sealed("screening.result", "json"))
    positive: Mapped[bool] = mapped_column(Boolean)
    screened_by: Mapped[str] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(100))
    screened_on: Mapped[dt.date] = mapped_column(Date)
    screened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submission_id: Mapped[str | None] = mapped_column(String(200))


class Task(Base):
    """Something a person must do for a case: consider a referral, chase an overdue decision,
    follow up a service referral, attend a hearing. Titles name no person."""

    __tablename__ = "task"
    id: Mapped[uuid.UUID] = _id()
    organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    case_id: Mapped[uuid.UUID | None] = _parent("case_file", nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    source: Mapped[str | None] = mapped_column(String(100))
    team: Mapped[str | None] = mapped_column(String(100))
    assigned_to: Mapped[str | None] = mapped_column(String(200))
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    done_by: Mapped[str | None] = mapped_column(String(200))
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ServiceProvider(Base):
    """A directory entry: who offers which services, to whom, in which languages, where."""

    __tablename__ = "service_provider"
    id: Mapped[uuid.UUID] = _id()
    organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    hub_organisation: Mapped[str | None] = mapped_column(String(100))
    services: Mapped[list[str]] = mapped_column(default=list)
    sexes: Mapped[list[str]] = mapped_column(default=list)
    min_age: Mapped[int | None] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)
    nationalities: Mapped[list[str]] = mapped_column(default=list)
    exploitation_types: Mapped[list[str]] = mapped_column(default=list)
    languages: Mapped[list[str]] = mapped_column(default=list)
    capacity: Mapped[int | None] = mapped_column(Integer)
    places_free: Mapped[int | None] = mapped_column(Integer)
    country: Mapped[str | None] = mapped_column(String(2))
    city: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    contact: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HelplineCall(Base):
    """One helpline contact, anonymous by default: no name, no number, region-level place."""

    __tablename__ = "helpline_call"
    id: Mapped[uuid.UUID] = _id()
    organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    received_on: Mapped[dt.date] = mapped_column(Date, index=True)
    channel: Mapped[str] = mapped_column(String(20))
    caller_type: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(10))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))
    indicators_mentioned: Mapped[list[str]] = mapped_column(default=list)
    advice_given: Mapped[list[str]] = mapped_column(default=list)
    follow_up: Mapped[str | None] = mapped_column(Sealed("helpline_call.follow_up"))
    screening_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # An erased case leaves the anonymous call in the weekly counts, unlinked.
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("case_file.id", ondelete="SET NULL"), nullable=True, index=True
    )
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PrivacyBudget(Base):
    """The differential-privacy budget of one dataset: the total (ε, δ) all its releases
    may spend together. Set once, before anything is spent."""

    __tablename__ = "privacy_budget"
    dataset: Mapped[str] = mapped_column(String(200), primary_key=True)
    epsilon_total: Mapped[float] = mapped_column(Float)
    delta_total: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DataRelease(Base):
    """A release bundle (statistics or synthetic microdata) and where it stands:
    draft → approved → published. A published release never changes."""

    __tablename__ = "data_release"
    id: Mapped[uuid.UUID] = _id()
    organisation_id: Mapped[uuid.UUID | None] = _parent("organisation", nullable=True)
    dataset: Mapped[str] = mapped_column(
        String(200), ForeignKey("privacy_budget.dataset"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(20))
    parameters: Mapped[dict[str, Any]] = mapped_column(JsonList)
    epsilon_spent: Mapped[float] = mapped_column(Float, default=0.0)
    delta_spent: Mapped[float] = mapped_column(Float, default=0.0)
    rows: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JsonList)
    bundle: Mapped[bytes] = mapped_column(LargeBinary)
    bundle_sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# -- detect online: ads, their evidence and custody, clusters, hand-overs -------------------


class OnlineAd(Base):
    """A job ad or recruiter page an organisation collected, with what screening found.

    The ad's words are sealed (its text with every contact masked); contacts live only as
    keyed hashes in ``online_contact`` and in clear only inside the sealed original in
    ``online_evidence``. Indicator ids are clear for the weekly statistics; the words that
    triggered them are sealed with them."""

    __tablename__ = "online_ad"
    __table_args__ = (
        UniqueConstraint("organisation_id", "ad_id"),
        # The review queue: one organisation's flagged ads, newest first.
        Index("ix_online_ad_queue", "organisation_id", "flagged", "id"),
    )
    id: Mapped[uuid.UUID] = _id()
    organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    ad_id: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(1000), default="")
    row: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    media_type: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(Sealed("online_ad.title"))
    text: Mapped[str] = mapped_column(Sealed("online_ad.text"))
    url: Mapped[str | None] = mapped_column(Sealed("online_ad.url"))
    location: Mapped[str | None] = mapped_column(String(1000))
    salary: Mapped[str | None] = mapped_column(String(1000))
    seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sha256: Mapped[str] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    indicator_ids: Mapped[list[str]] = mapped_column(default=list)
    indicators: Mapped[list[dict[str, Any]] | None] = mapped_column(
        Sealed("online_ad.indicators", "json")
    )
    cluster_id: Mapped[str | None] = mapped_column(String(40), index=True)
    sector: Mapped[str | None] = mapped_column(String(60))
    destination_country: Mapped[str | None] = mapped_column(String(2))
    screened_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    review_status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    review_note: Mapped[str | None] = mapped_column(Sealed("online_ad.review_note"))
    ingested_by: Mapped[str] = mapped_column(String(200))
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OnlineContact(Base):
    """A contact found in an ad, as a keyed hash: recurring contacts link ads without
    anyone reading the number."""

    __tablename__ = "online_contact"
    id: Mapped[uuid.UUID] = _id()
    ad_row_id: Mapped[uuid.UUID] = _parent("online_ad")
    kind: Mapped[str] = mapped_column(String(10))
    contact_hash: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str | None] = mapped_column(String(2))


class OnlineEvidence(Base):
    """An ad's original bytes as captured (sealed), their SHA-256, where and when seen."""

    __tablename__ = "online_evidence"
    id: Mapped[uuid.UUID] = _id()
    ad_row_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("online_ad.id", ondelete="CASCADE"), unique=True
    )
    original: Mapped[bytes] = mapped_column(Sealed("online_evidence.original", "bytes"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(1000), default="")
    row: Mapped[int | None] = mapped_column(Integer)
    seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    captured_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    captured_by: Mapped[str] = mapped_column(String(200))


class OnlineCustodyEvent(Base):
    """One step of an evidence item's chain of custody: captured, flagged, reviewed,
    handed over, exported. Details are codes and ids, never the ad's words."""

    __tablename__ = "online_custody_event"
    id: Mapped[uuid.UUID] = _id()
    evidence_id: Mapped[uuid.UUID] = _parent("online_evidence")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(1000), default="")


class OnlineCluster(Base):
    """A template that several of an organisation's ads share, as the last screening
    found it. ``cluster_id`` is the clustering's own id; a surrogate key keeps the table
    to one key column, as key rotation reseals row by row."""

    __tablename__ = "online_cluster"
    __table_args__ = (UniqueConstraint("organisation_id", "cluster_id"),)
    id: Mapped[uuid.UUID] = _id()
    organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    cluster_id: Mapped[str] = mapped_column(String(40))
    template: Mapped[str] = mapped_column(Sealed("online_cluster.template"))
    ad_ids: Mapped[list[str]] = mapped_column(default=list)
    contact_hashes: Mapped[list[str]] = mapped_column(default=list)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OnlineHandover(Base):
    """A reviewed ad or cluster passed on: to a screening, to the police or the labour
    inspectorate (both as a task), or to the platform as a takedown request."""

    __tablename__ = "online_handover"
    id: Mapped[uuid.UUID] = _id()
    organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    kind: Mapped[str] = mapped_column(String(30))
    # The hand-over outlives the ad: it records what was passed on, and when.
    ad_row_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("online_ad.id", ondelete="SET NULL"), nullable=True, index=True
    )
    cluster_id: Mapped[str | None] = mapped_column(String(40))
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    text: Mapped[str | None] = mapped_column(Sealed("online_handover.text"))
    note: Mapped[str | None] = mapped_column(Sealed("online_handover.note"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OnlineAgency(Base):
    """One entry of the recruitment-agency licence register an organisation loaded; the
    entry (names, addresses, contacts) is sealed, the licence number is public."""

    __tablename__ = "online_agency"
    id: Mapped[uuid.UUID] = _id()
    organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    position: Mapped[int] = mapped_column(Integer, default=0)
    licence_number: Mapped[str | None] = mapped_column(String(200))
    entry: Mapped[dict[str, Any]] = mapped_column(Sealed("online_agency.entry", "json"))
    # The register file's name, and the country its nationally written numbers belong to.
    source: Mapped[str] = mapped_column(String(1000), default="")
    default_region: Mapped[str | None] = mapped_column(String(2))
    loaded_by: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

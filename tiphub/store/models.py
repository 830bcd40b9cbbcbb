"""The case store's tables (SQLAlchemy 2), identical on SQLite and PostgreSQL.

Identity (names, birth date, contact details, identifiers) lives in ``person_identity``
and ``person_identifier``, apart from case facts, so it can be encrypted and
access-controlled on its own. Multi-valued code fields are JSON arrays of codes.
Every write leaves a row in ``record_version``.
"""

from __future__ import annotations

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
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7 layout) so inserts stay local in B-tree indexes."""
    global _last_millis, _sequence
    millis = time.time_ns() // 1_000_000
    if millis == _last_millis:
        _sequence = (_sequence + 1) & 0xFFF
    else:
        _last_millis, _sequence = millis, secrets.randbits(8)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= _sequence << 64
    value |= 0b10 << 62
    value |= int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JsonList, list[str]: JsonList}  # noqa: RUF012


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
    salutation: Mapped[str | None] = mapped_column(String(1000))
    first_name: Mapped[str | None] = mapped_column(String(1000))
    middle_name: Mapped[str | None] = mapped_column(String(1000))
    family_name: Mapped[str | None] = mapped_column(String(1000))
    title: Mapped[str | None] = mapped_column(String(1000))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(1000))
    home_phone: Mapped[str | None] = mapped_column(String(1000))
    mobile_phone: Mapped[str | None] = mapped_column(String(1000))
    mailing_street: Mapped[str | None] = mapped_column(String(1000))
    mailing_city: Mapped[str | None] = mapped_column(String(1000))
    mailing_state: Mapped[str | None] = mapped_column(String(1000))
    mailing_postal_code: Mapped[str | None] = mapped_column(String(1000))
    mailing_country: Mapped[str | None] = mapped_column(String(2))
    mailing_latitude: Mapped[float | None] = mapped_column(Float)
    mailing_longitude: Mapped[float | None] = mapped_column(Float)


class PersonIdentifier(Base):
    __tablename__ = "person_identifier"
    id: Mapped[uuid.UUID] = _id()
    person_id: Mapped[uuid.UUID] = _parent("person")
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(1000))
    issuing_country: Mapped[str | None] = mapped_column(String(2))


class Case(Base):
    __tablename__ = "case_file"
    __table_args__ = (UniqueConstraint("organisation_id", "external_id"),)
    id: Mapped[uuid.UUID] = _id()
    organisation_id: Mapped[uuid.UUID] = _parent("organisation")
    external_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str | None] = mapped_column(String(40))
    reason_for_closure: Mapped[str | None] = mapped_column(Text)
    case_owner: Mapped[str | None] = mapped_column(String(1000))
    opened_on: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    source_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


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
    role_details: Mapped[str | None] = mapped_column(Text)
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
    street: Mapped[str | None] = mapped_column(String(1000))
    postal_code: Mapped[str | None] = mapped_column(String(1000))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    started_on: Mapped[dt.date | None] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)


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
    details: Mapped[str | None] = mapped_column(Text)
    services: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str | None] = mapped_column(String(20))
    referring_case_worker: Mapped[str | None] = mapped_column(String(1000))
    referred_case_worker: Mapped[str | None] = mapped_column(String(1000))


class SupportPlan(Base):
    __tablename__ = "support_plan"
    id: Mapped[uuid.UUID] = _id()
    case_id: Mapped[uuid.UUID] = _parent("case_file")
    participant_id: Mapped[uuid.UUID | None] = _parent("case_participant", nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    type: Mapped[str | None] = mapped_column(String(60))
    objectives: Mapped[str | None] = mapped_column(Text)
    action_plan: Mapped[str | None] = mapped_column(Text)
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
    text: Mapped[str] = mapped_column(Text)
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
    data: Mapped[dict[str, Any]] = mapped_column()


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
    left_values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    right_values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)

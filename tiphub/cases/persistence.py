"""Moving cases between the exchange format and the store's tables, in bulk.

``CaseWriter`` upserts validated case records batch by batch inside the caller's
transaction: a case or person whose content hash is unchanged is left alone, a changed
one is rewritten and gets a new version row. ``iter_case_documents`` streams cases back
out in their canonical form, a chunk at a time, so memory stays flat.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, text, update
from sqlalchemy import types as sa_types
from sqlalchemy.exc import OperationalError

from tiphub.cases.canonical import (
    IDENTITY_FIELDS,
    case_document,
    clean,
    content_hash,
    without_identity,
)
from tiphub.cases.schema import CaseRecord, PersonRecord
from tiphub.cases.search import IDENTIFIER_CONTEXT, blind_index_of, identity_index_values
from tiphub.store import crypto
from tiphub.store import models as m
from tiphub.store.bulk import BulkInserter
from tiphub.store.models import new_id, utcnow
from tiphub.store.models import table_of as table_of

CHILD_TABLES_OF_CASE: tuple[type[m.Base], ...] = (
    m.CriminalProceeding,
    m.IdentificationDecision,
    m.Note,
    m.SupportPlan,  # service_provision rows cascade
    m.Referral,
    m.Consent,
    m.TraffickingEvent,
    m.CaseParticipant,  # victim, perpetrator and status rows cascade
)

PERSON_FACT_FIELDS = (
    "gender",
    "citizenship",
    "primary_language",
    "secondary_language",
    "marital_status",
    "education",
    "number_of_children",
    "deceased",
)
IDENTITY_COLUMNS = tuple(name for name in IDENTITY_FIELDS if name != "identifiers")


@dataclass
class WriteCounts:
    cases_created: int = 0
    cases_updated: int = 0
    cases_unchanged: int = 0
    people_created: int = 0
    people_updated: int = 0

    def add(self, other: WriteCounts) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


@dataclass
class _Rows:
    """Rows to insert, per table, for one batch."""

    by_table: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, model: type[m.Base], row: dict[str, Any]) -> None:
        self.by_table.setdefault(model.__tablename__, []).append(row)


INSERT_ORDER: tuple[type[m.Base], ...] = (
    m.Person,
    m.PersonIdentity,
    m.PersonIdentifier,
    m.Case,
    m.CaseParticipant,
    m.VictimContext,
    m.TraffickingStatusAssertion,
    m.PerpetratorContext,
    m.TraffickingEvent,
    m.Consent,
    m.Referral,
    m.SupportPlan,
    m.ServiceProvision,
    m.Note,
    m.IdentificationDecision,
    m.CriminalProceeding,
    m.RecordVersion,
)


# Any constant shared by every tiphub writer; PostgreSQL advisory locks are keyed by a bigint.
WRITE_LOCK_KEY = 0x7469_7068_7562  # "tiphub"
SQLITE_WAIT_MS = 30_000


def lock_case_writes(connection: Connection, on_wait: Callable[[], None] | None = None) -> None:
    """Take the store's write lock for this transaction, so that concurrent writers queue.

    Two imports creating the same organisation or person at once would otherwise collide on
    a unique key. The lock is released when the transaction ends. ``on_wait`` is called once
    if another writer holds the lock, before waiting for it.
    """
    if connection.dialect.name == "postgresql":
        key = {"key": WRITE_LOCK_KEY}
        if not connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), key).scalar():
            if on_wait is not None:
                on_wait()
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)
        return
    if connection.dialect.name == "sqlite":
        # A write statement, even one that changes nothing, takes SQLite's write lock now
        # rather than at the first real write, after minutes of parsing.
        organisations = table_of(m.Organisation)
        no_op = update(organisations).where(text("0")).values(slug=organisations.c.slug)
        connection.exec_driver_sql("PRAGMA busy_timeout = 200")
        try:
            connection.execute(no_op)
        except OperationalError as error:
            if "locked" not in str(error.orig) and "busy" not in str(error.orig):
                raise
            if on_wait is not None:
                on_wait()
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {20 * SQLITE_WAIT_MS}")
            connection.execute(no_op)
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_WAIT_MS}")


class CaseWriter:
    """Writes case records into the store within one open connection/transaction."""

    def __init__(
        self, connection: Connection, actor: str, import_batch_id: uuid.UUID | None = None
    ) -> None:
        self.connection = connection
        self.actor = actor
        self.import_batch_id = import_batch_id
        self._organisations: dict[str, uuid.UUID] = {}
        self._inserter = BulkInserter(connection)

    # -- organisations ------------------------------------------------------------------
    def organisation_id(self, slug: str) -> uuid.UUID:
        if slug not in self._organisations:
            table = table_of(m.Organisation)
            found = self.connection.execute(
                select(table.c.id).where(table.c.slug == slug)
            ).scalar_one_or_none()
            if found is None:
                found = new_id()
                self.connection.execute(
                    table.insert(),
                    {"id": found, "slug": slug, "name": slug, "created_at": utcnow()},
                )
            self._organisations[slug] = found
        return self._organisations[slug]

    # -- the batch --------------------------------------------------------------------
    def write(
        self,
        records: Sequence[CaseRecord],
        documents: Sequence[dict[str, Any]] | None = None,
    ) -> WriteCounts:
        """Store a batch of cases. An importer that made each record's canonical document
        already (to check the file) hands them in."""
        counts = WriteCounts()
        rows = _Rows()
        now = utcnow()
        if documents is None:
            documents = [case_document(record) for record in records]
        people = self._upsert_people(records, documents, rows, counts, now)
        existing = self._existing(m.Case, [(r.organisation, r.external_id) for r in records])
        replaced: list[uuid.UUID] = []
        for record, document in zip(records, documents, strict=True):
            org_id = self.organisation_id(record.organisation)
            digest = content_hash(document)
            previous = existing.get((org_id, record.external_id))
            if previous is not None and previous[1] == digest:
                counts.cases_unchanged += 1
                continue
            if previous is None:
                case_id, version, operation = new_id(), 1, "create"
                counts.cases_created += 1
                rows.add(
                    m.Case,
                    {
                        "id": case_id,
                        "organisation_id": org_id,
                        "external_id": record.external_id,
                        **self._case_columns(record),
                        "version": 1,
                        "source_hash": digest,
                        "updated_at": now,
                    },
                )
            else:
                case_id, version, operation = previous[0], previous[2] + 1, "update"
                counts.cases_updated += 1
                replaced.append(case_id)
                self.connection.execute(
                    update(table_of(m.Case))
                    .where(table_of(m.Case).c.id == case_id)
                    .values(
                        **self._case_columns(record),
                        version=version,
                        source_hash=digest,
                        updated_at=now,
                    )
                )
            self._case_children(record, case_id, org_id, people, rows)
            rows.add(
                m.RecordVersion,
                self._version_row(
                    "case", case_id, version, operation, now, without_identity(document)
                ),
            )
        if replaced:
            self._fill_changed_fields(
                rows.by_table.get(m.RecordVersion.__tablename__, []), replaced
            )
            for model in CHILD_TABLES_OF_CASE:
                table = table_of(model)
                self.connection.execute(delete(table).where(table.c.case_id.in_(replaced)))
        for model in INSERT_ORDER:
            batch = rows.by_table.get(model.__tablename__)
            if batch:
                self._inserter.insert(table_of(model), batch)
        return counts

    def _fill_changed_fields(
        self, version_rows: list[dict[str, Any]], case_ids: list[uuid.UUID]
    ) -> None:
        """Name the top-level fields an update changed, against each case's previous version."""
        table = table_of(m.RecordVersion)
        wanted = set(case_ids)
        previous: dict[uuid.UUID, tuple[int, dict[str, Any]]] = {}
        query = select(table.c.entity_id, table.c.version, table.c.data).where(
            table.c.entity_type == "case", table.c.entity_id.in_(case_ids)
        )
        for entity_id, version, data in self.connection.execute(query):
            if entity_id not in previous or previous[entity_id][0] < version:
                previous[entity_id] = (version, data)
        for row in version_rows:
            if (
                row["entity_type"] == "case"
                and row["entity_id"] in wanted
                and row["entity_id"] in previous
            ):
                before, after = previous[row["entity_id"]][1], row["data"]
                keys = set(before) | set(after)
                row["changed_fields"] = sorted(k for k in keys if before.get(k) != after.get(k))

    def _version_row(
        self,
        entity: str,
        entity_id: uuid.UUID,
        version: int,
        operation: str,
        now: dt.datetime,
        data: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "id": new_id(),
            "entity_type": entity,
            "entity_id": entity_id,
            "version": version,
            "operation": operation,
            "changed_by": self.actor,
            "changed_at": now,
            "import_batch_id": self.import_batch_id,
            "changed_fields": sorted(data) if operation == "create" else [],
            "data": data,
        }

    def _existing(
        self, model: type[m.Base], keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[uuid.UUID, str], tuple[uuid.UUID, str, int]]:
        table = table_of(model)
        wanted: dict[uuid.UUID, set[str]] = {}
        for slug, external_id in keys:
            wanted.setdefault(self.organisation_id(slug), set()).add(external_id)
        found: dict[tuple[uuid.UUID, str], tuple[uuid.UUID, str, int]] = {}
        for org_id, external_ids in wanted.items():
            ids = sorted(external_ids)
            for start in range(0, len(ids), 900):
                query = select(
                    table.c.id, table.c.external_id, table.c.source_hash, table.c.version
                ).where(
                    table.c.organisation_id == org_id,
                    table.c.external_id.in_(ids[start : start + 900]),
                )
                for row in self.connection.execute(query):
                    found[(org_id, row.external_id)] = (row.id, row.source_hash, row.version)
        return found

    def _upsert_people(
        self,
        records: Sequence[CaseRecord],
        documents: Sequence[dict[str, Any]],
        rows: _Rows,
        counts: WriteCounts,
        now: dt.datetime,
    ) -> dict[tuple[uuid.UUID, str], uuid.UUID]:
        # A person's canonical document is the one inside the case's: no second dump.
        latest: dict[tuple[str, str], tuple[PersonRecord, dict[str, Any]]] = {}
        for record, case in zip(records, documents, strict=True):
            for participant, dumped in zip(record.participants, case["participants"], strict=True):
                key = (record.organisation, participant.person.external_id)
                latest[key] = (participant.person, dumped["person"])
        existing = self._existing(m.Person, latest)
        # One keyring for the batch; each indexed value costs one HMAC, no query.
        ring = crypto.keyring()
        ids: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
        changed: list[uuid.UUID] = []
        for (slug, external_id), (person, document) in latest.items():
            org_id = self.organisation_id(slug)
            digest = content_hash(document)
            previous = existing.get((org_id, external_id))
            if previous is not None and previous[1] == digest:
                ids[(org_id, external_id)] = previous[0]
                continue
            facts = {name: getattr(person, name) for name in PERSON_FACT_FIELDS}
            if previous is None:
                person_id, version, operation = new_id(), 1, "create"
                counts.people_created += 1
                rows.add(
                    m.Person,
                    {
                        "id": person_id,
                        "organisation_id": org_id,
                        "external_id": external_id,
                        **facts,
                        "version": 1,
                        "source_hash": digest,
                        "updated_at": now,
                    },
                )
            else:
                person_id, version, operation = previous[0], previous[2] + 1, "update"
                counts.people_updated += 1
                changed.append(person_id)
                table = table_of(m.Person)
                self.connection.execute(
                    update(table)
                    .where(table.c.id == person_id)
                    .values(**facts, version=version, source_hash=digest, updated_at=now)
                )
            ids[(org_id, external_id)] = person_id
            rows.add(
                m.PersonIdentity,
                {
                    "person_id": person_id,
                    **{name: getattr(person, name) for name in IDENTITY_COLUMNS},
                    **identity_index_values(
                        ring, person.first_name, person.family_name, person.birth_date
                    ),
                },
            )
            for position, identifier in enumerate(person.identifiers):
                rows.add(
                    m.PersonIdentifier,
                    {
                        "id": new_id(),
                        "person_id": person_id,
                        "position": position,
                        **identifier.model_dump(),
                        "value_index": blind_index_of(ring, IDENTIFIER_CONTEXT, identifier.value),
                    },
                )
            rows.add(
                m.RecordVersion,
                self._version_row("person", person_id, version, operation, now, document),
            )
        if changed:
            for model in (m.PersonIdentity, m.PersonIdentifier):
                table = table_of(model)
                self.connection.execute(delete(table).where(table.c.person_id.in_(changed)))
        return ids

    @staticmethod
    def _case_columns(record: CaseRecord) -> dict[str, Any]:
        return {
            "status": record.status,
            "reason_for_closure": record.reason_for_closure,
            "case_owner": record.case_owner,
            "opened_on": record.opened_on,
        }

    def _case_children(
        self,
        record: CaseRecord,
        case_id: uuid.UUID,
        org_id: uuid.UUID,
        people: dict[tuple[uuid.UUID, str], uuid.UUID],
        rows: _Rows,
    ) -> None:
        participant_ids: dict[str, uuid.UUID] = {}
        for position, participant in enumerate(record.participants):
            participant_id = new_id()
            participant_ids[participant.person.external_id] = participant_id
            rows.add(
                m.CaseParticipant,
                {
                    "id": participant_id,
                    "case_id": case_id,
                    "person_id": people[(org_id, participant.person.external_id)],
                    "position": position,
                    "role": participant.role,
                },
            )
            if participant.victim is not None:
                victim = participant.victim.model_dump(exclude={"trafficking_status"})
                rows.add(m.VictimContext, {"participant_id": participant_id, **victim})
                for index, assertion in enumerate(participant.victim.trafficking_status):
                    rows.add(
                        m.TraffickingStatusAssertion,
                        {
                            "id": new_id(),
                            "participant_id": participant_id,
                            "position": index,
                            **assertion.model_dump(),
                        },
                    )
            if participant.perpetrator is not None:
                rows.add(
                    m.PerpetratorContext,
                    {"participant_id": participant_id, **participant.perpetrator.model_dump()},
                )

        def child(position: int, values: dict[str, Any]) -> dict[str, Any]:
            return {"id": new_id(), "case_id": case_id, "position": position, **values}

        for position, event in enumerate(record.events):
            values = event.model_dump(exclude={"person_external_id"})
            values["participant_id"] = participant_ids.get(event.person_external_id or "")
            rows.add(m.TraffickingEvent, child(position, values))
        for position, consent in enumerate(record.consents):
            values = consent.model_dump(exclude={"person_external_id"})
            values["participant_id"] = participant_ids[consent.person_external_id]
            rows.add(m.Consent, child(position, values))
        for position, referral in enumerate(record.referrals):
            values = referral.model_dump(exclude={"person_external_id"})
            values["participant_id"] = participant_ids.get(referral.person_external_id or "")
            rows.add(m.Referral, child(position, values))
        for position, plan in enumerate(record.support_plans):
            values = plan.model_dump(exclude={"person_external_id", "services"})
            values["participant_id"] = participant_ids.get(plan.person_external_id or "")
            plan_row = child(position, values)
            rows.add(m.SupportPlan, plan_row)
            for index, service in enumerate(plan.services):
                rows.add(
                    m.ServiceProvision,
                    {
                        "id": new_id(),
                        "support_plan_id": plan_row["id"],
                        "position": index,
                        **service.model_dump(),
                    },
                )
        for position, note in enumerate(record.notes):
            rows.add(m.Note, child(position, note.model_dump()))
        for position, decision in enumerate(record.identification_decisions):
            values = decision.model_dump(exclude={"person_external_id"})
            values["participant_id"] = participant_ids[decision.person_external_id]
            rows.add(m.IdentificationDecision, child(position, values))
        for position, proceeding in enumerate(record.criminal_proceedings):
            values = proceeding.model_dump(exclude={"perpetrator_external_id"})
            values["perpetrator_participant_id"] = participant_ids.get(
                proceeding.perpetrator_external_id or ""
            )
            rows.add(m.CriminalProceeding, child(position, values))


# --- reading ------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _row_dict(row: Any, skip: Iterable[str] = ()) -> dict[str, Any]:
    skipped = {"id", "case_id", "position", *skip}
    return {key: _jsonable(value) for key, value in row._mapping.items() if key not in skipped}


class _QueriedRows:
    """Child rows of a chunk of cases, one query per table (exports: thousands of cases)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def children(
        self, model: type[m.Base], key: str, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[Any]]:
        table = table_of(model)
        grouped: dict[uuid.UUID, list[Any]] = {}
        if not ids:
            return grouped
        order = [table.c[key]] + ([table.c.position] if "position" in table.c else [])
        query = select(table).where(table.c[key].in_(ids)).order_by(*order)
        for row in self.connection.execute(query):
            grouped.setdefault(row._mapping[key], []).append(row)
        return grouped


class _Row:
    """A child row decoded from the one-statement read: attribute access and ``_mapping``."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None


def _decoder(column: Any, dialect: Any) -> Callable[[Any], Any]:
    """From a value as the database writes it in JSON to the value a query would give."""
    kind = column.type
    if isinstance(kind, crypto.Sealed):
        return lambda value: kind.process_result_value(value, dialect)
    if isinstance(kind, sa_types.Uuid):
        return lambda value: value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    if isinstance(kind, sa_types.DateTime):
        return dt.datetime.fromisoformat
    if isinstance(kind, sa_types.Date):
        return dt.date.fromisoformat
    if isinstance(kind, sa_types.Boolean):
        return bool
    if isinstance(kind, sa_types.Float):
        return float
    if isinstance(kind, sa_types.Integer | sa_types.String | sa_types.JSON):
        return lambda value: value
    raise TypeError(f"no JSON decoder for {column} of type {kind!r}")


@cache
def _decoders(model: type[m.Base], dialect: Any) -> list[tuple[str, Callable[[Any], Any]]]:
    return [(column.name, _decoder(column, dialect)) for column in table_of(model).c]


class _PrefetchedRows:
    """Every child row of one case, fetched by a single statement (the case page)."""

    def __init__(self, tables: dict[str, list[_Row]]) -> None:
        self.tables = tables

    def children(
        self, model: type[m.Base], key: str, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[Any]]:
        wanted = set(ids)
        grouped: dict[uuid.UUID, list[Any]] = {}
        for row in self.tables.get(model.__tablename__, []):
            if row._mapping[key] in wanted:
                grouped.setdefault(row._mapping[key], []).append(row)
        if "position" in table_of(model).c:
            for group in grouped.values():
                group.sort(key=lambda row: row.position)
        return grouped


def _child_filters(case_id: Any) -> list[tuple[type[m.Base], Any]]:
    participant = table_of(m.CaseParticipant)
    participants = select(participant.c.id).where(participant.c.case_id == case_id)
    persons = select(participant.c.person_id).where(participant.c.case_id == case_id)
    plan = table_of(m.SupportPlan)
    plans = select(plan.c.id).where(plan.c.case_id == case_id)
    filters: list[tuple[type[m.Base], Any]] = [
        (m.CaseParticipant, participant.c.case_id == case_id),
        (m.Person, table_of(m.Person).c.id.in_(persons)),
        (m.PersonIdentity, table_of(m.PersonIdentity).c.person_id.in_(persons)),
        (m.PersonIdentifier, table_of(m.PersonIdentifier).c.person_id.in_(persons)),
        (m.ServiceProvision, table_of(m.ServiceProvision).c.support_plan_id.in_(plans)),
    ]
    by_participant: tuple[type[m.Base], ...] = (
        m.VictimContext,
        m.PerpetratorContext,
        m.TraffickingStatusAssertion,
    )
    for model in by_participant:
        filters.append((model, table_of(model).c.participant_id.in_(participants)))
    by_case: tuple[type[m.Base], ...] = (
        m.TraffickingEvent,
        m.Consent,
        m.Referral,
        m.SupportPlan,
        m.Note,
        m.IdentificationDecision,
        m.CriminalProceeding,
    )
    for model in by_case:
        filters.append((model, table_of(model).c.case_id == case_id))
    return filters


def _rows_as_json(dialect_name: str, model: type[m.Base], condition: Any) -> Any:
    """A scalar subquery: the table's matching rows as one JSON array of value arrays."""
    table = table_of(model)
    if dialect_name == "postgresql":
        return select(func.json_agg(func.json_build_array(*table.c))).where(condition)
    # SQLite: JSON columns are text; json() embeds them as JSON rather than as strings.
    values = [func.json(c) if isinstance(c.type, sa_types.JSON) else c for c in table.c]
    return select(func.json_group_array(func.json_array(*values))).where(condition)


@cache
def _one_case_statement(dialect_name: str, include_identity: bool) -> Any:
    cases = table_of(m.Case)
    orgs = table_of(m.Organisation)
    case_id = bindparam("case_id", type_=cases.c.id.type)
    filters = [
        (model, condition)
        for model, condition in _child_filters(case_id)
        if include_identity or model not in (m.PersonIdentity, m.PersonIdentifier)
    ]
    query = (
        select(
            cases,
            orgs.c.slug,
            *(
                _rows_as_json(dialect_name, model, condition)
                .scalar_subquery()
                .label(f"rows_of_{model.__tablename__}")
                for model, condition in filters
            ),
        )
        .join(orgs, orgs.c.id == cases.c.organisation_id)
        .where(cases.c.id == case_id)
    )
    return query, [model for model, _condition in filters]


def case_document_of(
    connection: Connection, case_id: uuid.UUID, include_identity: bool = True
) -> dict[str, Any] | None:
    """One case in canonical form, read by a single statement; None if there is no such case.

    Gives exactly what ``iter_case_documents`` gives for the case, with one round trip to
    the database instead of one per table.
    """
    query, models = _one_case_statement(connection.dialect.name, include_identity)
    row = connection.execute(query, {"case_id": case_id}).first()
    if row is None:
        return None
    dialect = connection.dialect
    tables: dict[str, list[_Row]] = {}
    for model in models:
        table = table_of(model)
        raw = row._mapping[f"rows_of_{table.name}"]
        if isinstance(raw, str):
            raw = json.loads(raw)
        decoders = _decoders(model, dialect)
        tables[table.name] = [
            _Row(
                {
                    name: None if value is None else decode(value)
                    for (name, decode), value in zip(decoders, values, strict=True)
                }
            )
            for values in raw or []
        ]
    return next(_assemble(_PrefetchedRows(tables), [row], include_identity))


def iter_case_documents(
    connection: Connection,
    organisation: str | None = None,
    chunk_size: int = 500,
    include_identity: bool = True,
    external_id: str | None = None,
    external_ids: Sequence[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every case in canonical form, ordered by organisation then external ID.

    ``external_id`` or ``external_ids`` (up to a few thousand) restrict it to those cases.
    """
    cases = table_of(m.Case)
    orgs = table_of(m.Organisation)
    query = (
        select(cases, orgs.c.slug)
        .join(orgs, orgs.c.id == cases.c.organisation_id)
        .order_by(orgs.c.slug, cases.c.external_id)
    )
    if organisation is not None:
        query = query.where(orgs.c.slug == organisation)
    if external_id is not None:
        query = query.where(cases.c.external_id == external_id)
    if external_ids is not None:
        query = query.where(cases.c.external_id.in_(list(external_ids)))
    # Per statement: ``Connection.execution_options`` would change the connection itself,
    # and a writer sharing it would then send its INSERTs through a server-side cursor.
    result = connection.execute(query, execution_options={"yield_per": chunk_size})
    for chunk in result.partitions(chunk_size):
        yield from _assemble(_QueriedRows(connection), chunk, include_identity)


def _assemble(
    rows: _QueriedRows | _PrefetchedRows, case_rows: Sequence[Any], include_identity: bool
) -> Iterator[dict[str, Any]]:
    def one_each(model: type[m.Base], key: str, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
        return {key_value: group[0] for key_value, group in rows.children(model, key, ids).items()}

    case_ids = [row.id for row in case_rows]
    participants = rows.children(m.CaseParticipant, "case_id", case_ids)
    participant_ids = [p.id for group in participants.values() for p in group]
    person_ids = list({p.person_id for group in participants.values() for p in group})
    people = one_each(m.Person, "id", person_ids)
    identities = one_each(m.PersonIdentity, "person_id", person_ids) if include_identity else {}
    identifiers = (
        rows.children(m.PersonIdentifier, "person_id", person_ids) if include_identity else {}
    )
    victims = one_each(m.VictimContext, "participant_id", participant_ids)
    perpetrators = one_each(m.PerpetratorContext, "participant_id", participant_ids)
    assertions = rows.children(m.TraffickingStatusAssertion, "participant_id", participant_ids)
    events = rows.children(m.TraffickingEvent, "case_id", case_ids)
    consents = rows.children(m.Consent, "case_id", case_ids)
    referrals = rows.children(m.Referral, "case_id", case_ids)
    plans = rows.children(m.SupportPlan, "case_id", case_ids)
    plan_ids = [p.id for group in plans.values() for p in group]
    services = rows.children(m.ServiceProvision, "support_plan_id", plan_ids)
    notes = rows.children(m.Note, "case_id", case_ids)
    decisions = rows.children(m.IdentificationDecision, "case_id", case_ids)
    proceedings = rows.children(m.CriminalProceeding, "case_id", case_ids)

    for case in case_rows:
        external_of: dict[uuid.UUID, str] = {}
        participant_docs = []
        for participant in participants.get(case.id, []):
            person = people[participant.person_id]
            external_of[participant.id] = person.external_id
            person_doc: dict[str, Any] = {"external_id": person.external_id}
            person_doc.update({name: getattr(person, name) for name in PERSON_FACT_FIELDS})
            identity = identities.get(person.id)
            if identity is not None:
                person_doc.update(
                    {name: _jsonable(getattr(identity, name)) for name in IDENTITY_COLUMNS}
                )
                person_doc["identifiers"] = [
                    _row_dict(row, skip=("person_id", "value_index"))
                    for row in identifiers.get(person.id, [])
                ]
            doc: dict[str, Any] = {"role": participant.role, "person": person_doc}
            victim = victims.get(participant.id)
            if victim is not None:
                doc["victim"] = {
                    "trafficking_status": [
                        _row_dict(row, skip=("participant_id",))
                        for row in assertions.get(participant.id, [])
                    ],
                    **_row_dict(victim, skip=("participant_id",)),
                }
            perpetrator = perpetrators.get(participant.id)
            if perpetrator is not None:
                doc["perpetrator"] = _row_dict(perpetrator, skip=("participant_id",))
            participant_docs.append(doc)

        def person_ref(
            row: Any, column: str, key: str, external_of: dict[uuid.UUID, str] = external_of
        ) -> dict[str, Any]:
            values = _row_dict(row, skip=(column,))
            values[key] = external_of.get(row._mapping[column]) if row._mapping[column] else None
            return values

        document = {
            "schema_version": "tiphub-case/1",
            "external_id": case.external_id,
            "organisation": case.slug,
            "status": case.status,
            "reason_for_closure": case.reason_for_closure,
            "case_owner": case.case_owner,
            "opened_on": _jsonable(case.opened_on),
            "participants": participant_docs,
            "events": [
                person_ref(row, "participant_id", "person_external_id")
                for row in events.get(case.id, [])
            ],
            "consents": [
                person_ref(row, "participant_id", "person_external_id")
                for row in consents.get(case.id, [])
            ],
            "referrals": [
                person_ref(row, "participant_id", "person_external_id")
                for row in referrals.get(case.id, [])
            ],
            "support_plans": [
                {
                    **person_ref(row, "participant_id", "person_external_id"),
                    "services": [
                        _row_dict(s, skip=("support_plan_id",)) for s in services.get(row.id, [])
                    ],
                }
                for row in plans.get(case.id, [])
            ],
            "notes": [_row_dict(row) for row in notes.get(case.id, [])],
            "identification_decisions": [
                person_ref(row, "participant_id", "person_external_id")
                for row in decisions.get(case.id, [])
            ],
            "criminal_proceedings": [
                person_ref(row, "perpetrator_participant_id", "perpetrator_external_id")
                for row in proceedings.get(case.id, [])
            ],
        }
        yield clean(document)

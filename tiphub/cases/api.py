"""The Python domain API for cases: create, update, read, query and audit, with validation.

Every ``CaseStore`` acts for a ``Principal``: reads and writes reach only the cases in its
scope (its organisation's, narrowed to its team or its own for some roles, plus those other
organisations share with it by referral), identity fields only for roles that may see them,
and every read and write leaves an audit entry. Without a principal the store acts as the
named local operator of the command line.

>>> store = CaseStore(engine, principal)                      # doctest: +SKIP
>>> store.create({...})                                       # doctest: +SKIP
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, Integer, bindparam, func, or_, select, update

from tiphub.cases import audit
from tiphub.cases.access import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    case_scope_condition,
    local_operator,
    own_scope_condition,
    shared_sections,
)
from tiphub.cases.canonical import IDENTITY_FIELDS, case_document, without_identity
from tiphub.cases.matches import matches_elsewhere
from tiphub.cases.persistence import (
    CaseWriter,
    WriteCounts,
    case_document_of,
    iter_case_documents,
    lock_case_writes,
)
from tiphub.cases.schema import CaseRecord
from tiphub.cases.sharing import withdraw_for_lost_consent
from tiphub.store import crypto
from tiphub.store import models as m
from tiphub.store.db import ensure_schema, reading
from tiphub.store.models import table_of

# Free text can name a person as surely as a name field: analysts never see it.
FREE_TEXT = {
    "events": ("description", "street", "postal_code"),
    "referrals": ("details", "decline_reason"),
    "support_plans": ("objectives", "action_plan"),
    "notes": ("text",),
    "identification_decisions": ("grounds",),
}
SECTION_KEYS = (
    "events",
    "consents",
    "referrals",
    "support_plans",
    "notes",
    "identification_decisions",
    "criminal_proceedings",
)
MAX_PAGE = 200


class CaseExistsError(ValueError):
    pass


class CaseNotFoundError(KeyError, NotFoundError):
    pass


@dataclass(frozen=True)
class Version:
    version: int
    operation: str
    changed_by: str
    changed_at: dt.datetime
    changed_fields: list[str]
    data: dict[str, Any]


@dataclass(frozen=True)
class CaseSummary:
    id: uuid.UUID
    organisation: str
    external_id: str
    status: str | None
    opened_on: dt.date | None
    updated_at: dt.datetime
    version: int
    shared_with_us: bool


@dataclass(frozen=True)
class CasePage:
    items: list[CaseSummary]
    next_cursor: str | None


@dataclass(frozen=True)
class CaseView:
    """One case as the principal may see it."""

    id: uuid.UUID
    organisation: str
    version: int
    etag: str
    document: dict[str, Any]
    editable: bool
    # None for the owning organisation; the shared sections for a receiving one.
    shared_sections: tuple[str, ...] | None
    identity_visible: bool
    # Organisations sharing with this one that also hold one of the case's people (names of
    # organisations only, from the latest database link).
    matches_elsewhere: tuple[str, ...] = ()


def etag_of(case_id: uuid.UUID, version: int, source_hash: str) -> str:
    return f'"{case_id.hex[:12]}-{version}-{source_hash[:12]}"'


def deidentified(document: dict[str, Any]) -> dict[str, Any]:
    """No names, birth dates, contacts, identifiers or free text: what an analyst sees."""
    stripped = without_identity(document)
    stripped.pop("reason_for_closure", None)
    for section, fields in FREE_TEXT.items():
        stripped[section] = [
            {key: value for key, value in item.items() if key not in fields}
            for item in stripped.get(section, [])
        ]
    return {key: value for key, value in stripped.items() if value != []}


def shared_view(document: dict[str, Any], sections: set[str]) -> dict[str, Any]:
    """Only what the referral shares: always the case's frame and people's roles."""
    view: dict[str, Any] = {
        key: document[key]
        for key in ("schema_version", "external_id", "organisation", "status", "opened_on")
        if key in document
    }
    participants = []
    for participant in document["participants"]:
        if participant["role"] in ("Perpetrator", "Employer") and "perpetrators" not in sections:
            continue
        person = participant["person"]
        if "identity" not in sections:
            person = {key: value for key, value in person.items() if key not in IDENTITY_FIELDS}
        kept = {"role": participant["role"], "person": person}
        if "victim" in sections and "victim" in participant:
            kept["victim"] = participant["victim"]
        if "perpetrators" in sections and "perpetrator" in participant:
            kept["perpetrator"] = participant["perpetrator"]
        participants.append(kept)
    view["participants"] = participants
    for key in SECTION_KEYS:
        if key in sections and key in document:
            view[key] = document[key]
    return view


# Statements a request would otherwise rebuild (and SQLAlchemy re-key) every time, built once
# per acting user: their scope conditions hold the user's organisation, team and name.
@lru_cache(maxsize=1024)
def _scoped_row_statement(principal: Principal) -> Any:
    case = table_of(m.Case)
    org = table_of(m.Organisation)
    return (
        select(case, org.c.slug, own_scope_condition(principal).label("owned"))
        .join(org, org.c.id == case.c.organisation_id)
        .where(
            case.c.id == bindparam("case_id", type_=case.c.id.type),
            case_scope_condition(principal),
        )
    )


@lru_cache(maxsize=1024)
def _page_statement(principal: Principal, after_cursor: bool, by_status: bool) -> Any:
    case = table_of(m.Case)
    org = table_of(m.Organisation)
    query = (
        select(
            case.c.id,
            org.c.slug,
            case.c.external_id,
            case.c.status,
            case.c.opened_on,
            case.c.updated_at,
            case.c.version,
            own_scope_condition(principal).label("owned"),
        )
        .join(org, org.c.id == case.c.organisation_id)
        .where(case_scope_condition(principal))
        .order_by(case.c.id.desc())
        .limit(bindparam("rows", type_=Integer))
    )
    if after_cursor:
        query = query.where(case.c.id < bindparam("before", type_=case.c.id.type))
    if by_status:
        query = query.where(case.c.status == bindparam("status", type_=case.c.status.type))
    return query


def _encode_cursor(case_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(case_id.bytes).decode().rstrip("=")


def _decode_cursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise ValueError("the cursor is not one this server gave out") from None


class CaseStore:
    """Validated, scoped and audited reads and writes of cases; a write is one transaction."""

    def __init__(
        self, engine: Engine, principal: Principal | None = None, actor: str | None = None
    ) -> None:
        self.engine = engine
        self.principal = principal or local_operator(actor)
        self.actor = self.principal.username
        ensure_schema(engine)

    # -- writes -------------------------------------------------------------------------
    def save(self, record: CaseRecord | dict[str, Any]) -> WriteCounts:
        """Create the case, or replace it when its content changed (a no-op otherwise)."""
        case = record if isinstance(record, CaseRecord) else CaseRecord.model_validate(record)
        self._check_writable_organisation(case.organisation)
        with self.engine.begin() as connection:
            lock_case_writes(connection)
            case_id = self._case_id_in(connection, case.organisation, case.external_id)
            if case_id is not None and not self._owns(connection, case_id):
                raise CaseNotFoundError(f"no case {case.external_id!r} at {case.organisation}")
            if case_id is None:
                self.principal.require("case:create")
            else:
                self.principal.require("case:update")
            counts = CaseWriter(connection, self.actor).write([case])
            stored_id = self._case_id_in(connection, case.organisation, case.external_id)
            if case_id is None and stored_id is not None:
                table = table_of(m.Case)
                connection.execute(
                    update(table)
                    .where(table.c.id == stored_id)
                    .values(created_by=self.principal.username, team=self.principal.team)
                )
            if counts.cases_created or counts.cases_updated:
                audit.record(
                    connection,
                    self.principal,
                    "case.create" if counts.cases_created else "case.update",
                    "case",
                    stored_id,
                    organisation=case.organisation,
                )
            return counts

    def create(self, record: CaseRecord | dict[str, Any]) -> CaseRecord:
        case = record if isinstance(record, CaseRecord) else CaseRecord.model_validate(record)
        with self.engine.connect() as connection:
            if self._case_id_in(connection, case.organisation, case.external_id) is not None:
                raise CaseExistsError(
                    f"case {case.external_id!r} already exists at {case.organisation}"
                )
        self.save(case)
        return case

    def update(self, organisation: str, external_id: str, changes: dict[str, Any]) -> CaseRecord:
        """Apply top-level changes (e.g. ``{"status": "Closed"}``) and validate the result."""
        current = self._document(organisation, external_id)
        if current is None:
            raise CaseNotFoundError(f"no case {external_id!r} at {organisation}")
        if {"organisation", "external_id"} & set(changes):
            raise ValueError("a case's organisation and external ID cannot change")
        case = CaseRecord.model_validate({**current, **changes})
        self.save(case)
        return case

    def update_case(
        self,
        case_id: uuid.UUID,
        changes: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]],
        if_match: str | None = None,
        action: str = "case.update",
        details: dict[str, Any] | None = None,
        then: Callable[[Connection, Any, CaseRecord], None] | None = None,
    ) -> CaseView:
        """Change a case by id, inside the store's write lock.

        ``changes`` is a dict of top-level fields, or a function from the current document
        to such a dict (so an append never loses a concurrent one). ``if_match`` (the ETag
        the caller read) makes a stale write fail instead of overwriting someone's edit.
        ``action`` and ``details`` name the change in the audit log; ``then`` runs inside the
        same transaction after the write (tasks a change opens land with it or not at all).
        """
        self.principal.require("case:update")
        with self.engine.begin() as connection:
            lock_case_writes(connection)
            row = self._scoped_row(connection, case_id)
            if not row.owned:
                raise PermissionDeniedError("a case shared with you by referral is read-only")
            if if_match is not None and if_match != etag_of(row.id, row.version, row.source_hash):
                raise ConflictError("the case changed since you read it; reload it and retry")
            current = case_document_of(connection, row.id)
            if current is None:
                raise CaseNotFoundError("no such case")
            wanted = changes(current) if callable(changes) else changes
            if {"organisation", "external_id", "schema_version"} & set(wanted):
                raise ValueError("a case's organisation and external ID cannot change")
            case = CaseRecord.model_validate({**current, **wanted})
            counts = CaseWriter(connection, self.actor).write([case])
            if counts.cases_updated:
                audit.record(
                    connection,
                    self.principal,
                    action,
                    "case",
                    case_id,
                    organisation=row.slug,
                    details={"fields": sorted(wanted), **(details or {})},
                )
                if then is not None:
                    then(connection, row, case)
                if "consents" in wanted:
                    withdraw_for_lost_consent(
                        connection, self.principal, case_id, case_document(case)
                    )
        return self.read(case_id, audited=False)

    def append(
        self, case_id: uuid.UUID, section: str, item: dict[str, Any], if_match: str | None = None
    ) -> CaseView:
        """Add one consent, note, referral, event, participant… to a case."""
        if section not in (*SECTION_KEYS, "participants"):
            raise ValueError(f"unknown section {section}")
        return self.update_case(
            case_id,
            lambda current: {section: [*current.get(section, []), item]},
            if_match=if_match,
        )

    # -- reads --------------------------------------------------------------------------
    def get(self, organisation: str, external_id: str) -> CaseRecord | None:
        if not self.principal.sees_identity:
            raise PermissionDeniedError("your role sees de-identified records only")
        document = self._document(organisation, external_id)
        return None if document is None else CaseRecord.model_validate(document)

    def read(self, case_id: uuid.UUID, audited: bool = True) -> CaseView:
        """One case as this principal may see it; ``CaseNotFoundError`` outside its scope."""
        self.principal.require("case:read")
        # No snapshot across the statements: a change committed between them gives a document
        # newer than the ETag, and a write with that ETag is refused (412), never lost.
        with reading(self.engine) as connection:
            row = self._scoped_row(connection, case_id)
            owned = bool(row.owned)
            sections = None if owned else shared_sections(connection, self.principal, case_id)
            document = case_document_of(connection, row.id)
            if document is None:  # erased between the two statements
                raise CaseNotFoundError("no such case")
            elsewhere = (
                tuple(matches_elsewhere(connection, self.principal, row.id)) if owned else ()
            )
        if audited:
            # Its own short write transaction, and before anything is returned: on SQLite a
            # read transaction that turns into a write can fail when another writer commits.
            audit.record_now(
                self.engine,
                self.principal,
                "case.read",
                resource_type="case",
                resource_id=case_id,
                details={"case_organisation": row.slug, "via_referral": not owned},
                subject_organisation=self._subject(row.slug),
                durable=False,
            )
        visible = document if sections is None else shared_view(document, sections)
        identity = self.principal.sees_identity and (sections is None or "identity" in sections)
        if not self.principal.sees_identity:
            visible = deidentified(visible)
        return CaseView(
            row.id,
            row.slug,
            row.version,
            etag_of(row.id, row.version, row.source_hash),
            visible,
            owned and self.principal.can("case:update"),
            None if sections is None else tuple(sorted(sections)),
            identity,
            elsewhere,
        )

    def page(
        self,
        limit: int = 50,
        cursor: str | None = None,
        status: str | None = None,
        search: str | None = None,
        by_identity: bool = True,
    ) -> CasePage:
        """Cases in scope, newest first, ``limit`` at a time; ``search`` finds a case by its
        ID, or (for roles that see identity) a person's exact name, birth date or identifier."""
        self.principal.require("case:read")
        limit = min(max(int(limit), 1), MAX_PAGE)
        searching = bool(search and search.strip())
        query = _page_statement(self.principal.with_source(""), bool(cursor), bool(status))
        if searching:
            query = query.where(self._search_condition(str(search).strip(), by_identity))
        parameters = {
            "rows": limit + 1,
            "before": _decode_cursor(cursor) if cursor else None,
            "status": status,
        }
        with reading(self.engine) as connection:
            rows = connection.execute(query, parameters).all()
        audit.record_now(
            self.engine,
            self.principal,
            "case.list",
            details={"returned": min(len(rows), limit), "searched": bool(search)},
            durable=False,
        )
        items = [
            CaseSummary(
                row.id,
                row.slug,
                row.external_id,
                row.status,
                row.opened_on,
                row.updated_at,
                row.version,
                not bool(row.owned),
            )
            for row in rows[:limit]
        ]
        next_cursor = _encode_cursor(items[-1].id) if len(rows) > limit else None
        return CasePage(items, next_cursor)

    def _search_condition(self, text: str, by_identity: bool) -> Any:
        case = table_of(m.Case)
        conditions = [case.c.external_id == text]
        if by_identity and self.principal.sees_identity:
            identity = table_of(m.PersonIdentity)
            identifier = table_of(m.PersonIdentifier)
            participant = table_of(m.CaseParticipant)
            words = text.split()
            matches = []
            for word in words:
                matches.append(
                    select(identity.c.person_id).where(
                        (
                            identity.c.family_name_index
                            == crypto.blind_index("person_identity.family_name", word)
                        )
                        | (
                            identity.c.first_name_index
                            == crypto.blind_index("person_identity.first_name", word)
                        )
                    )
                )
            persons = (
                select(identity.c.person_id)
                .where(
                    identity.c.birth_date_index
                    == crypto.blind_index("person_identity.birth_date", text)
                )
                .union(
                    select(identifier.c.person_id).where(
                        identifier.c.value_index
                        == crypto.blind_index("person_identifier.value", text)
                    ),
                    *matches,
                )
            )
            conditions.append(
                case.c.id.in_(
                    select(participant.c.case_id).where(participant.c.person_id.in_(persons))
                )
            )
        return or_(*conditions)

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count())
                    .select_from(table_of(m.Case))
                    .where(case_scope_condition(self.principal))
                ).scalar_one()
            )

    def iter_cases(self, organisation: str | None = None) -> Iterator[CaseRecord]:
        self._require_full_read()
        with self.engine.connect() as connection:
            for document in iter_case_documents(connection, organisation=organisation):
                if (
                    self.principal.operator
                    or document["organisation"] == self.principal.organisation
                ):
                    yield CaseRecord.model_validate(document)

    def query(
        self,
        organisation: str | None = None,
        status: str | None = None,
        exploitation_type: str | None = None,
        exploitation_country: str | None = None,
    ) -> list[CaseRecord]:
        """Cases matching every given filter (codes as in the code lists)."""
        found = []
        for case in self.iter_cases(organisation):
            if status is not None and case.status != status:
                continue
            victims = case.victims()
            if exploitation_type is not None and not any(
                exploitation_type in (v.victim.exploitation_types if v.victim else [])
                for v in victims
            ):
                continue
            if exploitation_country is not None and not any(
                e.type == "Exploitation" and e.country == exploitation_country for e in case.events
            ):
                continue
            found.append(case)
        return found

    def history(self, organisation: str, external_id: str) -> list[Version]:
        case_id = self.case_id_of(organisation, external_id)
        if case_id is None:
            return []
        return self.history_of(case_id)

    def history_of(self, case_id: uuid.UUID) -> list[Version]:
        self.principal.require("case:read")
        table = table_of(m.RecordVersion)
        query = (
            select(table)
            .where(table.c.entity_type == "case", table.c.entity_id == case_id)
            .order_by(table.c.version)
        )
        with self.engine.connect() as connection:
            row = self._scoped_row(connection, case_id)
            if not row.owned:
                raise CaseNotFoundError("no such case")
            versions = [
                Version(
                    version.version,
                    version.operation,
                    version.changed_by,
                    version.changed_at,
                    list(version.changed_fields),
                    version.data if self.principal.sees_identity else deidentified(version.data),
                )
                for version in connection.execute(query)
            ]
        audit.record_now(
            self.engine,
            self.principal,
            "case.history",
            resource_type="case",
            resource_id=case_id,
            subject_organisation=self._subject(row.slug),
        )
        return versions

    # -- helpers --------------------------------------------------------------------------
    def _subject(self, case_organisation: str) -> str | None:
        """The case's organisation for the audit log, when the reader is not one of its own."""
        return None if case_organisation == self.principal.organisation else case_organisation

    def _require_full_read(self) -> None:
        self.principal.require("case:read")
        if not self.principal.operator and self.principal.scope != "organisation":
            raise PermissionDeniedError("reading every case needs an organisation-wide role")
        if not self.principal.sees_identity:
            raise PermissionDeniedError("your role sees de-identified records only")

    def _check_writable_organisation(self, organisation: str) -> None:
        if not self.principal.operator and organisation != self.principal.organisation:
            raise PermissionDeniedError("you can only write your own organisation's cases")

    def _owns(self, connection: Connection, case_id: uuid.UUID) -> bool:
        case = table_of(m.Case)
        query = select(case.c.id).where(case.c.id == case_id, own_scope_condition(self.principal))
        return connection.execute(query).first() is not None

    def scoped_row(self, connection: Connection, case_id: uuid.UUID) -> Any:
        """The case row (``id``, ``slug``, ``owned``, ``version``…) if the principal reaches
        the case; ``CaseNotFoundError`` otherwise."""
        return self._scoped_row(connection, case_id)

    def _scoped_row(self, connection: Connection, case_id: uuid.UUID) -> Any:
        """The case row with its organisation's slug and ``owned`` (in the principal's own
        scope rather than shared with it); ``CaseNotFoundError`` outside its scope."""
        statement = _scoped_row_statement(self.principal.with_source(""))
        row = connection.execute(statement, {"case_id": case_id}).first()
        if row is None:
            raise CaseNotFoundError("no such case")
        return row

    @staticmethod
    def _case_id_in(
        connection: Connection, organisation: str, external_id: str
    ) -> uuid.UUID | None:
        case = table_of(m.Case)
        org = table_of(m.Organisation)
        query = (
            select(case.c.id)
            .join(org, org.c.id == case.c.organisation_id)
            .where(org.c.slug == organisation, case.c.external_id == external_id)
        )
        return connection.execute(query).scalar_one_or_none()

    def case_id_of(self, organisation: str, external_id: str) -> uuid.UUID | None:
        """The id of a case in the principal's own scope, or None."""
        with self.engine.connect() as connection:
            case_id = self._case_id_in(connection, organisation, external_id)
            if case_id is None or not self._owns(connection, case_id):
                return None
            return case_id

    def _document(self, organisation: str, external_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            case_id = self._case_id_in(connection, organisation, external_id)
            if case_id is None or not self._owns(connection, case_id):
                return None
            return case_document_of(connection, case_id)

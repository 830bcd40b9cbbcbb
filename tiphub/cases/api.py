"""The Python domain API for cases: create, update, read, query and audit, with validation.

>>> store = CaseStore(engine, actor="caseworker@ngo")          # doctest: +SKIP
>>> store.create({...})                                       # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from tiphub.cases.persistence import CaseWriter, WriteCounts, iter_case_documents, lock_case_writes
from tiphub.cases.schema import CaseRecord
from tiphub.store import models as m
from tiphub.store.db import ensure_schema


class CaseExistsError(ValueError):
    pass


class CaseNotFoundError(KeyError):
    pass


@dataclass(frozen=True)
class Version:
    version: int
    operation: str
    changed_by: str
    changed_at: dt.datetime
    changed_fields: list[str]
    data: dict[str, Any]


class CaseStore:
    """Validated reads and writes of cases; every write is one transaction and one version."""

    def __init__(self, engine: Engine, actor: str = "tiphub") -> None:
        self.engine = engine
        self.actor = actor
        ensure_schema(engine)

    def save(self, record: CaseRecord | dict[str, Any]) -> WriteCounts:
        """Create the case, or replace it when its content changed (a no-op otherwise)."""
        case = record if isinstance(record, CaseRecord) else CaseRecord.model_validate(record)
        with self.engine.begin() as connection:
            lock_case_writes(connection)
            return CaseWriter(connection, self.actor).write([case])

    def create(self, record: CaseRecord | dict[str, Any]) -> CaseRecord:
        case = record if isinstance(record, CaseRecord) else CaseRecord.model_validate(record)
        if self.get(case.organisation, case.external_id) is not None:
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

    def get(self, organisation: str, external_id: str) -> CaseRecord | None:
        document = self._document(organisation, external_id)
        return None if document is None else CaseRecord.model_validate(document)

    def iter_cases(self, organisation: str | None = None) -> Iterator[CaseRecord]:
        with self.engine.connect() as connection:
            for document in iter_case_documents(connection, organisation=organisation):
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
        case_id = self._case_id(organisation, external_id)
        if case_id is None:
            return []
        table = m.RecordVersion.__table__
        query = (
            select(table)
            .where(table.c.entity_type == "case", table.c.entity_id == case_id)
            .order_by(table.c.version)
        )
        with self.engine.connect() as connection:
            return [
                Version(
                    row.version,
                    row.operation,
                    row.changed_by,
                    row.changed_at,
                    list(row.changed_fields),
                    row.data,
                )
                for row in connection.execute(query)
            ]

    # -- helpers --------------------------------------------------------------------------
    def _case_id(self, organisation: str, external_id: str) -> uuid.UUID | None:
        case = m.Case.__table__
        org = m.Organisation.__table__
        query = (
            select(case.c.id)
            .join(org, org.c.id == case.c.organisation_id)
            .where(org.c.slug == organisation, case.c.external_id == external_id)
        )
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one_or_none()

    def _document(self, organisation: str, external_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            for document in iter_case_documents(
                connection, organisation=organisation, external_id=external_id
            ):
                return document
        return None

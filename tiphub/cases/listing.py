"""Finding a case: the cases in scope as rows with their people counted, and one case without
the identity of its people. Both are audited reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, select

from tiphub.cases import audit
from tiphub.cases.access import Principal, case_scope_condition, own_scope_condition
from tiphub.cases.persistence import case_document_of
from tiphub.cases.roles import VICTIM_ROLES
from tiphub.store import models as m
from tiphub.store.db import reading
from tiphub.store.models import table_of

DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class CaseRow:
    organisation: str
    external_id: str
    status: str | None
    opened_on: dt.date | None
    victims: int
    people: int
    updated_at: dt.datetime


@dataclass(frozen=True)
class CaseListing:
    rows: list[CaseRow]
    # Every case the filters match, of which ``rows`` are the first.
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


def list_cases(
    engine: Engine,
    principal: Principal,
    organisation: str | None = None,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> CaseListing:
    """The cases in the principal's scope, last updated first (then by organisation and ID)."""
    principal.require("case:read")
    case = table_of(m.Case)
    org = table_of(m.Organisation)
    participant = table_of(m.CaseParticipant)
    conditions = [case_scope_condition(principal)]
    if organisation is not None:
        conditions.append(org.c.slug == organisation)
    if status is not None:
        conditions.append(case.c.status == status)
    where = and_(*conditions)
    victims = (
        select(func.count())
        .where(participant.c.case_id == case.c.id, participant.c.role.in_(sorted(VICTIM_ROLES)))
        .scalar_subquery()
    )
    people = select(func.count()).where(participant.c.case_id == case.c.id).scalar_subquery()
    query = (
        select(
            org.c.slug,
            case.c.external_id,
            case.c.status,
            case.c.opened_on,
            victims,
            people,
            case.c.updated_at,
        )
        .join(org, org.c.id == case.c.organisation_id)
        .where(where)
        .order_by(case.c.updated_at.desc(), org.c.slug, case.c.external_id)
        .limit(max(limit, 0))
    )
    counted = (
        select(func.count())
        .select_from(case)
        .join(org, org.c.id == case.c.organisation_id)
        .where(where)
    )
    with reading(engine) as connection:
        rows = [CaseRow(*row) for row in connection.execute(query)]
        total = int(connection.execute(counted).scalar_one())
    audit.record_now(
        engine,
        principal,
        "case.list",
        details={"returned": len(rows), "organisation": organisation, "status": status},
        durable=False,
    )
    return CaseListing(rows, total)


def case_without_identity(
    engine: Engine, principal: Principal, organisation: str, external_id: str
) -> dict[str, Any] | None:
    """One case in canonical form without its people's identity (names, birth dates,
    contacts, identifiers: never read, so never decrypted); None outside the scope."""
    principal.require("case:read")
    case = table_of(m.Case)
    org = table_of(m.Organisation)
    # The principal's own cases, as ``CaseStore.case_id_of`` finds them (that module would
    # bring pandas along with the matching of people across organisations).
    own = (
        select(case.c.id)
        .join(org, org.c.id == case.c.organisation_id)
        .where(
            org.c.slug == organisation,
            case.c.external_id == external_id,
            own_scope_condition(principal),
        )
    )
    with reading(engine) as connection:
        case_id = connection.execute(own).scalar_one_or_none()
        if case_id is None:
            return None
        document = case_document_of(connection, case_id, include_identity=False)
    if document is None:  # erased between the two statements
        return None
    audit.record_now(
        engine,
        principal,
        "case.read",
        resource_type="case",
        resource_id=case_id,
        details={"case_organisation": organisation, "identity": False},
        durable=False,
    )
    return document

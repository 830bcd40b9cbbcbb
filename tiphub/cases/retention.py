"""Retention rules and erasure: closed cases are archived, archived cases deleted, on request too.

An organisation's rule has two numbers: a closed case is archived ``archive_closed_after_days``
after its last change, an archived case deleted ``delete_archived_after_years`` after it was
archived (None keeps it). A deletion removes the case, its sections, the people who appear in
no other case and their version history, and leaves one ``erasure_record`` row saying what was
removed (sections and counts, never content) and an audit entry. The record names the case by
its UUID, not by its external ID, which may be meaningful to a reader.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select, update

from tiphub.cases import audit
from tiphub.cases.access import NotFoundError, Principal
from tiphub.store import models as m
from tiphub.store.models import table_of

# Codes of the HTCDS ``cas_Status`` picklist that mean a case is over.
CLOSED_STATUSES = ("Closed", "ClosedReferred")
MAX_ARCHIVE_DAYS = 36_500
MAX_DELETE_YEARS = 100
LEGAL_BASIS_LENGTH = 200
# Sections counted in an erasure record: (name, table, column linking it to the case).
_CASE_SECTIONS = (
    ("participants", m.CaseParticipant, "case_id"),
    ("events", m.TraffickingEvent, "case_id"),
    ("consents", m.Consent, "case_id"),
    ("referrals", m.Referral, "case_id"),
    ("support_plans", m.SupportPlan, "case_id"),
    ("notes", m.Note, "case_id"),
    ("identification_decisions", m.IdentificationDecision, "case_id"),
    ("criminal_proceedings", m.CriminalProceeding, "case_id"),
    ("shares", m.CaseShare, "case_id"),
)


class RetentionError(ValueError):
    """A retention rule or erasure request that cannot be carried out as given."""


@dataclass(frozen=True)
class RetentionRule:
    organisation: str
    archive_closed_after_days: int | None
    delete_archived_after_years: int | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands timezone-aware columns back naive; they were written in UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment


def _own_organisation(principal: Principal) -> str:
    if principal.organisation is None:
        raise RetentionError("name an organisation: the local operator belongs to none")
    return principal.organisation


def get_retention(
    engine: Engine, principal: Principal, organisation: str | None = None
) -> RetentionRule:
    principal.require("retention:manage")
    slug = organisation if principal.operator and organisation else _own_organisation(principal)
    table = table_of(m.Organisation)
    with engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.slug == slug)).first()
    if row is None:
        raise NotFoundError(f"no organisation {slug}")
    return RetentionRule(slug, row.archive_closed_after_days, row.delete_archived_after_years)


def _checked(value: int | None, maximum: int, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise RetentionError(f"{what} is a whole number from 1 to {maximum}, or empty to keep")
    return value


def set_retention(
    engine: Engine,
    principal: Principal,
    archive_days: int | None,
    delete_years: int | None,
    organisation: str | None = None,
) -> RetentionRule:
    principal.require("retention:manage")
    slug = organisation if principal.operator and organisation else _own_organisation(principal)
    archive_days = _checked(archive_days, MAX_ARCHIVE_DAYS, "days before archiving")
    delete_years = _checked(delete_years, MAX_DELETE_YEARS, "years before deletion")
    table = table_of(m.Organisation)
    with engine.begin() as connection:
        changed = connection.execute(
            update(table)
            .where(table.c.slug == slug)
            .values(
                archive_closed_after_days=archive_days, delete_archived_after_years=delete_years
            )
        )
        if changed.rowcount == 0:
            raise NotFoundError(f"no organisation {slug}")
        audit.record(
            connection,
            principal,
            "retention.set",
            "organisation",
            slug,
            details={
                "archive_closed_after_days": archive_days,
                "delete_archived_after_years": delete_years,
            },
            organisation=slug,
        )
    return RetentionRule(slug, archive_days, delete_years)


def _count(connection: Connection, table: Table, column: str, ids: list[uuid.UUID]) -> int:
    if not ids:
        return 0
    return int(
        connection.execute(
            select(func.count()).select_from(table).where(table.c[column].in_(ids))
        ).scalar_one()
    )


def _delete_case(
    connection: Connection,
    principal: Principal,
    case_id: uuid.UUID,
    organisation: str,
    kind: str,
    legal_basis: str,
) -> dict[str, int]:
    """Remove one case and everything only it holds; record what went (counts only)."""
    participant = table_of(m.CaseParticipant)
    person_ids = list(
        connection.execute(
            select(participant.c.person_id).where(participant.c.case_id == case_id)
        ).scalars()
    )
    # People who appear in another case stay: that case still needs them.
    shared = (
        set(
            connection.execute(
                select(participant.c.person_id).where(
                    participant.c.person_id.in_(person_ids), participant.c.case_id != case_id
                )
            ).scalars()
        )
        if person_ids
        else set()
    )
    only_here = [person for person in person_ids if person not in shared]
    removed: dict[str, int] = {"case": 1}
    for name, model, column in _CASE_SECTIONS:
        count = _count(connection, table_of(model), column, [case_id])
        if count:
            removed[name] = count
    if only_here:
        removed["people"] = len(only_here)
        identifiers = _count(connection, table_of(m.PersonIdentifier), "person_id", only_here)
        if identifiers:
            removed["identifiers"] = identifiers
    versions = table_of(m.RecordVersion)
    history = [case_id, *only_here]
    removed_versions = connection.execute(
        delete(versions).where(versions.c.entity_id.in_(history))
    ).rowcount
    if removed_versions:
        removed["versions"] = int(removed_versions)
    # Sections go with the case and the participants by ON DELETE CASCADE.
    case = table_of(m.Case)
    connection.execute(delete(case).where(case.c.id == case_id))
    if only_here:
        person = table_of(m.Person)
        connection.execute(delete(person).where(person.c.id.in_(only_here)))
    connection.execute(
        table_of(m.ErasureRecord)
        .insert()
        .values(
            id=m.new_id(),
            organisation=organisation,
            case_reference=str(case_id),
            kind=kind,
            legal_basis=legal_basis,
            removed=removed,
            performed_by=principal.username,
            performed_at=_now(),
        )
    )
    audit.record(
        connection,
        principal,
        "case.erase" if kind == "erasure" else "case.retention_delete",
        "case",
        case_id,
        details={"kind": kind, **{f"removed_{k}": v for k, v in removed.items()}},
        organisation=organisation,
    )
    return removed


def erase_case(
    engine: Engine, principal: Principal, case_id: uuid.UUID, legal_basis: str
) -> dict[str, int]:
    """Delete one case at an erasure request; return the counts removed per section."""
    principal.require("case:erase")
    legal_basis = " ".join((legal_basis or "").split())
    if not legal_basis or len(legal_basis) > LEGAL_BASIS_LENGTH:
        raise RetentionError(
            f"name the legal basis of the erasure (at most {LEGAL_BASIS_LENGTH} characters)"
        )
    case = table_of(m.Case)
    organisation = table_of(m.Organisation)
    with engine.begin() as connection:
        row = connection.execute(
            select(case.c.id, organisation.c.slug, case.c.organisation_id)
            .join(organisation, organisation.c.id == case.c.organisation_id)
            .where(case.c.id == case_id)
        ).first()
        if row is None or (
            not principal.operator and row.organisation_id != principal.organisation_id
        ):
            raise NotFoundError("no such case")
        return _delete_case(connection, principal, case_id, row.slug, "erasure", legal_basis)


def _years_before(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


def apply_retention(
    engine: Engine, principal: Principal, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Archive and delete by each rule: the principal's organisation, or all for the operator."""
    principal.require("retention:manage")
    now = now or _now()
    organisation = table_of(m.Organisation)
    case = table_of(m.Case)
    archived = 0
    deleted = 0
    with engine.begin() as connection:
        query = select(organisation)
        if not principal.operator:
            query = query.where(organisation.c.id == principal.organisation_id)
        for org in list(connection.execute(query)):
            org_archived = 0
            org_deleted = 0
            if org.archive_closed_after_days is not None:
                cutoff = now - dt.timedelta(days=org.archive_closed_after_days)
                candidates = connection.execute(
                    select(case.c.id, case.c.updated_at).where(
                        case.c.organisation_id == org.id,
                        case.c.archived_at.is_(None),
                        case.c.status.in_(CLOSED_STATUSES),
                    )
                ).all()
                # Compared in Python: SQLite keeps the moments as naive text.
                due = [row.id for row in candidates if (_aware(row.updated_at) or now) <= cutoff]
                if due:
                    connection.execute(
                        update(case).where(case.c.id.in_(due)).values(archived_at=now)
                    )
                    org_archived = len(due)
            if org.delete_archived_after_years is not None:
                cutoff = _years_before(now, org.delete_archived_after_years)
                candidates = connection.execute(
                    select(case.c.id, case.c.archived_at).where(
                        case.c.organisation_id == org.id, case.c.archived_at.is_not(None)
                    )
                ).all()
                for row in candidates:
                    if (_aware(row.archived_at) or now) <= cutoff:
                        _delete_case(
                            connection, principal, row.id, org.slug, "retention", "retention rule"
                        )
                        org_deleted += 1
            if org_archived or org_deleted:
                audit.record(
                    connection,
                    principal,
                    "retention.apply",
                    "organisation",
                    org.slug,
                    details={"archived": org_archived, "deleted": org_deleted},
                    organisation=org.slug,
                )
            archived += org_archived
            deleted += org_deleted
    return {"archived": archived, "deleted": deleted}


__all__ = [
    "CLOSED_STATUSES",
    "RetentionError",
    "RetentionRule",
    "apply_retention",
    "erase_case",
    "get_retention",
    "set_retention",
]

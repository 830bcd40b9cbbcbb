"""The persons of the tiphub case store as linkage input (``tiphub link`` without a PATH).

Only people in the chosen roles are taken: by default victims and presumed victims, the
people a prevalence estimate counts. Perpetrators, witnesses and family members are other
populations; counting them as victims would inflate every estimate made from the linkage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tiphub.linkage.records import (
    IDENTITY_COLUMNS,
    RecordSet,
    alpha3_from_alpha2,
    sex_from_gender,
)
from tiphub.store.models import (
    Case,
    CaseParticipant,
    Organisation,
    Person,
    PersonIdentifier,
    PersonIdentity,
)

# HTCDS participant roles a prevalence estimate counts unless told otherwise.
DEFAULT_ROLES: tuple[str, ...] = ("Victim", "PresumedVictim")


class RoleError(ValueError):
    """A ``--roles`` value that is not an HTCDS participant role."""


def parse_roles(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """HTCDS role codes from ``Victim,PresumedVictim`` (codes, labels or everyday words such
    as "trafficker"), in code-list order; ``None`` gives :data:`DEFAULT_ROLES`."""
    if text is None:
        return DEFAULT_ROLES
    from tiphub.standard.codelists import UnknownCodeError, codelists

    parts = text.split(",") if isinstance(text, str) else list(text)
    wanted = [part.strip() for part in parts if part.strip()]
    role_list = codelists()["participant_role"]
    if not wanted:
        raise RoleError(f"--roles names no role; valid roles: {', '.join(role_list.codes)}")
    codes: set[str] = set()
    for part in wanted:
        try:
            codes.add(role_list.normalise(part))
        except UnknownCodeError as error:
            raise RoleError(f"--roles: {error}") from None
    return tuple(code for code in role_list.codes if code in codes)


@dataclass(frozen=True)
class StorePopulation:
    """Who a database linkage took: counts and dates only, never a person's details."""

    roles: tuple[str, ...]
    records: int
    records_by_role: dict[str, int] = field(default_factory=dict)
    organisations: tuple[str, ...] = ()
    earliest_case: dt.date | None = None
    latest_case: dt.date | None = None
    records_without_case_date: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": "database",
            "roles": list(self.roles),
            "records": self.records,
            "records_by_role": dict(self.records_by_role),
            "organisations": list(self.organisations),
            "period": {
                "earliest": self.earliest_case.isoformat() if self.earliest_case else None,
                "latest": self.latest_case.isoformat() if self.latest_case else None,
                "of": "the opening dates of the cases in which the records used take these roles",
                "records_without_case_date": self.records_without_case_date,
            },
        }


def person_key(organisation: str, external_id: str) -> str:
    """The record ID of a stored person: ``<organisation slug>:<person external ID>``."""
    return f"{organisation}:{external_id}"


def store_records(engine: Engine, roles: Sequence[str] = DEFAULT_ROLES) -> RecordSet:
    """Every stored person in one of ``roles`` with any identity, one list per organisation."""
    return store_linkage_input(engine, roles)[0]


def every_role_records(engine: Engine) -> RecordSet:
    """The stored persons of every HTCDS role (to learn a linkage model from, not to count)."""
    from tiphub.standard.codelists import codelists

    return store_records(engine, codelists()["participant_role"].codes)


def _role_participations(
    engine: Engine, roles: Sequence[str]
) -> dict[Any, tuple[set[str], list[dt.date | None]]]:
    """person ID -> (their roles among ``roles``, the opening dates of those cases)."""
    query = (
        select(CaseParticipant.person_id, CaseParticipant.role, Case.opened_on)
        .join(Case, Case.id == CaseParticipant.case_id)
        .where(CaseParticipant.role.in_(sorted(roles)))
    )
    found: dict[Any, tuple[set[str], list[dt.date | None]]] = {}
    with engine.connect() as connection:
        for person_id, role, opened_on in connection.execute(query):
            person_roles, dates = found.setdefault(person_id, (set(), []))
            person_roles.add(role)
            dates.append(opened_on)
    return found


def store_linkage_input(
    engine: Engine, roles: Sequence[str] = DEFAULT_ROLES
) -> tuple[RecordSet, StorePopulation]:
    """The records of :func:`store_records` and a description of whom they cover."""
    roles = tuple(roles)
    participations = _role_participations(engine, roles)
    in_roles = select(CaseParticipant.person_id).where(CaseParticipant.role.in_(sorted(roles)))
    query = (
        select(
            Person.id,
            Organisation.slug,
            Person.external_id,
            Person.gender,
            Person.citizenship,
            PersonIdentity.first_name,
            PersonIdentity.middle_name,
            PersonIdentity.family_name,
            PersonIdentity.birth_date,
            PersonIdentity.mailing_street,
            PersonIdentity.mailing_postal_code,
            PersonIdentity.mailing_city,
        )
        .join(Organisation, Organisation.id == Person.organisation_id)
        .outerjoin(PersonIdentity, PersonIdentity.person_id == Person.id)
        .where(Person.id.in_(in_roles))
        .order_by(Organisation.slug, Person.external_id)
    )
    identifiers: dict[Any, str] = {}
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        for person_id, value in connection.execute(
            select(PersonIdentifier.person_id, PersonIdentifier.value)
            .where(PersonIdentifier.person_id.in_(in_roles))
            .order_by(PersonIdentifier.person_id, PersonIdentifier.position)
        ):
            identifiers.setdefault(person_id, value)
    records: list[dict[str, Any]] = []
    by_role = dict.fromkeys(roles, 0)
    dates: list[dt.date] = []
    undated = 0
    for row in rows:
        given = " ".join(part for part in (row.first_name, row.middle_name) if part) or None
        if not (given or row.family_name or row.birth_date):
            continue
        person_roles, opened = participations.get(row.id, (set(), []))
        for role in person_roles:
            by_role[role] += 1
        known = [day for day in opened if day is not None]
        dates.extend(known)
        undated += 0 if known else 1
        records.append(
            {
                "record_id": person_key(row.slug, row.external_id),
                "list": row.slug,
                "given_name": given,
                "family_name": row.family_name,
                "sex": sex_from_gender(row.gender),
                "date_of_birth": row.birth_date.isoformat() if row.birth_date else None,
                "nationality": alpha3_from_alpha2(row.citizenship[0]) if row.citizenship else None,
                "identifier": identifiers.get(row.id),
                "address": row.mailing_street,
                "postcode": row.mailing_postal_code,
                "city": row.mailing_city,
            }
        )
    frame = pd.DataFrame(records, columns=["record_id", "list", *IDENTITY_COLUMNS])
    frame = frame.astype(object).where(frame.notna(), None)
    frame["source_file"] = "database"
    population = StorePopulation(
        roles=roles,
        records=len(frame),
        records_by_role=by_role,
        organisations=tuple(sorted(frame["list"].unique().tolist())),
        earliest_case=min(dates, default=None),
        latest_case=max(dates, default=None),
        records_without_case_date=undated,
    )
    return RecordSet(frame, ("database",)), population

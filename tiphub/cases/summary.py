"""A first look at the store: victims by exploitation type, sex, age band and route."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, select, true
from sqlalchemy.orm import aliased

from tiphub.cases.access import PermissionDeniedError, Principal
from tiphub.cases.roles import VICTIM_ROLES
from tiphub.exchange.ctdc import age_band
from tiphub.store import models as m

SEX_OF_GENDER = {
    "Feminine": "Female",
    "Masculine": "Male",
    "TransgenderFeminine": "Trans / non-conforming",
    "TransgenderMasculine": "Trans / non-conforming",
    "NonConforming": "Trans / non-conforming",
    "NonSpecifiedUnknown": "Unknown",
}
AGE_BAND_ORDER = [
    "0--8",
    "9--17",
    "18--20",
    "21--23",
    "24--26",
    "27--29",
    "30--38",
    "39--47",
    "48+",
    "Unknown",
]


def age_band_label(band: str) -> str:
    """How an age band reads on a page or a terminal: ``0–8``. The band itself stays the
    CTDC code (``0--8``), which is what JSON, exports and the API carry."""
    return band.replace("--", "–")


@dataclass
class StoreSummary:
    organisations: int = 0
    cases: int = 0
    victims: int = 0
    by_exploitation_type: Counter[str] = field(default_factory=Counter)
    by_sex: Counter[str] = field(default_factory=Counter)
    by_age_band: Counter[str] = field(default_factory=Counter)
    top_country_pairs: list[tuple[str, str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "organisations": self.organisations,
            "cases": self.cases,
            "victims": self.victims,
            "by_exploitation_type": dict(self.by_exploitation_type.most_common()),
            "by_sex": dict(self.by_sex.most_common()),
            "by_age_band": {
                band: self.by_age_band[band] for band in AGE_BAND_ORDER if self.by_age_band[band]
            },
            "top_country_pairs": [
                {"origin": origin, "destination": destination, "victims": count}
                for origin, destination, count in self.top_country_pairs
            ],
        }


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def summarise(
    connection: Connection, top: int = 10, organisation_id: uuid.UUID | None = None
) -> StoreSummary:
    """The whole store's figures, or one organisation's with ``organisation_id``."""
    summary = StoreSummary()
    participant = m.CaseParticipant.__table__
    person = m.Person.__table__
    case = m.Case.__table__
    organisation = m.Organisation.__table__
    victim_roles: ColumnElement[bool] = participant.c.role.in_(sorted(VICTIM_ROLES))
    if organisation_id is not None:
        # Participants of the organisation's own cases only (shared cases are not counted).
        own_cases = select(case.c.id).where(case.c.organisation_id == organisation_id)
        victim_roles = and_(victim_roles, participant.c.case_id.in_(own_cases))
    summary.organisations = connection.execute(
        select(func.count())
        .select_from(organisation)
        .where(true() if organisation_id is None else organisation.c.id == organisation_id)
    ).scalar_one()
    summary.cases = connection.execute(
        select(func.count())
        .select_from(case)
        .where(true() if organisation_id is None else case.c.organisation_id == organisation_id)
    ).scalar_one()
    summary.victims = connection.execute(select(func.count()).where(victim_roles)).scalar_one()

    victim_context = m.VictimContext.__table__
    types_query = select(victim_context.c.exploitation_types)
    if organisation_id is not None:
        types_query = types_query.join(
            participant, participant.c.id == victim_context.c.participant_id
        ).where(participant.c.case_id.in_(own_cases))
    for (types,) in connection.execute(types_query):
        summary.by_exploitation_type.update(types or ["Not recorded"])

    gender_counts = (
        select(person.c.gender, func.count())
        .join_from(participant, person, participant.c.person_id == person.c.id)
        .where(victim_roles)
        .group_by(person.c.gender)
    )
    for gender, count in connection.execute(gender_counts):
        summary.by_sex[SEX_OF_GENDER.get(gender or "", "Unknown")] += count

    identity = m.PersonIdentity.__table__
    ages = (
        select(identity.c.birth_date, case.c.opened_on)
        .select_from(participant)
        .join(case, case.c.id == participant.c.case_id)
        .outerjoin(identity, identity.c.person_id == participant.c.person_id)
        .where(victim_roles)
    )
    for birth_date, opened_on in connection.execute(ages, execution_options={"yield_per": 10_000}):
        band = age_band(_age(birth_date, opened_on)) if birth_date and opened_on else None
        summary.by_age_band[band or "Unknown"] += 1

    event = m.TraffickingEvent.__table__
    origin = aliased(event)
    destination = aliased(event)
    pairs = (
        select(origin.c.country, destination.c.country, func.count().label("victims"))
        .select_from(origin)
        .join(
            destination,
            and_(
                destination.c.participant_id == origin.c.participant_id,
                destination.c.type == "Exploitation",
            ),
        )
        .where(
            origin.c.type == "Recruitment",
            origin.c.country.is_not(None),
            destination.c.country.is_not(None),
            true() if organisation_id is None else origin.c.case_id.in_(own_cases),
        )
        .group_by(origin.c.country, destination.c.country)
        .order_by(func.count().desc(), origin.c.country, destination.c.country)
        .limit(top)
    )
    summary.top_country_pairs = [(a, b, n) for a, b, n in connection.execute(pairs)]
    return summary


def organisation_summary(engine: Engine, principal: Principal, top: int = 10) -> StoreSummary:
    """The principal's organisation's figures (every organisation's for the local operator)."""
    principal.require("statistics:read")
    if not principal.operator and principal.organisation_id is None:
        raise PermissionDeniedError("statistics are an organisation's; you belong to none")
    with engine.connect() as connection:
        return summarise(connection, top, None if principal.operator else principal.organisation_id)

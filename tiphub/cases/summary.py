"""A first look at the store: victims by exploitation type, sex, age band and route."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.orm import aliased

from tiphub.cases.schema import VICTIM_ROLES
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


def summarise(connection: Connection, top: int = 10) -> StoreSummary:
    summary = StoreSummary()
    participant = m.CaseParticipant.__table__
    person = m.Person.__table__
    victim_roles = participant.c.role.in_(sorted(VICTIM_ROLES))
    summary.organisations = connection.execute(
        select(func.count()).select_from(m.Organisation.__table__)
    ).scalar_one()
    summary.cases = connection.execute(
        select(func.count()).select_from(m.Case.__table__)
    ).scalar_one()
    summary.victims = connection.execute(select(func.count()).where(victim_roles)).scalar_one()

    for (types,) in connection.execute(select(m.VictimContext.__table__.c.exploitation_types)):
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
    case = m.Case.__table__
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
        )
        .group_by(origin.c.country, destination.c.country)
        .order_by(func.count().desc(), origin.c.country, destination.c.country)
        .limit(top)
    )
    summary.top_country_pairs = [(a, b, n) for a, b, n in connection.execute(pairs)]
    return summary

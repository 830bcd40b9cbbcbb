"""Demo screenings: the frontline worker's item-level answers that come before a referral.

Each victim of a demo case may have been screened by the organisation that holds the case,
with the ILO/EC operational indicators for adults (``ilo-ec-2009-adult-labour``) at a labour
inspectorate or for an adult in forced labour, and the Palermo Protocol's act-means-purpose
check (``palermo-amp``) otherwise. The answers are a dict of indicator id → bool (every item
asked); the result is :func:`tiphub.screening.instruments.score`'s, so it is whatever the
instrument's rule makes of them. The answers are drawn so that most screenings are positive,
nearly all of those before a referral to a national mechanism, and some are negative (a few
people were referred all the same, on a professional's judgement).

Labour inspectors also screen co-workers at the inspection that opened a case: those
screenings belong to no case (most are negative; a positive one that led to no case is a
drop-out before the funnel's first step).

Everything is derived from the case record and the seed alone (its own random stream per
case), so the generator's output and its order are untouched, and the same seed gives the
same screenings.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from tiphub.cases.schema import CaseRecord, Participant
from tiphub.demo.generator import REFERENCE_DATE, demo_organisations
from tiphub.screening.instruments import Instrument, instrument, score

ILO_ADULT_LABOUR = "ilo-ec-2009-adult-labour"
PALERMO = "palermo-amp"
# Deterministic screening ids (uuid5 in this namespace): loading the same demo twice
# finds the same rows.
_NAMESPACE = uuid.UUID("6f1c2a4e-2d0b-5c57-9a55-746970687562")

_ORG_TYPE = {org.slug: org.type for org in demo_organisations()}
_ORG_COUNTRY = {org.slug: org.country for org in demo_organisations()}
# Share of a case's victims screened by the organisation, by organisation type.
_SCREENED = {
    "NGO": 0.65,
    "LawEnforcement": 0.45,
    "LabourInspectorate": 0.85,
    "NationalAgency": 0.35,
    "HealthServiceOrganisation": 0.55,
}
_CHANNEL = {"LabourInspectorate": "inspection", "HealthServiceOrganisation": "in_person"}
_LANGUAGE = {"RO": "ro", "FR": "fr"}
_PURPOSE_OF = {
    "SexualExploitation": "purpose.sexual_exploitation",
    "ForcedLabour": "purpose.forced_labour",
    "Servitude": "purpose.servitude",
    "ForcedMarriage": "purpose.servitude",
    "ForcedBegging": "purpose.forced_labour",
    "ForcedCriminality": "purpose.forced_labour",
}
_RECRUITMENT = (
    "deceptive_recruitment",
    "coercive_recruitment",
    "recruitment_abuse_of_vulnerability",
)
_DESTINATION = ("coercion_at_destination", "abuse_of_vulnerability_at_destination")


@dataclass(frozen=True)
class DemoScreening:
    """One screening row, ready for the ``screening`` table (bar the database ids)."""

    id: uuid.UUID
    organisation: str
    case_external_id: str | None  # None: a co-worker screened at an inspection, no case
    person_external_id: str | None
    instrument_id: str
    instrument_version: str
    language: str
    channel: str
    answers: dict[str, bool]
    result: dict[str, Any]
    positive: bool
    screened_by: str
    screened_on: dt.date

    def row(self, organisation_id: uuid.UUID, case_id: uuid.UUID | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "organisation_id": organisation_id,
            "case_id": case_id,
            "person_external_id": self.person_external_id,
            "instrument_id": self.instrument_id,
            "instrument_version": self.instrument_version,
            "language": self.language,
            "channel": self.channel,
            "answers": self.answers,
            "result": self.result,
            "positive": self.positive,
            "screened_by": self.screened_by,
            "team": None,
            "screened_on": self.screened_on,
            "screened_at": dt.datetime.combine(self.screened_on, dt.time(10, 0), tzinfo=dt.UTC),
        }


@cache
def _instrument(instrument_id: str) -> Instrument:
    return instrument(instrument_id)


def _items(chosen: Instrument, dimension: str, grades: Sequence[str | None]) -> list[str]:
    return [i.id for i in chosen.items_of(dimension) if i.strength in grades]


def _pick(rng: random.Random, items: Sequence[str], count: int) -> list[str]:
    return rng.sample(list(items), min(count, len(items)))


def _palermo_answers(
    rng: random.Random, purposes: Sequence[str], child: bool, positive: bool
) -> dict[str, bool]:
    chosen = _instrument(PALERMO)
    yes: set[str] = set(_pick(rng, _items(chosen, "act", (None,)), 1 + int(rng.random() * 2)))
    purpose = list(purposes) or ["purpose.forced_labour"]
    means = _items(chosen, "means", (None,))
    if positive:
        yes.update(purpose)
        if not child or rng.random() < 0.5:
            yes.update(_pick(rng, means, 1 + int(rng.random() * 3)))
    else:
        # Something is missing: the purpose was not disclosed, or (an adult) no means.
        if child or rng.random() < 0.5:
            yes.update(_pick(rng, means, int(rng.random() * 2)))
        else:
            yes.update(purpose)
    if child:
        yes.add("age.under_18")
    return {item.id: item.id in yes for item in chosen.indicators}


def _ilo_answers(rng: random.Random, positive: bool) -> dict[str, bool]:
    chosen = _instrument(ILO_ADULT_LABOUR)
    yes: set[str] = set()

    def dimension_met(dimension: str) -> None:
        strong = _items(chosen, dimension, ("strong",))
        medium = _items(chosen, dimension, ("medium",))
        if strong and rng.random() < 0.6:
            yes.update(_pick(rng, strong, 1))
            yes.update(_pick(rng, medium, 1))
        else:
            yes.update(_pick(rng, medium, 3))

    def dimension_weak(dimension: str) -> None:
        yes.update(_pick(rng, _items(chosen, dimension, ("medium",)), int(rng.random() * 2)))

    recruitment = _RECRUITMENT[int(rng.random() * len(_RECRUITMENT))]
    destination = _DESTINATION[int(rng.random() * len(_DESTINATION))]
    needed = [recruitment, "exploitative_conditions", destination]
    missing = None if positive else needed[int(rng.random() * 3)]
    for dimension in needed:
        (dimension_weak if dimension == missing else dimension_met)(dimension)
    for item in chosen.indicators:  # a few more answers yes, anywhere
        if rng.random() < 0.04 and (missing is None or item.dimension != missing):
            yes.add(item.id)
    return {item.id: item.id in yes for item in chosen.indicators}


# Answers are drawn from a few dozen variants per kind of person, each scored once: scoring
# every screening afresh would slow the demo's loading for no visible gain.
_VARIANTS = 40


@cache
def _answered(
    instrument_id: str, positive: bool, child: bool, purposes: tuple[str, ...], variant: int
) -> tuple[dict[str, bool], dict[str, Any]]:
    rng = random.Random(f"{instrument_id}/{positive}/{child}/{'+'.join(purposes)}/{variant}")
    if instrument_id == ILO_ADULT_LABOUR:
        answers = _ilo_answers(rng, positive)
    else:
        answers = _palermo_answers(rng, purposes, child, positive)
    return answers, score(_instrument(instrument_id), answers).to_dict()


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _screening(
    rng: random.Random,
    seed: int,
    case: CaseRecord,
    number: int,
    person: Participant | None,
    positive: bool,
    on: dt.date,
    labour: bool,
) -> DemoScreening:
    org_type = _ORG_TYPE.get(case.organisation, "NGO")
    birth = None if person is None else person.person.birth_date
    child = birth is not None and _age(birth, on) < 18
    types = [] if person is None or person.victim is None else person.victim.exploitation_types
    use_ilo = not child and (labour or org_type == "LabourInspectorate" or "ForcedLabour" in types)
    chosen = _instrument(ILO_ADULT_LABOUR if use_ilo else PALERMO)
    purposes = () if use_ilo else tuple(sorted({_PURPOSE_OF.get(t, "") for t in types} - {""}))
    answers, result = _answered(chosen.id, positive, child, purposes, int(rng.random() * _VARIANTS))
    channel = _CHANNEL.get(org_type) or ("outreach" if rng.random() < 0.25 else "in_person")
    external = None if person is None else person.person.external_id
    return DemoScreening(
        id=uuid.uuid5(_NAMESPACE, f"{seed}/{case.organisation}/{case.external_id}/{number}"),
        organisation=case.organisation,
        case_external_id=None if person is None else case.external_id,
        person_external_id=external,
        instrument_id=chosen.id,
        instrument_version=chosen.version,
        language=_LANGUAGE.get(_ORG_COUNTRY.get(case.organisation, ""), "en"),
        channel=channel,
        answers=answers,
        result=result,
        positive=bool(result["positive"]),
        screened_by=case.case_owner or "caseworker",
        screened_on=on,
    )


def screenings_for(case: CaseRecord, seed: int) -> list[DemoScreening]:
    """The demo screenings of one generated case (and of the inspection that opened it)."""
    rng = random.Random(f"tiphub-demo-screenings/{seed}/{case.organisation}/{case.external_id}")
    org_type = _ORG_TYPE.get(case.organisation, "NGO")
    opened = case.opened_on or REFERENCE_DATE
    found: list[DemoScreening] = []
    for person in case.victims():
        external = person.person.external_id
        referral = next(
            (
                r
                for r in case.referrals
                if r.mechanism
                and r.person_external_id == external
                and r.from_organisation == case.organisation
            ),
            None,
        )
        if referral is not None:
            # The screening that led the first responder to refer (or to ask for consent).
            if rng.random() >= 0.85:
                continue
            positive = rng.random() < 0.93
            before = referral.referred_on or referral.stage_entered_on or opened
            on = before - dt.timedelta(days=int(rng.random() * 3))
        else:
            if rng.random() >= _SCREENED.get(org_type, 0.5):
                continue
            positive = rng.random() < 0.72
            on = opened
        on = min(on, REFERENCE_DATE)
        found.append(_screening(rng, seed, case, len(found), person, positive, on, False))
    if org_type == "LabourInspectorate":
        for _ in range(int(rng.random() * 4)):  # co-workers met at the same inspection
            found.append(
                _screening(rng, seed, case, len(found), None, rng.random() < 0.15, opened, True)
            )
    return found

"""Hypothesis strategies for random (synthetic) cases."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from tiphub.standard.codelists import codelist, country_codes

TEXT = (
    st.text(
        st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="|"),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)
DATES = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2024, 12, 31)).map(
    dt.date.isoformat
)
COUNTRIES = st.sampled_from(country_codes())


def code(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from(codelist(name).codes)


def codes(name: str) -> st.SearchStrategy[list[str]]:
    return st.lists(code(name), max_size=3, unique=True)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def htcds_case(draw: st.DrawFn, external_id: str) -> dict[str, Any]:
    """A case using only what the HTCDS flat layout (with tip_ columns) can carry."""
    people = draw(st.integers(1, 3))
    participants = []
    events = []
    consents = []
    for index in range(people):
        person_id = f"{external_id}-p{index}"
        participants.append(
            {
                "role": draw(st.sampled_from(["Victim", "PresumedVictim"])),
                "person": {
                    "external_id": person_id,
                    "first_name": draw(maybe(TEXT)),
                    "family_name": draw(maybe(TEXT)),
                    "birth_date": draw(maybe(DATES)),
                    "gender": draw(code("gender")),
                    "citizenship": draw(st.lists(COUNTRIES, max_size=2, unique=True)),
                    "primary_language": draw(maybe(st.sampled_from(["ron", "ukr", "eng", "vie"]))),
                    "number_of_children": draw(maybe(st.integers(0, 6))),
                    "deceased": draw(maybe(st.booleans())),
                    "email": draw(maybe(TEXT)),
                    "identifiers": draw(
                        st.lists(
                            st.fixed_dictionaries({"kind": st.just("NationalId"), "value": TEXT}),
                            max_size=1,
                        )
                    ),
                },
                "victim": {
                    "trafficking_status": [
                        {
                            "status": draw(code("trafficking_status")),
                            "decided_by_type": draw(maybe(code("decision_making_org"))),
                            "asserted_by": draw(TEXT),
                            "asserted_on": draw(maybe(DATES)),
                        }
                    ],
                    "recruitment_methods": draw(codes("recruitment_method")),
                    "means_of_control": draw(codes("means_of_control")),
                    "exploitation_types": draw(codes("exploitation_type")),
                    "sex_exploitation_types": draw(codes("sex_exploitation_type")),
                    "industry": draw(maybe(code("industry"))),
                    "age_when_trafficked": draw(maybe(st.integers(0, 80))),
                    "relationship_to_trafficker": draw(maybe(code("relationship_to_trafficker"))),
                    "location_of_exploitation": draw(maybe(TEXT)),
                },
            }
        )
        if draw(st.booleans()):
            events.append(
                {"type": "Recruitment", "person_external_id": person_id, "country": draw(COUNTRIES)}
            )
        for country in draw(st.lists(COUNTRIES, max_size=2)):
            events.append({"type": "Transit", "person_external_id": person_id, "country": country})
        if draw(st.booleans()):
            events.append(
                {
                    "type": "Exploitation",
                    "person_external_id": person_id,
                    "country": draw(COUNTRIES),
                    "started_on": draw(maybe(DATES)),
                }
            )
        given = draw(maybe(st.booleans()))
        if given is not None:
            purposes = ["Interview", "DataProcessing"] if given else ["DataProcessing"]
            consents += [
                {"person_external_id": person_id, "purpose": p, "given": given} for p in purposes
            ]
    return {
        "external_id": external_id,
        "organisation": "ngo-east",
        "status": draw(maybe(code("case_status"))),
        "case_owner": draw(maybe(TEXT)),
        "opened_on": draw(maybe(DATES)),
        "participants": participants,
        "events": events,
        "consents": consents,
        "referrals": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "direction": st.just("Outgoing"),
                        "from_organisation": st.just("ngo-east"),
                        "to_organisation": TEXT,
                    }
                ),
                max_size=1,
            )
        ),
    }


@st.composite
def full_case(draw: st.DrawFn, external_id: str) -> dict[str, Any]:
    """Any case, using every section of the exchange format."""
    document = draw(htcds_case(external_id))
    first = document["participants"][0]["person"]["external_id"]
    document["participants"].append(
        {
            "role": "Perpetrator",
            "person": {"external_id": f"{external_id}-t", "gender": draw(maybe(code("gender")))},
            "perpetrator": {
                "kind": draw(code("perpetrator_kind")),
                "roles": draw(codes("perpetrator_role")),
                "sex": draw(maybe(code("sex"))),
                "age_band": draw(maybe(code("age_band"))),
                "nationality": draw(st.lists(COUNTRIES, max_size=2, unique=True)),
            },
        }
    )
    document["referrals"] += [
        {
            "direction": "Incoming",
            "from_organisation": draw(TEXT),
            "services": draw(codes("service_type")),
            "status": draw(maybe(code("referral_status"))),
        }
    ]
    document["support_plans"] = [
        {
            "person_external_id": first,
            "type": draw(maybe(code("support_plan_type"))),
            "services": [{"service": draw(code("service_type")), "provider": draw(maybe(TEXT))}],
        }
    ]
    document["notes"] = draw(
        st.lists(st.fixed_dictionaries({"text": TEXT, "written_on": maybe(DATES)}), max_size=2)
    )
    document["identification_decisions"] = [
        {
            "person_external_id": first,
            "decision_type": draw(code("identification_decision_type")),
            "outcome": draw(code("identification_outcome")),
            "decided_on": draw(maybe(DATES)),
        }
    ]
    document["criminal_proceedings"] = [
        {
            "perpetrator_external_id": f"{external_id}-t",
            "stage": draw(code("proceeding_stage")),
            "charges": draw(st.lists(TEXT, max_size=2)),
            "sentence_months": draw(maybe(st.integers(0, 300))),
        }
    ]
    return document

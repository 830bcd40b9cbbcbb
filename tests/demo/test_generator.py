"""The synthetic demo-data generator: reproducible, valid, plausible, with known duplicates."""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import itertools
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from tiphub.cases.schema import CaseRecord, Participant
from tiphub.demo.generator import (
    REFERENCE_DATE,
    DemoOrganisation,
    TruthRow,
    demo_organisations,
    generate,
)
from tiphub.demo.truth import write_truth
from tiphub.standard.codelists import codelist

Generated = list[tuple[CaseRecord, list[TruthRow]]]


@pytest.fixture(scope="module")
def sample() -> Generated:
    return list(generate(3000, 11))


def _victims(sample: Generated) -> list[tuple[CaseRecord, Participant]]:
    return [(case, victim) for case, _ in sample for victim in case.victims()]


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# --- reproducibility and validity ------------------------------------------------------


def test_same_seed_gives_identical_output() -> None:
    first = [(case.model_dump(), truth) for case, truth in generate(400, 5)]
    second = [(case.model_dump(), truth) for case, truth in generate(400, 5)]
    assert first == second


def test_different_seed_gives_different_output() -> None:
    first = [case.model_dump() for case, _ in generate(50, 5)]
    second = [case.model_dump() for case, _ in generate(50, 6)]
    assert first != second


def test_yields_exactly_the_number_of_cases_asked_for() -> None:
    assert list(generate(0, 1)) == []
    assert len(list(generate(1, 1))) == 1
    assert len(list(generate(777, 1))) == 777
    with pytest.raises(ValueError):
        list(generate(-1, 1))


def test_is_a_lazy_stream() -> None:
    stream = generate(1_000_000, 3)
    assert inspect.isgenerator(stream)
    first = list(itertools.islice(stream, 20))  # returns at once: nothing is built ahead
    assert len(first) == 20


def test_every_record_validates_against_the_schema(sample: Generated) -> None:
    for case, _ in sample:
        assert isinstance(case, CaseRecord)
        validated = CaseRecord.model_validate(case.model_dump())
        assert validated == case
        # and through JSON, as it is exchanged
        assert CaseRecord.model_validate_json(case.model_dump_json()) == case


def _dates(value: Any, key: str = "") -> list[tuple[str, dt.date]]:
    if isinstance(value, dt.date):
        return [(key, value)]
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _dates(v, k)]
    if isinstance(value, list):
        return [found for item in value for found in _dates(item, key)]
    return []


def test_dates_are_in_the_past_and_after_1900(sample: Generated) -> None:
    for case, _ in sample:
        for key, day in _dates(case.model_dump()):
            assert day >= dt.date(1900, 1, 1)
            if key != "planned_end_on":  # a plan may end in the future
                assert day <= REFERENCE_DATE, (case.external_id, key, day)


def test_codes_are_canonical(sample: Generated) -> None:
    industries = codelist("industry")
    for _, victim in _victims(sample):
        assert victim.victim is not None
        if victim.victim.industry is not None:
            assert victim.victim.industry in industries
        for status in victim.victim.trafficking_status:
            assert status.asserted_by in {org.slug for org in demo_organisations()}
            assert status.asserted_on is not None


# --- organisations and identifiers -----------------------------------------------------


def test_demo_organisations() -> None:
    orgs = demo_organisations()
    assert all(isinstance(org, DemoOrganisation) for org in orgs)
    assert len({org.slug for org in orgs}) == len(orgs) >= 8
    types = {org.type for org in orgs}
    assert {
        "NGO",
        "LawEnforcement",
        "LabourInspectorate",
        "HealthServiceOrganisation",
        "NationalAgency",
    } <= types
    assert all(org.type in codelist("organisation_type") for org in orgs)
    assert len({org.country for org in orgs}) >= 6
    assert all(re.fullmatch(r"[A-Z]{2}", org.country) for org in orgs)


def test_cases_come_from_many_kinds_of_organisation(sample: Generated) -> None:
    types = {org.slug: org.type for org in demo_organisations()}
    seen = Counter(types[case.organisation] for case, _ in sample)
    assert len(seen) >= 5
    assert len({case.organisation for case, _ in sample}) == len(types)


def test_external_ids_are_unique_per_organisation(sample: Generated) -> None:
    cases = [(case.organisation, case.external_id) for case, _ in sample]
    assert len(set(cases)) == len(cases)
    people = [
        (case.organisation, p.person.external_id) for case, _ in sample for p in case.participants
    ]
    assert len(set(people)) == len(people)
    for case, _ in sample:
        assert case.external_id.startswith(f"{case.organisation}-")


def test_truth_rows_cover_every_participant_once(sample: Generated) -> None:
    for case, truth in sample:
        assert all(row.organisation == case.organisation for row in truth)
        assert all(row.case_external_id == case.external_id for row in truth)
        assert sorted(row.person_external_id for row in truth) == sorted(
            p.person.external_id for p in case.participants
        )
        # within one case a person appears once
        assert len({row.true_person_id for row in truth}) == len(truth)
        assert all(re.fullmatch(r"T\d{7}", row.true_person_id) for row in truth)


# --- plausibility ------------------------------------------------------------------------


def test_victim_shape(sample: Generated) -> None:
    victims_per_case = Counter(len(case.victims()) for case, _ in sample)
    assert victims_per_case[0] == 0
    assert 0.02 < (victims_per_case[2] + victims_per_case[3]) / len(sample) < 0.15
    with_perpetrator = sum(
        any(p.role == "Perpetrator" for p in case.participants) for case, _ in sample
    )
    assert 0.35 < with_perpetrator / len(sample) < 0.75
    for _, victim in _victims(sample):
        assert victim.role in ("Victim", "PresumedVictim")
        assert victim.victim is not None
        assert 1 <= len(victim.victim.trafficking_status) <= 2
        context = victim.victim
        if "SexualExploitation" in context.exploitation_types:
            assert context.sex_exploitation_types
        else:
            assert not context.sex_exploitation_types


def test_marginals_are_plausible(sample: Generated) -> None:
    victims = _victims(sample)
    total = len(victims)
    genders = Counter(victim.person.gender for _, victim in victims)
    female = (genders["Feminine"] + genders["TransgenderFeminine"]) / total
    assert 0.6 <= female <= 0.8
    assert 0.2 <= genders["Masculine"] / total <= 0.4
    assert genders["TransgenderFeminine"] + genders["NonConforming"] > 0
    assert genders["NonSpecifiedUnknown"] > 0

    known = [(case, v) for case, v in victims if v.person.birth_date and case.opened_on]
    minors = sum(
        _age(v.person.birth_date, case.opened_on) < 18  # type: ignore[arg-type]
        for case, v in known
    )
    assert 0.15 <= minors / len(known) <= 0.3

    def share(code: str) -> float:
        return sum(code in v.victim.exploitation_types for _, v in victims if v.victim) / total

    assert 0.4 <= share("SexualExploitation") <= 0.55
    assert 0.3 <= share("ForcedLabour") <= 0.45
    assert 0.01 <= share("ForcedCriminality") <= 0.12
    assert share("ForcedMarriage") > 0 and share("ForcedBegging") > 0

    industries = Counter(v.victim.industry for _, v in victims if v.victim and v.victim.industry)
    top = {code for code, _ in industries.most_common(5)}
    assert {
        "A_AgricultureForestryAndFishing",
        "F_Construction",
        "T_ActivitiesOfHouseholdsAsEmployers",
    } <= top
    means = Counter(m for _, v in victims if v.victim for m in v.victim.means_of_control)
    for code in (
        "FalsePromises",
        "PsychologicalAbuse",
        "TakesEarnings",
        "DebtBondage",
        "RestrictsMovement",
        "WithholdsDocuments",
        "PhysicalAbuse",
        "PhysicalThreats",
    ):
        assert means[code] > 0.05 * total, code


def test_routes_and_domestic_trafficking(sample: Generated) -> None:
    sources: Counter[str] = Counter()
    domestic = 0
    routes = 0
    for case, _ in sample:
        for victim in case.victims():
            events = [e for e in case.events if e.person_external_id == victim.person.external_id]
            recruitment = next(e for e in events if e.type == "Recruitment")
            exploitation = next(e for e in events if e.type == "Exploitation")
            assert recruitment.country and exploitation.country
            sources[recruitment.country] += 1
            routes += 1
            domestic += recruitment.country == exploitation.country
    assert 0.1 < domestic / routes < 0.45
    assert {"UA", "RO", "NG", "VN", "AL", "TH"} <= set(sources)
    assert len(sources) >= 15


def test_event_dates_are_in_order(sample: Generated) -> None:
    order = {"Recruitment": 0, "Transit": 1, "Exploitation": 2, "Identification": 3}
    for case, _ in sample:
        for victim in case.victims():
            events = [e for e in case.events if e.person_external_id == victim.person.external_id]
            kinds = [e.type for e in events]
            assert kinds[0] == "Recruitment" and kinds[-1] == "Identification"
            assert kinds.count("Exploitation") == 1 and kinds.count("Transit") <= 2
            assert [order[k] for k in kinds] == sorted(order[k] for k in kinds)
            days = [e.started_on for e in events]
            assert all(day is not None for day in days)
            assert days == sorted(days), (case.external_id, days)  # type: ignore[type-var]
            exploitation = next(e for e in events if e.type == "Exploitation")
            identification = events[-1]
            assert exploitation.ended_on is not None and identification.started_on is not None
            assert exploitation.ended_on <= identification.started_on
            assert identification.country == _country_of(case.organisation)


def _country_of(slug: str) -> str:
    return {org.slug: org.country for org in demo_organisations()}[slug]


def test_case_workflow_sections_are_filled(sample: Generated) -> None:
    def fraction(predicate: Any) -> float:
        return sum(bool(predicate(case)) for case, _ in sample) / len(sample)

    assert fraction(lambda c: c.referrals) > 0.3
    assert fraction(lambda c: len(c.referrals) >= 2) > 0.05
    assert fraction(lambda c: c.consents) == 1.0
    assert fraction(lambda c: c.support_plans) > 0.3
    assert fraction(lambda c: c.notes) > 0.5
    assert fraction(lambda c: c.criminal_proceedings) > 0.05
    assert fraction(lambda c: c.identification_decisions) > 0.2
    withdrawn = sum(
        any(not c.given for c in case.consents if c.purpose == purpose)
        and any(c.given for c in case.consents if c.purpose == purpose)
        for case, _ in sample
        for purpose in ("Interview", "DataProcessing", "Disclosure", "Referral", "Research")
    )
    assert withdrawn > 0
    gb_decisions = [
        d.decision_type
        for case, _ in sample
        if _country_of(case.organisation) == "GB"
        for d in case.identification_decisions
    ]
    assert {"ReasonableGrounds", "ConclusiveGrounds"} <= set(gb_decisions)
    directions = {r.direction for case, _ in sample for r in case.referrals}
    assert directions == {"Incoming", "Outgoing"}


def test_names_are_varied_and_international(sample: Generated) -> None:
    names = [
        f"{v.person.first_name or ''} {v.person.family_name or ''}" for _, v in _victims(sample)
    ]
    text = " ".join(names)
    assert re.search("[șță]", text)  # Romanian diacritics
    assert re.search("[\u0400-\u04ff]", text)  # Ukrainian in Cyrillic
    assert re.search("[ễạảấầậắặẩẫđĐơườởứ]", text)  # Vietnamese
    assert len(set(names)) > 0.7 * len(names)


# --- duplicates and the truth ----------------------------------------------------------


def test_some_victims_are_recorded_by_several_organisations(sample: Generated) -> None:
    records: dict[str, list[tuple[CaseRecord, Participant]]] = defaultdict(list)
    for case, truth in sample:
        by_id = {p.person.external_id: p for p in case.participants}
        for row in truth:
            participant = by_id[row.person_external_id]
            if participant.victim is not None:
                records[row.true_person_id].append((case, participant))
    multi = {
        true_id: recs
        for true_id, recs in records.items()
        if len({case.organisation for case, _ in recs}) >= 2
    }
    assert 0.18 <= len(multi) / len(records) <= 0.4
    # every record of one person is at a different organisation
    for recs in records.values():
        assert len({case.organisation for case, _ in recs}) == len(recs)

    pairs = [
        (a.person, b.person)
        for recs in multi.values()
        for (_, a), (_, b) in itertools.combinations(recs, 2)
    ]
    names_differ = sum(
        (a.first_name, a.family_name) != (b.first_name, b.family_name) for a, b in pairs
    )
    births_differ = sum(
        a.birth_date is not None and b.birth_date is not None and a.birth_date != b.birth_date
        for a, b in pairs
    )
    missing = sum(
        (a.birth_date is None) != (b.birth_date is None)
        or (a.first_name is None) != (b.first_name is None)
        for a, b in pairs
    )
    assert 0.15 * len(pairs) < names_differ < 0.85 * len(pairs)
    assert births_differ > 0.05 * len(pairs)
    assert missing > 0.05 * len(pairs)
    swapped = sum(
        a.birth_date is not None
        and b.birth_date is not None
        and a.birth_date.year == b.birth_date.year
        and (a.birth_date.month, a.birth_date.day) == (b.birth_date.day, b.birth_date.month)
        and a.birth_date != b.birth_date
        for a, b in pairs
    )
    assert swapped > 0
    # but most duplicates still share something to link on
    same_surname = sum(
        a.family_name is not None and a.family_name == b.family_name for a, b in pairs
    )
    assert same_surname > 0.4 * len(pairs)


def test_duplicate_cases_agree_roughly_on_the_facts(sample: Generated) -> None:
    exploitation: dict[str, list[set[str]]] = defaultdict(list)
    for case, truth in sample:
        by_id = {p.person.external_id: p for p in case.participants}
        for row in truth:
            victim = by_id[row.person_external_id].victim
            if victim is not None:
                exploitation[row.true_person_id].append(set(victim.exploitation_types))
    for kinds in exploitation.values():
        if len(kinds) > 1:
            assert set.intersection(*kinds), kinds


def test_write_truth(tmp_path: Path) -> None:
    rows = [row for _, truth in generate(40, 2) for row in truth]
    path = tmp_path / "truth.csv"
    assert write_truth(iter(rows), path) == len(rows)
    with path.open(encoding="utf-8", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert list(read[0]) == [
        "organisation",
        "case_external_id",
        "person_external_id",
        "true_person_id",
    ]
    assert [TruthRow(**row) for row in read] == rows

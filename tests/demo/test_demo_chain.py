"""The demo feeds the identification chain's statistics: screenings, referrals at every stage
of the UK NRM and Romania's NMIR, negative decisions, withdrawals, overdue items, and
decisions consistent with the referrals they answer."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import Engine, func, select

from tiphub.cases.schema import CaseRecord, Referral
from tiphub.demo.generator import REFERENCE_DATE, demo_organisations, generate
from tiphub.demo.hub import DEMO_ORGANISATIONS, fold_demo_organisations
from tiphub.demo.loader import load_demo
from tiphub.demo.screenings import ILO_ADULT_LABOUR, PALERMO, screenings_for
from tiphub.screening.instruments import instrument, score
from tiphub.screening.workflow import Workflow, due_on, workflow
from tiphub.store import models as m
from tiphub.store.models import table_of

MECHANISMS = ("uk-nrm", "ro-nmir")
# The default demo: `tiphub demo` loads 2,000 cases with seed 1.
DEFAULT_CASES, DEFAULT_SEED = 2000, 1


@pytest.fixture(scope="module")
def cases() -> list[CaseRecord]:
    return [record for record, _ in generate(DEFAULT_CASES, DEFAULT_SEED)]


def _mechanism_referrals(cases: list[CaseRecord]) -> list[tuple[CaseRecord, Referral]]:
    return [(case, r) for case in cases for r in case.referrals if r.mechanism]


def _flow(referral: Referral) -> Workflow:
    assert referral.mechanism is not None
    return workflow(referral.mechanism)


def _deadline_kind(referral: Referral) -> str | None:
    deadline = _flow(referral).stage(str(referral.stage)).deadline
    return None if deadline is None else deadline.kind


def test_referrals_stand_at_every_stage_of_both_mechanisms(cases: list[CaseRecord]) -> None:
    seen = Counter((r.mechanism, r.stage) for _, r in _mechanism_referrals(cases))
    for mechanism in MECHANISMS:
        stages = set(workflow(mechanism).stages)
        found = {stage for (m_, stage), _ in seen.items() if m_ == mechanism}
        assert found == stages, (mechanism, stages - found)
    assert {r.mechanism for _, r in _mechanism_referrals(cases)} == set(MECHANISMS)


def test_referrals_carry_the_workflows_dates(cases: list[CaseRecord]) -> None:
    for case, referral in _mechanism_referrals(cases):
        flow = _flow(referral)
        stage = flow.stage(str(referral.stage))
        assert referral.person_external_id in {p.person.external_id for p in case.victims()}
        assert referral.reference and referral.reference.startswith(f"{flow.id}-")
        assert referral.stage_entered_on is not None
        assert referral.due_on == due_on(flow, stage.id, referral.stage_entered_on)
        assert referral.due_on is None or referral.due_on <= REFERENCE_DATE
        if stage.terminal:
            assert (referral.status, referral.responded_on) == (
                "Completed",
                referral.stage_entered_on,
            )
        else:
            assert referral.status == "Requested"
        if referral.referred_on is not None:
            assert referral.referred_on <= referral.stage_entered_on
        else:  # never referred: still at the start, or the UK's Duty to Notify only
            assert stage.id == flow.initial_stage or stage.id == "notified_only"


def test_decisions_point_at_a_referral_of_the_same_person(cases: list[CaseRecord]) -> None:
    linked = 0
    for case in cases:
        referrals = {r.reference: r for r in case.referrals if r.reference and r.mechanism}
        for decision in case.identification_decisions:
            if decision.referral_reference is None:
                continue
            linked += 1
            referral = referrals[decision.referral_reference]
            assert referral.person_external_id == decision.person_external_id
            flow = _flow(referral)
            recorded = {t.decision for t in flow.transitions.values() if t.decision}
            assert (decision.decision_type, decision.outcome) in recorded
            assert decision.jurisdiction == flow.jurisdiction
            assert decision.decided_on is not None
            if decision.outcome in ("Positive", "Negative"):
                assert decision.grounds and decision.decided_by
    assert linked > 500


def test_the_stage_matches_the_decisions(cases: list[CaseRecord]) -> None:
    """Replaying the decisions' steps leads to the referral's stage."""
    for case, referral in _mechanism_referrals(cases):
        flow = _flow(referral)
        decisions = [
            (d.decision_type, d.outcome)
            for d in case.identification_decisions
            if d.referral_reference == referral.reference
        ]
        outcomes = [outcome for _, outcome in decisions if outcome != "Pending"]
        terminal_decision = {
            t.to: t.decision
            for t in flow.transitions.values()
            if t.decision and flow.stage(t.to).terminal
        }
        if referral.stage in terminal_decision:
            assert decisions[-1] == terminal_decision[referral.stage]
        if referral.stage in ("recovery_period", "awaiting_conclusive_grounds", "presumed_victim"):
            assert outcomes and outcomes[-1] == "Positive"
        if referral.stage in ("referred", "potential_victim", "notified_only"):
            assert outcomes == []


def test_drop_outs_and_overdue_items(cases: list[CaseRecord]) -> None:
    decisions = [d for case in cases for d in case.identification_decisions]
    negative = Counter(d.decision_type for d in decisions if d.outcome == "Negative")
    for kind in ("ReasonableGrounds", "ConclusiveGrounds", "PreliminaryIdentification"):
        assert negative[kind] > 5, kind
    assert negative["FormalIdentification"] > 5
    referrals = [r for _, r in _mechanism_referrals(cases)]
    withdrawn = Counter(r.mechanism for r in referrals if r.stage == "withdrawn")
    assert withdrawn["uk-nrm"] > 5 and withdrawn["ro-nmir"] > 0
    assert all(r.details for r in referrals if r.stage == "withdrawn")
    # A target deadline passed with no step taken: overdue (on any day after the demo's end).
    overdue = [
        r
        for r in referrals
        if r.due_on is not None and _deadline_kind(r) == "target" and r.due_on < REFERENCE_DATE
    ]
    assert len(overdue) >= 3
    pending = [r for r in referrals if not _flow(r).stage(str(r.stage)).terminal]
    assert len(pending) > 50


def test_support_follows_a_positive_first_decision(cases: list[CaseRecord]) -> None:
    found = 0
    for case in cases:
        services = [r for r in case.referrals if r.provider and not r.mechanism]
        for service in services:
            found += 1
            mechanism = next(
                r
                for r in case.referrals
                if r.mechanism and r.person_external_id == service.person_external_id
            )
            positive = min(
                d.decided_on
                for d in case.identification_decisions
                if d.referral_reference == mechanism.reference
                and d.outcome == "Positive"
                and d.decided_on is not None
            )
            assert service.referred_on is not None and service.referred_on >= positive
            assert service.status in ("Accepted", "Requested")
            assert (service.status == "Accepted") == (service.responded_on is not None)
    assert found > 100


def test_adults_referred_in_the_uk_consented(cases: list[CaseRecord]) -> None:
    checked = 0
    for case in cases:
        for referral in case.referrals:
            if referral.mechanism != "uk-nrm" or referral.from_organisation != case.organisation:
                continue
            person = next(
                p.person
                for p in case.participants
                if p.person.external_id == referral.person_external_id
            )
            on = referral.referred_on or referral.stage_entered_on
            assert on is not None
            if person.birth_date is None or _age(person.birth_date, on) < 19:
                continue  # a child needs no consent (and a record's birth date may be noisy)
            answers = [
                c
                for c in case.consents
                if c.purpose == "Referral" and c.person_external_id == person.external_id
            ]
            if referral.referred_on is not None:
                checked += 1
                assert any(c.given and c.recorded_on and c.recorded_on <= on for c in answers)
            elif referral.stage == "notified_only":
                assert answers and not answers[-1].given
    assert checked > 50


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# -- screenings -------------------------------------------------------------------------------


def test_screenings_are_scored_item_level_answers(cases: list[CaseRecord]) -> None:
    kinds = {org.slug: org.type for org in demo_organisations()}
    found = [(case, s) for case in cases[:800] for s in screenings_for(case, DEFAULT_SEED)]
    assert len(found) > 300
    instruments = Counter(s.instrument_id for _, s in found)
    assert instruments[ILO_ADULT_LABOUR] > 50 and instruments[PALERMO] > 100
    share = sum(s.positive for _, s in found) / len(found)
    assert 0.55 < share < 0.9
    for case, screening in found:
        chosen = instrument(screening.instrument_id)
        assert screening.instrument_version == chosen.version
        assert set(screening.answers) == {item.id for item in chosen.indicators}
        assert all(isinstance(v, bool) for v in screening.answers.values())
        assert screening.result == score(chosen, screening.answers).to_dict()
        assert screening.positive == screening.result["positive"]
        assert screening.screened_on <= REFERENCE_DATE
        if kinds[case.organisation] == "LabourInspectorate" and screening.instrument_id == PALERMO:
            person = next(
                p for p in case.victims() if p.person.external_id == screening.person_external_id
            )
            assert person.person.birth_date is not None  # only a child gets the Palermo check
        if screening.case_external_id is None:
            assert kinds[case.organisation] == "LabourInspectorate"
            assert screening.person_external_id is None
        else:
            assert screening.person_external_id in {p.person.external_id for p in case.victims()}


def test_screenings_come_before_the_referral_they_led_to(cases: list[CaseRecord]) -> None:
    before = 0
    for case in cases[:800]:
        for screening in screenings_for(case, DEFAULT_SEED):
            referral = next(
                (
                    r
                    for r in case.referrals
                    if r.mechanism
                    and r.person_external_id == screening.person_external_id
                    and r.from_organisation == case.organisation
                    and r.referred_on is not None
                ),
                None,
            )
            if referral is not None and referral.referred_on is not None:
                before += 1
                assert screening.screened_on <= referral.referred_on
    assert before > 50


def test_screenings_are_reproducible(cases: list[CaseRecord]) -> None:
    first = [screenings_for(case, DEFAULT_SEED) for case in cases[:200]]
    again = [screenings_for(case, DEFAULT_SEED) for case in cases[:200]]
    assert first == again
    assert first != [screenings_for(case, DEFAULT_SEED + 1) for case in cases[:200]]


def test_the_loader_stores_the_screenings_once(engine: Engine) -> None:
    load_demo(engine, 150, 4)
    records = [record for record, _ in generate(150, 4)]
    expected = [s for record in records for s in screenings_for(record, 4)]
    screening = table_of(m.Screening)
    case_table = table_of(m.Case)
    with engine.connect() as connection:
        rows = connection.execute(select(screening)).all()
        case_ids = {row.id: row.external_id for row in connection.execute(select(case_table))}
    assert len(rows) == len(expected) > 20
    by_id = {row.id: row for row in rows}
    for wanted in expected:
        row = by_id[wanted.id]
        assert row.answers == wanted.answers and row.result == wanted.result
        assert row.positive == wanted.positive and row.screened_on == wanted.screened_on
        assert (None if row.case_id is None else case_ids[row.case_id]) == wanted.case_external_id
    load_demo(engine, 150, 4)  # the same demo again: nothing new
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(screening)).scalar() == len(
            expected
        )
    # The demo hub folds the organisations: the screenings follow their cases.
    fold_demo_organisations(engine)
    org = table_of(m.Organisation)
    with engine.connect() as connection:
        demo_ids = set(
            connection.execute(
                select(org.c.id).where(org.c.slug.in_([slug for slug, _, _ in DEMO_ORGANISATIONS]))
            ).scalars()
        )
        owners = set(connection.execute(select(screening.c.organisation_id)).scalars())
        left = connection.execute(select(func.count()).select_from(screening)).scalar()
    assert left == len(expected)
    assert owners <= demo_ids

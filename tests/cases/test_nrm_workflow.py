"""Screening, referral to a national mechanism and its stages, on the domain API, on SQLite
and PostgreSQL: who may take each step, consent, deadlines, decisions, tasks and audit."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import String, func, select

from tests.web.hub_fixtures import VICTIM_ROLES, Hub, hub_fixture  # noqa: F401
from tiphub.cases import screenings, tasks, workflows
from tiphub.cases.access import PermissionDeniedError, local_operator
from tiphub.cases.api import CaseStore
from tiphub.cases.proceedings import record_proceeding
from tiphub.screening.workflow import TransitionRefused
from tiphub.store import models as m
from tiphub.store.models import table_of

ORG = "demo-labour"
CASEWORKER = f"caseworker@{ORG}"
SUPERVISOR = f"supervisor@{ORG}"
# 19 Dec 2025 is a Friday. Five English working days later: Mon 22 (1), Tue 23 (2), Wed 24
# (3); Thu 25 Christmas and Fri 26 Boxing Day are bank holidays; Mon 29 (4), Tue 30 (5).
REFERRED_ON = dt.date(2025, 12, 19)
RG_DUE = dt.date(2025, 12, 30)


def _victim(hub: Hub, case_id: uuid.UUID) -> str:
    document = CaseStore(hub.engine).read(case_id, audited=False).document
    return str(
        next(p for p in document["participants"] if p["role"] in VICTIM_ROLES)["person"][
            "external_id"
        ]
    )


def _consent(hub: Hub, case_id: uuid.UUID, given: bool | None) -> None:
    """Leave the victim with exactly this answer on consent to referral (None: never asked)."""
    person = _victim(hub, case_id)

    def change(current: dict[str, Any]) -> dict[str, Any]:
        kept = [c for c in current.get("consents", []) if c["purpose"] != "Referral"]
        if given is not None:
            kept.append(
                {
                    "person_external_id": person,
                    "purpose": "Referral",
                    "given": given,
                    "recorded_on": "2025-12-18",
                }
            )
        return {"consents": kept}

    CaseStore(hub.engine, local_operator("operator:test")).update_case(case_id, change)


def _set_birth_date(hub: Hub, case_id: uuid.UUID, born: str) -> None:
    person = _victim(hub, case_id)

    def change(current: dict[str, Any]) -> dict[str, Any]:
        participants = []
        for participant in current["participants"]:
            if participant["person"]["external_id"] == person:
                participant = {
                    **participant,
                    "person": {**participant["person"], "birth_date": born},
                }
            participants.append(participant)
        return {"participants": participants}

    CaseStore(hub.engine, local_operator("operator:test")).update_case(case_id, change)


def _document(hub: Hub, case_id: uuid.UUID) -> dict[str, Any]:
    return CaseStore(hub.engine).read(case_id, audited=False).document


def _referral(document: dict[str, Any], reference: str) -> dict[str, Any]:
    return next(r for r in document["referrals"] if r.get("reference") == reference)


def _audit_actions(hub: Hub) -> list[str]:
    event = table_of(m.AuditEvent)
    with hub.engine.connect() as connection:
        return list(connection.execute(select(event.c.action).order_by(event.c.sequence)).scalars())


def test_an_adult_without_consent_is_not_referred_and_nothing_changes(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    _set_birth_date(hub, case_id, "1990-04-02")
    for answer in (None, False):
        _consent(hub, case_id, answer)
        before = CaseStore(hub.engine).read(case_id, audited=False)
        with pytest.raises(TransitionRefused, match="consent"):
            workflows.refer_to_mechanism(
                hub.engine,
                hub.principal(CASEWORKER),
                case_id,
                "uk-nrm",
                _victim(hub, case_id),
                {"on": REFERRED_ON.isoformat()},
            )
        after = CaseStore(hub.engine).read(case_id, audited=False)
        assert after.etag == before.etag
        assert after.document == before.document


def test_a_child_is_referred_without_consent(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    _consent(hub, case_id, None)
    # Under 18 on the day of referral (born 2010-01-01: 15 in December 2025).
    _set_birth_date(hub, case_id, "2010-01-01")
    item = workflows.refer_to_mechanism(
        hub.engine,
        hub.principal(CASEWORKER),
        case_id,
        "uk-nrm",
        _victim(hub, case_id),
        {"on": REFERRED_ON.isoformat()},
    )
    assert item.stage == "referred"


def test_the_uk_nrm_from_referral_to_conclusive_grounds(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    _set_birth_date(hub, case_id, "1990-04-02")
    _consent(hub, case_id, True)
    caseworker = hub.principal(CASEWORKER)
    supervisor = hub.principal(SUPERVISOR)
    person = _victim(hub, case_id)

    item = workflows.refer_to_mechanism(
        hub.engine, caseworker, case_id, "uk-nrm", person, {"on": REFERRED_ON.isoformat()}
    )
    assert (item.stage, item.referred_on, item.due_on) == ("referred", REFERRED_ON, RG_DUE)
    assert item.deadline_kind == "target"
    # On 5 January 2026 the Reasonable Grounds decision is overdue.
    listed = workflows.workflow_items(hub.engine, supervisor, today=dt.date(2026, 1, 5))
    mine = next(i for i in listed if i.reference == item.reference)
    assert mine.status == "overdue"
    assert listed.index(mine) == 0 or listed[0].status == "overdue"
    due_tasks = [
        t for t in tasks.tasks(hub.engine, supervisor, case_id=case_id) if t.kind == "decision_due"
    ]
    assert [t.due_on for t in due_tasks] == [RG_DUE]

    # A caseworker records referrals; the decision is the supervisor's to record.
    with pytest.raises(TransitionRefused, match="workflow:decide"):
        workflows.take_step(
            hub.engine,
            caseworker,
            case_id,
            item.reference,
            "rg_positive",
            {"on": "2025-12-29", "grounds": "Indicators met", "decided_by": "Competent Authority"},
        )
    # A decision needs its grounds and who made it.
    with pytest.raises(TransitionRefused, match="decided_by"):
        workflows.take_step(
            hub.engine,
            supervisor,
            case_id,
            item.reference,
            "rg_positive",
            {"on": "2025-12-29", "grounds": "Indicators met"},
        )
    rg = workflows.take_step(
        hub.engine,
        supervisor,
        case_id,
        item.reference,
        "rg_positive",
        {
            "on": "2025-12-29",
            "grounds": "Deception and debt bondage reported",
            "decided_by": "Single Competent Authority",
        },
    )
    # The recovery period: at least 30 calendar days from 29 December 2025 = 28 January 2026.
    assert (rg.stage, rg.due_on, rg.deadline_kind) == (
        "recovery_period",
        dt.date(2026, 1, 28),
        "minimum",
    )
    with pytest.raises(TransitionRefused, match="2026-01-28"):
        workflows.take_step(
            hub.engine,
            supervisor,
            case_id,
            item.reference,
            "cg_positive",
            {"on": "2026-01-20", "grounds": "x", "decided_by": "SCA"},
        )
    cg = workflows.take_step(
        hub.engine,
        supervisor,
        case_id,
        item.reference,
        "cg_positive",
        {"on": "2026-03-02", "grounds": "Corroborated", "decided_by": "SCA"},
    )
    assert cg.terminal and cg.status == "closed"

    document = _document(hub, case_id)
    referral = _referral(document, item.reference)
    assert referral["stage"] == "conclusive_positive"
    assert referral["person_external_id"] == person
    decisions = [
        d
        for d in document["identification_decisions"]
        if d.get("referral_reference") == item.reference
    ]
    assert [(d["decision_type"], d["outcome"], d.get("decided_on")) for d in decisions] == [
        ("ReasonableGrounds", "Pending", "2025-12-19"),
        ("ReasonableGrounds", "Positive", "2025-12-29"),
        ("ConclusiveGrounds", "Positive", "2026-03-02"),
    ]
    assert decisions[1]["grounds"] == "Deception and debt bondage reported"
    assert decisions[1]["decided_by"] == "Single Competent Authority"
    assert decisions[2]["jurisdiction"] == "GB"
    actions = _audit_actions(hub)
    assert actions.count("workflow.refer") == 1
    assert actions.count("workflow.transition") == 2
    history = CaseStore(hub.engine).history_of(case_id)
    assert [v.changed_by for v in history[-3:]] == [CASEWORKER, SUPERVISOR, SUPERVISOR]
    # The closed referral leaves the open list; the deadline tasks it answered are done.
    assert item.reference not in {
        i.reference for i in workflows.workflow_items(hub.engine, supervisor)
    }
    assert not [
        t
        for t in tasks.tasks(hub.engine, supervisor, case_id=case_id)
        if t.kind in ("decision_due", "recovery_period_ends")
    ]


def test_a_step_from_the_wrong_stage_is_refused_naming_the_allowed_ones(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    _set_birth_date(hub, case_id, "1990-04-02")
    _consent(hub, case_id, True)
    item = workflows.refer_to_mechanism(
        hub.engine,
        hub.principal(CASEWORKER),
        case_id,
        "uk-nrm",
        _victim(hub, case_id),
        {"on": REFERRED_ON.isoformat()},
    )
    before = CaseStore(hub.engine).read(case_id, audited=False).etag
    with pytest.raises(TransitionRefused, match="rg_positive"):
        workflows.take_step(
            hub.engine,
            hub.principal(SUPERVISOR),
            case_id,
            item.reference,
            "cg_positive",
            {"on": "2025-12-29", "grounds": "x", "decided_by": "SCA"},
        )
    assert CaseStore(hub.engine).read(case_id, audited=False).etag == before


def test_romania_presumed_victim_notifies_the_national_register(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    _set_birth_date(hub, case_id, "1990-04-02")
    _consent(hub, case_id, True)
    supervisor = hub.principal(SUPERVISOR)
    item = workflows.refer_to_mechanism(
        hub.engine, supervisor, case_id, "ro-nmir", _victim(hub, case_id), {"on": "2025-11-03"}
    )
    assert item.stage == "potential_victim"
    assert {step for step, _ in item.transitions} >= {"identify_presumed", "not_presumed"}
    # Walk the mechanism until a step that notifies the national register has been taken.
    from tiphub.screening.workflow import workflow

    flow = workflow("ro-nmir")
    notifying = {t.id for t in flow.transitions.values() if "national_register" in t.notify}
    assert notifying, "the Romanian mechanism notifies the national register"
    current = item
    for _ in range(6):
        step = next(
            (t for t in flow.transitions_from(current.stage) if t.id in notifying),
            next(iter(flow.transitions_from(current.stage)), None),
        )
        assert step is not None
        fields = {name: "recorded" for name in step.required_fields}
        fields.update({"on": "2025-11-04", "decided_on": "2025-11-04"})
        for name in step.required_fields:
            if name.endswith("_on"):
                fields[name] = "2025-11-04"
        current = workflows.take_step(
            hub.engine, supervisor, case_id, item.reference, step.id, fields
        )
        if step.id in notifying:
            break
    kinds = [t.kind for t in tasks.tasks(hub.engine, supervisor, case_id=case_id)]
    assert "notify_register" in kinds


def test_a_positive_screen_opens_a_task_never_a_status(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    caseworker = hub.principal(CASEWORKER)
    before = _document(hub, case_id)
    answers = {
        "deceptive_recruitment.deceived_about_nature_of_job": True,
        "deceptive_recruitment.deceived_about_wages": True,
    }
    from tiphub.screening.instruments import instrument

    ids = {i.id for i in instrument("ilo-ec-2009-adult-labour").indicators}
    # Pick, by grade, what makes every needed dimension positive (2 strong, or strong+medium).
    chosen = instrument("ilo-ec-2009-adult-labour")
    by_dimension: dict[str, list[Any]] = {}
    for indicator in chosen.indicators:
        by_dimension.setdefault(indicator.dimension, []).append(indicator)
    answers = {}
    for dimension in (
        "deceptive_recruitment",
        "exploitative_conditions",
        "coercion_at_destination",
    ):
        strong = [i for i in by_dimension[dimension] if i.strength == "strong"]
        medium = [i for i in by_dimension[dimension] if i.strength == "medium"]
        answers[strong[0].id] = True
        answers[medium[0].id] = True
    assert set(answers) <= ids
    record = screenings.record_screening(
        hub.engine,
        caseworker,
        "ilo-ec-2009-adult-labour",
        answers,
        case_id=case_id,
        person_external_id=_victim(hub, case_id),
    )
    assert record.positive
    assert record.result["dimensions"]["exploitative_conditions"] is True
    after = _document(hub, case_id)
    assert after == before  # no trafficking status, no decision: a screen is not a decision
    opened = [
        t
        for t in tasks.tasks(hub.engine, caseworker, case_id=case_id)
        if t.source == f"screening:{record.id}"
    ]
    assert [t.kind for t in opened] == ["consider_referral"]
    stored = screenings.screenings_of_case(hub.engine, caseworker, case_id)
    assert stored[0].answers == answers and stored[0].instrument_version == chosen.version
    # Stored answers are sealed: the raw column holds no indicator id in clear.
    screening = table_of(m.Screening)
    with hub.engine.connect() as connection:
        raw = connection.execute(
            select(screening.c.answers.cast(String)).where(screening.c.id == record.id)
        ).scalar_one()
    assert "deceptive_recruitment" not in str(raw)
    # Unchanged rules: rescoring changes nothing.
    assert screenings.rescore(hub.engine, caseworker) == []


def test_bad_answers_are_refused_naming_the_item_and_nothing_is_stored(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    caseworker = hub.principal(CASEWORKER)
    screening = table_of(m.Screening)
    with hub.engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(screening)).scalar_one()
    for answers, named in (
        ({"no_such_item": True}, "no_such_item"),
        ({"age_under_18": "yes"}, "age_under_18"),
    ):
        with pytest.raises(ValueError, match=named):
            screenings.record_screening(
                hub.engine, caseworker, "palermo-amp", answers, case_id=case_id
            )
    with hub.engine.connect() as connection:
        assert (
            connection.execute(select(func.count()).select_from(screening)).scalar_one() == before
        )


def test_an_analyst_may_neither_screen_nor_move_a_referral(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    analyst = hub.principal(f"analyst@{ORG}")
    with pytest.raises(PermissionDeniedError):
        screenings.record_screening(hub.engine, analyst, "qyit", {}, case_id=case_id)
    with pytest.raises(PermissionDeniedError):
        workflows.refer_to_mechanism(
            hub.engine, analyst, case_id, "uk-nrm", _victim(hub, case_id), {}
        )


def test_a_hearing_date_and_a_release_open_tasks_for_the_caseworker(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    caseworker = hub.principal(CASEWORKER)
    hearing = dt.date.today() + dt.timedelta(days=30)
    record_proceeding(
        hub.engine,
        caseworker,
        case_id,
        {
            "stage": "Trial",
            "victim_status": "Witness",
            "protection_measures": ["AnonymousTestimony", "ResidencePermit"],
            "next_hearing_on": hearing.isoformat(),
        },
    )
    opened = {t.kind: t for t in tasks.tasks(hub.engine, caseworker, case_id=case_id)}
    assert opened["hearing"].due_on == hearing - dt.timedelta(days=7)
    document = _document(hub, case_id)
    position = len(document["criminal_proceedings"]) - 1
    assert document["criminal_proceedings"][position]["protection_measures"] == [
        "AnonymousTestimony",
        "ResidencePermit",
    ]
    record_proceeding(
        hub.engine,
        caseworker,
        case_id,
        {"perpetrator_released_on": dt.date.today().isoformat()},
        position=position,
    )
    kinds = [t.kind for t in tasks.tasks(hub.engine, caseworker, case_id=case_id)]
    assert kinds.count("release") == 1 and kinds.count("hearing") == 1
    with pytest.raises(ValueError, match="unknown proceeding field"):
        record_proceeding(hub.engine, caseworker, case_id, {"victim_name": "x"})


def test_a_revised_rule_rescores_the_stored_answers(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    from importlib import resources

    from tiphub.screening.instruments import instrument, instrument_from_dict

    case_id = hub.case_in_scope(ORG)
    caseworker = hub.principal(CASEWORKER)
    qyit = instrument("qyit")
    record = screenings.record_screening(
        hub.engine,
        caseworker,
        "qyit",
        {qyit.indicators[0].id: True},
        case_id=case_id,
        person_external_id=_victim(hub, case_id),
    )
    assert record.positive  # QYIT as published: one yes is positive
    # The same instrument with a stricter rule (two yes answers), as a revision would ship it.
    data = json.loads(
        resources.files("tiphub.screening").joinpath("data/instruments/qyit.json").read_text()
    )
    data["rule"]["n"] = 2
    data["version"] = data["version"] + "-revised"
    revised = instrument_from_dict(data, "qyit revised")
    monkeypatch.setattr(
        screenings, "instrument", lambda name: revised if name == "qyit" else instrument(name)
    )
    changed = screenings.rescore(hub.engine, caseworker, "qyit")
    assert [(c.screening_id, c.was_positive, c.now_positive) for c in changed] == [
        (record.id, True, False)
    ]
    stored = next(
        s
        for s in screenings.screenings_of_case(hub.engine, caseworker, case_id)
        if s.id == record.id
    )
    assert stored.positive is False and stored.answers == {qyit.indicators[0].id: True}
    assert stored.instrument_version == qyit.version  # the answers keep the version asked


def test_a_referral_to_a_mechanism_this_hub_does_not_know_is_listed_not_dropped(
    hub: Hub,
) -> None:
    case_id = hub.case_in_scope(ORG)
    person = _victim(hub, case_id)
    referred_before = _referred_total(hub)
    CaseStore(hub.engine, local_operator("operator:test")).append(
        case_id,
        "referrals",
        {
            "direction": "Outgoing",
            "person_external_id": person,
            "reference": "fr-mnr-000001",
            "mechanism": "fr-mnr",
            "stage": "orientee",
            "referred_on": "2025-10-01",
        },
    )
    listed = workflows.workflow_items(hub.engine, hub.principal(SUPERVISOR))
    imported = next(i for i in listed if i.reference == "fr-mnr-000001")
    assert imported.mechanism_name == "unknown mechanism fr-mnr"
    assert (imported.stage, imported.transitions) == ("orientee", ())
    with pytest.raises(ValueError, match="unknown workflow 'fr-mnr'"):
        workflows.take_step(
            hub.engine, hub.principal(SUPERVISOR), case_id, "fr-mnr-000001", "rg_positive", {}
        )
    # The chain statistics count it as a referral (outside the screened funnel: no screening).
    referred = _referred_total(hub)
    assert referred == referred_before + 1


def _referred_total(hub: Hub) -> int:
    from tiphub.cases.chain import chain_statistics

    steps = chain_statistics(hub.engine, hub.principal(SUPERVISOR)).to_dict()["funnel"]["steps"]
    step = next(s for s in steps if s["step"] == "referred")
    return int(step["count"]) + int(step["outside_funnel"])

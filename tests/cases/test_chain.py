"""Statistics of the identification chain (tiphub.cases.chain): funnel, drop-out, times to
each decision, overdue referrals and the TIP-report law-enforcement table.

The expected figures are counted here again, independently, in plain Python from the stored
documents and screening rows (never through chain.py's helpers), on the demo data and on small
constructed cases with known medians and percentiles. Runs on SQLite, and on PostgreSQL with
``TIPHUB_TEST_DATABASE_URL`` (tests/conftest.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

import holidays
import pytest
from sqlalchemy import Engine, select

from tests.factories import case, victim
from tiphub.cases.access import (
    NotFoundError,
    PermissionDeniedError,
    Principal,
    local_operator,
)
from tiphub.cases.chain import (
    CSV_COLUMNS,
    DROP_REASONS,
    STEPS,
    ChainStatistics,
    TimeRow,
    chain_statistics,
    percentile,
)
from tiphub.cases.persistence import CaseWriter, iter_case_documents
from tiphub.cases.schema import VICTIM_ROLES, CaseRecord
from tiphub.demo.loader import load_demo
from tiphub.screening.workflow import workflow
from tiphub.store import models as m
from tiphub.store.models import new_id, table_of

TODAY = dt.date(2026, 1, 15)

# Read from tiphub/screening/data/workflows/*.json (checked against the files below).
FIRST = {"uk-nrm": "ReasonableGrounds", "ro-nmir": "PreliminaryIdentification"}
FINAL = {"uk-nrm": "ConclusiveGrounds", "ro-nmir": "FormalIdentification"}
NOT_REFERRED = {"uk-nrm": {"potential_victim", "notified_only"}, "ro-nmir": set()}
TERMINAL = {
    "uk-nrm": {"rg_negative", "conclusive_positive", "conclusive_negative", "notified_only"}
    | {"withdrawn"},
    "ro-nmir": {"identified_victim", "not_presumed", "not_identified", "withdrawn"},
}
TARGET_STAGES = {("uk-nrm", "referred")}
MINIMUM_STAGES = {("uk-nrm", "recovery_period"), ("ro-nmir", "presumed_victim")}
CALENDAR = {"uk-nrm": ("GB", "ENG"), "ro-nmir": ("RO", None)}


def test_the_workflow_facts_this_test_relies_on() -> None:
    for mechanism, terminal in TERMINAL.items():
        flow = workflow(mechanism)
        assert {s.id for s in flow.stages.values() if s.terminal} == terminal
        kinds = {t.decision[0] for t in flow.transitions.values() if t.decision}
        assert kinds == {FIRST[mechanism], FINAL[mechanism]}
        for stage in flow.stages.values():
            if stage.deadline is not None:
                pair = (mechanism, stage.id)
                expected = "target" if pair in TARGET_STAGES else "minimum"
                assert pair in TARGET_STAGES | MINIMUM_STAGES
                assert stage.deadline.kind == expected


# -- plain-Python counting ---------------------------------------------------------------------


def _day(value: Any) -> dt.date | None:
    return None if value in (None, "") else dt.date.fromisoformat(str(value))


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(str(value))


def _working_days(start: dt.date, end: dt.date, mechanism: str) -> int:
    country, subdiv = CALENDAR[mechanism]
    days = holidays.country_holidays(country, subdiv=subdiv, years=range(start.year, end.year + 1))
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in days:
            count += 1
    return count


def _p90(values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    # statistics' "inclusive" method is Hyndman & Fan type 7, numpy's "linear".
    return statistics.quantiles(values, n=10, method="inclusive")[8]


class Expected:
    """The chain counted again from case documents and screening rows."""

    def __init__(
        self,
        documents: Iterable[dict[str, Any]],
        screenings: dict[tuple[str, str, str], list[bool]],
    ) -> None:
        self.reached: list[list[bool]] = []
        self.first_reasons: Counter[str] = Counter()
        self.final_reasons: Counter[str] = Counter()
        self.outside: Counter[int] = Counter()
        self.days: dict[str, list[float]] = defaultdict(list)
        self.working: dict[str, list[float]] = defaultdict(list)
        self.overdue: Counter[tuple[str, str]] = Counter()
        self.investigations: Counter[int] = Counter()
        self.identified: Counter[int] = Counter()
        for document in documents:
            self._case(document, screenings)

    def _case(
        self, doc: dict[str, Any], screenings: dict[tuple[str, str, str], list[bool]]
    ) -> None:
        organisation, external = doc["organisation"], doc["external_id"]
        victims = [
            p["person"]["external_id"] for p in doc["participants"] if p["role"] in VICTIM_ROLES
        ]
        for proceeding in doc.get("criminal_proceedings", []):
            self.investigations[_date(proceeding["opened_on"]).year] += 1
        for participant in doc["participants"]:
            person = participant["person"]["external_id"]
            mine = [
                d
                for d in doc.get("identification_decisions", [])
                if d["person_external_id"] == person
            ]
            finals = sorted(
                _date(d["decided_on"])
                for d in mine
                if d["decision_type"] in FINAL.values() and d["outcome"] == "Positive"
            )
            if finals:
                self.identified[finals[0].year] += 1
            answers = screenings.get((organisation, external, person), [])
            referrals = [
                r
                for r in doc.get("referrals", [])
                if r.get("mechanism")
                and r.get("person_external_id") == person
                and r.get("stage") not in NOT_REFERRED[r["mechanism"]]
            ]
            first_status, final_status = [], []
            for referral in referrals:
                mechanism = referral["mechanism"]
                linked = [d for d in mine if d.get("referral_reference") == referral["reference"]]
                first_status.append(self._status(referral, linked, FIRST[mechanism]))
                if first_status[-1] == "reached":
                    final_status.append(self._status(referral, linked, FINAL[mechanism]))
                self._times(referral, linked, doc, person, victims)
                due = _day(referral.get("due_on"))
                stage = referral["stage"]
                if (
                    due is not None
                    and due < TODAY
                    and stage not in TERMINAL[mechanism]
                    and (mechanism, stage) in TARGET_STAGES
                ):
                    self.overdue[(mechanism, stage)] += 1
            support = self._support(doc, person, victims)
            flags = [
                bool(answers),
                any(answers),
                bool(referrals),
                "reached" in first_status,
                "reached" in final_status,
                support is not None,
            ]
            if not any(flags):
                continue
            self.reached.append(flags)
            for index in range(1, len(flags)):
                if flags[index] and not all(flags[:index]):
                    self.outside[index] += 1
            if all(flags[:3]) and not flags[3]:
                self.first_reasons[_best(first_status)] += 1
            if all(flags[:4]) and not flags[4]:
                self.final_reasons[_best(final_status)] += 1

    @staticmethod
    def _status(referral: dict[str, Any], linked: list[dict[str, Any]], kind: str) -> str:
        of_kind = [d for d in linked if d["decision_type"] == kind]
        if any(d["outcome"] == "Positive" for d in of_kind):
            return "reached"
        if referral["stage"] == "withdrawn":
            return "withdrawn"
        if referral["stage"] not in TERMINAL[referral["mechanism"]]:
            return "pending"
        decided = [d for d in of_kind if d["outcome"] != "Pending"]
        if decided and max(decided, key=lambda d: d["decided_on"])["outcome"] == "Negative":
            return "negative_decision"
        return "closed_without_decision"

    @staticmethod
    def _support(doc: dict[str, Any], person: str, victims: list[str]) -> dt.date | None:
        days: list[dt.date | None] = []
        for plan in doc.get("support_plans", []):
            owner = plan.get("person_external_id")
            if owner == person or (owner is None and person in victims):
                days.extend(_day(s.get("started_on")) for s in plan.get("services", []))
        for referral in doc.get("referrals", []):
            owner = referral.get("person_external_id")
            if (
                not referral.get("mechanism")
                and referral["direction"] == "Outgoing"
                and referral.get("status") in ("Accepted", "Completed")
                and (referral.get("services") or referral.get("provider"))
                and (owner == person or (owner is None and person in victims))
            ):
                days.append(_day(referral.get("responded_on") or referral.get("referred_on")))
        found = [d for d in days if d is not None]
        return min(found) if found else None

    def _times(
        self,
        referral: dict[str, Any],
        linked: list[dict[str, Any]],
        doc: dict[str, Any],
        person: str,
        victims: list[str],
    ) -> None:
        mechanism = referral["mechanism"]
        start = _day(referral.get("referred_on") or referral.get("stage_entered_on"))
        decided = sorted(
            (_date(d["decided_on"]), d["decision_type"], d["outcome"])
            for d in linked
            if d["outcome"] in ("Positive", "Negative") and d.get("decided_on")
        )
        firsts = [day for day, kind, _ in decided if kind == FIRST[mechanism]]
        if start is not None and firsts and firsts[0] >= start:
            self.days[f"{mechanism}/first"].append(float((firsts[0] - start).days))
            self.working[f"{mechanism}/first"].append(
                float(_working_days(start, firsts[0], mechanism))
            )
        positives = [
            day
            for day, kind, outcome in decided
            if kind == FIRST[mechanism] and outcome == "Positive"
        ]
        if positives:
            finals = [
                day for day, kind, _ in decided if kind == FINAL[mechanism] and day >= positives[0]
            ]
            if finals:
                self.days[f"{mechanism}/final"].append(float((finals[0] - positives[0]).days))
        support = self._support(doc, person, victims)
        if start is not None and support is not None:
            self.days[f"{mechanism}/support"].append(float(max(0, (support - start).days)))

    def funnel(self) -> list[int]:
        return [sum(all(flags[: i + 1]) for flags in self.reached) for i in range(len(STEPS))]


def _best(found: list[str]) -> str:
    for status in ("reached", "pending", "withdrawn", "negative_decision"):
        if status in found:
            return status
    return "closed_without_decision"


def _screenings(engine: Engine) -> dict[tuple[str, str, str], list[bool]]:
    screening = table_of(m.Screening)
    case_table = table_of(m.Case)
    org = table_of(m.Organisation)
    found: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                org.c.slug,
                case_table.c.external_id,
                screening.c.person_external_id,
                screening.c.positive,
            )
            .join(case_table, case_table.c.id == screening.c.case_id)
            .join(org, org.c.id == case_table.c.organisation_id)
        )
        for slug, external, person, positive in rows:
            found[(slug, external, person)].append(bool(positive))
    return found


def _documents(engine: Engine, organisation: str | None = None) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return list(iter_case_documents(connection, organisation, include_identity=False))


def _time(
    stats: ChainStatistics, interval: str, mechanism: str, organisation: str | None = None
) -> TimeRow:
    return next(
        t
        for t in stats.times
        if t.interval == interval
        and t.mechanism == mechanism
        and t.organisation == organisation
        and t.year is None
    )


# -- on the demo data --------------------------------------------------------------------------


def test_demo_statistics_match_an_independent_count(engine: Engine) -> None:
    load_demo(engine, 600, 1)
    stats = chain_statistics(engine, local_operator(), today=TODAY)
    expected = Expected(_documents(engine), _screenings(engine))

    counts = [step.count for step in stats.funnel]
    assert counts == expected.funnel()
    assert counts[0] > 200 and counts[2] > 20 and counts[4] > 10  # a real test
    assert [step.outside_funnel for step in stats.funnel] == [
        expected.outside[i] for i in range(len(STEPS))
    ]
    for step, previous in zip(stats.funnel[1:], stats.funnel, strict=False):
        assert step.share_of_previous == pytest.approx(step.count / previous.count, abs=1e-4)
    drops = {drop.to_step: drop for drop in stats.drop_out}
    assert drops["first_decision_positive"].reasons == {
        k: v for k, v in expected.first_reasons.items() if v
    }
    assert drops["final_decision_positive"].reasons == {
        k: v for k, v in expected.final_reasons.items() if v
    }
    for drop, (before, after) in zip(stats.drop_out, itertools.pairwise(counts), strict=True):
        assert drop.stopped == before - after == sum(drop.reasons.values())
        assert set(drop.reasons) <= set(DROP_REASONS)

    for interval, suffix in (
        ("referral_to_first_decision", "first"),
        ("first_to_final_decision", "final"),
        ("referral_to_support", "support"),
    ):
        for mechanism in ("uk-nrm", "ro-nmir"):
            values = expected.days[f"{mechanism}/{suffix}"]
            if not values:
                continue
            row = _time(stats, interval, mechanism)
            assert row.n == len(values)
            assert row.median_days == round(statistics.median(values), 1)
            assert row.p90_days == pytest.approx(round(_p90(values), 1), abs=0.051)
    working = expected.working["uk-nrm/first"]
    row = _time(stats, "referral_to_first_decision", "uk-nrm")
    assert row.median_working_days == round(statistics.median(working), 1)
    assert row.p90_working_days == pytest.approx(round(_p90(working), 1), abs=0.051)

    assert {(r.mechanism, r.stage): r.count for r in stats.overdue} == dict(expected.overdue)
    all_forms = {r.year: r for r in stats.law_enforcement if r.exploitation_type == "All forms"}
    assert {y: r.investigations for y, r in all_forms.items() if r.investigations} == dict(
        expected.investigations
    )
    assert {y: r.victims_identified for y, r in all_forms.items() if r.victims_identified} == dict(
        expected.identified
    )


def test_an_organisation_sees_its_own_demo_cases_only(engine: Engine) -> None:
    load_demo(engine, 300, 1)
    org = table_of(m.Organisation)
    with engine.connect() as connection:
        org_id = connection.execute(select(org.c.id).where(org.c.slug == "gb-police")).scalar_one()
    analyst = _principal("gb-police", org_id)
    stats = chain_statistics(engine, analyst, today=TODAY)
    screenings = {k: v for k, v in _screenings(engine).items() if k[0] == "gb-police"}
    expected = Expected(_documents(engine, "gb-police"), screenings)
    assert [step.count for step in stats.funnel] == expected.funnel()
    assert stats.organisation == "gb-police"
    assert {t.organisation for t in stats.times} == {None}  # one organisation: no split
    everyone = chain_statistics(engine, local_operator(), today=TODAY)
    assert everyone.funnel[0].count > stats.funnel[0].count
    assert chain_statistics(
        engine, local_operator(), organisation="gb-police", today=TODAY
    ).funnel == (stats.funnel)


# -- constructed cases -------------------------------------------------------------------------


def _principal(
    slug: str, org_id: uuid.UUID, permissions: Iterable[str] = ("case:read", "statistics:read")
) -> Principal:
    return Principal(
        username=f"analyst@{slug}",
        organisation=slug,
        organisation_id=org_id,
        roles=("analyst",),
        permissions=frozenset(permissions),
        scope="organisation",
    )


def _write(engine: Engine, documents: list[dict[str, Any]]) -> dict[str, uuid.UUID]:
    """Write the cases; return their ids by external id."""
    with engine.begin() as connection:
        CaseWriter(connection, actor="test").write(
            [CaseRecord.model_validate(d) for d in documents]
        )
        table = table_of(m.Case)
        return {
            row.external_id: row.id
            for row in connection.execute(select(table.c.external_id, table.c.id))
        }


def _screen(
    engine: Engine, case_ids: dict[str, uuid.UUID], rows: list[tuple[str, str, bool]]
) -> None:
    screening = table_of(m.Screening)
    table = table_of(m.Case)
    with engine.begin() as connection:
        for external, person, positive in rows:
            org_id = connection.execute(
                select(table.c.organisation_id).where(table.c.id == case_ids[external])
            ).scalar_one()
            connection.execute(
                screening.insert().values(
                    id=new_id(),
                    organisation_id=org_id,
                    case_id=case_ids[external],
                    person_external_id=person,
                    instrument_id="palermo-amp",
                    instrument_version="test",
                    language="en",
                    channel="in_person",
                    answers={"act.recruitment": positive},
                    result={"positive": positive},
                    positive=positive,
                    screened_by="tester",
                    screened_on=dt.date(2024, 3, 1),
                    screened_at=dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
                )
            )


def _uk(
    external: str,
    person: str = "p1",
    *,
    stage: str,
    referred: str | None = "2024-03-04",
    decisions: Iterable[tuple[str, str, str]] = (),
    due: str | None = None,
    organisation: str = "ngo-east",
    mechanism: str = "uk-nrm",
    **extra: Any,
) -> dict[str, Any]:
    reference = f"{mechanism}-{external}"
    return case(
        external,
        organisation,
        participants=[victim(person)],
        events=[],
        consents=[],
        referrals=[
            {
                "direction": "Outgoing",
                "person_external_id": person,
                "reference": reference,
                "mechanism": mechanism,
                "stage": stage,
                "stage_entered_on": referred or "2024-03-04",
                "due_on": due,
                "referred_on": referred,
            }
        ],
        identification_decisions=[
            {
                "person_external_id": person,
                "decision_type": kind,
                "outcome": outcome,
                "decided_on": day,
                "referral_reference": reference,
            }
            for kind, outcome, day in decisions
        ],
        **extra,
    )


RG, CG = "ReasonableGrounds", "ConclusiveGrounds"
PI, FI = "PreliminaryIdentification", "FormalIdentification"


def test_medians_and_percentiles_of_known_intervals(engine: Engine) -> None:
    # Referred on Monday 4 March 2024; Reasonable Grounds 2, 4, 7, 10 and 30 days later (the
    # last across Good Friday and Easter Monday, bank holidays in England).
    decided = ["2024-03-06", "2024-03-08", "2024-03-11", "2024-03-14", "2024-04-03"]
    conclusive = {0: "2024-06-14", 1: "2024-09-24", 2: "2025-04-15"}  # 100, 200, 400 days on
    documents = []
    for index, day in enumerate(decided):
        decisions = [(RG, "Pending", "2024-03-04"), (RG, "Positive", day)]
        if index in conclusive:
            decisions.append((CG, "Positive", conclusive[index]))
        stage = "conclusive_positive" if index in conclusive else "awaiting_conclusive_grounds"
        documents.append(_uk(f"c{index}", stage=stage, decisions=decisions))
    _write(engine, documents)
    stats = chain_statistics(engine, local_operator(), today=TODAY)

    first = _time(stats, "referral_to_first_decision", "uk-nrm")
    assert (first.n, first.median_days, first.p90_days) == (5, 7.0, 22.0)
    # working days 2, 4, 5, 8, 20: h = 4 × 0.9 = 3.6 → 8 + 0.6 × 12
    assert (first.median_working_days, first.p90_working_days) == (5.0, 15.2)
    final = _time(stats, "first_to_final_decision", "uk-nrm")
    # 100, 200, 400 days: median 200; h = 2 × 0.9 = 1.8 → 200 + 0.8 × 200
    assert (final.n, final.median_days, final.p90_days) == (3, 200.0, 360.0)
    assert [(t.year, t.n) for t in stats.times if t.interval == "first_to_final_decision"] == [
        (None, 3),
        (2024, 2),
        (2025, 1),
    ]
    assert percentile([1, 2, 3, 4], 90) == pytest.approx(3.7)
    assert percentile([5], 90) == 5
    assert percentile([], 50) is None
    in_2025 = chain_statistics(engine, local_operator(), year=2025, today=TODAY)
    assert [(t.interval, t.year, t.n) for t in in_2025.times] == [
        ("first_to_final_decision", 2025, 1)
    ]


def test_funnel_and_drop_out_of_constructed_people(engine: Engine) -> None:
    documents = [
        # p1: every step
        _uk(
            "p1",
            stage="conclusive_positive",
            decisions=[(RG, "Positive", "2024-03-10"), (CG, "Positive", "2024-09-01")],
            support_plans=[
                {
                    "person_external_id": "p1",
                    "services": [{"service": "Legal", "started_on": "2024-03-20"}],
                }
            ],
        ),
        _uk("p2", stage="rg_negative", decisions=[(RG, "Negative", "2024-03-10")]),  # negative
        _uk("p3", stage="referred", due="2024-03-11", decisions=[(RG, "Pending", "2024-03-04")]),
        _uk("p4", stage="withdrawn", decisions=[(RG, "Pending", "2024-03-04")]),  # withdrawn
        case("p5", participants=[victim("p1")], events=[], consents=[]),  # screened negative
        _uk("p6", stage="potential_victim", referred=None),  # positive, not yet referred
        _uk("p7", stage="withdrawn", decisions=[(RG, "Positive", "2024-03-10")]),  # left later
        # p8: not screened, referred in Romania and identified
        _uk(
            "p8",
            stage="identified_victim",
            mechanism="ro-nmir",
            decisions=[(PI, "Positive", "2024-03-06"), (FI, "Positive", "2024-06-10")],
        ),
        # p9: identified in Romania, no support recorded
        _uk(
            "p9",
            stage="identified_victim",
            mechanism="ro-nmir",
            decisions=[(PI, "Positive", "2024-03-06"), (FI, "Positive", "2024-06-10")],
        ),
        _uk("p10", stage="notified_only", referred=None),  # Duty to Notify only
        # p11: not screened; recovery period over, Conclusive Grounds awaited
        _uk(
            "p11",
            stage="recovery_period",
            due="2024-04-10",
            decisions=[(RG, "Positive", "2024-03-11")],
        ),
        # p12: a pending reconsideration of a negative decision, with an accepted service
        # referral naming nobody (so it counts for the case's only victim)
        _uk(
            "p12",
            stage="rg_reconsideration",
            decisions=[(RG, "Negative", "2024-03-10")],
        ),
    ]
    documents[-1]["referrals"].append(
        {
            "direction": "Outgoing",
            "provider": "Shelter",
            "services": ["Accommodation"],
            "status": "Accepted",
            "referred_on": "2024-03-12",
            "responded_on": "2024-03-14",
        }
    )
    ids = _write(engine, documents)
    _screen(
        engine,
        ids,
        [(f"p{i}", "p1", i != 5) for i in (1, 2, 3, 4, 5, 6, 7, 9, 10, 12)],
    )
    stats = chain_statistics(engine, local_operator(), today=TODAY)
    assert [(s.step, s.count, s.outside_funnel) for s in stats.funnel] == [
        ("screened", 10, 0),
        ("screened_positive", 9, 0),
        ("referred", 7, 2),  # p1 p2 p3 p4 p7 p9 p12; outside p8 p11
        ("first_decision_positive", 3, 2),  # p1 p7 p9; outside p8 p11
        ("final_decision_positive", 2, 1),  # p1 p9; outside p8
        ("support_started", 1, 1),  # p1; outside p12 (its first decision was negative)
    ]
    assert stats.funnel[2].share_of_previous == pytest.approx(7 / 9, abs=1e-4)
    assert [(d.from_step, d.to_step, d.stopped, d.reasons) for d in stats.drop_out] == [
        ("screened", "screened_positive", 1, {"screened_negative": 1}),
        ("screened_positive", "referred", 2, {"not_referred": 2}),
        (
            "referred",
            "first_decision_positive",
            4,
            {"negative_decision": 1, "pending": 2, "withdrawn": 1},
        ),
        ("first_decision_positive", "final_decision_positive", 1, {"withdrawn": 1}),
        ("final_decision_positive", "support_started", 1, {"no_support_recorded": 1}),
    ]
    assert [(r.mechanism, r.stage, r.count, r.max_days_overdue) for r in stats.overdue] == [
        ("uk-nrm", "referred", 1, (TODAY - dt.date(2024, 3, 11)).days)
    ]
    assert [(r.mechanism, r.stage, r.count) for r in stats.past_minimum_period] == [
        ("uk-nrm", "recovery_period", 1)
    ]
    support = _time(stats, "referral_to_support", "uk-nrm")
    assert (support.n, support.median_days) == (2, 13.0)  # p1 16 days, p12 10 days

    in_2023 = chain_statistics(engine, local_operator(), year=2023, today=TODAY)
    assert [s.count for s in in_2023.funnel] == [0] * len(STEPS)
    assert in_2023.overdue == ()

    data = stats.to_dict()
    assert set(data) == {
        "scope",
        "funnel",
        "times",
        "overdue",
        "past_minimum_period",
        "law_enforcement",
        "notes",
    }
    assert set(data["funnel"]) == {
        "steps",
        "drop_out",
        "screenings_without_case",
        "positive_screenings_without_case",
    }
    assert data["scope"]["small_cells"] == "raw counts, no suppression"
    rows = stats.to_csv_rows()
    handle = io.StringIO()
    writer = csv.DictWriter(handle, CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    assert handle.getvalue().count("\n") == len(rows) + 1
    assert {
        "table": "funnel",
        "mechanism": "",
        "organisation": "all",
        "year": "all",
        "key": "referred",
        "measure": "count",
        "value": 7,
    } in rows
    text = stats.summary()
    assert "Referred to a national referral mechanism: 7" in text
    assert "no small-cell" in text
    assert "Overdue now: 1 referral(s)" in text


def test_law_enforcement_table_by_year_and_form(engine: Engine) -> None:
    both = case(
        "le-1",
        participants=[
            victim("v1"),
            {
                **victim("v2"),
                "victim": {
                    **victim("v2")["victim"],
                    "exploitation_types": ["ForcedLabour", "SexualExploitation"],
                },
            },
        ],
        events=[],
        consents=[],
        criminal_proceedings=[
            {"stage": "Trial", "opened_on": "2023-02-01"},
            {
                "stage": "Closed",
                "opened_on": "2023-05-01",
                "outcome": "Convicted",
                "outcome_on": "2024-05-01",
            },
            {"stage": "Investigation", "opened_on": "2024-01-10"},
        ],
        identification_decisions=[
            {
                "person_external_id": "v2",
                "decision_type": "FormalIdentification",
                "outcome": "Positive",
                "decided_on": "2024-02-01",
            }
        ],
    )
    labour = case(
        "le-2",
        participants=[
            {
                **victim("w1"),
                "victim": {**victim("w1")["victim"], "exploitation_types": ["ForcedLabour"]},
            }
        ],
        events=[],
        consents=[],
        criminal_proceedings=[
            {"stage": "Closed", "opened_on": "2024-03-01", "outcome": "Dismissed"},
            {"stage": "Closed", "opened_on": "2024-04-01", "outcome": "PleaAgreement"},
        ],
    )
    _write(engine, [both, labour])
    stats = chain_statistics(engine, local_operator(), today=TODAY)
    table = {
        (r.year, r.exploitation_type): (
            r.investigations,
            r.prosecutions,
            r.convictions,
            r.victims_identified,
        )
        for r in stats.law_enforcement
    }
    assert table == {
        (2023, "All forms"): (2, 2, 0, 0),
        (2023, "ForcedLabour"): (2, 2, 0, 0),
        (2023, "SexualExploitation"): (2, 2, 0, 0),
        (2024, "All forms"): (3, 1, 2, 1),
        (2024, "ForcedLabour"): (3, 1, 2, 1),
        (2024, "SexualExploitation"): (1, 0, 1, 1),
    }
    assert [r.exploitation_type for r in stats.law_enforcement][:1] == ["All forms"]
    only = chain_statistics(engine, local_operator(), year=2023, today=TODAY)
    assert {r.year for r in only.law_enforcement} == {2023}


def test_scope_an_organisation_sees_only_its_own_cases(engine: Engine) -> None:
    ids = _write(
        engine,
        [
            _uk("a1", organisation="org-a", stage="referred", decisions=[]),
            _uk("a2", organisation="org-a", stage="referred", decisions=[]),
            _uk("b1", organisation="org-b", stage="referred", decisions=[]),
        ],
    )
    _screen(engine, ids, [("a1", "p1", True), ("b1", "p1", True)])
    org = table_of(m.Organisation)
    with engine.connect() as connection:
        slugs = dict(connection.execute(select(org.c.slug, org.c.id)).all())
    analyst_a = _principal("org-a", slugs["org-a"])
    mine = chain_statistics(engine, analyst_a, today=TODAY)
    assert (mine.organisation, mine.funnel[0].count, mine.funnel[2].outside_funnel) == (
        "org-a",
        1,
        1,
    )
    assert (
        chain_statistics(engine, analyst_a, organisation="org-a", today=TODAY).funnel == mine.funnel
    )
    with pytest.raises(PermissionDeniedError):
        chain_statistics(engine, analyst_a, organisation="org-b")
    with pytest.raises(PermissionDeniedError):
        chain_statistics(engine, _principal("org-a", slugs["org-a"], ["case:read"]))
    nobody = Principal(
        "x", None, None, ("analyst",), frozenset({"statistics:read"}), "organisation"
    )
    with pytest.raises(PermissionDeniedError):
        chain_statistics(engine, nobody)
    operator = local_operator()
    everyone = chain_statistics(engine, operator, today=TODAY)
    assert (everyone.funnel[0].count, everyone.funnel[2].outside_funnel) == (2, 1)
    other = chain_statistics(engine, operator, organisation="org-b", today=TODAY)
    assert (other.organisation, other.funnel[0].count) == ("org-b", 1)
    with pytest.raises(NotFoundError):
        chain_statistics(engine, operator, organisation="no-such-org")

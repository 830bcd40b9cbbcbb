"""Statistics of the whole identification chain: screening, referral to a national referral
mechanism, its decisions, support, and the law-enforcement figures of the US TIP report.

:func:`chain_statistics` is scoped like :func:`tiphub.cases.summary.organisation_summary`:
the principal needs ``statistics:read``; an organisation's staff see the organisation's own
cases (cases shared with it by referral are not counted), the local operator every
organisation's, or one named with ``organisation``. The figures are raw counts: the store
summary applies no small-cell suppression and neither does this (they are internal statistics
for the organisation's staff, never for publication as they are).

Definitions (also in ``ChainStatistics.notes``):

* **Unit.** A *case person*: one person in one case. The same person recorded by two
  organisations is two case persons (the store summary counts victims the same way).
* **Funnel.** Six steps, nested: *screened* (a screening of the person in the case),
  *screened positive*, *referred* (a referral to a national mechanism naming them, past the
  mechanism's pre-referral stages), *first-stage decision positive* (Reasonable Grounds in
  the UK NRM, identification as a presumed victim — PreliminaryIdentification — in Romania's
  NMIR), *final decision positive* (Conclusive Grounds; FormalIdentification), *support
  started* (a service provision with a start date, or an accepted or completed outgoing
  service referral; one naming nobody counts for every victim of the case). A step counts the people of the previous step who also reached it, at any
  date; ``outside_funnel`` counts those who reached it without a record of an earlier step
  (referred without a recorded screening, for instance). Decisions count through a referral
  to a mechanism (a decision recorded with no referral is in the law-enforcement table only).
  Which decision types are first-stage and final is read from each mechanism's workflow file
  (the decision recorded nearest to the initial stage, and furthest from it).
* **Drop-out.** Between two steps: how many stopped, and where — ``screened_negative``,
  ``not_referred``, ``negative_decision`` (the mechanism's latest decision at that stage was
  negative and the referral is closed), ``pending`` (still waiting: no decision yet, or a
  reconsideration under way), ``withdrawn`` (the referral is at a withdrawal stage or the
  decision was recorded as withdrawn), ``closed_without_decision``, ``no_support_recorded``.
  A person with several referrals counts as reached if any referral reached the step, else as
  pending if any is still pending, else withdrawn, negative, closed.
* **Cohort year** (the funnel's ``year``): the year of the person's first screening or, if
  never screened, of their first referral (else of the case's opening).
* **Times.** In days, per mechanism, organisation and year of the *end* of the interval:
  referral → first-stage decision (the first positive or negative one), first-stage
  (positive) → final decision (the first positive or negative one after it), referral →
  support started (support that had started before the referral counts as 0 days). Decisions
  are linked to a referral by their ``referral_reference``, or — without one — to the
  person's only referral to a mechanism that makes that kind of decision. Medians and 90th
  percentiles use linear interpolation between order statistics (numpy's default ``linear``
  method, Hyndman & Fan type 7: for sorted values x[0] … x[n−1] and h = (n−1)·q/100, the
  q-th percentile is x[⌊h⌋] + (h−⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])); the median is the 50th
  percentile (the mean of the two middle values for an even n). Working days count
  the days after the start up to and including the end that are working days on the
  mechanism's holiday calendar (:func:`tiphub.screening.deadlines.working_days_between`);
  none for a mechanism whose calendar is not known.
* **Overdue now.** Open referrals (not at a terminal stage) whose stage has a *target*
  deadline (``due_on``) before ``today``; referrals whose *minimum* period (recovery or
  reflection period) is over and whose next step is awaited are listed apart. With ``year``,
  referrals made in that year.
* **Law enforcement (TIP report).** By year and form of exploitation (the exploitation types
  of the case's victims; a case with several types counts under each, so the forms add up to
  more than the ``All forms`` row, which counts each proceeding or person once):
  *investigations* — criminal proceedings opened that year (one per proceeding, i.e. per
  perpetrator); *prosecutions* — of those, proceedings that reached prosecution (stage
  Prosecution, Trial or Appeal, or Closed with a verdict or plea agreement); *convictions* —
  proceedings with outcome Convicted or PleaAgreement, in the year of the outcome (or of the
  opening when the outcome has no date); *victims identified* — case persons with a positive
  final decision (ConclusiveGrounds or FormalIdentification, whether or not through a
  referral), in the year of the first one, under their own exploitation types.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, Engine, select, true

from tiphub.cases.access import NotFoundError, PermissionDeniedError, Principal
from tiphub.cases.schema import VICTIM_ROLES
from tiphub.screening.deadlines import UnknownCalendarError, holiday_calendar, working_days_between
from tiphub.screening.workflow import UnknownWorkflowError, Workflow, workflow
from tiphub.store import models as m
from tiphub.store.models import table_of

__all__ = [
    "CSV_COLUMNS",
    "DROP_REASONS",
    "INTERVALS",
    "STEPS",
    "ChainStatistics",
    "DropOut",
    "FunnelStep",
    "LawEnforcementRow",
    "OverdueRow",
    "TimeRow",
    "chain_statistics",
    "percentile",
]

STEPS: tuple[tuple[str, str], ...] = (
    ("screened", "Screened"),
    ("screened_positive", "Screened positive"),
    ("referred", "Referred to a national referral mechanism"),
    ("first_decision_positive", "Positive first-stage decision (reasonable grounds, presumed)"),
    ("final_decision_positive", "Positive final decision (conclusive grounds, identified)"),
    ("support_started", "Support started"),
)
DROP_REASONS: tuple[str, ...] = (
    "screened_negative",
    "not_referred",
    "negative_decision",
    "pending",
    "withdrawn",
    "closed_without_decision",
    "no_support_recorded",
)
INTERVALS: tuple[tuple[str, str], ...] = (
    ("referral_to_first_decision", "referral to first-stage decision"),
    ("first_to_final_decision", "first-stage decision to final decision"),
    ("referral_to_support", "referral to support started"),
)
CSV_COLUMNS = ("table", "mechanism", "organisation", "year", "key", "measure", "value")

# Used for a referral to a mechanism that has no workflow file.
FIRST_STAGE_TYPES = frozenset({"ReasonableGrounds", "PreliminaryIdentification"})
FINAL_TYPES = frozenset({"ConclusiveGrounds", "FormalIdentification"})
PROSECUTION_STAGES = frozenset({"Prosecution", "Trial", "Appeal"})
VERDICTS = frozenset({"Convicted", "Acquitted", "PleaAgreement"})
CONVICTIONS = frozenset({"Convicted", "PleaAgreement"})
SUPPORT_REFERRAL_STATES = frozenset({"Accepted", "Completed"})
CLOSED_REFERRAL_STATES = frozenset({"Completed", "Declined"})
DECIDED = frozenset({"Positive", "Negative"})
ALL_FORMS = "All forms"
NOT_RECORDED = "Not recorded"
WITHDRAW_PERMISSION = "workflow:withdraw"

NOTES = (
    "Unit: a case person (one person in one case); a person recorded by two organisations "
    "counts twice.",
    "Funnel steps are nested: each counts the people of the previous step who also reached "
    "it; outside_funnel counts people who reached a step without a record of an earlier one.",
    "Cohort year: year of the person's first screening, else of their first referral.",
    "Times are in days by year of the end of the interval; median and 90th percentile by "
    "linear interpolation (numpy 'linear', Hyndman & Fan type 7); working days on the "
    "mechanism's holiday calendar. Support that started before the referral counts as 0 days.",
    "Overdue: open referrals past a target deadline on the day of the statistics.",
    "Law enforcement: a case with several forms of exploitation counts under each; "
    "'All forms' counts each proceeding or person once.",
    "Counts are raw: no small-cell suppression (internal statistics; the store summary "
    "applies none either).",
)


# -- percentiles ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation between order statistics
    (numpy's ``linear`` method, Hyndman & Fan type 7); None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q, method="linear"))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# -- the mechanisms, read from their workflow files --------------------------------------------


@dataclass(frozen=True)
class _Mechanism:
    id: str
    known: bool
    calendar: str | None
    first_types: frozenset[str]
    final_types: frozenset[str]
    initial_stage: str | None = None
    terminal: frozenset[str] = frozenset()
    not_referred: frozenset[str] = frozenset()
    withdrawn: frozenset[str] = frozenset()
    deadline_kind: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()

    def kind_of_deadline(self, stage: str | None) -> str | None:
        return dict(self.deadline_kind).get(stage or "")

    def label(self, stage: str | None) -> str:
        return dict(self.labels).get(stage or "", stage or "(no stage)")

    def is_terminal(self, stage: str | None, status: str | None) -> bool:
        if self.known:
            return stage in self.terminal
        return status in CLOSED_REFERRAL_STATES


def _decision_depths(flow: Workflow) -> dict[str, int]:
    """Each decision type's smallest distance (in steps) from the initial stage."""
    depth = {flow.initial_stage: 0}
    frontier = [flow.initial_stage]
    while frontier:
        following = []
        for stage in frontier:
            for transition in flow.transitions_from(stage):
                if transition.to not in depth:
                    depth[transition.to] = depth[stage] + 1
                    following.append(transition.to)
        frontier = following
    found: dict[str, int] = {}
    for transition in flow.transitions.values():
        if transition.decision is None:
            continue
        at = min(depth.get(stage, 10**6) for stage in transition.from_stages)
        kind = transition.decision[0]
        found[kind] = min(found.get(kind, at), at)
    return found


def _not_referred_stages(flow: Workflow) -> frozenset[str]:
    """Stages at which a person has not (yet) been referred: the initial stage when the
    referral is itself a step out of it (one that opens a pending decision, as the UK NRM's
    "refer"), and terminal stages reached only from such stages by a step that records no
    decision and is not a withdrawal (the UK's Duty to Notify without referral)."""
    initial = flow.initial_stage
    opens = any(
        t.decision is not None and t.decision[1] == "Pending"
        for t in flow.transitions_from(initial)
    )
    if not opens:
        return frozenset()
    found = {initial}
    for stage in flow.stages.values():
        if not stage.terminal:
            continue
        incoming = [t for t in flow.transitions.values() if t.to == stage.id]
        if incoming and all(
            set(t.from_stages) <= found
            and t.decision is None
            and t.permission != WITHDRAW_PERMISSION
            for t in incoming
        ):
            found.add(stage.id)
    return frozenset(found)


@cache
def _mechanism(mechanism_id: str) -> _Mechanism:
    try:
        flow = workflow(mechanism_id)
    except UnknownWorkflowError:
        return _Mechanism(mechanism_id, False, None, FIRST_STAGE_TYPES, FINAL_TYPES)
    calendar: str | None = flow.calendar
    try:
        holiday_calendar(flow.calendar)
    except UnknownCalendarError:
        calendar = None
    depths = _decision_depths(flow)
    nearest = min(depths.values(), default=0)
    furthest = max(depths.values(), default=0)
    first = frozenset(k for k, d in depths.items() if d == nearest)
    final = frozenset(k for k, d in depths.items() if d == furthest and d != nearest)
    return _Mechanism(
        flow.id,
        True,
        calendar,
        first or FIRST_STAGE_TYPES,
        final or FINAL_TYPES,
        flow.initial_stage,
        frozenset(s.id for s in flow.stages.values() if s.terminal),
        _not_referred_stages(flow),
        frozenset(t.to for t in flow.transitions.values() if t.permission == WITHDRAW_PERMISSION),
        tuple((s.id, s.deadline.kind) for s in flow.stages.values() if s.deadline is not None),
        tuple((s.id, s.label) for s in flow.stages.values()),
    )


# -- the rows the statistics are computed from ---------------------------------------------------

PersonKey = tuple[uuid.UUID, str]


@dataclass
class _Decision:
    decision_type: str
    outcome: str
    decided_on: dt.date | None
    referral_reference: str | None


@dataclass
class _MechanismReferral:
    case_id: uuid.UUID
    person: str
    reference: str | None
    mechanism: _Mechanism
    stage: str | None
    stage_entered_on: dt.date | None
    due_on: dt.date | None
    referred_on: dt.date | None
    status: str | None
    decisions: list[_Decision] = field(default_factory=list)

    @property
    def referred(self) -> bool:
        return self.stage not in self.mechanism.not_referred

    @property
    def start(self) -> dt.date | None:
        return self.referred_on or self.stage_entered_on

    @property
    def terminal(self) -> bool:
        return self.mechanism.is_terminal(self.stage, self.status)

    def decided(self, types: frozenset[str]) -> list[_Decision]:
        return sorted(
            (
                d
                for d in self.decisions
                if d.decision_type in types and d.outcome in DECIDED and d.decided_on
            ),
            key=lambda d: d.decided_on or dt.date.min,
        )

    def first_positive(self, types: frozenset[str]) -> dt.date | None:
        """The date of the first positive decision of ``types`` (None: none with a date)."""
        days = [
            d.decided_on
            for d in self.decisions
            if d.decision_type in types and d.outcome == "Positive" and d.decided_on
        ]
        return min(days) if days else None

    def progress(self, types: frozenset[str]) -> str:
        """How far the referral got towards a positive decision of ``types``: "reached",
        or the reason it stopped short (a ``DROP_REASONS`` entry)."""
        of_kind = [d for d in self.decisions if d.decision_type in types]
        if any(d.outcome == "Positive" for d in of_kind):
            return "reached"
        latest = max(
            (d for d in of_kind if d.outcome != "Pending"),
            key=lambda d: d.decided_on or dt.date.min,
            default=None,
        )
        if self.stage in self.mechanism.withdrawn or (
            latest is not None and latest.outcome == "Withdrawn"
        ):
            return "withdrawn"
        if not self.terminal:
            return "pending"
        if latest is not None and latest.outcome == "Negative":
            return "negative_decision"
        return "closed_without_decision"


@dataclass
class _Person:
    key: PersonKey
    organisation: str
    opened_on: dt.date | None
    exploitation_types: tuple[str, ...] = ()
    screenings: list[tuple[dt.date, bool]] = field(default_factory=list)
    referrals: list[_MechanismReferral] = field(default_factory=list)
    decisions: list[_Decision] = field(default_factory=list)
    support: list[dt.date] = field(default_factory=list)

    @property
    def mechanism_referrals(self) -> list[_MechanismReferral]:
        return [r for r in self.referrals if r.referred]

    def stage_progress(self, stage: str) -> str:
        """The best progress over the person's referrals at the first or final stage."""
        found = []
        for referral in self.mechanism_referrals:
            if stage == "final" and referral.progress(referral.mechanism.first_types) != (
                "reached"
            ):
                continue
            types = (
                referral.mechanism.first_types
                if stage == "first"
                else referral.mechanism.final_types
            )
            found.append(referral.progress(types))
        for outcome in ("reached", "pending", "withdrawn", "negative_decision"):
            if outcome in found:
                return outcome
        return "closed_without_decision" if found else "not_referred"

    def cohort_day(self) -> dt.date | None:
        if self.screenings:
            return min(day for day, _ in self.screenings)
        starts = [r.start for r in self.mechanism_referrals if r.start]
        return min(starts) if starts else self.opened_on

    def support_started(self) -> dt.date | None:
        return min(self.support) if self.support else None


# -- reading the store ------------------------------------------------------------------------


def _scope(
    principal: Principal, organisation: str | None, connection: Connection
) -> uuid.UUID | None:
    """The organisation id the statistics are limited to (None: every organisation)."""
    org = table_of(m.Organisation)
    if not principal.operator:
        if principal.organisation_id is None:
            raise PermissionDeniedError("statistics are an organisation's; you belong to none")
        if organisation is not None and organisation != principal.organisation:
            raise PermissionDeniedError("you can read your own organisation's statistics only")
        return principal.organisation_id
    if organisation is None:
        return None
    found: uuid.UUID | None = connection.execute(
        select(org.c.id).where(org.c.slug == organisation)
    ).scalar()
    if found is None:
        raise NotFoundError(f"no organisation {organisation!r}")
    return found


class _Reader:
    def __init__(self, connection: Connection, organisation_id: uuid.UUID | None) -> None:
        self.connection = connection
        case = table_of(m.Case)
        self.in_scope: ColumnElement[bool] = (
            true() if organisation_id is None else case.c.organisation_id == organisation_id
        )
        self.organisation_id = organisation_id
        self.slugs = {
            row.id: row.slug
            for row in connection.execute(
                select(table_of(m.Organisation).c.id, table_of(m.Organisation).c.slug)
            )
        }
        self.people: dict[PersonKey, _Person] = {}
        self.victims_of: dict[uuid.UUID, list[str]] = defaultdict(list)
        self.case_types: dict[uuid.UUID, set[str]] = defaultdict(set)
        self.case_org: dict[uuid.UUID, tuple[str, dt.date | None]] = {}
        self.proceedings: list[Any] = []
        self.screenings_without_case = 0
        self.positive_without_case = 0

    def _rows(self, query: Any) -> Iterable[Any]:
        return self.connection.execute(query, execution_options={"yield_per": 10_000})

    def person(self, case_id: uuid.UUID, external_id: str) -> _Person:
        key = (case_id, external_id)
        found = self.people.get(key)
        if found is None:
            slug, opened = self.case_org.get(case_id, ("", None))
            found = self.people[key] = _Person(key, slug, opened)
        return found

    def read(self, year: int | None) -> None:
        case = table_of(m.Case)
        participant = table_of(m.CaseParticipant)
        person = table_of(m.Person)
        victim = table_of(m.VictimContext)
        for row in self._rows(
            select(case.c.id, case.c.organisation_id, case.c.opened_on).where(self.in_scope)
        ):
            self.case_org[row.id] = (self.slugs.get(row.organisation_id, ""), row.opened_on)
        participants = (
            select(
                participant.c.id,
                participant.c.case_id,
                participant.c.role,
                person.c.external_id,
                victim.c.exploitation_types,
            )
            .join(case, case.c.id == participant.c.case_id)
            .join(person, person.c.id == participant.c.person_id)
            .outerjoin(victim, victim.c.participant_id == participant.c.id)
            .where(self.in_scope)
        )
        external_of: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
        for row in self._rows(participants):
            external_of[row.id] = (row.case_id, row.external_id)
            if row.role in VICTIM_ROLES:
                self.victims_of[row.case_id].append(row.external_id)
                types = tuple(row.exploitation_types or ())
                self.case_types[row.case_id].update(types)
                self.person(row.case_id, row.external_id).exploitation_types = types
        self._screenings(year)
        self._referrals(external_of)
        self._decisions(external_of)
        self._provisions(external_of)
        proceeding = table_of(m.CriminalProceeding)
        self.proceedings = list(
            self._rows(
                select(
                    proceeding.c.case_id,
                    proceeding.c.stage,
                    proceeding.c.outcome,
                    proceeding.c.opened_on,
                    proceeding.c.outcome_on,
                )
                .join(case, case.c.id == proceeding.c.case_id)
                .where(self.in_scope)
            )
        )

    def _screenings(self, year: int | None) -> None:
        case = table_of(m.Case)
        screening = table_of(m.Screening)
        columns = (
            screening.c.case_id,
            screening.c.person_external_id,
            screening.c.positive,
            screening.c.screened_on,
        )
        for row in self._rows(
            select(*columns).join(case, case.c.id == screening.c.case_id).where(self.in_scope)
        ):
            external = row.person_external_id or self._only_victim(row.case_id)
            if external is not None:
                self.person(row.case_id, external).screenings.append(
                    (row.screened_on, bool(row.positive))
                )
        without_case = select(screening.c.positive, screening.c.screened_on).where(
            screening.c.case_id.is_(None)
        )
        if self.organisation_id is not None:
            without_case = without_case.where(screening.c.organisation_id == self.organisation_id)
        for row in self._rows(without_case):
            if year is None or row.screened_on.year == year:
                self.screenings_without_case += 1
                self.positive_without_case += bool(row.positive)

    def _only_victim(self, case_id: uuid.UUID) -> str | None:
        victims = self.victims_of.get(case_id, [])
        return victims[0] if len(victims) == 1 else None

    def _referrals(self, external_of: dict[uuid.UUID, tuple[uuid.UUID, str]]) -> None:
        case = table_of(m.Case)
        referral = table_of(m.Referral)
        query = (
            select(
                referral.c.case_id,
                referral.c.participant_id,
                referral.c.direction,
                referral.c.reference,
                referral.c.mechanism,
                referral.c.stage,
                referral.c.stage_entered_on,
                referral.c.due_on,
                referral.c.referred_on,
                referral.c.responded_on,
                referral.c.status,
                referral.c.provider,
                referral.c.services,
            )
            .join(case, case.c.id == referral.c.case_id)
            .where(self.in_scope)
        )
        for row in self._rows(query):
            people = self._people_of(row.case_id, row.participant_id, external_of)
            if row.mechanism:
                # A referral to a mechanism is about one person: one naming nobody counts
                # for the case's only victim, if it has only one.
                for external in people if len(people) == 1 else ():
                    self.person(row.case_id, external).referrals.append(
                        _MechanismReferral(
                            row.case_id,
                            external,
                            row.reference,
                            _mechanism(row.mechanism),
                            row.stage,
                            row.stage_entered_on,
                            row.due_on,
                            row.referred_on,
                            row.status,
                        )
                    )
                continue
            accepted = (
                row.direction == "Outgoing"
                and row.status in SUPPORT_REFERRAL_STATES
                and (row.services or row.provider)
            )
            day = row.responded_on or row.referred_on
            if accepted and day is not None:
                for external in people:
                    self.person(row.case_id, external).support.append(day)

    def _people_of(
        self,
        case_id: uuid.UUID,
        participant_id: uuid.UUID | None,
        external_of: dict[uuid.UUID, tuple[uuid.UUID, str]],
    ) -> list[str]:
        """The person a row names, or every victim of the case when it names none."""
        if participant_id is not None:
            found = external_of.get(participant_id)
            return [] if found is None else [found[1]]
        return list(self.victims_of.get(case_id, []))

    def _decisions(self, external_of: dict[uuid.UUID, tuple[uuid.UUID, str]]) -> None:
        case = table_of(m.Case)
        decision = table_of(m.IdentificationDecision)
        query = (
            select(
                decision.c.case_id,
                decision.c.participant_id,
                decision.c.decision_type,
                decision.c.outcome,
                decision.c.decided_on,
                decision.c.referral_reference,
            )
            .join(case, case.c.id == decision.c.case_id)
            .where(self.in_scope)
        )
        for row in self._rows(query):
            found = external_of.get(row.participant_id)
            if found is None:
                continue
            self.person(*found).decisions.append(
                _Decision(row.decision_type, row.outcome, row.decided_on, row.referral_reference)
            )

    def _provisions(self, external_of: dict[uuid.UUID, tuple[uuid.UUID, str]]) -> None:
        case = table_of(m.Case)
        plan = table_of(m.SupportPlan)
        provision = table_of(m.ServiceProvision)
        query = (
            select(plan.c.case_id, plan.c.participant_id, provision.c.started_on)
            .join(plan, plan.c.id == provision.c.support_plan_id)
            .join(case, case.c.id == plan.c.case_id)
            .where(self.in_scope, provision.c.started_on.is_not(None))
        )
        for row in self._rows(query):
            for external in self._people_of(row.case_id, row.participant_id, external_of):
                self.person(row.case_id, external).support.append(row.started_on)


def _link_decisions(person: _Person) -> None:
    """Each decision to the referral it answers: by reference, else to the person's only
    referral to a mechanism that makes decisions of its type."""
    by_reference = {r.reference: r for r in person.referrals if r.reference}
    for decision in person.decisions:
        target = by_reference.get(decision.referral_reference or "")
        if target is None and not decision.referral_reference:
            fitting = [
                r
                for r in person.referrals
                if decision.decision_type in r.mechanism.first_types | r.mechanism.final_types
            ]
            target = fitting[0] if len(fitting) == 1 else None
        if target is not None:
            target.decisions.append(decision)


# -- the results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStep:
    step: str
    label: str
    count: int
    share_of_previous: float | None
    outside_funnel: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "label": self.label,
            "count": self.count,
            "share_of_previous": self.share_of_previous,
            "outside_funnel": self.outside_funnel,
        }


@dataclass(frozen=True)
class DropOut:
    from_step: str
    to_step: str
    stopped: int
    reasons: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_step,
            "to": self.to_step,
            "stopped": self.stopped,
            "reasons": dict(self.reasons),
        }


@dataclass(frozen=True)
class TimeRow:
    interval: str
    mechanism: str
    organisation: str | None  # None: every organisation in scope
    year: int | None  # None: every year
    n: int
    median_days: float | None
    p90_days: float | None
    median_working_days: float | None
    p90_working_days: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "mechanism": self.mechanism,
            "organisation": self.organisation,
            "year": self.year,
            "n": self.n,
            "median_days": self.median_days,
            "p90_days": self.p90_days,
            "median_working_days": self.median_working_days,
            "p90_working_days": self.p90_working_days,
        }


@dataclass(frozen=True)
class OverdueRow:
    mechanism: str
    stage: str
    stage_label: str
    count: int
    median_days_overdue: float | None
    max_days_overdue: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "mechanism": self.mechanism,
            "stage": self.stage,
            "stage_label": self.stage_label,
            "count": self.count,
            "median_days_overdue": self.median_days_overdue,
            "max_days_overdue": self.max_days_overdue,
        }


@dataclass(frozen=True)
class LawEnforcementRow:
    year: int
    exploitation_type: str
    investigations: int
    prosecutions: int
    convictions: int
    victims_identified: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "exploitation_type": self.exploitation_type,
            "investigations": self.investigations,
            "prosecutions": self.prosecutions,
            "convictions": self.convictions,
            "victims_identified": self.victims_identified,
        }


@dataclass(frozen=True)
class ChainStatistics:
    organisation: str | None  # None: every organisation (the local operator)
    year: int | None
    today: dt.date
    funnel: tuple[FunnelStep, ...]
    drop_out: tuple[DropOut, ...]
    screenings_without_case: int
    positive_screenings_without_case: int
    times: tuple[TimeRow, ...]
    overdue: tuple[OverdueRow, ...]
    past_minimum_period: tuple[OverdueRow, ...]
    law_enforcement: tuple[LawEnforcementRow, ...]
    notes: tuple[str, ...] = NOTES

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": {
                "organisation": self.organisation,
                "year": self.year,
                "today": self.today.isoformat(),
                "unit": "case person",
                "small_cells": "raw counts, no suppression",
            },
            "funnel": {
                "steps": [step.to_dict() for step in self.funnel],
                "drop_out": [drop.to_dict() for drop in self.drop_out],
                "screenings_without_case": self.screenings_without_case,
                "positive_screenings_without_case": self.positive_screenings_without_case,
            },
            "times": [row.to_dict() for row in self.times],
            "overdue": [row.to_dict() for row in self.overdue],
            "past_minimum_period": [row.to_dict() for row in self.past_minimum_period],
            "law_enforcement": [row.to_dict() for row in self.law_enforcement],
            "notes": list(self.notes),
        }

    def to_csv_rows(self) -> list[dict[str, Any]]:
        """One row per figure (``CSV_COLUMNS``), for ``csv.DictWriter``."""
        rows: list[dict[str, Any]] = []

        def add(
            table: str,
            key: str,
            measure: str,
            value: Any,
            mechanism: str | None = None,
            organisation: str | None = None,
            year: int | None = None,
        ) -> None:
            rows.append(
                {
                    "table": table,
                    "mechanism": mechanism or "",
                    "organisation": organisation or self.organisation or "all",
                    "year": year if year is not None else self.year or "all",
                    "key": key,
                    "measure": measure,
                    "value": "" if value is None else value,
                }
            )

        for step in self.funnel:
            add("funnel", step.step, "count", step.count)
            add("funnel", step.step, "share_of_previous", step.share_of_previous)
            add("funnel", step.step, "outside_funnel", step.outside_funnel)
        for drop in self.drop_out:
            key = f"{drop.from_step}->{drop.to_step}"
            add("drop_out", key, "stopped", drop.stopped)
            for reason, count in drop.reasons.items():
                add("drop_out", key, reason, count)
        add("screenings_without_case", "screenings", "count", self.screenings_without_case)
        add(
            "screenings_without_case",
            "screenings",
            "positive",
            self.positive_screenings_without_case,
        )
        for time in self.times:
            for measure in (
                "n",
                "median_days",
                "p90_days",
                "median_working_days",
                "p90_working_days",
            ):
                add(
                    "times",
                    time.interval,
                    measure,
                    getattr(time, measure),
                    time.mechanism,
                    time.organisation,
                    time.year,
                )
        for table, items in (
            ("overdue", self.overdue),
            ("past_minimum_period", self.past_minimum_period),
        ):
            for item in items:
                for measure in ("count", "median_days_overdue", "max_days_overdue"):
                    add(table, item.stage, measure, getattr(item, measure), item.mechanism)
        for law in self.law_enforcement:
            for measure in ("investigations", "prosecutions", "convictions", "victims_identified"):
                add(
                    "law_enforcement",
                    law.exploitation_type,
                    measure,
                    getattr(law, measure),
                    year=law.year,
                )
        return rows

    def summary(self) -> str:
        """The figures in plain words."""
        who = self.organisation or "every organisation"
        when = f"in {self.year}" if self.year is not None else "in every year"
        lines = [
            f"Identification chain for {who}, {when} (as of {self.today.isoformat()}); people "
            "are counted once per case they appear in, and the counts are raw (no small-cell "
            "suppression)."
        ]
        previous: FunnelStep | None = None
        for step in self.funnel:
            line = f"- {step.label}: {step.count}"
            if previous is not None and step.share_of_previous is not None:
                line += f" ({step.share_of_previous:.0%} of the {previous.count} before)"
            if step.outside_funnel:
                line += f"; {step.outside_funnel} more reached this step without an earlier one"
            lines.append(line + ".")
            previous = step
        for drop in self.drop_out:
            if drop.stopped:
                reasons = ", ".join(
                    f"{count} {reason.replace('_', ' ')}"
                    for reason, count in drop.reasons.items()
                    if count
                )
                lines.append(
                    f"  {drop.stopped} stopped between '{drop.from_step}' and "
                    f"'{drop.to_step}': {reasons}."
                )
        if self.screenings_without_case:
            lines.append(
                f"{self.screenings_without_case} screening(s) belong to no case "
                f"({self.positive_screenings_without_case} positive)."
            )
        overall = [t for t in self.times if t.organisation is None and t.year is None]
        if not overall:
            overall = [t for t in self.times if t.organisation is None]
        labels = dict(INTERVALS)
        for row in overall:
            if not row.n:
                continue
            line = (
                f"{row.mechanism}, {labels[row.interval]}: median {row.median_days:g} days, "
                f"90% within {row.p90_days:g} days (n={row.n}"
            )
            if row.median_working_days is not None:
                line += f"; median {row.median_working_days:g} working days"
            lines.append(line + ").")
        if self.overdue:
            total = sum(row.count for row in self.overdue)
            parts = ", ".join(
                f"{row.count} at {row.mechanism} '{row.stage}'" for row in self.overdue
            )
            lines.append(f"Overdue now: {total} referral(s) past their target date ({parts}).")
        else:
            lines.append("Overdue now: no referral is past its target date.")
        if self.past_minimum_period:
            total = sum(row.count for row in self.past_minimum_period)
            lines.append(
                f"{total} referral(s) are past their minimum (recovery or reflection) period, "
                "awaiting the next step."
            )
        for law in self.law_enforcement:
            if law.exploitation_type != ALL_FORMS:
                continue
            lines.append(
                f"{law.year}: {law.investigations} investigation(s), {law.prosecutions} "
                f"prosecution(s), {law.convictions} conviction(s), {law.victims_identified} "
                "victim(s) identified (all forms of exploitation)."
            )
        return "\n".join(lines)


# -- computing --------------------------------------------------------------------------------


def _share(count: int, previous: int) -> float | None:
    return None if previous == 0 else round(count / previous, 4)


def _funnel(people: Sequence[_Person]) -> tuple[tuple[FunnelStep, ...], tuple[DropOut, ...]]:
    def reached(person: _Person) -> list[bool]:
        return [
            bool(person.screenings),
            any(positive for _, positive in person.screenings),
            bool(person.mechanism_referrals),
            person.stage_progress("first") == "reached",
            person.stage_progress("final") == "reached",
            person.support_started() is not None,
        ]

    def stopped_because(person: _Person, step: int) -> str:
        if step == 1:
            return "screened_negative"
        if step == 2:
            return "not_referred"
        if step == 5:
            return "no_support_recorded"
        return person.stage_progress("first" if step == 3 else "final")

    flags = [(person, reached(person)) for person in people]
    steps: list[FunnelStep] = []
    drops: list[DropOut] = []
    previous: list[_Person] = []
    for index, (step, label) in enumerate(STEPS):
        inside = [p for p, f in flags if all(f[: index + 1])]
        outside = sum(1 for _, f in flags if f[index] and not all(f[:index]))
        share = None if index == 0 else _share(len(inside), len(previous))
        steps.append(FunnelStep(step, label, len(inside), share, outside))
        if index:
            kept = {id(p) for p in inside}
            reasons = Counter(stopped_because(p, index) for p in previous if id(p) not in kept)
            drops.append(
                DropOut(
                    STEPS[index - 1][0],
                    step,
                    len(previous) - len(inside),
                    {reason: reasons[reason] for reason in DROP_REASONS if reasons[reason]},
                )
            )
        previous = inside
    return tuple(steps), tuple(drops)


def _working(start: dt.date, end: dt.date, calendar: str | None) -> int | None:
    if calendar is None:
        return None
    return max(0, working_days_between(start, end, calendar))


def _intervals(
    people: Sequence[_Person],
) -> Iterable[tuple[str, str, str, int, int, int | None]]:
    """(interval, mechanism, organisation, year, days, working days) of each referral."""
    for person in people:
        support = person.support_started()
        for referral in person.mechanism_referrals:
            mechanism = referral.mechanism
            start = referral.start
            first = referral.decided(mechanism.first_types)
            if start is not None and first:
                end = first[0].decided_on
                assert end is not None
                if end >= start:
                    yield (
                        "referral_to_first_decision",
                        mechanism.id,
                        person.organisation,
                        end.year,
                        (end - start).days,
                        _working(start, end, mechanism.calendar),
                    )
            positive = referral.first_positive(mechanism.first_types)
            if positive is not None:
                finals = [
                    d
                    for d in referral.decided(mechanism.final_types)
                    if d.decided_on and d.decided_on >= positive
                ]
                if finals:
                    end = finals[0].decided_on
                    assert end is not None
                    yield (
                        "first_to_final_decision",
                        mechanism.id,
                        person.organisation,
                        end.year,
                        (end - positive).days,
                        _working(positive, end, mechanism.calendar),
                    )
            if start is not None and support is not None:
                end = max(start, support)
                yield (
                    "referral_to_support",
                    mechanism.id,
                    person.organisation,
                    end.year,
                    (end - start).days,
                    _working(start, end, mechanism.calendar),
                )


def _times(
    people: Sequence[_Person], year: int | None, per_organisation: bool
) -> tuple[TimeRow, ...]:
    groups: dict[tuple[str, str, str | None, int | None], list[tuple[int, int | None]]] = (
        defaultdict(list)
    )
    for interval, mechanism, organisation, end_year, days, working_days in _intervals(people):
        if year is not None and end_year != year:
            continue
        organisations: tuple[str | None, ...] = (
            (None, organisation) if per_organisation else (None,)
        )
        years: tuple[int | None, ...] = (end_year,) if year is not None else (None, end_year)
        for org in organisations:
            for when in years:
                groups[(interval, mechanism, org, when)].append((days, working_days))
    order = {name: index for index, (name, _) in enumerate(INTERVALS)}
    rows = []
    for (interval, mechanism, org, when), values in sorted(
        groups.items(),
        key=lambda item: (
            item[0][1],
            order[item[0][0]],
            item[0][2] or "",
            item[0][3] or 0,
        ),
    ):
        calendar = [float(d) for d, _ in values]
        working = [float(w) for _, w in values if w is not None]
        rows.append(
            TimeRow(
                interval,
                mechanism,
                org,
                when,
                len(values),
                _rounded(percentile(calendar, 50)),
                _rounded(percentile(calendar, 90)),
                _rounded(percentile(working, 50)),
                _rounded(percentile(working, 90)),
            )
        )
    return tuple(rows)


def _overdue(
    people: Sequence[_Person], today: dt.date, year: int | None
) -> tuple[tuple[OverdueRow, ...], tuple[OverdueRow, ...]]:
    late: dict[tuple[str, str], list[int]] = defaultdict(list)
    waiting: dict[tuple[str, str], list[int]] = defaultdict(list)
    labels: dict[tuple[str, str], str] = {}
    for person in people:
        for referral in person.mechanism_referrals:
            if referral.terminal or referral.due_on is None or referral.due_on >= today:
                continue
            start = referral.start
            if year is not None and (start is None or start.year != year):
                continue
            key = (referral.mechanism.id, referral.stage or "")
            labels[key] = referral.mechanism.label(referral.stage)
            days = (today - referral.due_on).days
            if referral.mechanism.kind_of_deadline(referral.stage) == "minimum":
                waiting[key].append(days)
            else:
                late[key].append(days)

    def rows(found: dict[tuple[str, str], list[int]]) -> tuple[OverdueRow, ...]:
        return tuple(
            OverdueRow(
                mechanism,
                stage,
                labels[(mechanism, stage)],
                len(days),
                _rounded(percentile([float(d) for d in days], 50)),
                max(days),
            )
            for (mechanism, stage), days in sorted(found.items())
        )

    return rows(late), rows(waiting)


def _law_enforcement(
    reader: _Reader, people: Sequence[_Person], year: int | None
) -> tuple[LawEnforcementRow, ...]:
    counts: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)

    def add(when: dt.date | None, types: Iterable[str], measure: str) -> None:
        if when is None or (year is not None and when.year != year):
            return
        for form in {*types} or {NOT_RECORDED}:
            counts[(when.year, form)][measure] += 1
        counts[(when.year, ALL_FORMS)][measure] += 1

    for row in reader.proceedings:
        types = reader.case_types.get(row.case_id, set())
        add(row.opened_on, types, "investigations")
        prosecuted = row.stage in PROSECUTION_STAGES or (
            row.stage == "Closed" and row.outcome in VERDICTS
        )
        if prosecuted:
            add(row.opened_on, types, "prosecutions")
        if row.outcome in CONVICTIONS:
            add(row.outcome_on or row.opened_on, types, "convictions")
    for person in people:
        identified = [
            d.decided_on
            for d in person.decisions
            if d.decision_type in FINAL_TYPES and d.outcome == "Positive" and d.decided_on
        ]
        if identified:
            own = person.exploitation_types or tuple(reader.case_types.get(person.key[0], ()))
            add(min(identified), own, "victims_identified")
    return tuple(
        LawEnforcementRow(
            when,
            form,
            found["investigations"],
            found["prosecutions"],
            found["convictions"],
            found["victims_identified"],
        )
        for (when, form), found in sorted(
            counts.items(), key=lambda item: (item[0][0], item[0][1] != ALL_FORMS, item[0][1])
        )
    )


def chain_statistics(
    engine: Engine,
    principal: Principal,
    *,
    year: int | None = None,
    organisation: str | None = None,
    today: dt.date | None = None,
) -> ChainStatistics:
    """The identification chain's statistics for the principal's organisation (every
    organisation's, or the one named by slug, for the local operator); ``year`` limits every
    table to that year (see the module's definitions); ``today`` dates "overdue now"."""
    principal.require("statistics:read")
    day = today or dt.date.today()
    # A transaction (not ``reading``'s autocommit): the rows are streamed through
    # server-side cursors on PostgreSQL, which live inside one.
    with engine.connect() as connection:
        organisation_id = _scope(principal, organisation, connection)
        reader = _Reader(connection, organisation_id)
        reader.read(year)
    for person in reader.people.values():
        _link_decisions(person)
    everyone = list(reader.people.values())
    in_year = [
        p
        for p in everyone
        if year is None or ((cohort := p.cohort_day()) is not None and cohort.year == year)
    ]
    funnel, drop_out = _funnel(in_year)
    overdue, past_minimum = _overdue(everyone, day, year)
    slug = None if organisation_id is None else reader.slugs.get(organisation_id)
    per_organisation = organisation_id is None and len({p.organisation for p in everyone}) > 1
    return ChainStatistics(
        organisation=slug,
        year=year,
        today=day,
        funnel=funnel,
        drop_out=drop_out,
        screenings_without_case=reader.screenings_without_case,
        positive_screenings_without_case=reader.positive_without_case,
        times=_times(everyone, year, per_organisation),
        overdue=overdue,
        past_minimum_period=past_minimum,
        law_enforcement=_law_enforcement(reader, everyone, year),
    )

"""A demo person's path through a national referral mechanism (UK NRM, Romania's NMIR).

The stages, transitions and deadlines are the workflow files' own
(``tiphub/screening/data/workflows/*.json``, read through :mod:`tiphub.screening.workflow`):
a path is planned as a list of dated steps (transition ids), and each step is checked with
:func:`~tiphub.screening.workflow.check_transition` as the hub would check it (the step must
leave the current stage, a minimum period must have passed), so a demo referral always stands
at a stage the hub could have brought it to, with the decisions the steps record.

Delays are invented but shaped on the mechanisms' published timescales: a Reasonable Grounds
decision typically 5 to 30 days after the referral with a long tail (longer since the 2019
backlog), a recovery period of at least 30 days, a Conclusive Grounds decision months later
(over a year in recent years); in Romania identification as a presumed victim within days and
identification as a victim after the 90-day recovery and reflection period, sometimes before.
Some people drop out: negative decisions (a few reconsidered), withdrawals, referrals that stall
(still pending), adults who do not consent to referral (the Duty to Notify only).

The generator's world ends at ``REFERENCE_DATE`` and writes no date after it: a step planned
for a later day has not happened, and neither has one whose stage deadline would fall after
that day (the referral stays where it was, pending).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from functools import cache

from tiphub.screening.workflow import Workflow, check_transition, due_on, workflow

UK = "uk-nrm"
RO = "ro-nmir"

# Who records the competent authority's decisions in the demo.
DECIDED_BY = {UK: "gb-nra", RO: "ro-speranta"}
# Where a person goes for support once a first decision is positive (an accepted service
# referral); the names are invented.
SUPPORT_PROVIDER = {
    UK: "Victim Care Contract provider (demo)",
    RO: "DGASPC shelter for victims of trafficking (demo)",
}
SUPPORT_SERVICES = {UK: ("Accommodation", "Psychological", "Legal"), RO: ("Accommodation",)}

# Grounds texts: general, never about a named person.
_GROUNDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("ReasonableGrounds", "Positive"): (
        "The referral describes recruitment by deception and control through debt; the "
        "account is consistent and the indicators meet the reasonable grounds threshold.",
        "Indicators of forced labour reported by the first responder (withheld wages, "
        "restricted movement); reasonable grounds to believe the person is a victim.",
        "Consistent account of being moved and exploited; corroborated by the first "
        "responder's observations.",
    ),
    ("ReasonableGrounds", "Negative"): (
        "The information provided does not indicate the means or purpose of exploitation; "
        "threshold not met on the evidence available.",
        "Account lacks the elements of exploitation; no corroborating indicators.",
    ),
    ("ConclusiveGrounds", "Positive"): (
        "On the balance of probabilities the person was recruited and exploited by others "
        "using deception and coercion.",
        "Further information from the support provider and police confirms exploitation "
        "on the balance of probabilities.",
    ),
    ("ConclusiveGrounds", "Negative"): (
        "On the balance of probabilities the evidence does not show that the person was "
        "exploited; inconsistencies not explained.",
    ),
    ("PreliminaryIdentification", "Positive"): (
        "Trafficking indicators confirmed at the first interview; identified as a presumed "
        "victim and notified to ANITP.",
        "Indicators of exploitation confirmed by the first responder; presumed victim.",
    ),
    ("PreliminaryIdentification", "Negative"): (
        "Indicators not confirmed at the interview; not a presumed victim.",
    ),
    ("FormalIdentification", "Positive"): (
        "Identified as a victim of trafficking after the recovery and reflection period; "
        "notified to ANITP.",
        "Exploitation confirmed by the competent authority; identified as a victim.",
    ),
    ("FormalIdentification", "Negative"): (
        "The elements of trafficking were not established; not identified as a victim.",
    ),
}
_WITHDRAWAL_REASONS = (
    "The person chose to leave the mechanism.",
    "Lost contact with the person; they left the safe house.",
    "The person returned to their country of origin.",
)


@dataclass(slots=True)
class Decision:
    decision_type: str
    outcome: str
    day: int  # date ordinal
    grounds: str | None


@dataclass(slots=True)
class MechanismPath:
    """Where one person stands in one mechanism on the reference date, and how they got
    there. The same in every organisation's record of the person."""

    mechanism: str
    reference: str
    referrer: str  # organisation slug of the first responder
    started: int  # day the potential victim was identified (the initial stage entered)
    referred_on: int | None  # None: not referred (yet)
    stage: str
    entered: int
    due: dt.date | None
    terminal: bool
    decisions: list[Decision] = field(default_factory=list)
    support_referred: int | None = None  # an accepted service referral once identified
    support_answered: int | None = None
    withdrawal_reason: str | None = None

    @property
    def jurisdiction(self) -> str | None:
        return _flow(self.mechanism).jurisdiction

    @property
    def name(self) -> str:
        return _flow(self.mechanism).name

    @property
    def initial_stage(self) -> str:
        return _flow(self.mechanism).initial_stage


@cache
def _flow(mechanism: str) -> Workflow:
    return workflow(mechanism)


@cache
def _permissions(mechanism: str) -> frozenset[str]:
    return frozenset(t.permission for t in _flow(mechanism).transitions.values())


def _day(ordinal: int) -> dt.date:
    return dt.date.fromordinal(ordinal)


def _between(rng: random.Random, low: int, high: int) -> int:
    return low + int(rng.random() * (high - low + 1))


def _lognormal_days(rng: random.Random, median: float, sigma: float) -> int:
    return max(1, round(median * math.exp(sigma * rng.gauss(0.0, 1.0))))


def _walk(
    rng: random.Random,
    path: MechanismPath,
    steps: list[tuple[str, int]],
    last_day: int,
    child: bool,
    withdraw_on: int | None,
) -> None:
    """Take the planned steps in order, as long as they happened by ``last_day``; a planned
    withdrawal cuts in before the first step after it, when the stage allows one."""
    flow = _flow(path.mechanism)
    for transition_id, day in [*steps, ("", 10**9)]:
        if withdraw_on is not None and withdraw_on < day and withdraw_on > path.entered:
            if _take(path, flow, "withdraw", withdraw_on, last_day, child):
                path.withdrawal_reason = _WITHDRAWAL_REASONS[int(rng.random() * 3)]
                return
            withdraw_on = None
        if not transition_id or not _take(path, flow, transition_id, day, last_day, child):
            return
        if transition_id == _REFER.get(path.mechanism):
            path.referred_on = day
        decision = flow.transitions[transition_id].decision
        if decision is not None:
            kind, outcome = decision
            texts = _GROUNDS.get((kind, outcome))
            grounds = texts[int(rng.random() * len(texts))] if texts else None
            path.decisions.append(Decision(kind, outcome, day, grounds))


def _take(
    path: MechanismPath, flow: Workflow, transition_id: str, day: int, last_day: int, child: bool
) -> bool:
    """Move along one transition if it happened by ``last_day``, the workflow allows it and
    the deadline of the stage it enters falls by ``last_day`` too."""
    if day > last_day or day < path.entered:
        return False
    transition = flow.transitions.get(transition_id)
    if transition is None or path.stage not in transition.from_stages:
        return False
    fields: dict[str, object] = dict.fromkeys(transition.required_fields, "demo")
    fields["on"] = _day(day)
    fields["stage_entered_on"] = _day(path.entered)
    check_transition(flow, transition_id, path.stage, _permissions(flow.id), fields, True, child)
    due = due_on(flow, transition.to, _day(day))
    if due is not None and due.toordinal() > last_day:
        return False
    path.stage, path.entered, path.due = transition.to, day, due
    path.terminal = flow.stage(transition.to).terminal
    return True


# The step that makes the referral itself, where the mechanism has one (the UK's); in
# Romania's the referral is the identification of a potential victim, the initial stage.
_REFER = {UK: "refer"}


def _new_path(rng: random.Random, mechanism: str, referrer: str, started: int) -> MechanismPath:
    flow = _flow(mechanism)
    return MechanismPath(
        mechanism=mechanism,
        reference=f"{mechanism}-{rng.getrandbits(32):08x}",
        referrer=referrer,
        started=started,
        referred_on=None,
        stage=flow.initial_stage,
        entered=started,
        due=due_on(flow, flow.initial_stage, _day(started)),
        terminal=False,
    )


def _support(rng: random.Random, path: MechanismPath, share: float, last_day: int) -> None:
    """An accepted service referral a few days after a positive first decision."""
    positive = next(
        (d.day for d in path.decisions if d.outcome == "Positive"),
        None,
    )
    if positive is None or rng.random() >= share:
        return
    referred = positive + _between(rng, 0, 4)
    if referred > last_day:
        return
    path.support_referred = referred
    answered = referred + _between(rng, 1, 14)
    path.support_answered = answered if answered <= last_day else None


def uk_path(
    rng: random.Random, referrer: str, identified: int, adult: bool, last_day: int
) -> MechanismPath:
    """A potential victim met by a first responder in England and Wales."""
    path = _new_path(rng, UK, referrer, identified)
    year = _day(identified).year
    backlog = year >= 2019
    roll = rng.random()
    if adult and roll < 0.06:  # no consent: the anonymous Duty to Notify only
        _walk(
            rng,
            path,
            [("notify_without_referral", identified + _between(rng, 0, 5))],
            last_day,
            not adult,
            None,
        )
        return path
    if roll < 0.085:  # the referral was never made (consent pending, contact lost)
        return path
    referred = identified + (_between(rng, 0, 3) if rng.random() < 0.85 else _between(rng, 4, 40))
    steps: list[tuple[str, int]] = [("refer", referred)]
    queue = year >= 2022  # the longest waits for a Reasonable Grounds decision
    if rng.random() < (0.18 if queue else 0.1):  # a long wait
        rg_day = referred + _between(rng, 30, 420 if backlog else 120)
    else:
        rg_day = referred + _lognormal_days(rng, 30 if queue else 14 if backlog else 7, 0.6)
    withdraw_on = referred + _between(rng, 2, 600) if rng.random() < 0.07 else None
    positive_on: int | None = None
    if rng.random() < 0.88:
        steps.append(("rg_positive", rg_day))
        positive_on = rg_day
    else:
        steps.append(("rg_negative", rg_day))
        if rng.random() < 0.35:
            asked = rg_day + _between(rng, 5, 45)
            steps.append(("request_rg_reconsideration", asked))
            if rng.random() < 0.7:
                answered = asked + _between(rng, 20, 400)
                if rng.random() < 0.5:
                    steps.append(("rg_reconsideration_positive", answered))
                    positive_on = answered
                else:
                    steps.append(("rg_reconsideration_upheld", answered))
    if positive_on is not None:
        # Conclusive Grounds: at least the 30-day recovery period, then months (the backlog
        # since 2019 pushed the median well past a year).
        cg_day = positive_on + 30 + _lognormal_days(rng, 420 if backlog else 110, 0.55)
        if rng.random() < 0.7:
            ended = positive_on + 30 + _between(rng, 0, 21)
            if ended < cg_day:
                steps.append(("recovery_period_ended", ended))
        if rng.random() < 0.05:  # the decision never comes within the data
            cg_day = last_day + 1
        if rng.random() < 0.88:
            steps.append(("cg_positive", cg_day))
        else:
            steps.append(("cg_negative", cg_day))
            if rng.random() < 0.45:
                asked = cg_day + _between(rng, 10, 60)
                steps.append(("request_cg_reconsideration", asked))
                if rng.random() < 0.65:
                    answered = asked + _between(rng, 60, 700 if backlog else 300)
                    steps.append(
                        (
                            "cg_reconsideration_positive"
                            if rng.random() < 0.4
                            else "cg_reconsideration_upheld",
                            answered,
                        )
                    )
    _walk(rng, path, steps, last_day, not adult, withdraw_on)
    _support(rng, path, 0.75, last_day)
    return path


def ro_path(rng: random.Random, referrer: str, identified: int, last_day: int) -> MechanismPath:
    """A potential victim flagged to Romania's NMIR (the referral is the initial stage)."""
    path = _new_path(rng, RO, referrer, identified + _between(rng, 0, 5))
    if path.started > last_day:
        path.started = path.entered = identified
    path.referred_on = path.started
    path.due = due_on(_flow(RO), path.stage, _day(path.entered))
    roll = rng.random()
    if roll < 0.05:  # stalled: no decision recorded on the presumed-victim status
        return path
    presumed_on = path.started + _lognormal_days(rng, 6, 0.8)
    withdraw_on = path.started + _between(rng, 1, 300) if rng.random() < 0.07 else None
    steps: list[tuple[str, int]] = []
    if rng.random() < 0.9:
        steps.append(("identify_presumed", presumed_on))
        if rng.random() >= 0.07:  # else: stalled in the reflection period
            if rng.random() < 0.88:
                early = rng.random() < 0.15  # identification may come before day 90
                wait = _between(rng, 20, 89) if early else 90 + _lognormal_days(rng, 25, 0.8)
                steps.append(("identify_victim", presumed_on + wait))
            else:
                steps.append(("not_identified", presumed_on + 90 + _lognormal_days(rng, 30, 0.8)))
    else:
        steps.append(("not_presumed", presumed_on))
    _walk(rng, path, steps, last_day, False, withdraw_on)
    _support(rng, path, 0.7, last_day)
    return path

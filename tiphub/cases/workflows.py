"""National referral mechanisms on the case store: a referral row carries the mechanism
(a workflow of ``tiphub.screening.workflow``), the stage the person is at, since when and
until when; each decision becomes an identification decision with its grounds.

Every step goes through ``CaseStore.update_case``: it is one transaction, scoped to the
acting user, versioned (the case history shows who moved it, when and which fields) and
audited as ``workflow.refer`` or ``workflow.transition``. A refused step changes nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from tiphub.cases.access import Principal, case_scope_condition, own_scope_condition
from tiphub.cases.api import CaseStore, CaseView
from tiphub.cases.schema import CaseRecord
from tiphub.cases.tasks import open_task
from tiphub.screening.deadlines import status_of
from tiphub.screening.workflow import (
    TransitionRefused,
    Workflow,
    check_transition,
    due_on,
    workflow,
)
from tiphub.store import models as m
from tiphub.store.db import reading
from tiphub.store.models import table_of, utcnow

CHILD_AGE = 18
# Decision fields a transition may carry into the identification decision it records.
DECISION_FIELDS = ("grounds", "decided_by", "decided_on")


@dataclass(frozen=True)
class WorkflowItem:
    """Where one referred person stands in one mechanism."""

    case_id: uuid.UUID
    organisation: str
    case_external_id: str
    reference: str
    mechanism: str
    mechanism_name: str
    person_external_id: str | None
    referred_on: dt.date | None
    stage: str
    stage_label: str
    stage_entered_on: dt.date | None
    terminal: bool
    due_on: dt.date | None
    deadline_kind: str | None
    deadline_label: str | None
    status: str
    transitions: tuple[tuple[str, str], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": str(self.case_id),
            "organisation": self.organisation,
            "case_external_id": self.case_external_id,
            "reference": self.reference,
            "mechanism": self.mechanism,
            "mechanism_name": self.mechanism_name,
            "person_external_id": self.person_external_id,
            "referred_on": iso_or_none(self.referred_on),
            "stage": self.stage,
            "stage_label": self.stage_label,
            "stage_entered_on": iso_or_none(self.stage_entered_on),
            "terminal": self.terminal,
            "due_on": iso_or_none(self.due_on),
            "deadline_kind": self.deadline_kind,
            "deadline_label": self.deadline_label,
            "status": self.status,
            "transitions": [{"id": i, "label": label} for i, label in self.transitions],
        }


def iso_or_none(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def date_or_none(value: object) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise TransitionRefused(f"{value!r} is not a date (YYYY-MM-DD)") from None


def consent_to_referral(document: dict[str, Any], person_external_id: str) -> bool | None:
    """The person's latest recorded answer on consent to referral (None: never asked)."""
    answers = [
        consent
        for consent in document.get("consents", [])
        if consent.get("person_external_id") == person_external_id
        and consent.get("purpose") == "Referral"
    ]
    if not answers:
        return None
    latest = max(enumerate(answers), key=lambda item: (item[1].get("recorded_on") or "", item[0]))
    return bool(latest[1].get("given"))


def is_child(document: dict[str, Any], person_external_id: str, on: dt.date) -> bool | None:
    """Under 18 on the day (from the birth date); None when the age is unknown."""
    for participant in document["participants"]:
        person = participant["person"]
        if person["external_id"] != person_external_id:
            continue
        born = person.get("birth_date")
        if not born:
            return None
        birth = dt.date.fromisoformat(str(born))
        age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
        return age < CHILD_AGE
    return None


def _item(
    case_id: uuid.UUID,
    organisation: str,
    case_external_id: str,
    referral: dict[str, Any],
    today: dt.date,
    permissions: frozenset[str] | None,
) -> WorkflowItem:
    due = date_or_none(referral.get("due_on"))
    try:
        flow = workflow(referral["mechanism"])
        stage = flow.stage(referral.get("stage") or flow.initial_stage)
    except (KeyError, ValueError):
        # A referral imported from a mechanism (or a stage) this hub does not know is still
        # listed, as it stands, with no step to take: never dropped from the dashboard.
        return WorkflowItem(
            case_id,
            organisation,
            case_external_id,
            referral.get("reference") or "",
            str(referral["mechanism"]),
            f"unknown mechanism {referral['mechanism']}",
            referral.get("person_external_id"),
            date_or_none(referral.get("referred_on")),
            str(referral.get("stage") or ""),
            str(referral.get("stage") or "unknown stage"),
            date_or_none(referral.get("stage_entered_on")),
            False,
            due,
            None,
            None,
            "open",
        )
    if stage.terminal:
        status = "closed"
    elif due is None:
        status = "open"
    elif stage.deadline is not None and stage.deadline.kind == "minimum":
        # A minimum period (recovery, reflection) is a wait, not a deadline to miss.
        status = "waiting" if today < due else "open"
    else:
        status = status_of(due, today)
    return WorkflowItem(
        case_id,
        organisation,
        case_external_id,
        referral.get("reference") or "",
        flow.id,
        flow.name,
        referral.get("person_external_id"),
        date_or_none(referral.get("referred_on")),
        stage.id,
        stage.label,
        date_or_none(referral.get("stage_entered_on")),
        stage.terminal,
        due,
        None if stage.deadline is None else stage.deadline.kind,
        None if stage.deadline is None else stage.deadline.label,
        status,
        tuple((t.id, t.label) for t in flow.transitions_from(stage.id, permissions)),
    )


def items_of(
    view: CaseView, principal: Principal, today: dt.date | None = None
) -> list[WorkflowItem]:
    """The mechanism referrals of one case as the principal sees it, with the steps the
    principal may take (none on a case shared with them read-only)."""
    document = view.document
    permissions: frozenset[str] | None
    if principal.operator:
        permissions = None
    elif view.editable:
        permissions = principal.permissions
    else:
        permissions = frozenset()
    day = today or dt.date.today()
    items = []
    for referral in document.get("referrals", []):
        if referral.get("mechanism"):
            items.append(
                _item(
                    view.id, view.organisation, document["external_id"], referral, day, permissions
                )
            )
    return items


def _find(document: dict[str, Any], reference: str) -> tuple[int, dict[str, Any]]:
    for index, referral in enumerate(document.get("referrals", [])):
        if referral.get("reference") == reference and referral.get("mechanism"):
            return index, referral
    raise TransitionRefused(f"the case has no referral {reference!r} to a national mechanism")


def _apply(
    flow: Workflow,
    document: dict[str, Any],
    referral: dict[str, Any],
    transition_id: str,
    fields: dict[str, Any],
    principal: Principal,
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The referral after the step, and the decision it records (if any)."""
    person = referral.get("person_external_id")
    if not person:
        raise TransitionRefused("the referral does not name the person referred")
    on = date_or_none(fields.get("on")) or dt.date.today()
    if on > dt.date.today():
        raise TransitionRefused("the date of a step cannot be in the future")
    stage = referral.get("stage") or flow.initial_stage
    checked = {
        **_defaults(principal, on),
        **{key: value for key, value in fields.items() if value not in (None, "")},
        "on": on,
        "stage_entered_on": date_or_none(referral.get("stage_entered_on")),
    }
    if not checked.get("reason") and checked.get("grounds"):
        checked["reason"] = checked["grounds"]
    transition = check_transition(
        flow,
        transition_id,
        stage,
        _all_permissions(flow) if principal.operator else principal.permissions,
        checked,
        consent_to_referral(document, person),
        is_child(document, person, on) or _truthy(fields.get("presumed_child")),
    )
    moved = {
        **referral,
        "stage": transition.to,
        "stage_entered_on": on.isoformat(),
        "due_on": iso_or_none(due_on(flow, transition.to, on)),
    }
    target = flow.stage(transition.to)
    if target.terminal:
        moved["status"] = "Completed"
        moved["responded_on"] = on.isoformat()
    decisions: list[dict[str, Any]] = []
    if transition.decision is not None:
        decision_type, outcome = transition.decision
        decided_on = date_or_none(checked.get("decided_on")) or on
        decision: dict[str, Any] = {
            "person_external_id": person,
            "decision_type": decision_type,
            "outcome": outcome,
            "decided_by": checked.get("decided_by") or None,
            "decided_on": decided_on.isoformat(),
            "jurisdiction": flow.jurisdiction,
            "grounds": checked.get("grounds") or checked.get("reason") or None,
            "referral_reference": referral.get("reference"),
        }
        decisions.append({key: value for key, value in decision.items() if value is not None})
    return moved, {"transition": transition.id, "from": stage, "to": transition.to}, decisions


def _defaults(principal: Principal, on: dt.date) -> dict[str, object]:
    """Who and when, for the fields a step records about the person taking it; a decision's
    maker and grounds are never filled in for the user."""
    day = on.isoformat()
    return {
        "referred_by": principal.username,
        "requested_by": principal.username,
        "notified_by": principal.username,
        "referred_on": day,
        "requested_on": day,
        "notified_on": day,
        "withdrawn_on": day,
        "decided_on": day,
    }


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() in {"1", "true", "yes", "on"}


def _all_permissions(flow: Workflow) -> frozenset[str]:
    return frozenset(t.permission for t in flow.transitions.values())


def _open_stage_tasks(
    connection: Connection,
    principal: Principal,
    row: Any,
    flow: Workflow,
    referral: dict[str, Any],
    notify: tuple[str, ...],
) -> None:
    stage = flow.stage(referral["stage"])
    due = date_or_none(referral.get("due_on"))
    if stage.deadline is not None and due is not None:
        kind = "recovery_period_ends" if stage.deadline.kind == "minimum" else "decision_due"
        open_task(
            connection,
            principal,
            row.organisation_id,
            kind,
            f"{flow.name}: {stage.label} – {stage.deadline.label} ({due.isoformat()})",
            case_id=row.id,
            team=row.team,
            due_on=due,
            source=f"referral:{referral.get('reference')}",
        )
    for target in notify:
        open_task(
            connection,
            principal,
            row.organisation_id,
            "notify_register" if target == "national_register" else "other",
            f"{flow.name}: notify the {target.replace('_', ' ')}",
            case_id=row.id,
            team=row.team,
            due_on=dt.date.today(),
            source=f"referral:{referral.get('reference')}",
        )


def refer_to_mechanism(
    engine: Engine,
    principal: Principal,
    case_id: uuid.UUID,
    mechanism: str,
    person_external_id: str,
    fields: dict[str, Any] | None = None,
    transition_id: str | None = None,
    if_match: str | None = None,
) -> WorkflowItem:
    """Refer a person of the case to a national mechanism: the mechanism's first step.

    Refused (``TransitionRefused``, nothing written) when the role may not refer, the
    person is an adult (or of unknown age) who has not consented to referral, or a required
    field is missing.
    """
    flow = workflow(mechanism)
    # A mechanism whose first stage is entered by a referral step (UK: the first responder's
    # referral) takes it; one where the referral itself is the start (Romania: a potential
    # victim awaiting the authority's decision) opens at its first stage.
    first = transition_id or next(
        (
            t.id
            for t in flow.transitions_from(flow.initial_stage)
            if t.permission == "workflow:refer"
        ),
        None,
    )
    principal.require("workflow:refer")
    values = dict(fields or {})
    reference = f"{flow.id}-{secrets.token_hex(3)}"
    store = CaseStore(engine, principal)
    notified: list[tuple[str, ...]] = []

    def change(current: dict[str, Any]) -> dict[str, Any]:
        people = {p["person"]["external_id"] for p in current["participants"]}
        if person_external_id not in people:
            raise TransitionRefused("the person is not a participant of this case")
        on = date_or_none(values.get("on")) or dt.date.today()
        referral = {
            "direction": "Outgoing",
            "person_external_id": person_external_id,
            "reference": reference,
            "mechanism": flow.id,
            "stage": flow.initial_stage,
            "from_organisation": current["organisation"],
            "to_organisation": values.get("to_organisation") or flow.name,
            "referred_on": on.isoformat(),
            "reason": "Other",
            "status": "Requested",
            "referring_case_worker": principal.username,
        }
        if first is None:
            _check_referral_consent(current, person_external_id, on, values)
            moved = {**referral, "stage_entered_on": on.isoformat()}
            decisions: list[dict[str, Any]] = []
            notified.append(())
        else:
            moved, _, decisions = _apply(flow, current, referral, first, values, principal)
            notified.append(flow.transitions[first].notify)
        return {
            "referrals": [*current.get("referrals", []), moved],
            **_with_decisions(current, decisions),
        }

    def then(connection: Connection, row: Any, case: CaseRecord) -> None:
        _stage_tasks_after(connection, principal, row, flow, case, reference, notified)

    view = store.update_case(
        case_id,
        change,
        if_match=if_match,
        action="workflow.refer",
        details={"mechanism": flow.id, "transition": first or "open"},
        then=then,
    )
    return _item_of(view, reference, principal)


def _check_referral_consent(
    document: dict[str, Any], person: str, on: dt.date, fields: dict[str, Any]
) -> None:
    """An adult (or a person of unknown age) is referred only with their consent."""
    child = is_child(document, person, on) or _truthy(fields.get("presumed_child"))
    if not child and consent_to_referral(document, person) is not True:
        raise TransitionRefused(
            "the person has not consented to referral: record their consent (purpose "
            "Referral) first; only a child is referred without it"
        )


def _with_decisions(current: dict[str, Any], decisions: list[dict[str, Any]]) -> dict[str, Any]:
    if not decisions:
        return {}
    return {"identification_decisions": [*current.get("identification_decisions", []), *decisions]}


def _stage_tasks_after(
    connection: Connection,
    principal: Principal,
    row: Any,
    flow: Workflow,
    case: CaseRecord,
    reference: str,
    notified: list[tuple[str, ...]],
) -> None:
    for referral in case.referrals:
        if referral.reference == reference:
            _open_stage_tasks(
                connection,
                principal,
                row,
                flow,
                referral.model_dump(mode="json"),
                notified[-1] if notified else (),
            )


def _item_of(view: CaseView, reference: str, principal: Principal) -> WorkflowItem:
    for item in items_of(view, principal):
        if item.reference == reference:
            return item
    raise TransitionRefused(f"the case has no referral {reference!r} to a national mechanism")


def take_step(
    engine: Engine,
    principal: Principal,
    case_id: uuid.UUID,
    reference: str,
    transition_id: str,
    fields: dict[str, Any] | None = None,
    if_match: str | None = None,
) -> WorkflowItem:
    """Move a referral along its mechanism: a decision, the end of a period, a withdrawal.

    Refused with the reason and nothing written when the step does not leave the current
    stage, the role may not take it, a required field is missing or a minimum period (the
    recovery or reflection period) has not yet passed.
    """
    values = dict(fields or {})
    store = CaseStore(engine, principal)
    flows: list[Workflow] = []
    notified: list[tuple[str, ...]] = []
    moves: list[dict[str, Any]] = []

    def change(current: dict[str, Any]) -> dict[str, Any]:
        index, referral = _find(current, reference)
        flow = workflow(referral["mechanism"])
        flows.append(flow)
        moved, move, decisions = _apply(flow, current, referral, transition_id, values, principal)
        moves.append(move)
        notified.append(flow.transitions[transition_id].notify)
        referrals = list(current["referrals"])
        referrals[index] = moved
        return {"referrals": referrals, **_with_decisions(current, decisions)}

    def then(connection: Connection, row: Any, case: CaseRecord) -> None:
        _close_stage_tasks(connection, principal, row.id, reference)
        _stage_tasks_after(connection, principal, row, flows[-1], case, reference, notified)

    view = store.update_case(
        case_id,
        change,
        if_match=if_match,
        action="workflow.transition",
        details={"reference": reference, "transition": transition_id},
        then=then,
    )
    return _item_of(view, reference, principal)


def _close_stage_tasks(
    connection: Connection, principal: Principal, case_id: uuid.UUID, reference: str
) -> None:
    """A step answers the deadline of the stage it leaves."""
    task = table_of(m.Task)
    connection.execute(
        update(task)
        .where(
            task.c.case_id == case_id,
            task.c.source == f"referral:{reference}",
            task.c.kind.in_(("decision_due", "recovery_period_ends")),
            task.c.done_at.is_(None),
        )
        .values(done_by=principal.username, done_at=utcnow())
    )


def referral_rows(*columns: Any) -> Any:
    """Referral rows with their case's reference (``case_external_id``), organisation slug
    (``slug``) and referred person's ``person_external_id``; the caller adds the scope."""
    referral = table_of(m.Referral)
    case = table_of(m.Case)
    org = table_of(m.Organisation)
    participant = table_of(m.CaseParticipant)
    person = table_of(m.Person)
    return (
        select(
            referral,
            case.c.external_id.label("case_external_id"),
            org.c.slug,
            person.c.external_id.label("person_external_id"),
            *columns,
        )
        .join(case, case.c.id == referral.c.case_id)
        .join(org, org.c.id == case.c.organisation_id)
        .outerjoin(participant, participant.c.id == referral.c.participant_id)
        .outerjoin(person, person.c.id == participant.c.person_id)
    )


def workflow_items(
    engine: Engine,
    principal: Principal,
    *,
    today: dt.date | None = None,
    include_closed: bool = False,
    mechanism: str | None = None,
) -> list[WorkflowItem]:
    """Every mechanism referral the principal reaches, overdue first, then by due date."""
    principal.require("case:read")
    day = today or dt.date.today()
    referral = table_of(m.Referral)
    query = referral_rows(own_scope_condition(principal).label("owned")).where(
        referral.c.mechanism.is_not(None), case_scope_condition(principal)
    )
    if mechanism is not None:
        query = query.where(referral.c.mechanism == mechanism)
    items: list[WorkflowItem] = []
    may_update = principal.can("case:update")
    with reading(engine) as connection:
        for row in connection.execute(query):
            entry = {
                key: getattr(row, key)
                for key in (
                    "mechanism",
                    "stage",
                    "reference",
                    "due_on",
                    "referred_on",
                    "stage_entered_on",
                    "person_external_id",
                )
            }
            permissions = (
                None
                if principal.operator
                else (principal.permissions if row.owned and may_update else frozenset())
            )
            item = _item(row.case_id, row.slug, row.case_external_id, entry, day, permissions)
            if include_closed or not item.terminal:
                items.append(item)
    order = {"overdue": 0, "due_soon": 1, "on_time": 2, "open": 3, "waiting": 4, "closed": 5}
    items.sort(key=lambda i: (order.get(i.status, 5), i.due_on or dt.date.max, i.reference))
    return items

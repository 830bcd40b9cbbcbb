"""Tasks: what someone must do next for a case, opened by a positive screen, a workflow
stage, a service referral left unanswered or a hearing date.

A task names no person (its title is built from fixed phrases and codes), so it can be shown
on a dashboard, sent by e-mail or to a webhook without leaking who the case is about.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, true, update

from tiphub.cases import audit
from tiphub.cases.access import NotFoundError, Principal, case_scope_condition
from tiphub.store import models as m
from tiphub.store.db import reading
from tiphub.store.models import new_id, table_of, utcnow

TASK_KINDS = (
    "consider_referral",
    "decision_due",
    "recovery_period_ends",
    "notify_register",
    "service_follow_up",
    "hearing",
    "release",
    "online_screening",
    "online_referral",
    "other",
)


@dataclass(frozen=True)
class TaskInfo:
    id: uuid.UUID
    organisation: str
    case_id: uuid.UUID | None
    case_external_id: str | None
    kind: str
    title: str
    source: str | None
    team: str | None
    due_on: dt.date | None
    created_by: str
    created_at: dt.datetime
    done_by: str | None
    done_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "organisation": self.organisation,
            "case_id": None if self.case_id is None else str(self.case_id),
            "case_external_id": self.case_external_id,
            "kind": self.kind,
            "title": self.title,
            "source": self.source,
            "due_on": None if self.due_on is None else self.due_on.isoformat(),
            "done": self.done_at is not None,
        }


def open_task(
    connection: Connection,
    principal: Principal,
    organisation_id: uuid.UUID,
    kind: str,
    title: str,
    *,
    case_id: uuid.UUID | None = None,
    team: str | None = None,
    due_on: dt.date | None = None,
    source: str | None = None,
) -> uuid.UUID:
    """Open a task inside the caller's transaction (it lands with the change that caused it)."""
    if kind not in TASK_KINDS:
        raise ValueError(f"unknown task kind {kind!r}")
    task_id = new_id()
    connection.execute(
        insert(table_of(m.Task)).values(
            id=task_id,
            organisation_id=organisation_id,
            case_id=case_id,
            kind=kind,
            title=title[:300],
            source=source,
            team=team,
            due_on=due_on,
            created_by=principal.username,
            created_at=utcnow(),
        )
    )
    return task_id


def _visible_tasks(principal: Principal) -> Any:
    task = table_of(m.Task)
    case = table_of(m.Case)
    org = table_of(m.Organisation)
    query = (
        select(task, org.c.slug, case.c.external_id.label("case_external_id"))
        .join(org, org.c.id == task.c.organisation_id)
        .outerjoin(case, case.c.id == task.c.case_id)
    )
    if principal.operator:
        return query
    # A task about a case is seen by whoever reaches the case; one without a case by the
    # organisation's people of its team (or all of them when it has no team).
    about_case = and_(task.c.case_id.is_not(None), case_scope_condition(principal))
    team_rule = (
        true()
        if principal.scope == "organisation"
        else or_(task.c.team.is_(None), task.c.team == principal.team)
    )
    unattached = and_(
        task.c.case_id.is_(None),
        task.c.organisation_id == principal.organisation_id,
        team_rule,
    )
    return query.where(or_(about_case, unattached))


def _info(row: Any) -> TaskInfo:
    return TaskInfo(
        row.id,
        row.slug,
        row.case_id,
        row.case_external_id,
        row.kind,
        row.title,
        row.source,
        row.team,
        row.due_on,
        row.created_by,
        row.created_at,
        row.done_by,
        row.done_at,
    )


def tasks(
    engine: Engine,
    principal: Principal,
    *,
    case_id: uuid.UUID | None = None,
    include_done: bool = False,
    limit: int = 500,
) -> list[TaskInfo]:
    """Tasks the principal reaches, the most urgent first."""
    principal.require("case:read")
    task = table_of(m.Task)
    query = _visible_tasks(principal)
    if case_id is not None:
        query = query.where(task.c.case_id == case_id)
    if not include_done:
        query = query.where(task.c.done_at.is_(None))
    query = query.order_by(task.c.due_on.is_(None), task.c.due_on, task.c.created_at).limit(limit)
    with reading(engine) as connection:
        return [_info(row) for row in connection.execute(query)]


def complete_task(engine: Engine, principal: Principal, task_id: uuid.UUID) -> TaskInfo:
    principal.require("case:update")
    task = table_of(m.Task)
    with engine.begin() as connection:
        row = connection.execute(_visible_tasks(principal).where(task.c.id == task_id)).first()
        if row is None:
            raise NotFoundError("no such task")
        if row.done_at is None:
            connection.execute(
                update(task)
                .where(task.c.id == task_id)
                .values(done_by=principal.username, done_at=utcnow())
            )
            audit.record(
                connection,
                principal,
                "task.complete",
                "task",
                task_id,
                organisation=row.slug,
                details={"kind": row.kind},
            )
        done = connection.execute(_visible_tasks(principal).where(task.c.id == task_id)).one()
    return _info(done)

"""Overdue deadlines and tasks, sent to a webhook or by e-mail.

The message names cases by their organisation's reference only (never a person), with the
mechanism, stage and how many days the deadline has passed: enough for a supervisor to act,
nothing a leaked e-mail could use to find someone.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
import urllib.request
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine, update

from tiphub.cases import audit
from tiphub.cases.access import Principal
from tiphub.cases.tasks import tasks
from tiphub.cases.workflows import workflow_items
from tiphub.store import models as m
from tiphub.store.models import table_of, utcnow

WEBHOOK_SECONDS = 10


@dataclass(frozen=True)
class OverdueReport:
    today: dt.date
    items: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    sent_to: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "overdue_referrals": self.items,
            "overdue_tasks": self.tasks,
            "sent_to": self.sent_to,
        }

    def text(self) -> str:
        lines = [
            f"tiphub: {len(self.items)} overdue referral deadlines, {len(self.tasks)} overdue tasks"
        ]
        for item in self.items:
            lines.append(
                f"- {item['organisation']} case {item['case_external_id']} ({item['reference']}): "
                f"{item['mechanism']} "
                f"{item['stage']}, due {item['due_on']} ({item['days_overdue']} days overdue)"
            )
        for task in self.tasks:
            lines.append(f"- task due {task['due_on']}: {task['title']}")
        return "\n".join(lines)


def overdue(engine: Engine, principal: Principal, today: dt.date | None = None) -> OverdueReport:
    day = today or dt.date.today()
    items = [
        {
            "case_id": str(item.case_id),
            "organisation": item.organisation,
            "case_external_id": item.case_external_id,
            "reference": item.reference,
            "mechanism": item.mechanism,
            "stage": item.stage,
            "due_on": item.due_on.isoformat(),
            "days_overdue": (day - item.due_on).days,
        }
        for item in workflow_items(engine, principal, today=day)
        if item.due_on is not None and item.due_on < day and item.deadline_kind != "minimum"
    ]
    late_tasks = [
        {**task.to_dict(), "days_overdue": (day - task.due_on).days}
        for task in tasks(engine, principal)
        if task.due_on is not None and task.due_on < day
    ]
    return OverdueReport(day, items, late_tasks)


def send_overdue(
    engine: Engine,
    principal: Principal,
    *,
    webhook: str | None = None,
    email_to: str | None = None,
    smtp: str = "localhost:25",
    email_from: str = "tiphub@localhost",
    today: dt.date | None = None,
) -> OverdueReport:
    """Send the overdue list to a webhook (JSON POST) and/or by e-mail; audited."""
    report = overdue(engine, principal, today)
    sent: list[str] = []
    if webhook:
        if not webhook.startswith(("http://", "https://")):
            raise ValueError("the webhook must be an http:// or https:// address")
        body = json.dumps(report.to_dict()).encode("utf-8")
        request = urllib.request.Request(
            webhook, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=WEBHOOK_SECONDS) as response:
            if response.status >= 300:
                raise ValueError(f"the webhook answered HTTP {response.status}")
        sent.append("webhook")
    if email_to:
        host, _, port = smtp.partition(":")
        message = EmailMessage()
        message["Subject"] = (
            f"tiphub: {len(report.items)} overdue deadlines, {len(report.tasks)} overdue tasks"
        )
        message["From"] = email_from
        message["To"] = email_to
        message.set_content(report.text())
        with smtplib.SMTP(host, int(port or 25), timeout=WEBHOOK_SECONDS) as client:
            client.send_message(message)
        sent.append("email")
    if sent and report.tasks:
        task = table_of(m.Task)
        with engine.begin() as connection:
            connection.execute(
                update(task)
                .where(task.c.id.in_([uuid.UUID(t["id"]) for t in report.tasks]))
                .values(notified_at=utcnow())
            )
    audit.record_now(
        engine,
        principal,
        "workflow.notify",
        details={
            "overdue_referrals": len(report.items),
            "overdue_tasks": len(report.tasks),
            "channels": ",".join(sent) or "none",
        },
    )
    return OverdueReport(report.today, report.items, report.tasks, sent)

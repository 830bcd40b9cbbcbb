"""The criminal-justice track of a case: proceedings against its perpetrators, the victim's
status and protection in them, and the dates the victim's caseworker must hear about.

A new hearing date or a perpetrator's release opens a task for the team working the case,
so the victim is told in time and their safety plan reviewed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Connection, Engine

from tiphub.cases.access import Principal
from tiphub.cases.api import CaseStore, CaseView
from tiphub.cases.schema import CaseRecord
from tiphub.cases.tasks import open_task

HEARING_NOTICE_DAYS = 7
FIELDS = (
    "stage",
    "outcome",
    "outcome_on",
    "opened_on",
    "charges",
    "sentence_months",
    "jurisdiction",
    "victim_status",
    "protection_measures",
    "compensation_claimed",
    "next_hearing_on",
    "perpetrator_released_on",
    "perpetrator_external_id",
)


def _notices(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, dt.date]]:
    """(task kind, title, due date) for the dates that are new in ``after``."""
    notices = []
    hearing = after.get("next_hearing_on")
    if hearing and hearing != before.get("next_hearing_on"):
        day = dt.date.fromisoformat(str(hearing))
        due = max(dt.date.today(), day - dt.timedelta(days=HEARING_NOTICE_DAYS))
        notices.append(
            (
                "hearing",
                f"Hearing on {day.isoformat()}: inform the victim, arrange support and "
                "protection measures",
                due,
            )
        )
    released = after.get("perpetrator_released_on")
    if released and released != before.get("perpetrator_released_on"):
        notices.append(
            (
                "release",
                f"Perpetrator released on {released}: inform the victim and review the safety plan",
                dt.date.today(),
            )
        )
    return notices


def record_proceeding(
    engine: Engine,
    principal: Principal,
    case_id: uuid.UUID,
    changes: dict[str, Any],
    position: int | None = None,
    if_match: str | None = None,
) -> CaseView:
    """Add a proceeding (``position`` None) or change one; notices open tasks in the same
    transaction. Unknown fields are refused."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown proceeding field(s): {', '.join(sorted(unknown))}")
    notices: list[tuple[str, str, dt.date]] = []

    def change(current: dict[str, Any]) -> dict[str, Any]:
        proceedings = list(current.get("criminal_proceedings", []))
        if position is None:
            before: dict[str, Any] = {}
            after = dict(changes)
            proceedings.append(after)
        else:
            if not 0 <= position < len(proceedings):
                raise ValueError(f"the case has no proceeding number {position + 1}")
            before = proceedings[position]
            after = {**before, **changes}
            proceedings[position] = after
        notices.extend(_notices(before, after))
        return {"criminal_proceedings": proceedings}

    def then(connection: Connection, row: Any, case: CaseRecord) -> None:
        for kind, title, due in notices:
            open_task(
                connection,
                principal,
                row.organisation_id,
                kind,
                title,
                case_id=row.id,
                team=row.team,
                due_on=due,
                source="criminal_proceeding",
            )

    return CaseStore(engine, principal).update_case(
        case_id,
        change,
        if_match=if_match,
        action="proceeding.record",
        details={"position": -1 if position is None else position},
        then=then,
    )

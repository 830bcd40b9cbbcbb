"""Screening records: a frontline worker's item-level answers to a versioned instrument.

The answers are kept (sealed) with the instrument's version, who asked and when, so a score
can be recomputed when a rule is revised. A positive screen opens a task ("consider a
referral to the national mechanism"); it never sets a trafficking status, which stays a
dated assertion by a named organisation.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from tiphub.cases import audit
from tiphub.cases.access import PermissionDeniedError, Principal
from tiphub.cases.api import CaseStore
from tiphub.cases.persistence import case_document_of, lock_case_writes
from tiphub.cases.tasks import open_task
from tiphub.screening.instruments import instrument, instruments, parse_answers, score
from tiphub.screening.xlsform import (
    SubmissionError,
    indicator_of_column,
    read_submissions,
    submission_header,
)
from tiphub.store import models as m
from tiphub.store.db import reading
from tiphub.store.models import new_id, table_of, utcnow

CHANNELS = ("in_person", "outreach", "helpline", "xlsform", "inspection")


@dataclass(frozen=True)
class ScreeningRecord:
    id: uuid.UUID
    organisation: str
    case_id: uuid.UUID | None
    person_external_id: str | None
    instrument_id: str
    instrument_version: str
    channel: str
    screened_by: str
    screened_on: dt.date
    positive: bool
    result: dict[str, Any]
    answers: dict[str, bool]
    task_id: uuid.UUID | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "organisation": self.organisation,
            "case_id": None if self.case_id is None else str(self.case_id),
            "person_external_id": self.person_external_id,
            "instrument": self.instrument_id,
            "version": self.instrument_version,
            "channel": self.channel,
            "screened_by": self.screened_by,
            "screened_on": self.screened_on.isoformat(),
            "positive": self.positive,
            "result": self.result,
            "answers": self.answers,
        }


def _require_owned_case(engine: Engine, principal: Principal, case_id: uuid.UUID) -> Any:
    store = CaseStore(engine, principal)
    with reading(engine) as connection:
        row = store.scoped_row(connection, case_id)
        document_people: list[str] = []
        if row.owned:
            document = case_document_of(connection, row.id) or {}
            document_people = [p["person"]["external_id"] for p in document["participants"]]
    if not row.owned:
        raise PermissionDeniedError("a case shared with you by referral is read-only")
    return row, document_people


def record_screening(
    engine: Engine,
    principal: Principal,
    instrument_id: str,
    answers: Mapping[str, object],
    *,
    case_id: uuid.UUID | None = None,
    person_external_id: str | None = None,
    channel: str = "in_person",
    language: str = "en",
    screened_on: dt.date | None = None,
    source: str = "answers",
) -> ScreeningRecord:
    """Score the answers, store them with the case and, when positive, open a task.

    Bad answers (an unknown item, a value that is not true/false) raise ``ValueError``
    naming the item, before anything is written.
    """
    principal.require("screening:create")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
    chosen = instrument(instrument_id)
    parsed = parse_answers(chosen, dict(answers), source=source)
    result = score(chosen, parsed).to_dict()
    positive = bool(result["positive"])
    organisation_id = principal.organisation_id
    organisation = principal.organisation
    if case_id is not None:
        row, people = _require_owned_case(engine, principal, case_id)
        if person_external_id is not None and person_external_id not in people:
            raise ValueError("the person is not a participant of this case")
        organisation = row.slug
        organisation_id = row.organisation_id
    if organisation_id is None or organisation is None:
        raise PermissionDeniedError("a screening belongs to an organisation: name a case")
    day = screened_on or dt.date.today()
    if day > dt.date.today():
        raise ValueError("the screening date is in the future")
    with engine.begin() as connection:
        screening_id, task_id = _store(
            connection,
            principal,
            organisation_id,
            organisation,
            chosen.id,
            chosen.version,
            chosen.name,
            parsed,
            result,
            case_id=case_id,
            person_external_id=person_external_id,
            channel=channel,
            language=language,
            day=day,
        )
    return ScreeningRecord(
        screening_id,
        organisation,
        case_id,
        person_external_id,
        chosen.id,
        chosen.version,
        channel,
        principal.username,
        day,
        positive,
        result,
        parsed,
        task_id,
    )


def _store(
    connection: Connection,
    principal: Principal,
    organisation_id: uuid.UUID,
    organisation: str,
    instrument_id: str,
    instrument_version: str,
    instrument_name: str,
    answers: dict[str, bool],
    result: dict[str, Any],
    *,
    case_id: uuid.UUID | None,
    person_external_id: str | None,
    channel: str,
    language: str,
    day: dt.date,
    submission_id: str | None = None,
) -> tuple[uuid.UUID, uuid.UUID | None]:
    """Insert one screening (and its task when positive) in the caller's transaction."""
    screening_id = new_id()
    positive = bool(result["positive"])
    connection.execute(
        insert(table_of(m.Screening)).values(
            id=screening_id,
            organisation_id=organisation_id,
            case_id=case_id,
            person_external_id=person_external_id,
            instrument_id=instrument_id,
            instrument_version=instrument_version,
            language=language,
            channel=channel,
            answers=answers,
            result=result,
            positive=positive,
            screened_by=principal.username,
            team=principal.team,
            screened_on=day,
            screened_at=utcnow(),
            submission_id=submission_id,
        )
    )
    task_id = None
    if positive:
        task_id = open_task(
            connection,
            principal,
            organisation_id,
            "consider_referral",
            f"Positive screen ({instrument_name}): consider a referral to the national "
            "referral mechanism. This is not an identification decision.",
            case_id=case_id,
            team=principal.team,
            due_on=day + dt.timedelta(days=2),
            source=f"screening:{screening_id}",
        )
    audit.record(
        connection,
        principal,
        "screening.record",
        "screening",
        screening_id,
        organisation=organisation,
        details={
            "instrument": instrument_id,
            "version": instrument_version,
            "positive": positive,
            "channel": channel,
            "case_id": None if case_id is None else str(case_id),
        },
    )
    return screening_id, task_id


def _record_of(row: Any) -> ScreeningRecord:
    return ScreeningRecord(
        row.id,
        row.slug,
        row.case_id,
        row.person_external_id,
        row.instrument_id,
        row.instrument_version,
        row.channel,
        row.screened_by,
        row.screened_on,
        row.positive,
        dict(row.result),
        dict(row.answers),
    )


def _screening_query() -> Any:
    screening = table_of(m.Screening)
    org = table_of(m.Organisation)
    return select(screening, org.c.slug).join(org, org.c.id == screening.c.organisation_id)


def screenings_of_case(
    engine: Engine, principal: Principal, case_id: uuid.UUID
) -> list[ScreeningRecord]:
    """The case's screenings, newest first; only for those who work the case itself."""
    principal.require("case:read")
    store = CaseStore(engine, principal)
    with reading(engine) as connection:
        row = store.scoped_row(connection, case_id)
    if not row.owned:
        raise PermissionDeniedError("screenings stay with the organisation working the case")
    screening = table_of(m.Screening)
    query = (
        _screening_query()
        .where(screening.c.case_id == row.id)
        .order_by(screening.c.screened_at.desc())
    )
    with reading(engine) as connection:
        return [_record_of(item) for item in connection.execute(query)]


@dataclass(frozen=True)
class Rescored:
    screening_id: uuid.UUID
    instrument_id: str
    stored_version: str
    was_positive: bool
    now_positive: bool


def rescore(
    engine: Engine, principal: Principal, instrument_id: str | None = None
) -> list[Rescored]:
    """Recompute every stored screening of the principal's organisation with the current
    rules; store the new result and return the screenings whose verdict changed."""
    principal.require("screening:create")
    screening = table_of(m.Screening)
    query = _screening_query()
    if not principal.operator:
        query = query.where(screening.c.organisation_id == principal.organisation_id)
    if instrument_id is not None:
        query = query.where(screening.c.instrument_id == instrument(instrument_id).id)
    changed: list[Rescored] = []
    with engine.begin() as connection:
        for row in connection.execute(query).all():
            current = instrument(row.instrument_id)
            result = score(current, dict(row.answers)).to_dict()
            if result == row.result:
                continue
            connection.execute(
                update(screening)
                .where(screening.c.id == row.id)
                .values(result=result, positive=bool(result["positive"]))
            )
            if bool(result["positive"]) != row.positive:
                changed.append(
                    Rescored(
                        row.id,
                        row.instrument_id,
                        row.instrument_version,
                        row.positive,
                        bool(result["positive"]),
                    )
                )
        audit.record(
            connection,
            principal,
            "screening.rescore",
            details={"instrument": instrument_id or "all", "changed": len(changed)},
        )
    return changed


@dataclass(frozen=True)
class ImportedScreenings:
    instrument_id: str
    records: int
    positive: int
    already_stored: int = 0


def submission_instrument(path: Path) -> str | None:
    """The instrument whose offline form (``tiphub screen --xlsform``) this export answers,
    judged by its header alone, or None when the file is not such an export."""
    try:
        header = submission_header(path)
    except (SubmissionError, ValueError, OSError):
        return None
    best: tuple[int, str] | None = None
    for candidate in instruments():
        answered = sum(1 for column in header if indicator_of_column(candidate, column))
        if answered and (best is None or answered > best[0]):
            best = (answered, candidate.id)
    return None if best is None else best[1]


def import_submissions(
    engine: Engine,
    principal: Principal,
    path: Path,
    organisation: str,
    instrument_id: str | None = None,
) -> ImportedScreenings:
    """Bring the answers of an ODK/Kobo export of a screening form back, all or nothing.

    Every row must name a case of ``organisation`` in the principal's own scope and one of
    its people; the first row that does not stops the import with its row number, before
    anything is written.
    """
    principal.require("screening:create")
    chosen_id = instrument_id or submission_instrument(path)
    if chosen_id is None:
        raise ValueError(f"{path.name}: no column answers a screening instrument's item")
    chosen = instrument(chosen_id)
    submissions = read_submissions(chosen, path)
    store = CaseStore(engine, principal)
    planned: list[tuple[Any, ScreeningInput]] = []
    with reading(engine) as connection:
        for submission in submissions:
            where = f"{path.name}, row {submission.row}"
            if not submission.case_external_id or not submission.person_external_id:
                raise ValueError(f"{where}: case_external_id and person_external_id are needed")
            case_id = store.case_id_of(organisation, submission.case_external_id)
            if case_id is None:
                raise ValueError(
                    f"{where}, column case_external_id: no such case at {organisation}"
                )
            row = store.scoped_row(connection, case_id)
            document = case_document_of(connection, case_id) or {"participants": []}
            people = {p["person"]["external_id"] for p in document["participants"]}
            if submission.person_external_id not in people:
                raise ValueError(
                    f"{where}, column person_external_id: not a participant of the case"
                )
            parsed = parse_answers(chosen, submission.answers, source=where)
            planned.append(
                (
                    row,
                    ScreeningInput(
                        case_id, submission.person_external_id, parsed, submission.submission_id
                    ),
                )
            )
    positives = 0
    stored = 0
    screening = table_of(m.Screening)
    with engine.begin() as connection:
        # Taken before reading what is stored: two imports of one export cannot both add it.
        lock_case_writes(connection)
        organisation_ids = {row.organisation_id for row, _ in planned}
        seen = set(
            connection.execute(
                select(screening.c.organisation_id, screening.c.submission_id).where(
                    screening.c.organisation_id.in_(organisation_ids),
                    screening.c.submission_id.is_not(None),
                )
            ).tuples()
        )
        for row, item in planned:
            key = (row.organisation_id, item.submission_id)
            if item.submission_id is not None and key in seen:
                continue
            seen.add(key)
            stored += 1
            result = score(chosen, item.answers).to_dict()
            positives += bool(result["positive"])
            _store(
                connection,
                principal,
                row.organisation_id,
                row.slug,
                chosen.id,
                chosen.version,
                chosen.name,
                item.answers,
                result,
                case_id=item.case_id,
                person_external_id=item.person_external_id,
                channel="xlsform",
                language=chosen.language,
                day=dt.date.today(),
                submission_id=item.submission_id,
            )
    return ImportedScreenings(chosen.id, stored, positives, len(planned) - stored)


@dataclass(frozen=True)
class ScreeningInput:
    case_id: uuid.UUID
    person_external_id: str
    answers: dict[str, bool]
    submission_id: str | None = None

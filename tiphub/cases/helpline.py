"""The helpline's call log: one row per contact, anonymous by design.

There is no field for a caller's name, number or address: only the channel, who called
(victim, family, a professional…), the language, a region-level place, the forced-labour
indicators the caller mentioned (ids of the ``ilo-11`` instrument) and the advice given.
Only the optional follow-up note is free text, and it is sealed. The weekly counts by
channel are what a helpline reports; recording a call is audited as ``helpline.record``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from tiphub.cases import audit
from tiphub.cases.access import PermissionDeniedError, Principal
from tiphub.cases.api import CaseStore
from tiphub.standard.codelists import normalise_country, normalise_language
from tiphub.store import models as m
from tiphub.store.db import reading
from tiphub.store.models import new_id, table_of, utcnow

CHANNELS = ("phone", "text", "chat", "email", "walk_in", "web")
CALLER_TYPES = ("victim", "family", "friend", "professional", "employer", "anonymous", "other")
INDICATOR_INSTRUMENT = "ilo-11"
REGION_LENGTH = 100
FOLLOW_UP_LENGTH = 4_000
SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,59}$")
# A region is a place name: five digits in a row or an @ is a phone number, a postcode or an
# e-mail address, which would make an anonymous call traceable.
TRACEABLE = re.compile(r"@|\d(?:[\s().-]*\d){4,}")
EARLIEST = dt.date(1900, 1, 1)


class CallError(ValueError):
    """A call field that does not validate; ``field`` names it. Never quotes the value."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(f"{field_name}: {message}")


@dataclass(frozen=True)
class CallInfo:
    id: uuid.UUID
    organisation: str
    received_on: dt.date
    channel: str
    caller_type: str
    language: str | None
    country: str | None
    region: str | None
    indicators_mentioned: tuple[str, ...]
    advice_given: tuple[str, ...]
    follow_up: str | None
    case_id: uuid.UUID | None
    screening_id: uuid.UUID | None
    recorded_by: str
    recorded_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "organisation": self.organisation,
            "received_on": self.received_on.isoformat(),
            "channel": self.channel,
            "caller_type": self.caller_type,
            "language": self.language,
            "country": self.country,
            "region": self.region,
            "indicators_mentioned": list(self.indicators_mentioned),
            "advice_given": list(self.advice_given),
            "follow_up": self.follow_up,
            "case_id": None if self.case_id is None else str(self.case_id),
            "screening_id": None if self.screening_id is None else str(self.screening_id),
            "recorded_by": self.recorded_by,
        }


def _choice(field_name: str, value: str, allowed: tuple[str, ...]) -> str:
    key = "_".join(str(value).strip().casefold().replace("-", " ").split())
    if key not in allowed:
        raise CallError(field_name, f"one of {', '.join(allowed)}")
    return key


@cache
def indicator_ids() -> frozenset[str] | None:
    """The ``ilo-11`` indicator ids, or None when the screening instruments are not installed
    (then any slug is taken)."""
    try:
        from tiphub.screening.instruments import instrument
    except ImportError:
        return None
    return frozenset(indicator.id for indicator in instrument(INDICATOR_INSTRUMENT).indicators)


def _slugs(field_name: str, values: list[str], known: frozenset[str] | None) -> list[str]:
    kept: list[str] = []
    for value in values:
        text = str(value).strip()
        if known is not None and text not in known:
            raise CallError(
                field_name,
                f"not an indicator of {INDICATOR_INSTRUMENT}; one of {', '.join(sorted(known))}",
            )
        if not SLUG.match(text):
            raise CallError(field_name, "codes are lower-case letters, digits, '-', '_' or '.'")
        if text not in kept:
            kept.append(text)
    return kept


def _region(value: str | None) -> str | None:
    text = " ".join((value or "").split())
    if not text:
        return None
    if len(text) > REGION_LENGTH:
        raise CallError("region", f"at most {REGION_LENGTH} characters (a region, not an address)")
    if TRACEABLE.search(text):
        raise CallError("region", "looks like a number or e-mail address; record the region only")
    return text


def _organisation(
    connection: Connection, principal: Principal, organisation: str | None
) -> tuple[uuid.UUID, str]:
    if not principal.operator:
        if organisation is not None and organisation != principal.organisation:
            raise PermissionDeniedError("you can only log your own organisation's calls")
        if principal.organisation_id is None or principal.organisation is None:
            raise PermissionDeniedError("a call is logged by an organisation")
        return principal.organisation_id, principal.organisation
    if not organisation:
        raise CallError("organisation", "name the organisation whose helpline took the call")
    org = table_of(m.Organisation)
    found = connection.execute(select(org.c.id).where(org.c.slug == organisation)).scalar()
    if found is None:
        raise CallError("organisation", f"no organisation {organisation}")
    return found, organisation


def record_call(
    engine: Engine,
    principal: Principal,
    *,
    received_on: dt.date,
    channel: str,
    caller_type: str,
    language: str | None = None,
    country: str | None = None,
    region: str | None = None,
    indicators_mentioned: list[str] | None = None,
    advice_given: list[str] | None = None,
    follow_up: str | None = None,
    case_id: uuid.UUID | None = None,
    screening_id: uuid.UUID | None = None,
    organisation: str | None = None,
) -> CallInfo:
    """Log one contact (``helpline:record``). The local operator names the ``organisation``;
    a linked case must be one the principal works, and the call is logged under its
    organisation. ``CallError`` names a field that does not validate; nothing is written."""
    principal.require("helpline:record")
    if not isinstance(received_on, dt.date) or isinstance(received_on, dt.datetime):
        raise CallError("received_on", "a date (YYYY-MM-DD)")
    if not EARLIEST <= received_on <= dt.date.today():
        raise CallError("received_on", "must be between 1900-01-01 and today")
    values: dict[str, Any] = {
        "received_on": received_on,
        "channel": _choice("channel", channel, CHANNELS),
        "caller_type": _choice("caller_type", caller_type, CALLER_TYPES),
        "language": None,
        "country": None,
        "region": _region(region),
        "indicators_mentioned": _slugs(
            "indicators_mentioned", list(indicators_mentioned or []), indicator_ids()
        ),
        "advice_given": _slugs("advice_given", list(advice_given or []), None),
        "follow_up": (follow_up or "").strip() or None,
    }
    try:
        if language:
            values["language"] = normalise_language(language)
    except ValueError as error:
        raise CallError("language", str(error)) from None
    try:
        if country:
            values["country"] = normalise_country(country)
    except ValueError as error:
        raise CallError("country", str(error)) from None
    if values["follow_up"] is not None and len(values["follow_up"]) > FOLLOW_UP_LENGTH:
        raise CallError("follow_up", f"at most {FOLLOW_UP_LENGTH} characters")
    call_id = new_id()
    with engine.begin() as connection:
        organisation_id, slug = _organisation(connection, principal, organisation)
        if case_id is not None:
            row = CaseStore(engine, principal).scoped_row(connection, case_id)
            if not row.owned:
                raise PermissionDeniedError("a case shared with you by referral is read-only")
            if row.organisation_id != organisation_id:
                raise CallError("case_id", "the case belongs to another organisation")
        if screening_id is not None:
            screening = table_of(m.Screening)
            found = connection.execute(
                select(screening.c.organisation_id).where(screening.c.id == screening_id)
            ).scalar()
            if found is None or found != organisation_id:
                raise CallError("screening_id", "no such screening at this organisation")
        recorded_at = utcnow()
        connection.execute(
            insert(table_of(m.HelplineCall)).values(
                id=call_id,
                organisation_id=organisation_id,
                case_id=case_id,
                screening_id=screening_id,
                recorded_by=principal.username,
                recorded_at=recorded_at,
                **values,
            )
        )
        audit.record(
            connection,
            principal,
            "helpline.record",
            "helpline_call",
            call_id,
            organisation=slug,
            details={
                "channel": values["channel"],
                "caller_type": values["caller_type"],
                "indicators": len(values["indicators_mentioned"]),
                "case_id": None if case_id is None else str(case_id),
            },
        )
    return CallInfo(
        call_id,
        slug,
        received_on,
        values["channel"],
        values["caller_type"],
        values["language"],
        values["country"],
        values["region"],
        tuple(values["indicators_mentioned"]),
        tuple(values["advice_given"]),
        values["follow_up"],
        case_id,
        screening_id,
        principal.username,
        recorded_at,
    )


def _scoped(query: Any, principal: Principal) -> Any:
    call = table_of(m.HelplineCall)
    if principal.operator:
        return query
    return query.where(call.c.organisation_id == principal.organisation_id)


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes: the same call must read the same on both backends.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def calls(engine: Engine, principal: Principal, since: dt.date | None = None) -> list[CallInfo]:
    """The organisation's calls (every organisation's for the local operator), newest first."""
    principal.require("helpline:record")
    call = table_of(m.HelplineCall)
    org = table_of(m.Organisation)
    query = _scoped(
        select(call, org.c.slug).join(org, org.c.id == call.c.organisation_id), principal
    ).order_by(call.c.received_on.desc(), call.c.recorded_at.desc())
    if since is not None:
        query = query.where(call.c.received_on >= since)
    with reading(engine) as connection:
        found = [
            CallInfo(
                row.id,
                row.slug,
                row.received_on,
                row.channel,
                row.caller_type,
                row.language,
                row.country,
                row.region,
                tuple(row.indicators_mentioned or ()),
                tuple(row.advice_given or ()),
                row.follow_up,
                row.case_id,
                row.screening_id,
                row.recorded_by,
                _aware(row.recorded_at),
            )
            for row in connection.execute(query)
        ]
    audit.record_now(
        engine, principal, "helpline.list", details={"returned": len(found)}, durable=False
    )
    return found


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_counts(
    engine: Engine,
    principal: Principal,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Calls per ISO week (``YYYY-Www``) and channel, ``since`` and ``until`` included, in
    week then channel order. Counts only: readable with ``statistics:read`` too."""
    if not (principal.can("helpline:record") or principal.can("statistics:read")):
        raise PermissionDeniedError("your role does not allow helpline:record")
    call = table_of(m.HelplineCall)
    # Counted per day in SQL and folded into ISO weeks here: SQLite and PostgreSQL
    # number weeks differently, Python's isocalendar is the one definition.
    query = _scoped(
        select(call.c.received_on, call.c.channel, func.count().label("calls")).group_by(
            call.c.received_on, call.c.channel
        ),
        principal,
    )
    if since is not None:
        query = query.where(call.c.received_on >= since)
    if until is not None:
        query = query.where(call.c.received_on <= until)
    totals: Counter[tuple[str, str]] = Counter()
    with reading(engine) as connection:
        for row in connection.execute(query):
            totals[(iso_week(row.received_on), row.channel)] += int(row.calls)
    return [
        {"week": week, "channel": channel, "count": count}
        for (week, channel), count in sorted(totals.items())
    ]

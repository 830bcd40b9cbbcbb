"""The anonymous helpline call log (SQLite, or PostgreSQL with TIPHUB_TEST_DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.factories import case, role_principal
from tiphub.cases import accounts, audit, helpline
from tiphub.cases.access import PermissionDeniedError, Principal, local_operator
from tiphub.cases.api import CaseStore
from tiphub.cases.helpline import CallError, calls, record_call, weekly_counts
from tiphub.store import models as m
from tiphub.store.models import table_of

DAY = dt.date(2025, 12, 30)
ILO = "forced_labour.retention_of_identity_documents"


def principal(engine: Engine, username: str, organisation: str, role: str) -> Principal:
    return role_principal(engine, username, organisation, role, team="frontline")


@pytest.fixture
def people(engine: Engine) -> dict[str, Principal]:
    operator = local_operator("operator:test")
    for slug in ("ngo-east", "ngo-west"):
        accounts.add_organisation(engine, operator, slug, slug)
    return {
        "worker": principal(engine, "worker@ngo-east", "ngo-east", "caseworker"),
        "analyst": principal(engine, "analyst@ngo-east", "ngo-east", "analyst"),
        "auditor": principal(engine, "auditor@ngo-east", "ngo-east", "auditor"),
        "west": principal(engine, "worker@ngo-west", "ngo-west", "caseworker"),
    }


def log(engine: Engine, who: Principal, **fields: Any) -> helpline.CallInfo:
    values: dict[str, Any] = {"received_on": DAY, "channel": "phone", "caller_type": "victim"}
    values.update(fields)
    return record_call(engine, who, **values)


def test_the_call_table_has_no_field_for_a_name_or_a_number() -> None:
    columns = set(table_of(m.HelplineCall).c.keys())
    for word in ("name", "phone", "number", "email", "address", "birth"):
        assert not any(word in column for column in columns), word


def test_a_call_is_logged_normalised_and_audited(
    engine: Engine, people: dict[str, Principal]
) -> None:
    call = log(
        engine,
        people["worker"],
        channel="Walk-in",
        caller_type="Family",
        language="ro",
        country="ROU",
        region="  Iași   county ",
        indicators_mentioned=[ILO, ILO, "forced_labour.deception"],
        advice_given=["shelter-info", "police-contact"],
        follow_up="Caller will ring back next week.",
    )
    assert call.channel == "walk_in" and call.caller_type == "family"
    assert call.language == "ron" and call.country == "RO" and call.region == "Iași county"
    assert call.indicators_mentioned == (ILO, "forced_labour.deception")
    assert call.organisation == "ngo-east" and call.recorded_by == "worker@ngo-east"
    [stored] = calls(engine, people["worker"])
    assert stored == call
    [entry] = [e for e in audit.iter_entries(engine) if e["action"] == "helpline.record"]
    assert entry["resource_id"] == str(call.id) and entry["organisation"] == "ngo-east"
    assert entry["details"] == {
        "channel": "walk_in",
        "caller_type": "family",
        "indicators": 2,
        "case_id": None,
    }
    assert "Iași" not in str(entry) and "ring back" not in str(entry)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"channel": "pigeon"}, "channel"),
        ({"caller_type": "journalist"}, "caller_type"),
        ({"received_on": dt.date.today() + dt.timedelta(days=1)}, "received_on"),
        ({"received_on": "2025-01-01"}, "received_on"),
        ({"language": "zz9"}, "language"),
        ({"country": "Atlantis"}, "country"),
        ({"region": "x" * 101}, "region"),
        ({"region": "call 0721 555 019"}, "region"),
        ({"region": "someone@example.org"}, "region"),
        ({"indicators_mentioned": ["made_up_indicator"]}, "indicators_mentioned"),
        ({"advice_given": ["Told them: call me"]}, "advice_given"),
    ],
)
def test_bad_fields_are_refused_without_quoting_the_value(
    engine: Engine, people: dict[str, Principal], fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(CallError) as caught:
        log(engine, people["worker"], **fields)
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")
    for value in fields.values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in str(caught.value)
    assert calls(engine, people["worker"]) == []


def test_indicators_are_the_ilo_11_ones(people: dict[str, Principal]) -> None:
    known = helpline.indicator_ids()
    assert known is not None and len(known) == 11 and ILO in known


def test_who_may_log_and_read(engine: Engine, people: dict[str, Principal]) -> None:
    log(engine, people["worker"])
    log(engine, people["west"], channel="chat")
    with pytest.raises(PermissionDeniedError):
        log(engine, people["analyst"])
    with pytest.raises(PermissionDeniedError):
        calls(engine, people["analyst"])
    with pytest.raises(PermissionDeniedError):
        weekly_counts(engine, people["auditor"])
    with pytest.raises(PermissionDeniedError):
        log(engine, people["worker"], organisation="ngo-west")
    # Each organisation sees its own calls; the analyst its counts.
    assert [c.channel for c in calls(engine, people["west"])] == ["chat"]
    assert weekly_counts(engine, people["analyst"]) == [
        {"week": "2026-W01", "channel": "phone", "count": 1}
    ]
    operator = local_operator("operator:test")
    assert len(calls(engine, operator)) == 2
    with pytest.raises(CallError, match="organisation"):
        log(engine, operator)
    assert log(engine, operator, organisation="ngo-west").organisation == "ngo-west"


def test_a_call_may_link_a_case_of_the_organisation(
    engine: Engine, people: dict[str, Principal]
) -> None:
    store = CaseStore(engine, people["worker"])
    store.create(case("case-1"))
    case_id = store.case_id_of("ngo-east", "case-1")
    assert case_id is not None
    linked = log(engine, people["worker"], case_id=case_id)
    assert linked.case_id == case_id
    with pytest.raises(LookupError):
        log(engine, people["west"], case_id=case_id)
    with pytest.raises(CallError, match="screening_id"):
        log(engine, people["worker"], screening_id=uuid.uuid4())


def test_weekly_counts_match_an_independent_count(
    engine: Engine, people: dict[str, Principal]
) -> None:
    rng = random.Random(7)
    start = dt.date(2025, 12, 1)  # across a year end: 2025-12-29 is in ISO week 2026-W01
    logged: list[tuple[dt.date, str]] = []
    for _ in range(120):
        day = start + dt.timedelta(days=rng.randrange(70))
        channel = rng.choice(helpline.CHANNELS)
        log(engine, people["worker"], received_on=day, channel=channel)
        logged.append((day, channel))
    log(engine, people["west"], received_on=start, channel="phone")  # another organisation's

    def expected(since: dt.date | None, until: dt.date | None) -> list[dict[str, Any]]:
        counted = Counter(
            (day.strftime("%G-W%V"), channel)
            for day, channel in logged
            if (since is None or day >= since) and (until is None or day <= until)
        )
        return [
            {"week": week, "channel": channel, "count": counted[(week, channel)]}
            for week, channel in sorted(counted)
        ]

    everything = weekly_counts(engine, people["worker"])
    assert everything == expected(None, None)
    assert sum(row["count"] for row in everything) == 120
    assert any(row["week"] == "2026-W01" for row in everything)
    since, until = dt.date(2025, 12, 24), dt.date(2026, 1, 20)
    assert weekly_counts(engine, people["worker"], since=since, until=until) == expected(
        since, until
    )
    recent = calls(engine, people["worker"], since=dt.date(2026, 1, 1))
    assert len(recent) == sum(1 for day, _ in logged if day >= dt.date(2026, 1, 1))
    assert [c.received_on for c in recent] == sorted((c.received_on for c in recent), reverse=True)

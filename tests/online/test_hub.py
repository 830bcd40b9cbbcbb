"""The online ads in the case store: scope, all-or-nothing ingest, sealing, custody, review,
hand-over, statistics and evidence (SQLite, or PostgreSQL with TIPHUB_TEST_DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, delete, inspect, select, text

from tests.factories import role_principal
from tiphub.cases import accounts, audit
from tiphub.cases.access import NotFoundError, PermissionDeniedError, Principal, local_operator
from tiphub.online import hub
from tiphub.online.ads import Contact, IndicatorHit, RawAd
from tiphub.online.contacts import contact_hash
from tiphub.online.hub import (
    AdResult,
    IngestError,
    StoredCluster,
    evidence_items,
    get_ad,
    hand_over,
    ingest_ads,
    review_ad,
    save_results,
    stored_ads,
    stored_clusters,
    weekly_statistics,
)
from tiphub.store import models as m
from tiphub.store.bulk import BulkInserter
from tiphub.store.models import table_of

PHONE = "+44 7700 900123"
PHONE_FORMS = ("+447700900123", "7700900123", "7700 900123", "07700 900123")
EMAIL = "quartz.recruiter@example.org"
WORD = "Zanzibarquartz"
ONLINE_TABLES = (
    "online_ad",
    "online_contact",
    "online_evidence",
    "online_custody_event",
    "online_cluster",
    "online_handover",
    "online_agency",
)
SEEN = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)  # a Monday: ISO week 2026-W48


@pytest.fixture
def people(engine: Engine) -> dict[str, Principal]:
    operator = local_operator("operator:test")
    accounts.add_organisation(engine, operator, "ngo-east", "ngo-east", country="GB")
    accounts.add_organisation(engine, operator, "ngo-west", "ngo-west", country="PT")
    return {
        "worker": role_principal(engine, "worker@ngo-east", "ngo-east", "caseworker", "frontline"),
        "supervisor": role_principal(engine, "boss@ngo-east", "ngo-east", "supervisor"),
        "analyst": role_principal(engine, "analyst@ngo-east", "ngo-east", "analyst"),
        "west": role_principal(engine, "worker@ngo-west", "ngo-west", "caseworker", "frontline"),
        "operator": operator,
    }


def ad(ad_id: str, text_: str = "Warehouse work in Germany, good pay.", **fields: Any) -> RawAd:
    values: dict[str, Any] = {
        "ad_id": ad_id,
        "text": text_,
        "source": "ads.csv",
        "row": int(ad_id.split("-")[-1]) + 1 if ad_id.split("-")[-1].isdigit() else None,
        "url": f"https://jobs.example.com/ad/{ad_id}",
        "seen_at": SEEN,
    }
    values.update(fields)
    if "original" not in values:
        line = f"{values['ad_id']},{values.get('title') or ''},{values['text']}\r\n"
        values["original"] = line.encode()
    return RawAd(**values)


def planted(ad_id: str = "ad-1") -> RawAd:
    return ad(
        ad_id,
        f"{WORD} agency: work abroad, no experience needed. WhatsApp {PHONE} or {EMAIL}.",
        title=f"{WORD} jobs in Germany",
        contact=f"call {PHONE}",
        location="Leeds",
        salary="3000 EUR",
    )


def flag(engine: Engine, who: Principal, row_id: uuid.UUID, **fields: Any) -> None:
    values: dict[str, Any] = {
        "row_id": row_id,
        "score": 0.9,
        "flagged": True,
        "indicators": (IndicatorHit("fee-charged", ("deposit",)),),
        "cluster_id": None,
        "sector": "construction",
        "destination_country": "DE",
    }
    values.update(fields)
    save_results(engine, who, [AdResult(**values)], [])


def row_count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return len(connection.execute(select(table_of_name(table))).all())


def table_of_name(name: str) -> Any:
    return m.Base.metadata.tables[name]


def raw_rows(engine: Engine, tables: tuple[str, ...]) -> str:
    """Every value of the tables as the database holds it, as text (what a thief reads)."""
    chunks: list[str] = []
    with engine.connect() as connection:
        for table in tables:
            columns = [c["name"] for c in inspect(connection).get_columns(table)]
            listed = ", ".join(f'CAST("{c}" AS TEXT)' for c in columns)
            for row in connection.execute(text(f'SELECT {listed} FROM "{table}"')):
                chunks.extend(str(value) for value in row if value is not None)
    return "\n".join(chunks)


def actions(engine: Engine, prefix: str = "online.") -> list[dict[str, Any]]:
    return [entry for entry in audit.iter_entries(engine) if entry["action"].startswith(prefix)]


# -- schema ----------------------------------------------------------------------------------


def test_the_migrated_online_tables_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), m.Base.metadata)
    assert [d for d in differences if "online" in repr(d)] == []
    assert set(ONLINE_TABLES) <= set(inspect(engine).get_table_names())


# -- ingest ----------------------------------------------------------------------------------


def test_an_ingested_ad_is_stored_masked_with_hashed_contacts_and_its_evidence(
    engine: Engine, people: dict[str, Principal]
) -> None:
    original = planted().original
    outcome = ingest_ads(engine, people["worker"], [planted(), ad("ad-2")])
    assert (outcome.stored, outcome.unchanged, outcome.changed) == (2, 0, [])
    first, second = stored_ads(engine, people["worker"])
    assert (first.ad_id, second.ad_id) == ("ad-1", "ad-2")
    assert first.organisation == "ngo-east" and first.source == "ads.csv" and first.kind == "csv"
    assert WORD in first.text and "[phone]" in first.text and "[email]" in first.text
    assert not any(form in first.text for form in PHONE_FORMS) and EMAIL not in first.text
    assert first.sha256 == hashlib.sha256(original).hexdigest()
    assert first.seen_at == SEEN and first.review_status == "new" and not first.flagged
    assert (first.location, first.salary) == ("Leeds", "3000 EUR")
    expected = contact_hash(Contact("phone", "+447700900123", "GB"))
    assert ("phone", expected) in first.contact_hashes
    assert {kind for kind, _ in first.contact_hashes} >= {"phone", "email"}
    assert second.contact_hashes == ()
    assert get_ad(engine, people["analyst"], first.row_id) == first


def test_ingest_is_all_or_nothing_when_an_ad_is_refused(
    engine: Engine, people: dict[str, Principal]
) -> None:
    batch = [ad("ad-1"), ad("x" * 201, row=3), ad("ad-3", "  ", row=4), ad("ad-4")]
    with pytest.raises(IngestError) as refused:
        ingest_ads(engine, people["worker"], batch)
    wheres = [(p.source, p.row, p.field) for p in refused.value.problems]
    assert wheres == [("ads.csv", 3, "ad_id"), ("ads.csv", 4, "text")]
    assert "x" * 201 not in str(refused.value)
    for table in ONLINE_TABLES:
        assert row_count(engine, table) == 0, table
    assert actions(engine) == []


def test_ingest_is_all_or_nothing_when_the_database_fails_midway(
    engine: Engine, people: dict[str, Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_insert = BulkInserter.insert

    def failing(self: BulkInserter, table: Any, rows: Any) -> None:
        if table.name == "online_evidence":
            raise RuntimeError("disk full")
        real_insert(self, table, rows)

    monkeypatch.setattr(BulkInserter, "insert", failing)
    with pytest.raises(RuntimeError):
        ingest_ads(engine, people["worker"], [ad(f"ad-{n}") for n in range(1, 6)])
    for table in ONLINE_TABLES:
        assert row_count(engine, table) == 0, table
    assert actions(engine) == []


def test_reingesting_is_a_no_op_and_other_content_keeps_the_first(
    engine: Engine, people: dict[str, Principal]
) -> None:
    ingest_ads(engine, people["worker"], [ad("ad-1"), ad("ad-2")])
    [before, _] = stored_ads(engine, people["worker"])
    again = ingest_ads(engine, people["worker"], [ad("ad-1"), ad("ad-2"), ad("ad-3")])
    assert (again.stored, again.unchanged, again.changed) == (1, 2, [])
    changed = ingest_ads(
        engine, people["worker"], [ad("ad-1", "Other words entirely.", source="later.csv", row=9)]
    )
    assert (changed.stored, changed.unchanged) == (0, 0)
    [problem] = changed.changed
    assert (problem.source, problem.row, problem.field) == ("later.csv", 9, "ad_id")
    assert "Other words" not in str(problem)
    after = get_ad(engine, people["worker"], before.row_id)
    assert after.text == before.text and after.sha256 == before.sha256
    assert row_count(engine, "online_ad") == 3 and row_count(engine, "online_evidence") == 3
    # Within one batch too: the first of two same-id ads is kept.
    inside = ingest_ads(engine, people["worker"], [ad("ad-9"), ad("ad-9", "Changed.")])
    assert (inside.stored, len(inside.changed)) == (1, 1)


def test_an_ad_without_original_bytes_is_captured_as_its_fields(
    engine: Engine, people: dict[str, Principal]
) -> None:
    ingest_ads(engine, people["worker"], [ad("ad-1", original=b"")])
    [item] = evidence_items(engine, people["supervisor"], flagged_only=False)
    assert json.loads(item.original)["text"] == "Warehouse work in Germany, good pay."
    assert item.media_type == "application/json"
    assert item.sha256 == hashlib.sha256(item.original).hexdigest()
    assert "no original bytes" in item.custody[0].detail


# -- at rest ---------------------------------------------------------------------------------


def test_no_contact_or_ad_word_is_stored_in_clear(
    engine: Engine, people: dict[str, Principal]
) -> None:
    quiet = ad("ad-3", location=f"Leeds, ring {PHONE}", salary=f"{EMAIL} for pay")
    ingest_ads(engine, people["worker"], [planted("ad-1"), planted("ad-2"), quiet])
    first, _second, third = stored_ads(engine, people["worker"])
    assert (third.location, third.salary) == ("Leeds, ring [phone]", "[email] for pay")
    assert {kind for kind, _ in third.contact_hashes} == {"phone", "email"}
    flag(engine, people["worker"], first.row_id, indicators=(IndicatorHit("agency", (WORD,)),))
    save_results(
        engine,
        people["worker"],
        [],
        [StoredCluster("c1", "ngo-east", f"{WORD} agency: [phone]", ("ad-1", "ad-2"), ("h",))],
    )
    review_ad(engine, people["worker"], first.row_id, "confirmed", note=f"{WORD} again {PHONE}")
    for kind in ("screening", "police", "takedown"):
        hand_over(engine, people["worker"], kind=kind, row_id=first.row_id, note=WORD)
    hand_over(engine, people["worker"], kind="labour_inspectorate", cluster_id="c1")
    evidence_items(engine, people["supervisor"])

    storage = raw_rows(engine, (*ONLINE_TABLES, "task", "audit_event"))
    assert "ngo-east" in storage or "Leeds" in storage  # the check reads real rows
    assert "Leeds" in storage  # a clear column is found by the same search
    for needle in (WORD, EMAIL, *PHONE_FORMS):
        assert needle.casefold() not in storage.casefold(), needle
    # ... while the sealed values read back
    [item] = evidence_items(engine, people["supervisor"], ad_ids=["ad-1"])
    assert PHONE.encode() in item.original and WORD.encode() in item.original


def test_the_original_bytes_come_back_exactly(engine: Engine, people: dict[str, Principal]) -> None:
    odd = b"\xff\xfe\x00ad-1,\x80 not utf-8\r\n"
    ingest_ads(engine, people["worker"], [ad("ad-1", original=odd, media_type="text/csv")])
    [item] = evidence_items(engine, people["supervisor"], flagged_only=False)
    assert item.original == odd and item.sha256 == hashlib.sha256(odd).hexdigest()
    assert (item.media_type, item.source, item.row, item.seen_at) == (
        "text/csv",
        "ads.csv",
        2,
        SEEN,
    )


# -- scope and permissions -------------------------------------------------------------------


def test_another_organisation_sees_nothing(engine: Engine, people: dict[str, Principal]) -> None:
    ingest_ads(engine, people["worker"], [planted("ad-1")])
    [mine] = stored_ads(engine, people["worker"])
    flag(engine, people["worker"], mine.row_id)
    west = people["west"]
    assert stored_ads(engine, west) == []
    assert stored_ads(engine, west, flagged_only=True) == []
    assert weekly_statistics(engine, west) == []
    assert stored_clusters(engine, west) == []
    with pytest.raises(NotFoundError):
        get_ad(engine, west, mine.row_id)
    with pytest.raises(NotFoundError):
        review_ad(engine, west, mine.row_id, "dismissed")
    with pytest.raises(NotFoundError):
        hand_over(engine, west, kind="takedown", row_id=mine.row_id)
    with pytest.raises(NotFoundError):
        save_results(engine, west, [AdResult(mine.row_id, 0.1, False, (), None, None, None)], [])
    with pytest.raises(PermissionDeniedError):
        ingest_ads(engine, west, [ad("ad-1")], organisation="ngo-east")
    # The same ad_id at another organisation is another ad.
    assert ingest_ads(engine, west, [planted("ad-1")]).stored == 1
    assert [a.organisation for a in stored_ads(engine, people["operator"])] == [
        "ngo-east",
        "ngo-west",
    ]
    assert get_ad(engine, people["worker"], mine.row_id).review_status == "new"


def test_roles_are_refused_what_they_lack(engine: Engine, people: dict[str, Principal]) -> None:
    ingest_ads(engine, people["worker"], [ad("ad-1")])
    [one] = stored_ads(engine, people["analyst"])
    with pytest.raises(PermissionDeniedError):
        ingest_ads(engine, people["analyst"], [ad("ad-2")])
    with pytest.raises(PermissionDeniedError):
        review_ad(engine, people["analyst"], one.row_id, "confirmed")
    with pytest.raises(PermissionDeniedError):
        evidence_items(engine, people["worker"])
    with pytest.raises(ValueError, match="organisation"):
        ingest_ads(engine, people["operator"], [ad("ad-2")])
    assert ingest_ads(engine, people["operator"], [ad("ad-2")], organisation="ngo-west").stored


# -- results, custody, review ----------------------------------------------------------------


def test_custody_records_each_step_in_order(engine: Engine, people: dict[str, Principal]) -> None:
    ingest_ads(engine, people["worker"], [planted("ad-1"), ad("ad-2")])
    first, second = stored_ads(engine, people["worker"])
    flag(engine, people["worker"], first.row_id)
    flag(engine, people["worker"], first.row_id, score=0.95)  # still flagged: no new event
    save_results(
        engine, people["worker"], [AdResult(second.row_id, 0.1, False, (), None, None, None)], []
    )
    review_ad(engine, people["worker"], first.row_id, "confirmed", note="Clear case.")
    hand_over(engine, people["worker"], kind="police", row_id=first.row_id)
    [item] = evidence_items(engine, people["supervisor"])
    assert item.ad_id == "ad-1" and item.organisation == "ngo-east"
    assert [event.action for event in item.custody] == [
        "captured",
        "flagged",
        "reviewed",
        "handed_over",
        "exported",
    ]
    assert [event.actor for event in item.custody] == [
        "worker@ngo-east",
        "worker@ngo-east",
        "worker@ngo-east",
        "worker@ngo-east",
        "boss@ngo-east",
    ]
    assert all(a.at <= b.at for a, b in zip(item.custody, item.custody[1:], strict=False))
    assert "ads.csv" in item.custody[0].detail and "fee-charged" in item.custody[1].detail
    assert hub.custody_chain(engine, people["worker"], first.row_id) == list(item.custody)
    stored = get_ad(engine, people["worker"], first.row_id)
    assert stored.flagged and stored.score == 0.95 and stored.review_status == "confirmed"
    assert stored.indicators == (IndicatorHit("fee-charged", ("deposit",)),)
    assert (stored.sector, stored.destination_country) == ("construction", "DE")
    assert stored.reviewed_by == "worker@ngo-east"
    # The second ad was never flagged: not exported by default, and no custody beyond capture.
    [all_second] = evidence_items(engine, people["supervisor"], ad_ids=["ad-2"], flagged_only=False)
    assert [event.action for event in all_second.custody] == ["captured", "exported"]
    with pytest.raises(NotFoundError):
        evidence_items(engine, people["supervisor"], ad_ids=["ad-404"])


def test_an_ad_without_preserved_evidence_cannot_be_flagged(
    engine: Engine, people: dict[str, Principal]
) -> None:
    ingest_ads(engine, people["worker"], [ad("ad-1"), ad("ad-2")])
    first, second = stored_ads(engine, people["worker"])
    evidence = table_of(m.OnlineEvidence)
    with engine.begin() as connection:
        connection.execute(delete(evidence).where(evidence.c.ad_row_id == first.row_id))
    results = [
        AdResult(second.row_id, 0.9, True, (), None, None, None),
        AdResult(first.row_id, 0.9, True, (), None, None, None),
    ]
    with pytest.raises(ValueError, match="no preserved evidence"):
        save_results(engine, people["worker"], results, [])
    assert [a.flagged for a in stored_ads(engine, people["worker"])] == [False, False]
    # Screened but not flagged is fine.
    save_results(
        engine, people["worker"], [AdResult(first.row_id, 0.2, False, (), None, None, None)], []
    )
    assert get_ad(engine, people["worker"], first.row_id).score == 0.2


def test_clusters_are_replaced_by_the_latest_screening(
    engine: Engine, people: dict[str, Principal]
) -> None:
    ingest_ads(engine, people["worker"], [ad(f"ad-{n}") for n in range(1, 5)])
    ingest_ads(engine, people["west"], [ad("ad-1")])
    west_cluster = StoredCluster("w1", "ngo-west", "t", ("ad-1",), ())
    save_results(engine, people["west"], [], [west_cluster])
    first = [
        StoredCluster("c1", "ngo-east", "Work in [city]", ("ad-1", "ad-2", "ad-3"), ("h1",)),
        StoredCluster("c2", "ngo-east", "Other", ("ad-4",), ()),
    ]
    save_results(engine, people["worker"], [], first)
    assert stored_clusters(engine, people["worker"]) == first
    latest = [StoredCluster("c9", "ngo-east", "Work in [city]", ("ad-1", "ad-2"), ())]
    save_results(engine, people["worker"], [], latest)
    assert stored_clusters(engine, people["worker"]) == latest
    assert stored_clusters(engine, people["west"]) == [west_cluster]
    with pytest.raises(PermissionDeniedError):
        save_results(engine, people["worker"], [], [west_cluster])


def test_review_takes_known_decisions_only(engine: Engine, people: dict[str, Principal]) -> None:
    ingest_ads(engine, people["worker"], [ad("ad-1")])
    [one] = stored_ads(engine, people["worker"])
    with pytest.raises(ValueError, match="decision"):
        review_ad(engine, people["worker"], one.row_id, "maybe")
    reviewed = review_ad(engine, people["worker"], one.row_id, "unsure")
    assert reviewed.review_status == "unsure"
    assert [a.ad_id for a in stored_ads(engine, people["worker"], status="unsure")] == ["ad-1"]
    assert stored_ads(engine, people["worker"], status="new") == []


# -- hand-over -------------------------------------------------------------------------------


def test_hand_over_opens_tasks_and_builds_a_takedown_request(
    engine: Engine, people: dict[str, Principal]
) -> None:
    ingest_ads(engine, people["worker"], [planted("ad-1"), planted("ad-2")])
    first, second = stored_ads(engine, people["worker"])
    hit = IndicatorHit("messenger-only", (f"WhatsApp {PHONE}",))
    flag(engine, people["worker"], first.row_id, indicators=(hit,))
    save_results(
        engine, people["worker"], [], [StoredCluster("c1", "ngo-east", "t", ("ad-1", "ad-2"), ())]
    )
    screening = hand_over(engine, people["worker"], kind="screening", row_id=first.row_id)
    police = hand_over(engine, people["worker"], kind="police", row_id=first.row_id)
    labour = hand_over(engine, people["worker"], kind="labour_inspectorate", cluster_id="c1")
    takedown = hand_over(engine, people["worker"], kind="takedown", row_id=first.row_id)
    task = table_of(m.Task)
    with engine.connect() as connection:
        tasks = {row.id: row for row in connection.execute(select(task))}
    assert set(tasks) == {screening.task_id, police.task_id, labour.task_id}
    assert takedown.task_id is None
    assert tasks[screening.task_id].kind == "online_screening"
    assert tasks[police.task_id].kind == "online_referral"
    assert "police" in tasks[police.task_id].title
    assert "labour inspectorate" in tasks[labour.task_id].title
    assert all(row.organisation_id == people["worker"].organisation_id for row in tasks.values())
    assert all(WORD not in row.title and "ad-1" not in row.title for row in tasks.values())

    request = takedown.text or ""
    assert "https://jobs.example.com/ad/ad-1" in request and "ad-1" in request
    assert first.sha256 in request and "messenger-only" in request
    assert SEEN.isoformat() in request
    assert not any(form in request for form in PHONE_FORMS) and EMAIL not in request
    assert "[phone]" in request
    labour_text = labour.text or ""
    assert "ad-1" in labour_text and "ad-2" in labour_text
    assert [h.kind for h in hub.handovers(engine, people["worker"])] == [
        "takedown",
        "labour_inspectorate",
        "police",
        "screening",
    ]
    assert hub.handovers(engine, people["west"]) == []
    chain = hub.custody_chain(engine, people["worker"], second.row_id)
    assert [event.action for event in chain] == ["captured", "handed_over"]
    with pytest.raises(ValueError, match="kind"):
        hand_over(engine, people["worker"], kind="newspaper", row_id=first.row_id)
    with pytest.raises(NotFoundError):
        hand_over(engine, people["worker"], kind="police", cluster_id="c404")


# -- audit -----------------------------------------------------------------------------------


def test_every_action_is_audited_without_values(
    engine: Engine, people: dict[str, Principal]
) -> None:
    ingest_ads(engine, people["worker"], [planted("ad-1"), ad("ad-2")])
    first, _second = stored_ads(engine, people["worker"])
    get_ad(engine, people["worker"], first.row_id)
    flag(engine, people["worker"], first.row_id)
    review_ad(engine, people["worker"], first.row_id, "confirmed", note=WORD)
    handover = hand_over(engine, people["worker"], kind="takedown", row_id=first.row_id)
    weekly_statistics(engine, people["worker"])
    evidence_items(engine, people["supervisor"])
    entries = actions(engine)
    assert [e["action"] for e in entries] == [
        "online.ingest",
        "online.list",
        "online.read",
        "online.screen",
        "online.review",
        "online.handover",
        "online.statistics",
        "online.evidence.export",
    ]
    by_action = {e["action"]: e for e in entries}
    assert by_action["online.ingest"]["details"] == {
        "stored": 2,
        "unchanged": 0,
        "changed": 0,
        "kinds": ["csv"],
    }
    assert by_action["online.ingest"]["organisation"] == "ngo-east"
    assert by_action["online.read"]["resource_id"] == str(first.row_id)
    assert by_action["online.review"]["details"]["decision"] == "confirmed"
    assert by_action["online.handover"]["resource_id"] == str(handover.id)
    assert by_action["online.evidence.export"]["details"]["items"] == 1
    assert by_action["online.evidence.export"]["actor"] == "boss@ngo-east"
    written = json.dumps(entries, default=str)
    for needle in (WORD, EMAIL, "Warehouse", "jobs.example.com", *PHONE_FORMS):
        assert needle not in written, needle
    assert audit.verify(engine).intact


# -- statistics ------------------------------------------------------------------------------


def test_weekly_statistics_count_flagged_ads_by_hand(
    engine: Engine, people: dict[str, Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    week48 = SEEN
    week49 = SEEN + dt.timedelta(days=7)
    ads = [
        ad("ad-1", seen_at=week48),
        ad("ad-2", seen_at=week48 + dt.timedelta(days=6, hours=14)),  # Sunday: still W48
        ad("ad-3", seen_at=week49),
        ad("ad-4", seen_at=week49),  # not flagged
        ad("ad-5", seen_at=None),  # counted in the week it was ingested
    ]
    ingested = dt.datetime(2026, 12, 16, 12, 0, tzinfo=dt.UTC)  # a Wednesday of 2026-W51
    with monkeypatch.context() as patched:
        patched.setattr(hub, "utcnow", lambda: ingested)
        ingest_ads(engine, people["worker"], ads)
    rows = {a.ad_id: a.row_id for a in stored_ads(engine, people["worker"])}
    fee, passport = IndicatorHit("fee-charged"), IndicatorHit("passport-requested")
    results = [
        AdResult(rows["ad-1"], 0.9, True, (fee, passport), None, "construction", "DE"),
        AdResult(rows["ad-2"], 0.8, True, (fee, fee), None, "construction", None),
        AdResult(rows["ad-3"], 0.7, True, (passport,), None, "agriculture", "DE"),
        AdResult(rows["ad-4"], 0.9, False, (fee,), None, "agriculture", "DE"),
        AdResult(rows["ad-5"], 0.9, True, (fee,), None, None, "PL"),
    ]
    save_results(engine, people["worker"], results, [])
    assert weekly_statistics(engine, people["analyst"]) == [
        {"week": "2026-W48", "dimension": "indicator", "value": "fee-charged", "flags": 2},
        {"week": "2026-W48", "dimension": "indicator", "value": "passport-requested", "flags": 1},
        {"week": "2026-W48", "dimension": "sector", "value": "construction", "flags": 2},
        {"week": "2026-W48", "dimension": "destination", "value": "DE", "flags": 1},
        {"week": "2026-W49", "dimension": "indicator", "value": "passport-requested", "flags": 1},
        {"week": "2026-W49", "dimension": "sector", "value": "agriculture", "flags": 1},
        {"week": "2026-W49", "dimension": "destination", "value": "DE", "flags": 1},
        {"week": "2026-W51", "dimension": "indicator", "value": "fee-charged", "flags": 1},
        {"week": "2026-W51", "dimension": "destination", "value": "PL", "flags": 1},
    ]


# -- the licence register --------------------------------------------------------------------


def test_the_licence_register_is_stored_sealed_per_organisation(
    engine: Engine, people: dict[str, Principal]
) -> None:
    from tiphub.online.register import Register

    register = Register.from_rows(
        [
            {"name": f"{WORD} Recruitment Ltd", "licence_number": "LIC-001", "phone": PHONE},
            {"name": "Other Agency", "licence_number": "LIC-002", "email": EMAIL},
        ],
        source="register.csv",
        default_region="GB",
    )
    assert hub.stored_register(engine, people["worker"]) is None
    assert hub.store_register(engine, people["worker"], register) == 2
    back = hub.stored_register(engine, people["analyst"])
    assert back is not None
    assert back.to_rows() == register.to_rows()
    assert back.default_region == "GB"
    assert hub.stored_register(engine, people["west"]) is None
    storage = raw_rows(engine, ("online_agency",))
    assert "LIC-001" in storage
    for needle in (WORD, EMAIL, *PHONE_FORMS):
        assert needle not in storage, needle


def test_ads_stored_by_a_concurrent_ingest_meanwhile_are_not_stored_twice(
    engine: Engine, people: dict[str, Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_ads(engine, people["worker"], [ad("ad-1"), ad("ad-2")])
    real = hub._fingerprints
    calls: list[int] = []

    def stale_first(*args: Any) -> dict[str, str]:
        calls.append(1)
        return {} if len(calls) == 1 else real(*args)  # the first look saw neither ad

    monkeypatch.setattr(hub, "_fingerprints", stale_first)
    outcome = ingest_ads(engine, people["worker"], [ad("ad-1"), ad("ad-2", "Changed.", row=7)])
    assert (outcome.stored, outcome.unchanged) == (0, 1)
    assert [(p.source, p.row) for p in outcome.changed] == [("ads.csv", 7)]
    assert row_count(engine, "online_ad") == 2 and row_count(engine, "online_evidence") == 2

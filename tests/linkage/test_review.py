"""The clerical review queue, on SQLite and (with TIPHUB_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import math
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from rich.console import Console
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from tests.linkage.test_cluster_constraints import stub_scoring, triangle_records
from tiphub.linkage import review
from tiphub.linkage.api import run_link
from tiphub.linkage.review import (
    BRIDGES_CANNOT_LINK,
    REASON_FIELD,
    EnqueueResult,
    PairLabel,
    ReviewCandidate,
    ReviewError,
    decide,
    enqueue,
    finish_run,
    format_item,
    get,
    item_table,
    labels,
    pending,
    queue_stats,
    record_key,
    start_run,
)
from tiphub.store import models as m
from tiphub.store.db import downgrade, table_names, upgrade

REVIEW_TABLES = {"linkage_run", "linkage_review_item"}
EXPLANATION = [
    {"field": "name", "level": "both names agree", "weight": 8.25},
    {"field": "date_of_birth", "level": "same year", "weight": -1.5},
]


def candidate(
    left: str = "ngo-a:1",
    right: str = "police:7",
    probability: float = 0.5,
    **changes: Any,
) -> ReviewCandidate:
    fields: dict[str, Any] = {
        "left_key": left,
        "right_key": right,
        "left_list": left.split(":")[0],
        "right_list": right.split(":")[0],
        "match_probability": probability,
        "match_weight": 0.0,
        "explanation": EXPLANATION,
        "left_values": {"given_name": f"given {left}", "date_of_birth": "1990"},
        "right_values": {"given_name": f"given {right}", "date_of_birth": "1991-02"},
    }
    fields.update(changes)
    return ReviewCandidate(**fields)


def item_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count(m.LinkageReviewItem.id))).scalar_one())


@pytest.fixture
def run(engine: Engine) -> int:
    return start_run(engine, inputs="ngo-a.csv, police.csv", settings={"threshold": 0.9})


# -- schema -------------------------------------------------------------------------------


def test_upgrade_from_0001_adds_the_review_tables_and_keeps_existing_data(
    engine: Engine,
) -> None:
    downgrade(engine, "0001")
    assert not REVIEW_TABLES & table_names(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(m.Organisation),
            {"id": m.new_id(), "slug": "ngo-a", "name": "NGO A", "created_at": m.utcnow()},
        )
    upgrade(engine)
    assert table_names(engine) >= REVIEW_TABLES
    with engine.connect() as connection:
        assert connection.execute(select(m.Organisation.slug)).scalars().all() == ["ngo-a"]
    run_id = start_run(engine, inputs="database", settings={})
    assert enqueue(engine, run_id, [candidate()]).added == 1


def test_the_migration_creates_exactly_what_the_models_describe(engine: Engine) -> None:
    def ours(_object: Any, name: str | None, kind: str, _reflected: bool, _other: Any) -> bool:
        return kind != "table" or name in REVIEW_TABLES

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": ours}
        )
        assert compare_metadata(context, m.Base.metadata) == []


# -- runs ---------------------------------------------------------------------------------


def test_a_run_records_its_settings_and_results(engine: Engine) -> None:
    run_id = start_run(
        engine, inputs="a.csv, b.csv", settings={"threshold": 0.9, "backend": "duckdb"}
    )
    finish_run(
        engine,
        run_id,
        counts={"records": 120, "candidate_pairs": 4000, "links": 30, "clusters": 95},
        estimated_precision=0.97,
        estimated_recall=0.91,
    )
    with engine.connect() as connection:
        stored = (
            connection.execute(select(m.LinkageRun).where(m.LinkageRun.id == run_id)).one()._mapping
        )
    assert stored["inputs"] == "a.csv, b.csv"
    assert stored["settings"] == {"threshold": 0.9, "backend": "duckdb"}
    assert (stored["record_count"], stored["candidate_pair_count"]) == (120, 4000)
    assert (stored["link_count"], stored["cluster_count"]) == (30, 95)
    assert stored["estimated_precision"] == pytest.approx(0.97)
    assert stored["estimated_recall"] == pytest.approx(0.91)
    assert stored["finished_at"] is not None


def test_a_rounding_overshoot_of_an_estimate_is_clamped(engine: Engine, run: int) -> None:
    finish_run(engine, run, counts={}, estimated_precision=1 + 1e-12, estimated_recall=-1e-12)
    with engine.connect() as connection:
        stored = connection.execute(
            select(m.LinkageRun.estimated_precision, m.LinkageRun.estimated_recall)
        ).one()
    assert tuple(stored) == (1.0, 0.0)


@pytest.mark.parametrize(
    ("counts", "precision"),
    [
        ({"rows": 3}, None),
        ({"links": -1}, None),
        ({"links": 2.5}, None),
        ({}, math.nan),
        ({}, 1.01),
    ],
)
def test_finish_run_refuses_bad_results(
    engine: Engine, run: int, counts: dict[str, Any], precision: float | None
) -> None:
    with pytest.raises(ReviewError):
        finish_run(engine, run, counts=counts, estimated_precision=precision)


def test_runs_must_exist_and_settings_must_be_json(engine: Engine) -> None:
    with pytest.raises(ReviewError):
        finish_run(engine, 999_999, counts={})
    with pytest.raises(ReviewError):
        enqueue(engine, 999_999, [candidate()])
    with pytest.raises(ReviewError):
        start_run(engine, inputs="a.csv", settings={"threshold": math.nan})
    with pytest.raises(ReviewError):
        start_run(engine, inputs="", settings={})


# -- enqueue ------------------------------------------------------------------------------


def test_a_reversed_pair_is_stored_once_with_sides_swapped(engine: Engine, run: int) -> None:
    result = enqueue(engine, run, [candidate("police:7", "ngo-a:1"), candidate()])
    assert result == EnqueueResult(added=1, already_pending=1, already_decided=0)
    [item] = pending(engine)
    assert (item.left_key, item.right_key) == ("ngo-a:1", "police:7")
    assert (item.left_list, item.right_list) == ("ngo-a", "police")
    assert item.left_values["given_name"] == "given ngo-a:1"
    assert item.right_values["given_name"] == "given police:7"


def test_a_later_run_does_not_queue_a_pending_pair_again(engine: Engine, run: int) -> None:
    enqueue(engine, run, [candidate(probability=0.4)])
    later = start_run(engine, inputs="database", settings={})
    result = enqueue(
        engine, later, [candidate("police:7", "ngo-a:1", 0.6), candidate("x:1", "y:1")]
    )
    assert result == EnqueueResult(added=1, already_pending=1, already_decided=0)
    assert item_count(engine) == 2
    first = [item for item in pending(engine) if item.left_key == "ngo-a:1"]
    assert [(item.run_id, item.match_probability) for item in first] == [(run, 0.4)]


@pytest.mark.parametrize("decision", ["match", "non_match", "unsure"])
def test_a_decided_pair_is_not_reopened(engine: Engine, run: int, decision: Any) -> None:
    enqueue(engine, run, [candidate()])
    [item] = pending(engine)
    decide(engine, item.id, decision, reviewer="alice")
    later = start_run(engine, inputs="database", settings={})
    result = enqueue(engine, later, [candidate("police:7", "ngo-a:1"), candidate()])
    assert result == EnqueueResult(added=0, already_pending=0, already_decided=2)
    assert pending(engine) == []
    assert get(engine, item.id).status == decision
    assert item_count(engine) == 1


def test_thousands_of_candidates_go_in_one_call(engine: Engine, run: int) -> None:
    batch = [candidate(f"a:{n}", f"b:{n}", (n % 97) / 96) for n in range(3000)]
    assert enqueue(engine, run, batch).added == 3000
    assert enqueue(engine, run, batch) == EnqueueResult(0, 3000, 0)
    assert queue_stats(engine)["pending"] == 3000
    assert enqueue(engine, run, []) == EnqueueResult(0, 0, 0)


def test_a_pair_queued_by_a_concurrent_enqueue_is_counted_not_duplicated(
    engine: Engine, run: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue(engine, run, [candidate()])
    looked_up = review._statuses
    calls: list[int] = []

    def blind_first_lookup(*args: Any) -> dict[tuple[str, str], str]:
        # The first lookup misses the pair, as when another writer inserts it just after.
        calls.append(1)
        return {} if len(calls) == 1 else looked_up(*args)

    monkeypatch.setattr(review, "_statuses", blind_first_lookup)
    result = enqueue(engine, run, [candidate(), candidate("x:1", "y:1")])
    assert result == EnqueueResult(added=1, already_pending=1, already_decided=0)
    assert item_count(engine) == 2


# -- nothing half-written -----------------------------------------------------------------

SECRET = "Amina Secretname"


@pytest.mark.parametrize(
    "bad",
    [
        {"match_probability": math.nan},
        {"match_probability": 1.5},
        {"match_probability": "0.5"},
        {"match_weight": math.inf},
        {"left_key": ""},
        {"right_key": "k" * 301},
        {"right_key": "ngo-a:1"},
        {"explanation": [{"field": "name", "level": "exact", "weight": math.nan}]},
        {"explanation": [{"field": "name", "level": None, "weight": 1.0}]},
        {"explanation": "name agrees"},
        {"left_values": {"given_name": SECRET, "date_of_birth": math.nan}},
        {"right_values": {"given_name": SECRET, "seen": object()}},
        {"right_values": {1: SECRET}},
        {"reason": ""},
        {"reason": "r" * 201},
    ],
)
def test_one_bad_candidate_fails_the_whole_batch(
    engine: Engine, run: int, bad: dict[str, Any]
) -> None:
    batch = [candidate(f"a:{n}", f"b:{n}") for n in range(50)]
    batch.append(candidate(**bad))
    with pytest.raises(ReviewError) as raised:
        enqueue(engine, run, batch)
    assert "review candidate 50" in str(raised.value)
    # Errors locate the problem without repeating identity data.
    assert SECRET not in str(raised.value)
    assert item_count(engine) == 0


def test_a_database_failure_mid_batch_rolls_back_what_was_already_inserted(
    engine: Engine, run: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue(engine, run, [candidate()])
    [item] = pending(engine)
    decide(engine, item.id, "match", reviewer="alice")
    # Blind the duplicate checks so the unique key is hit only after >1000 rows went in.
    monkeypatch.setattr(review, "_statuses", lambda *args: {})
    monkeypatch.setattr(
        review, "_insert_skipping_known_pairs", lambda _connection, table: insert(table)
    )
    batch = [candidate(f"a:{n}", f"b:{n}") for n in range(1500)] + [candidate()]
    with pytest.raises(IntegrityError):
        enqueue(engine, run, batch)
    assert item_count(engine) == 1
    assert get(engine, item.id).status == "match"


def test_a_non_candidate_is_refused(engine: Engine, run: int) -> None:
    with pytest.raises(ReviewError):
        enqueue(engine, run, [candidate(), ("a:1", "b:1")])  # type: ignore[list-item]
    assert item_count(engine) == 0


# -- the queue ----------------------------------------------------------------------------


def test_pending_puts_the_most_uncertain_first_then_the_oldest(engine: Engine, run: int) -> None:
    probabilities = [0.9, 0.75, 0.5, 0.25, 0.125]
    enqueue(engine, run, [candidate(f"a:{p}", f"b:{p}", p) for p in probabilities])
    ordered = [item.match_probability for item in pending(engine)]
    assert ordered == [0.5, 0.75, 0.25, 0.125, 0.9]
    assert [item.match_probability for item in pending(engine, limit=2)] == [0.5, 0.75]

    decide(engine, pending(engine)[0].id, "non_match", reviewer="bob")
    assert [item.match_probability for item in pending(engine, limit=1)] == [0.75]

    later = start_run(engine, inputs="database", settings={})
    enqueue(engine, later, [candidate("c:1", "d:1", 0.01)])
    assert [item.left_key for item in pending(engine, run_id=later)] == ["c:1"]
    assert len(pending(engine, run_id=run)) == 4
    assert len(pending(engine, limit=None)) == 5
    with pytest.raises(ReviewError):
        pending(engine, limit=0)


def test_decisions_come_back_as_labels(engine: Engine, run: int) -> None:
    enqueue(
        engine,
        run,
        [candidate("a:1", "b:1"), candidate("b:2", "a:2"), candidate("a:3", "b:3")],
    )
    by_key = {item.left_key: item for item in pending(engine)}
    decided = decide(engine, by_key["a:1"].id, "match", reviewer="alice", note="same passport")
    assert decided.status == "match" and decided.decided_by == "alice"
    assert decided.note == "same passport"
    assert decided.decided_at is not None and decided.decided_at.tzinfo is not None
    decide(engine, by_key["a:2"].id, "non_match", reviewer="alice")
    decide(engine, by_key["a:3"].id, "unsure", reviewer="alice")

    assert labels(engine) == [PairLabel("a:1", "b:1", True), PairLabel("a:2", "b:2", False)]
    assert queue_stats(engine) == {"pending": 0, "match": 1, "non_match": 1, "unsure": 1}


def test_deciding_again_replaces_the_decision(engine: Engine, run: int) -> None:
    enqueue(engine, run, [candidate()])
    [item] = pending(engine)
    first = decide(engine, item.id, "unsure", reviewer="alice", note="ask the NGO")
    second = decide(engine, item.id, "match", reviewer="bob")
    assert first.decided_at is not None and second.decided_at is not None
    assert second.decided_at >= first.decided_at
    assert (second.status, second.decided_by, second.note) == ("match", "bob", None)
    assert get(engine, item.id) == second
    assert labels(engine) == [PairLabel("ngo-a:1", "police:7", True)]


def test_unknown_items_and_invalid_decisions_are_errors(engine: Engine, run: int) -> None:
    enqueue(engine, run, [candidate()])
    [item] = pending(engine)
    assert issubclass(ReviewError, ValueError)
    with pytest.raises(ReviewError):
        decide(engine, item.id + 1000, "match", reviewer="alice")
    with pytest.raises(ReviewError):
        get(engine, item.id + 1000)
    for decision in ("maybe", "pending", "MATCH"):
        with pytest.raises(ReviewError):
            decide(engine, item.id, decision, reviewer="alice")  # type: ignore[arg-type]
    with pytest.raises(ReviewError):
        decide(engine, item.id, "match", reviewer="  ")
    assert get(engine, item.id).status == "pending"


def test_the_store_refuses_an_unknown_status_whatever_the_api_does(
    engine: Engine, run: int
) -> None:
    enqueue(engine, run, [candidate()])
    [item] = pending(engine)
    table = m.LinkageReviewItem.__table__
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            table.update().where(table.c.id == item.id).values(status="maybe")  # type: ignore[attr-defined]
        )
    assert get(engine, item.id).status == "pending"


def test_queue_stats_start_at_zero(engine: Engine) -> None:
    assert queue_stats(engine) == {"pending": 0, "match": 0, "non_match": 0, "unsure": 0}
    assert labels(engine) == []


# -- display ------------------------------------------------------------------------------


def test_format_item_shows_both_records_side_by_side(engine: Engine, run: int) -> None:
    enqueue(
        engine,
        run,
        [
            candidate(
                record_key("ngo-a", "17"),
                record_key("police", "P-9"),
                0.62,
                match_weight=1.25,
                left_values={"given_name": "Amina", "date_of_birth": "1990", "name": "A B"},
                right_values={"given_name": "Aminah", "date_of_birth": None, "city": "Lagos"},
            )
        ],
    )
    [item] = pending(engine)
    text = format_item(item)
    lines = text.splitlines()
    assert lines[0] == f"Review item {item.id} (run {run}): pending"
    assert "probability 0.620" in text and "weight +1.25" in text
    header = next(line for line in lines if line.startswith("field"))
    assert [cell.strip() for cell in header.split("|")] == [
        "field",
        "left",
        "right",
        "level",
        "weight",
    ]
    rows = {line.split("|")[0].strip(): [c.strip() for c in line.split("|")] for line in lines}
    assert rows["given_name"] == ["given_name", "Amina", "Aminah", "", ""]
    assert rows["name"] == ["name", "A B", "", "both names agree", "+8.25"]
    assert rows["date_of_birth"] == ["date_of_birth", "1990", "", "same year", "-1.50"]
    assert rows["city"][:3] == ["city", "", "Lagos"]


def test_item_table_renders_values_literally(engine: Engine, run: int) -> None:
    enqueue(
        engine,
        run,
        [candidate(left_values={"given_name": "[bold]Amina[/bold]"}, right_values={})],
    )
    [item] = pending(engine)
    decided = decide(engine, item.id, "unsure", reviewer="alice", note="check [red]dob")
    console = Console(record=True, width=160)
    console.print(item_table(decided))
    rendered = console.export_text()
    assert "[bold]Amina[/bold]" in rendered
    assert "check [red]dob" in rendered
    assert "both names agree" in rendered and "+8.25" in rendered
    assert "decided unsure by alice" in format_item(decided)


# -- why a pair was queued ----------------------------------------------------------------


def test_a_reason_is_stored_and_shown_apart_from_the_evidence(engine: Engine, run: int) -> None:
    enqueue(
        engine,
        run,
        [candidate(probability=0.97, reason=BRIDGES_CANNOT_LINK), candidate("x:1", "y:1")],
    )
    reasoned, plain = sorted(pending(engine), key=lambda item: item.left_key)
    assert reasoned.reason == BRIDGES_CANNOT_LINK
    assert plain.reason is None
    assert plain.explanation == EXPLANATION
    # The evidence is kept whole behind the reason.
    assert reasoned.explanation[1:] == EXPLANATION
    lines = format_item(reasoned).splitlines()
    assert f"{REASON_FIELD}: {BRIDGES_CANNOT_LINK}" in lines[:6]
    assert not any(line.startswith(REASON_FIELD) for line in lines[6:])
    assert not any(line.startswith(REASON_FIELD) for line in format_item(plain).splitlines())


def test_a_link_bridging_a_cannot_link_goes_to_the_review_queue(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: a reviewer's non_match on a-c is neither overridden through b nor dropped
    in silence; the link that would bridge it waits for a reviewer."""
    stub_scoring(monkeypatch)
    earlier = start_run(engine, inputs="earlier run", settings={})
    enqueue(engine, earlier, [candidate("a", "c", 0.4, left_list="ngo", right_list="shelter")])
    [decided] = pending(engine)
    decide(engine, decided.id, "non_match", reviewer="alice")

    linked = run_link(triangle_records(), threshold=0.5, engine=engine, inputs="test")

    clusters = linked.clusters.set_index("record_id")["cluster_id"]
    assert clusters["a"] != clusters["c"]
    assert linked.summary["reviewed_pairs_used"] == 1
    assert linked.summary["cannot_link_conflicts"] == 1
    assert linked.summary["review_cannot_link_conflicts_queued"] == 1
    assert linked.conflicts[["record_id_l", "record_id_r"]].values.tolist() == [["b", "c"]]
    [queued] = pending(engine)
    assert (queued.left_key, queued.right_key) == ("b", "c")
    assert queued.reason == BRIDGES_CANNOT_LINK
    assert queued.run_id == linked.summary["review_run"]
    assert queued.match_probability == pytest.approx(0.93)
    assert queued.left_values["given_name"] == "Ana"

    again = run_link(triangle_records(), threshold=0.5, engine=engine, inputs="test")
    assert again.summary["cannot_link_conflicts"] == 1
    assert again.summary["review_cannot_link_conflicts_queued"] == 0
    assert len(pending(engine)) == 1

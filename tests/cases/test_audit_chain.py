"""The audit log's hash chain against an attacker with write access to the database."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError

from tiphub.cases import audit
from tiphub.cases.access import local_operator
from tiphub.store import models as m
from tiphub.store.models import table_of

ENTRIES = 8
EVENT = table_of(m.AuditEvent)


def _activity(engine: Engine, count: int = ENTRIES) -> None:
    operator = local_operator("operator:chain-test")
    for number in range(count):
        audit.record_now(
            engine,
            operator,
            "case.read",
            resource_type="case",
            resource_id=f"case-{number}",
            details={"number": number},
        )


def _drop_triggers(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
            )
        else:
            connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
            connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))


def _restore_triggers(engine: Engine) -> None:
    """The PostgreSQL test database outlives the test: put the triggers of 0003 back."""
    _drop_triggers(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text(
                    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON "
                    "audit_event FOR EACH ROW EXECUTE FUNCTION tiphub_audit_append_only()"
                )
            )
            return
        for verb in ("UPDATE", "DELETE"):
            connection.execute(
                text(
                    f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
                    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
                )
            )


@pytest.fixture
def attacker(engine: Engine) -> Iterator[Engine]:
    """The database after some activity, with the append-only triggers dropped."""
    _activity(engine)
    assert audit.verify(engine).intact
    _drop_triggers(engine)
    yield engine
    _restore_triggers(engine)


def _entry(engine: Engine, sequence: int) -> dict[str, Any]:
    with engine.connect() as connection:
        return dict(
            connection.execute(select(EVENT).where(EVENT.c.sequence == sequence)).one()._mapping
        )


def _forged(engine: Engine, sequence: int, previous_hash: str) -> dict[str, Any]:
    """A well-formed entry, correctly hashed onto ``previous_hash``: the best an attacker
    without the rest of the chain can do."""
    entry: dict[str, Any] = {
        "sequence": sequence,
        "at": dt.datetime.now(dt.UTC),
        "actor": "caseworker@demo-ngo",
        "organisation": "demo-ngo",
        "action": "case.read",
        "resource_type": "case",
        "resource_id": "forged",
        "outcome": "ok",
        "source": "test",
        "details": {},
        "flagged": False,
    }
    return {
        **entry,
        "previous_hash": previous_hash,
        "entry_hash": audit.entry_hash(previous_hash, entry),
    }


def test_activity_leaves_an_intact_chain(engine: Engine) -> None:
    _activity(engine)
    result = audit.verify(engine)
    assert result.intact and result.entries == ENTRIES and result.first_broken is None


def test_the_triggers_refuse_update_and_delete(engine: Engine) -> None:
    _activity(engine, 2)
    with pytest.raises(DBAPIError), engine.begin() as connection:
        connection.execute(update(EVENT).where(EVENT.c.sequence == 1).values(actor="someone"))
    with pytest.raises(DBAPIError), engine.begin() as connection:
        connection.execute(delete(EVENT).where(EVENT.c.sequence == 2))
    assert audit.verify(engine).intact


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "someone-else"),
        ("action", "case.list"),
        ("details", {"number": 99}),
        ("flagged", True),
        ("resource_id", "case-x"),
    ],
)
def test_a_changed_field_names_exactly_that_entry(
    attacker: Engine, column: str, value: object
) -> None:
    with attacker.begin() as connection:
        connection.execute(update(EVENT).where(EVENT.c.sequence == 4).values({column: value}))
    result = audit.verify(attacker)
    assert not result.intact and result.first_broken == 4
    assert "changed" in result.reason


def test_a_replaced_entry_in_the_middle_breaks_the_chain_after_it(attacker: Engine) -> None:
    previous = _entry(attacker, 3)["entry_hash"]
    with attacker.begin() as connection:
        connection.execute(delete(EVENT).where(EVENT.c.sequence == 4))
        connection.execute(EVENT.insert().values(**_forged(attacker, 4, previous)))
    result = audit.verify(attacker)
    assert not result.intact and result.first_broken == 5


def test_an_inserted_entry_with_renumbering_breaks_the_chain_after_it(attacker: Engine) -> None:
    previous = _entry(attacker, 3)["entry_hash"]
    with attacker.begin() as connection:
        for sequence in range(ENTRIES, 3, -1):  # downwards: the sequence is the primary key
            connection.execute(
                update(EVENT).where(EVENT.c.sequence == sequence).values(sequence=sequence + 1)
            )
        connection.execute(EVENT.insert().values(**_forged(attacker, 4, previous)))
    result = audit.verify(attacker)
    assert not result.intact and result.first_broken == 5


def test_a_deleted_entry_in_the_middle_is_missing(attacker: Engine) -> None:
    with attacker.begin() as connection:
        connection.execute(delete(EVENT).where(EVENT.c.sequence == 5))
    result = audit.verify(attacker)
    assert not result.intact and result.first_broken == 5
    assert "missing" in result.reason


def test_a_deleted_last_entry_no_longer_matches_the_head(attacker: Engine) -> None:
    with attacker.begin() as connection:
        connection.execute(delete(EVENT).where(EVENT.c.sequence == ENTRIES))
    result = audit.verify(attacker)
    assert not result.intact and result.first_broken == ENTRIES
    assert "head" in result.reason


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIPHUB_DATABASE_URL": database_url}
    assert env.get("TIPHUB_KEY_FILE")
    return subprocess.run(
        [sys.executable, "-m", "tiphub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_cli_verifies_the_chain(attacker: Engine, database_url: str) -> None:
    intact = _cli(database_url, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert "intact" in intact.stdout
    with attacker.begin() as connection:
        connection.execute(update(EVENT).where(EVENT.c.sequence == 3).values(actor="nobody"))
    broken = _cli(database_url, "audit", "verify")
    assert broken.returncode != 0
    assert "entry 3" in broken.stderr


def test_concurrent_appends_keep_the_chain_intact(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        engine.dispose()
    per_thread = 15
    failures: list[BaseException] = []

    def append(name: str) -> None:
        operator = local_operator(f"operator:{name}")
        try:
            for number in range(per_thread):
                audit.record_now(engine, operator, "case.list", details={"number": number})
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=append, args=(f"t{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    result = audit.verify(engine)
    assert result.intact and result.entries == 2 * per_thread


def test_grouped_read_entries_are_each_committed_once_in_order(engine: Engine) -> None:
    """Reads' entries from many threads share transactions, and each caller gets back the
    sequence number its own entry received."""
    threads_count, per_thread = 8, 12
    received: dict[tuple[str, int], int] = {}
    failures: list[BaseException] = []
    start = threading.Barrier(threads_count)

    def read_entries(name: str) -> None:
        operator = local_operator(f"operator:{name}")
        start.wait()
        try:
            for number in range(per_thread):
                sequence = audit.record_now(
                    engine, operator, "case.read", durable=False, details={"number": number}
                )
                received[(name, number)] = sequence
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=read_entries, args=(f"t{i}",)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    result = audit.verify(engine)
    assert result.intact and result.entries == threads_count * per_thread
    assert sorted(received.values()) == list(range(1, result.entries + 1))
    with engine.connect() as connection:
        stored = {
            row.sequence: (row.actor, row.details["number"])
            for row in connection.execute(select(EVENT))
        }
    for (name, number), sequence in received.items():
        assert stored[sequence] == (f"operator:{name}", number)
    # each thread's own entries keep the order it wrote them in
    for name in (f"t{i}" for i in range(threads_count)):
        mine = [received[(name, number)] for number in range(per_thread)]
        assert mine == sorted(mine)


def test_a_failed_group_commit_fails_every_waiting_read(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit.record_now(engine, local_operator("first"), "case.list", durable=False)

    def broken_append(connection: Any, entries: list[dict[str, Any]]) -> int:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(audit, "append", broken_append)
    with pytest.raises(RuntimeError, match="disk is full"):
        audit.record_now(engine, local_operator("second"), "case.read", durable=False)
    monkeypatch.undo()
    assert audit.record_now(engine, local_operator("third"), "case.read", durable=False) == 2
    assert audit.verify(engine).intact

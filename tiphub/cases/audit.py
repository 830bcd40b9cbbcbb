"""The audit log: append-only, hash-chained, never holding personal data.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own fields in a
canonical form; ``audit_head`` keeps the last sequence number and hash, so a changed,
inserted or removed entry (including the last one) breaks the chain. Triggers refuse UPDATE
and DELETE on ``audit_event``; the chain catches whoever goes around them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tiphub.cases.access import PermissionDeniedError, Principal
from tiphub.store import models as m
from tiphub.store.models import table_of

GENESIS = "0" * 64
HEAD_ID = 1
DETAIL_TYPES = (str, int, bool, type(None))


def _utc_text(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def entry_hash(previous_hash: str, entry: dict[str, Any]) -> str:
    canonical = {
        "sequence": entry["sequence"],
        "at": _utc_text(entry["at"]),
        "actor": entry["actor"],
        "organisation": entry["organisation"],
        "subject_organisation": entry.get("subject_organisation"),
        "action": entry["action"],
        "resource_type": entry["resource_type"],
        "resource_id": entry["resource_id"],
        "outcome": entry["outcome"],
        "source": entry["source"],
        "details": entry["details"],
        "flagged": bool(entry["flagged"]),
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{previous_hash}\n{text}".encode()).hexdigest()


def _check_details(details: dict[str, Any]) -> dict[str, Any]:
    """Details are codes, counts and ids: flat, short, never free text from a case."""
    for key, value in details.items():
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, DETAIL_TYPES) for item in items):
            raise TypeError(f"audit detail {key!r} must be a code, count or id")
        if any(isinstance(item, str) and len(item) > 200 for item in items):
            raise ValueError(f"audit detail {key!r} is too long to be a code or id")
    return details


@cache
def _statements() -> tuple[Any, Any, Any]:
    """(lock and read the head, insert entries, move the head): built once, the audit log is
    written on every request."""
    head = table_of(m.AuditHead)
    lock = (
        update(head)
        .where(head.c.id == HEAD_ID)
        .values(sequence=head.c.sequence)
        .returning(head.c.sequence, head.c.entry_hash)
    )
    move = (
        update(head)
        .where(head.c.id == HEAD_ID)
        .values(sequence=bindparam("new_sequence"), entry_hash=bindparam("new_hash"))
    )
    return lock, table_of(m.AuditEvent).insert(), move


def _lock_head(connection: Connection) -> tuple[int, str]:
    # The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) before reading,
    # so two writers can never chain onto the same entry; RETURNING reads it in the same trip.
    lock = _statements()[0]
    row = connection.execute(lock).first()
    if row is None:
        values = {"id": HEAD_ID, "sequence": 0, "entry_hash": GENESIS}
        insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(insert(table_of(m.AuditHead)).values(values).on_conflict_do_nothing())
        row = connection.execute(lock).one()
    return int(row.sequence), str(row.entry_hash)


def new_entry(
    principal: Principal,
    action: str,
    resource_type: str | None = None,
    resource_id: object | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    flagged: bool = False,
    organisation: str | None = None,
    subject_organisation: str | None = None,
) -> dict[str, Any]:
    """An entry's fields, its place in the chain not yet known."""
    return {
        "at": dt.datetime.now(dt.UTC),
        "actor": principal.username,
        "organisation": organisation if organisation is not None else principal.organisation,
        "subject_organisation": subject_organisation,
        "action": action,
        "resource_type": resource_type,
        "resource_id": None if resource_id is None else str(resource_id),
        "outcome": outcome,
        "source": principal.source[:100],
        "details": _check_details(details or {}),
        "flagged": flagged,
    }


def append(connection: Connection, entries: list[dict[str, Any]]) -> int:
    """Chain entries onto the log inside the caller's transaction; return the last sequence."""
    sequence, previous = _lock_head(connection)
    rows = []
    for entry in entries:
        sequence += 1
        digest = entry_hash(previous, {**entry, "sequence": sequence})
        rows.append(
            {**entry, "sequence": sequence, "previous_hash": previous, "entry_hash": digest}
        )
        previous = digest
    _lock, insert, move = _statements()
    connection.execute(insert, rows)
    connection.execute(move, {"new_sequence": sequence, "new_hash": previous})
    return sequence


def record(
    connection: Connection, principal: Principal, action: str, *args: Any, **fields: Any
) -> int:
    """Append one entry (the fields of ``new_entry``) inside the caller's transaction;
    return its sequence number."""
    return append(connection, [new_entry(principal, action, *args, **fields)])


def record_now(
    engine: Engine, principal: Principal, action: str, durable: bool = True, **fields: Any
) -> int:
    """Append one entry in a transaction of its own, committed before this returns.

    ``durable=False`` (reads and lists only) lets PostgreSQL acknowledge the commit before
    its WAL reaches the disk: a crash can lose the last fraction of a second of read entries
    (whole entries, so the chain stays intact). Such entries of concurrent requests are
    committed together (below), so the audit head's lock is taken once per batch instead of
    once per read.
    """
    entry = new_entry(principal, action, **fields)
    if durable:
        with engine.begin() as connection:
            return append(connection, [entry])
    with _group_lock:
        group = _groups.get(engine)
        if group is None:
            group = _groups[engine] = _GroupCommit(engine)
    return group.commit(entry)


class _Pending:
    __slots__ = ("done", "entry", "error", "sequence")

    def __init__(self, entry: dict[str, Any]) -> None:
        self.entry = entry
        self.sequence = 0
        self.error: BaseException | None = None
        self.done = False


class _GroupCommit:
    """Group commit without a background thread: whoever finds the log free writes every
    entry waiting at that moment in one transaction; the others wait for that commit (or
    take the next turn). Each caller returns only once its own entry is committed, and gets
    the error if that transaction failed."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._condition = threading.Condition()
        self._waiting: list[_Pending] = []
        self._writing = False
        # Handed from one writer to the next while entries keep coming, so that a busy hub
        # does not check a connection out of the pool (and ping it) for every batch.
        self._handed_on: Connection | None = None

    def commit(self, entry: dict[str, Any]) -> int:
        pending = _Pending(entry)
        with self._condition:
            self._waiting.append(pending)
            while not pending.done:
                if self._writing:
                    self._condition.wait()
                    continue
                self._writing = True
                batch, self._waiting = self._waiting, []
                self._condition.release()
                try:
                    self._write(batch)
                finally:
                    self._condition.acquire()
                    self._writing = False
                    self._condition.notify_all()
        if pending.error is not None:
            raise pending.error
        return pending.sequence

    def _write(self, batch: list[_Pending]) -> None:
        """Runs with ``_writing`` set: one writer at a time."""
        connection, self._handed_on = self._handed_on, None
        try:
            if connection is None:
                engine = self._engine()
                if engine is None:
                    raise RuntimeError("the database engine was closed")
                connection = engine.connect()
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(_ASYNCHRONOUS_COMMIT)
                last = append(connection, [pending.entry for pending in batch])
            for offset, pending in enumerate(reversed(batch)):
                pending.sequence = last - offset
            with self._condition:
                if self._waiting:
                    self._handed_on, connection = connection, None
        except BaseException as error:  # every waiter must learn that its entry was not kept
            for pending in batch:
                pending.error = error
            if not isinstance(error, Exception):
                raise
        finally:
            if connection is not None:
                connection.close()
            for pending in batch:
                pending.done = True


_ASYNCHRONOUS_COMMIT = text("SET LOCAL synchronous_commit = off")
_group_lock = threading.Lock()
_groups: weakref.WeakKeyDictionary[Engine, _GroupCommit] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Verification:
    intact: bool
    entries: int
    first_broken: int | None
    reason: str
    head_hash: str

    def summary(self) -> str:
        if self.intact:
            return f"audit log intact: {self.entries} entries, head {self.head_hash[:16]}…"
        return f"audit log broken at entry {self.first_broken}: {self.reason}"


def verify(engine: Engine) -> Verification:
    """Walk the chain from the start; name the first entry that does not fit."""
    table = table_of(m.AuditEvent)
    previous = GENESIS
    expected = 1
    count = 0
    with engine.connect() as connection:
        rows = connection.execute(
            select(table).order_by(table.c.sequence), execution_options={"yield_per": 5_000}
        )
        for row in rows:
            entry = dict(row._mapping)
            if entry["sequence"] != expected:
                reason = (
                    f"entry {expected} is missing"
                    if entry["sequence"] > expected
                    else f"entry {entry['sequence']} is out of order"
                )
                return Verification(False, count, expected, reason, previous)
            if entry["previous_hash"] != previous:
                return Verification(
                    False, count, expected, "it does not follow the entry before it", previous
                )
            if entry_hash(previous, entry) != entry["entry_hash"]:
                return Verification(
                    False, count, expected, "its content was changed after it was written", previous
                )
            previous = entry["entry_hash"]
            expected += 1
            count += 1
        head = connection.execute(
            select(table_of(m.AuditHead)).where(table_of(m.AuditHead).c.id == HEAD_ID)
        ).first()
    head_sequence, head_hash = (0, GENESIS) if head is None else (head.sequence, head.entry_hash)
    if head_sequence != count or head_hash != previous:
        return Verification(
            False,
            count,
            count + 1 if head_sequence > count else count,
            f"the log ends at entry {count} but its head records entry {head_sequence}"
            if head_sequence != count
            else "the last entry is not the one the head records",
            previous,
        )
    return Verification(True, count, None, "", previous)


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    resource_id: str | None = None
    flagged_only: bool = False
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def browse(
    engine: Engine,
    principal: Principal,
    filters: AuditFilter = AuditFilter(),
    limit: int = 100,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first. An auditor sees the entries of their organisation's people and those
    touching its records (its cases read by a receiving organisation, its referrals decided);
    the operator sees all."""
    if not principal.can("audit:read"):
        raise PermissionDeniedError("your role does not allow audit:read")
    table = table_of(m.AuditEvent)
    query = select(table).order_by(table.c.sequence.desc()).limit(min(max(limit, 1), 500))
    if not principal.operator:
        query = query.where(
            or_(
                table.c.organisation == principal.organisation,
                table.c.subject_organisation == principal.organisation,
            )
        )
    if before is not None:
        query = query.where(table.c.sequence < before)
    if filters.actor:
        query = query.where(table.c.actor == filters.actor)
    if filters.action:
        query = query.where(table.c.action == filters.action)
    if filters.resource_id:
        query = query.where(table.c.resource_id == filters.resource_id)
    if filters.flagged_only:
        query = query.where(table.c.flagged.is_(True))
    if filters.since:
        query = query.where(table.c.at >= filters.since)
    if filters.until:
        query = query.where(table.c.at < filters.until)
    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(query)]
    record_now(engine, principal, "audit.browse", details={"entries": len(rows)})
    return rows


def iter_entries(engine: Engine) -> Iterator[dict[str, Any]]:
    table = table_of(m.AuditEvent)
    with engine.connect() as connection:
        for row in connection.execute(select(table).order_by(table.c.sequence)):
            yield dict(row._mapping)

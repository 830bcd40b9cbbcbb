"""Many rows into one table at driver speed, inside the caller's transaction.

SQLAlchemy's ``connection.execute(table.insert(), rows)`` compiles the statement once but
still processes every parameter of every row through its execution context: about half of
an import's time at 12 rows per case. Here each table's column order, Python-side
defaults and bind processors are worked out once, rows become plain tuples, and the
driver gets them in one call: ``executemany`` on SQLite, ``COPY … FROM STDIN`` through
psycopg 3 on PostgreSQL. Values are stored exactly as SQLAlchemy would store them (the
same processors), so reads cannot tell the two paths apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, Connection, Table

from tiphub.store import crypto

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Plan:
    columns: tuple[str, ...]
    # Per column: a value for rows that leave it out (None: NULL), and its bind processor.
    defaults: tuple[Callable[[], Any] | None, ...]
    processors: tuple[Processor | None, ...]
    statement: str


def _default_of(column: Column[Any]) -> Callable[[], Any] | None:
    default = column.default
    if default is None:
        return None
    if getattr(default, "is_callable", False):
        # SQLAlchemy wraps a zero-argument default to take an execution context it ignores.
        return lambda: default.arg(None)  # type: ignore[attr-defined]
    if getattr(default, "is_scalar", False):
        value = default.arg  # type: ignore[attr-defined]
        return lambda: value
    return None


def _sealing(sealed: crypto.Sealed, ring: crypto.Keyring) -> Processor:
    def seal(value: Any) -> Any:
        if value is None:
            return None
        return ring.seal(crypto.encode_plain(sealed.kind, value), sealed.context)

    return seal


# Short lists of codes (exploitation types, nationalities) repeat across thousands of rows:
# each distinct one is serialised once per table and call. The memo stays small.
_MEMO_ITEMS = 16
_MEMO_SIZE = 4_096


def _memoised_json(processor: Processor, postgres: bool) -> Processor:
    """A JSON column's processor that serialises each distinct short list of strings once.

    On PostgreSQL the processor only wraps a value for psycopg, which serialises it again
    for every row; there the memo hands COPY the JSON text itself, which the server reads
    into the column exactly as it reads psycopg's.
    """
    serialise = json.dumps if postgres else processor
    memo: dict[tuple[str, ...], Any] = {}

    def process(value: Any) -> Any:
        if (
            type(value) is list
            and len(value) <= _MEMO_ITEMS
            and all(type(item) is str for item in value)
        ):
            key = tuple(value)
            found = memo.get(key)
            if found is None:
                found = serialise(value)
                if len(memo) < _MEMO_SIZE:
                    memo[key] = found
            return found
        return processor(value)

    return process


class BulkInserter:
    """Inserts rows given as dicts (column name → Python value) table by table.

    One keyring is read when the inserter is made: a sealed column costs one AES-GCM seal
    per value and nothing more. Rows of one call may leave different columns out; a column
    left out takes its model default, as with SQLAlchemy, or NULL.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        self.postgres = self.dialect.name == "postgresql"
        self._ring: crypto.Keyring | None = None
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan] = {}

    def _keyring(self) -> crypto.Keyring:
        if self._ring is None:
            self._ring = crypto.keyring()
        return self._ring

    def _plan(self, table: Table, given: tuple[str, ...]) -> _Plan:
        key = (table.name, given)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        unknown = set(given) - set(table.c.keys())
        if unknown:
            raise ValueError(f"table {table.name} has no column {sorted(unknown)[0]!r}")
        columns = [
            column for column in table.c if column.name in given or _default_of(column) is not None
        ]
        processors: list[Processor | None] = []
        for column in columns:
            processor = column.type._cached_bind_processor(self.dialect)
            if isinstance(column.type, crypto.Sealed):
                processors.append(_sealing(column.type, self._keyring()))
            elif processor is not None and isinstance(column.type.dialect_impl(self.dialect), JSON):
                # (A driver that serialises JSON itself has no processor: left to it.)
                processors.append(_memoised_json(processor, self.postgres))
            else:
                processors.append(processor)
        preparer = self.dialect.identifier_preparer
        names = ", ".join(preparer.quote(column.name) for column in columns)
        target = preparer.format_table(table)
        if self.postgres:
            statement = f"COPY {target} ({names}) FROM STDIN"
        else:
            marks = ", ".join("?" for _ in columns)
            statement = f"INSERT INTO {target} ({names}) VALUES ({marks})"
        plan = _Plan(
            tuple(column.name for column in columns),
            tuple(None if column.name in given else _default_of(column) for column in columns),
            tuple(processors),
            statement,
        )
        self._plans[key] = plan
        return plan

    def insert(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        given: set[str] = set()
        for row in rows:
            given.update(row)
        plan = self._plan(table, tuple(sorted(given)))
        # Column by column: one comprehension per column is several times cheaper than a
        # function call per value.
        columns = []
        for name, default, processor in zip(
            plan.columns, plan.defaults, plan.processors, strict=True
        ):
            if default is None:
                column = [row.get(name) for row in rows]
            else:
                column = [row[name] if name in row else default() for row in rows]
            if processor is not None:
                # Processors see None too: a JSON column stores it as JSON null, as
                # SQLAlchemy does.
                column = [processor(value) for value in column]
            columns.append(column)
        values = list(zip(*columns, strict=True))
        if self.postgres:
            driver = self.connection.connection.driver_connection
            assert driver is not None
            with driver.cursor() as cursor, cursor.copy(plan.statement) as copy:
                for row_values in values:
                    copy.write_row(row_values)
        else:
            self.connection.exec_driver_sql(plan.statement, values)

"""The bulk path stores JSON values exactly as SQLAlchemy's own insert does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Engine, Integer, MetaData, Table, select

from tiphub.store.bulk import BulkInserter
from tiphub.store.models import JsonList

VALUES: list[Any] = [
    ["Sexual", "Labour"],
    ["Sexual", "Labour"],  # a repeat: served from the memo
    [],
    None,
    ['quote " and backslash \\ and tab \t', "ünïcödé", "中文"],
    [str(n) for n in range(40)],  # too long for the memo
    [1, 2, True],  # not strings: never memoised ([True] and [1] would share a key)
    [True],
    {"nested": {"list": ["a"], "none": None}},
    "a bare string",
]


def _table() -> Table:
    return Table(
        "bulk_json_check",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("value", JsonList),
    )


def test_bulk_json_matches_sqlalchemys_insert(engine: Engine) -> None:
    table = _table()
    table.metadata.create_all(engine)
    try:
        rows = [{"id": n, "value": value} for n, value in enumerate(VALUES)]
        with engine.begin() as connection:
            BulkInserter(connection).insert(table, rows)
        with engine.connect() as connection:
            bulk = connection.execute(select(table.c.value).order_by(table.c.id)).scalars().all()
            raw_bulk = connection.exec_driver_sql(
                "SELECT CAST(value AS TEXT) FROM bulk_json_check ORDER BY id"
            ).all()
        with engine.begin() as connection:
            connection.execute(table.delete())
            connection.execute(table.insert(), rows)
        with engine.connect() as connection:
            core = connection.execute(select(table.c.value).order_by(table.c.id)).scalars().all()
            raw_core = connection.exec_driver_sql(
                "SELECT CAST(value AS TEXT) FROM bulk_json_check ORDER BY id"
            ).all()
    finally:
        table.metadata.drop_all(engine)
    assert bulk == core
    assert raw_bulk == raw_core
    assert bulk[:2] == [["Sexual", "Labour"]] * 2
    assert bulk[6:8] == [[1, 2, True], [True]]

"""Engine, sessions and schema migrations for the case store."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    Table,
    create_engine,
    event,
    insert,
    inspect,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from tiphub.files import make_private, make_private_dir
from tiphub.store import crypto
from tiphub.store.config import database_url, normalise_url
from tiphub.store.keys import KeyStatus, check_keys

if TYPE_CHECKING:
    from alembic.config import Config


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


POOL_SIZE = 20
POOL_OVERFLOW = 10


def make_engine(url: str | None = None) -> Engine:
    """An engine whose errors never carry their statement's parameters (names, birth dates)."""
    url = normalise_url(url) if url else database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        _private_sqlite_file(engine.url.database)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # The hub runs up to HUB_THREADS requests at once, each holding one connection at a time:
    # the pool keeps that many open instead of opening and closing overflow connections
    # (each one a new server process, and no reuse of its prepared statements).
    engine = create_engine(
        url, hide_parameters=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
    )
    event.listen(engine, "connect", _stamp_checkin)  # a new connection needs no test
    event.listen(engine, "checkout", _ping_if_idle)
    event.listen(engine, "checkin", _stamp_checkin)
    return engine


# A connection that sat in the pool for a while may have been closed by a database restart:
# it is tested before use. One in steady use is not (SQLAlchemy's pool_pre_ping tests every
# checkout: a round trip, 0.2 ms, two or three times per request).
IDLE_PING_SECONDS = 10.0


def _stamp_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    checked_in_at = record.info.get("checked_in_at")
    if checked_in_at is not None and time.monotonic() - checked_in_at < IDLE_PING_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as error:  # the pool replaces the connection and tries again
        raise DisconnectionError("the database connection was lost") from error


def _private_sqlite_file(database: str | None) -> None:
    """Create the database file 0600 before SQLite does (its -wal and -shm files follow its mode)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    make_private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        make_private(path)


@cache
def default_engine() -> Engine:
    return make_engine()


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("tiphub.store").joinpath("migrations"))
    )
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with _schema_lock:
        _ready.pop(engine, None)
        _keys_verified.pop(engine, None)
        command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    with _schema_lock:
        _ready.pop(engine, None)
        _keys_verified.pop(engine, None)
        command.downgrade(alembic_config(engine), revision)


@cache
def head_revision() -> str:
    """The newest migration's revision, read off the file names (``0006_….py`` is revision
    ``0006``; the chain is linear). Importing Alembic to ask it costs a command a third of a
    second; a test holds this to Alembic's own answer."""
    versions = resources.files("tiphub.store").joinpath("migrations", "versions")
    numbers = [
        entry.name[:4]
        for entry in versions.iterdir()
        if entry.name.endswith(".py") and entry.name[:4].isdigit()
    ]
    return max(numbers)


def stored_revision(engine: Engine) -> str | None:
    """The schema revision the database says it is at; None for a database never migrated."""
    try:
        with reading(engine) as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:  # no such table: a new database
        return None
    return rows[0][0] if len(rows) == 1 else None


# Alembic is not thread-safe, and a web request must not pay for a migration check: the
# schema is checked once per engine in this process.
_schema_lock = threading.RLock()
_ready: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()
# The keys are checked against the database again whenever this process's keyring changes
# (the key file is re-read when it changes, at most a second after), and every few seconds
# in any case, so a lost or replaced key file is noticed at once and a database restored
# under the running process within seconds.
KEY_RECHECK_SECONDS = 5.0
_keys_verified: weakref.WeakKeyDictionary[Engine, tuple[object, float, KeyStatus]] = (
    weakref.WeakKeyDictionary()
)


def ensure_schema(engine: Engine) -> KeyStatus:
    """Bring the database to the newest schema and make sure its keys are at hand."""
    with _schema_lock:
        if engine not in _ready:
            if stored_revision(engine) != head_revision():
                upgrade(engine)
            _ready[engine] = True
    ring = crypto.loaded_keyring()
    verified = _keys_verified.get(engine)
    if (
        verified is not None
        and ring is not None
        and verified[0] is ring
        and time.monotonic() - verified[1] < KEY_RECHECK_SECONDS
    ):
        return verified[2]
    status = check_keys(engine)
    # "created" is news once: a later call that finds the keys in place did not create them.
    _keys_verified[engine] = (crypto.keyring(), time.monotonic(), replace(status, created=False))
    return status


# Below this many new rows the planner's statistics are still good enough.
STATISTICS_REFRESH_ROWS = 1_000


def refresh_statistics(engine: Engine, rows_written: int) -> None:
    """After a bulk write, bring PostgreSQL's planner statistics up to date.

    Autovacuum does it eventually, and not at all where it is switched off; until then the
    planner believes the new tables are empty and reads a case's rows by scanning whole
    tables (a case page going from 3 ms to 40 ms at 100,000 cases).
    """
    if engine.dialect.name == "postgresql" and rows_written >= STATISTICS_REFRESH_ROWS:
        with reading(engine) as connection:  # ANALYZE outside a transaction block
            connection.execute(text("ANALYZE"))


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def reading(engine: Engine) -> Connection:
    """A connection for reads that need no snapshot across statements: each statement sees
    the latest commit, and no BEGIN and ROLLBACK cost two round trips per request."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error."""
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_if_absent(connection: Connection, table: Table, keys: list[str]) -> Insert:
    """An INSERT that leaves the row alone when a concurrent writer stored the same ``keys``
    first (PostgreSQL and SQLite). Elsewhere the unique constraint still refuses the
    duplicate, and the race fails the transaction instead."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    return insert(table)

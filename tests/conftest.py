"""Shared fixtures: a fresh, migrated database per test.

By default each test gets its own SQLite file. With ``TIPHUB_TEST_DATABASE_URL`` set (as
``.ci/run`` does), every test runs on that PostgreSQL database instead, emptied between tests.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tiphub.store.db import ensure_schema, make_engine
from tiphub.store.models import Base

POSTGRES_URL = os.environ.get("TIPHUB_TEST_DATABASE_URL")
REPOSITORY = Path(__file__).resolve().parents[1]
SHARED = REPOSITORY / "tests" / "data"
# What Spark in local mode writes into the folder its JVM started in, unless told otherwise.
SPARK_LEFTOVERS = ("spark-warehouse", "metastore_db", "derby.log")

logging.getLogger("alembic").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine | None]:
    if not POSTGRES_URL:
        yield None
        return
    engine = make_engine(POSTGRES_URL)
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path, postgres_engine: Engine | None) -> Iterator[str]:
    if postgres_engine is None:
        yield f"sqlite:///{tmp_path / 'tiphub.db'}"
        return
    yield POSTGRES_URL  # type: ignore[misc]
    _empty(postgres_engine)


@pytest.fixture
def engine(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("TIPHUB_DATABASE_URL", database_url)
    engine = make_engine(database_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


def _empty(engine: Engine) -> None:
    ensure_schema(engine)
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture
def backend(engine: Engine) -> str:
    return engine.dialect.name


@pytest.fixture(scope="session", autouse=True)
def _one_key_file_per_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One key file for the whole run: the PostgreSQL test database outlives each test."""
    if "TIPHUB_KEY_FILE" in os.environ:
        yield
        return
    os.environ["TIPHUB_KEY_FILE"] = str(tmp_path_factory.mktemp("keys") / "tiphub.keys")
    yield
    del os.environ["TIPHUB_KEY_FILE"]


@pytest.fixture(scope="session", autouse=True)
def _no_spark_files_left_in_the_working_folder() -> Iterator[None]:
    """The run fails if any test left Spark's warehouse or metastore in the repository."""
    folders = {REPOSITORY, Path.cwd()}

    def present() -> set[Path]:
        return {
            folder / name
            for folder in folders
            for name in SPARK_LEFTOVERS
            if (folder / name).exists()
        }

    before = present()
    yield
    left = sorted(str(path) for path in present() - before)
    assert not left, f"the tests left Spark files behind: {', '.join(left)}"

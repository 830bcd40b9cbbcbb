"""Imports into one database queue behind each other: nothing lost, duplicated or thrown."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import Engine, func, select

from tests.exchange.test_import import GOOD_ROWS, HEADER, write_csv
from tiphub.cases.persistence import lock_case_writes
from tiphub.exchange.importer import ImportResult, import_file
from tiphub.store import models as m


def _count(engine: Engine, model: type[m.Base]) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model.__table__)).scalar_one()


def test_an_import_waits_for_the_writer_before_it_and_says_so(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "cases.csv", GOOD_ROWS)
    waited = threading.Event()
    outcome: list[ImportResult] = []

    def run() -> None:
        outcome.append(import_file(path, engine=engine, on_wait=waited.set))

    with engine.connect() as holder:
        transaction = holder.begin()
        lock_case_writes(holder)
        worker = threading.Thread(target=run)
        worker.start()
        assert waited.wait(timeout=60), "the second writer never noticed the first"
        assert worker.is_alive() and not outcome  # it waits rather than failing
        transaction.commit()
    worker.join(timeout=120)
    assert outcome and outcome[0].ok, outcome[0].issues if outcome else "no result"
    assert _count(engine, m.Case) == 2


def _import(database_url: str, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tiphub.cli", "import", str(path)],
        env={**os.environ, "TIPHUB_DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_imports_at_once_both_land_without_a_traceback(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    # Both files create the same organisation and share a person: the races that used to
    # end in IntegrityError or "database is locked".
    first_rows, second_rows = [], []
    for index in range(400):
        for rows, prefix in ((first_rows, "a"), (second_rows, "b")):
            row = GOOD_ROWS[2][:]
            row[0] = f"{prefix}{index}"
            row[1] = "ngo-shared"
            rows.append(row)
    first = write_csv(tmp_path / "first.csv", first_rows, header=HEADER)
    second = write_csv(tmp_path / "second.csv", second_rows, header=HEADER)
    processes = [_import(database_url, first), _import(database_url, second)]
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr and "Error" not in stderr
        assert "400 new" in stdout
    assert _count(engine, m.Case) == 800
    assert _count(engine, m.Organisation) == 1

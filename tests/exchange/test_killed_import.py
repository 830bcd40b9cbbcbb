"""An import killed at any moment (SIGKILL: no handler runs) leaves the database as it was,
and the same file then imports whole. On SQLite and on PostgreSQL (the suite's database)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, func, select

from tiphub.cases.canonical import case_document
from tiphub.cases.persistence import iter_case_documents
from tiphub.demo.generator import generate
from tiphub.exchange import htcds
from tiphub.exchange.importer import import_file
from tiphub.store import models as m

# Seconds after start: before the transaction, while rows are parsed, while batches are
# written. Whatever the machine's speed, each kill lands somewhere in the import.
KILL_AFTER = (0.4, 1.5, 3.0, 5.0)


def _write_cases(path: Path, cases: int, seed: int) -> set[tuple[str, str]]:
    """Writes the file; returns the (organisation, case ID) keys it holds."""
    keys = set()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=htcds.HEADER)
        writer.writeheader()
        for record, _truth in generate(cases, seed):
            writer.writerows(htcds.case_rows(case_document(record)))
            keys.add((record.organisation, record.external_id))
    return keys


def _state(engine: Engine) -> str:
    """Every table's row count and every stored case, as one comparable text."""
    with engine.connect() as connection:
        counts = {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar()
            for table in m.Base.metadata.sorted_tables
            if table.name not in ("audit_event", "audit_chain_head")
        }
        documents = list(iter_case_documents(connection))
    return json.dumps([counts, documents], sort_keys=True, default=str)


def test_a_killed_import_leaves_the_database_as_it_was(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    base = tmp_path / "base.csv"
    base_keys = _write_cases(base, 30, seed=1)
    assert import_file(base, engine=engine).ok
    before = _state(engine)
    big = tmp_path / "big.csv"
    big_keys = _write_cases(big, 4_000, seed=2)
    environment = {**os.environ, "TIPHUB_DATABASE_URL": database_url}
    expected = len(base_keys | big_keys)
    killed = 0
    for delay in KILL_AFTER:
        process = subprocess.Popen(
            [sys.executable, "-m", "tiphub.cli", "import", str(big)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        killed += 1
        if _state(engine) != before:
            # Killed after its commit (while auditing or printing): then it is all there.
            assert (_cases(engine), _batches(engine)) == (expected, 2), f"killed after {delay} s"
            break
    assert killed >= 2, "the import finished before most kills: make the file larger"
    result = import_file(big, engine=engine)
    assert result.ok, result.issues[:3]
    assert _cases(engine) == expected


def _cases(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(m.Case.__table__)).scalar_one()
        )


def _batches(engine: Engine) -> int:
    table = m.ImportBatch.__table__
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())

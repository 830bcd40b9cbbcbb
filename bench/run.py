"""Benchmarks of the case store: import a 100,000-case HTCDS CSV into SQLite and PostgreSQL,
measure the plain-insert floor of the same rows, export to CTDC, measure peak memory, and
time the command line. Prints its figures.

    .venv/bin/python bench/run.py [--cases 100000] [--memory-cases 1000000] [--postgres URL]
                                  [--skip-cli]

Targets (2 cores): ≥ 5,000 cases/s into SQLite, ≥ 3,000 cases/s into PostgreSQL, and at
least half of the floor measured in the same run; peak memory < 400 MB importing a
1,000,000-case file (``--memory-cases``; without it the memory run uses ``--cases``);
``tiphub --help`` < 0.3 s (``bench/cli_bench.py``, run at the end unless ``--skip-cli``).

The floor is what the database and its driver need for the very rows tiphub stored, with
none of tiphub's work (parsing, validation, hashing, encryption): a plain ``executemany``
into SQLite, a plain ``COPY`` into PostgreSQL, into an empty copy of the schema, one
transaction. Only the inserting is timed, not the reading of the rows to insert.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from tiphub.cases.canonical import case_document
from tiphub.demo.generator import generate
from tiphub.exchange import htcds
from tiphub.exchange.exporter import export
from tiphub.exchange.importer import import_file
from tiphub.store.db import ensure_schema, make_engine

logging.getLogger("alembic").setLevel(logging.WARNING)


def write_htcds_csv(path: Path, cases: int, seed: int = 7) -> int:
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=htcds.HEADER)
        writer.writeheader()
        for record, _truth in generate(cases, seed):
            for row in htcds.case_rows(case_document(record)):
                writer.writerow(row)
                rows += 1
    return rows


def timed_import(path: Path, url: str) -> tuple[float, int]:
    engine = make_engine(url)
    ensure_schema(engine)
    start = time.perf_counter()
    result = import_file(path, engine=engine)
    seconds = time.perf_counter() - start
    if not result.ok:
        raise SystemExit(f"import failed: {result.issues[:3]}")
    engine.dispose()
    return seconds, result.cases


FLOOR_CHUNK = 20_000


def _tables_in_insert_order() -> list[str]:
    """The tables an import writes, parents first."""
    from tiphub.cases.persistence import INSERT_ORDER
    from tiphub.store import models as m

    return [model.__tablename__ for model in (m.Organisation, m.ImportBatch, *INSERT_ORDER)]


def sqlite_floor(stored: Path, empty_url: str) -> float:
    """Seconds to executemany every row of ``stored`` into an empty database of the schema."""
    import sqlite3

    engine = make_engine(empty_url)
    ensure_schema(engine)
    engine.dispose()
    source = sqlite3.connect(stored)
    target = sqlite3.connect(empty_url.removeprefix("sqlite:///"))
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=NORMAL")
    target.execute("PRAGMA foreign_keys=ON")
    seconds = 0.0
    try:
        target.execute("BEGIN")
        for table in _tables_in_insert_order():
            columns = [row[1] for row in source.execute(f'PRAGMA table_info("{table}")')]
            names = ", ".join(f'"{c}"' for c in columns)
            statement = (
                f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" for _ in columns)})'
            )
            cursor = source.execute(f'SELECT {names} FROM "{table}"')
            while chunk := cursor.fetchmany(FLOOR_CHUNK):
                start = time.perf_counter()
                target.executemany(statement, chunk)
                seconds += time.perf_counter() - start
        start = time.perf_counter()
        target.commit()
        seconds += time.perf_counter() - start
    finally:
        source.close()
        target.close()
    return seconds


def postgres_floor(stored_url: str, empty_url: str) -> float:
    """Seconds to COPY every row of the database at ``stored_url`` into an empty one."""
    engine = make_engine(empty_url)
    ensure_schema(engine)
    engine.dispose()
    seconds = 0.0
    with psycopg.connect(stored_url) as source, psycopg.connect(empty_url) as target:
        for table in _tables_in_insert_order():
            rows: list[tuple[object, ...]] = []
            with source.cursor() as cursor, cursor.copy(f'COPY "{table}" TO STDOUT') as out:
                rows.extend(out.rows())
            if not rows:
                continue
            start = time.perf_counter()
            with target.cursor() as cursor, cursor.copy(f'COPY "{table}" FROM STDIN') as into:
                for row in rows:
                    into.write_row(row)
            seconds += time.perf_counter() - start
            rows.clear()
        start = time.perf_counter()
        target.commit()
        seconds += time.perf_counter() - start
    return seconds


def _peak_rss_mb() -> float:
    """This process's peak resident memory. ``ru_maxrss`` would not do: it survives exec, so a
    child started by a big parent reports the parent's size. The kernel's high-water mark of
    the process's own memory (VmHWM) starts afresh at exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def peak_memory_child(path: Path, url: str) -> None:
    engine = make_engine(url)
    ensure_schema(engine)
    start = time.perf_counter()
    result = import_file(path, engine=engine)
    seconds = time.perf_counter() - start
    peak_mb = _peak_rss_mb()
    print(
        json.dumps({"cases": result.cases, "seconds": seconds, "peak_mb": peak_mb, "ok": result.ok})
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--memory-cases", type=int, default=0)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-cli", action="store_true", help="Do not time the command line.")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        peak_memory_child(Path(args.child[0]), args.child[1])
        return

    work = Path(tempfile.mkdtemp(prefix="tiphub-bench-"))
    source = work / "cases.csv"
    start = time.perf_counter()
    rows = write_htcds_csv(source, args.cases)
    print(
        f"generated {args.cases:,} cases ({rows:,} HTCDS rows, {source.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s"
    )

    sqlite_url = f"sqlite:///{work / 'bench.db'}"
    seconds, cases = timed_import(source, sqlite_url)
    floor = sqlite_floor(work / "bench.db", f"sqlite:///{work / 'floor.db'}")
    print(
        f"import into SQLite:      {cases:,} cases in {seconds:.1f} s = {cases / seconds:,.0f} cases/s (target 5,000)\n"
        f"  floor (executemany):   {cases / floor:,.0f} cases/s; tiphub reaches {floor / seconds:.0%} of it (target 50%)"
    )

    stamp = int(time.time())
    databases = [f"tiphub_bench_{stamp}", f"tiphub_bench_floor_{stamp}"]
    with psycopg.connect(args.postgres, autocommit=True) as admin:
        for database in databases:
            admin.execute(f"CREATE DATABASE {database}")
    pg_url, floor_url = (args.postgres.rsplit("/", 1)[0] + "/" + name for name in databases)
    try:
        seconds, cases = timed_import(source, pg_url)
        floor = postgres_floor(pg_url, floor_url)
        print(
            f"import into PostgreSQL:  {cases:,} cases in {seconds:.1f} s = {cases / seconds:,.0f} cases/s (target 3,000)\n"
            f"  floor (COPY):          {cases / floor:,.0f} cases/s; tiphub reaches {floor / seconds:.0%} of it (target 50%)"
        )
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            for database in databases:
                admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")

    engine = make_engine(sqlite_url)
    start = time.perf_counter()
    result = export(work / "ctdc.csv", "ctdc", engine=engine)
    seconds = time.perf_counter() - start
    print(
        f"export to CTDC:          {result.cases:,} cases ({result.rows:,} rows) in {seconds:.1f} s = {result.cases / seconds:,.0f} cases/s"
    )

    memory_cases = args.memory_cases or args.cases
    memory_source = source
    if args.memory_cases:
        memory_source = work / "million.csv"
        write_htcds_csv(memory_source, memory_cases, seed=11)
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            str(memory_source),
            f"sqlite:///{work / 'memory.db'}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"peak memory importing {figures['cases']:,} cases into SQLite: {figures['peak_mb']:.0f} MB "
        f"({figures['cases'] / figures['seconds']:,.0f} cases/s; target < 400 MB at 1,000,000)"
    )
    print(f"(work files in {work})")
    if not args.skip_cli:
        subprocess.run([sys.executable, str(Path(__file__).with_name("cli_bench.py"))], check=True)


if __name__ == "__main__":
    main()

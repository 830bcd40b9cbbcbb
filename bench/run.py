"""Benchmarks of the Foundation: import a 100,000-case HTCDS CSV into SQLite and PostgreSQL,
export it to CTDC, and measure peak memory. Prints its figures.

    .venv/bin/python bench/run.py [--cases 100000] [--memory-cases 1000000] [--postgres URL]

Targets (2 cores): ≥ 5,000 cases/s into SQLite, ≥ 3,000 cases/s into PostgreSQL, peak
memory < 400 MB importing a 1,000,000-case file (``--memory-cases``; 0 skips it).
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


def peak_memory_child(path: Path, url: str) -> None:
    engine = make_engine(url)
    ensure_schema(engine)
    start = time.perf_counter()
    result = import_file(path, engine=engine)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps({"cases": result.cases, "seconds": seconds, "peak_mb": peak_mb, "ok": result.ok})
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--memory-cases", type=int, default=0)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
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
    print(
        f"import into SQLite:      {cases:,} cases in {seconds:.1f} s = {cases / seconds:,.0f} cases/s (target 5,000)"
    )

    database = f"tiphub_bench_{int(time.time())}"
    with psycopg.connect(args.postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    pg_url = args.postgres.rsplit("/", 1)[0] + "/" + database
    try:
        seconds, cases = timed_import(source, pg_url)
        print(
            f"import into PostgreSQL:  {cases:,} cases in {seconds:.1f} s = {cases / seconds:,.0f} cases/s (target 3,000)"
        )
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as admin:
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


if __name__ == "__main__":
    main()

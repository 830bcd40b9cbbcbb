"""What sealing identity values costs an import: the same HTCDS CSV imported with encryption
and with it switched off, each in a fresh subprocess and a fresh database. Prints its figures.

    .venv/bin/python bench/encryption_cost.py [--cases 5000] [--database-url postgresql://…]

Encryption is switched off only inside this benchmark's child process (``Sealed`` passes
values through); tiphub itself has no such switch. SQLite always runs; with
``--database-url`` (a PostgreSQL server URL) a scratch database is created there and dropped.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def child(source: Path, url: str, encrypted: bool) -> None:
    """Import ``source`` into the empty database ``url``; print {cases, seconds} as JSON."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not encrypted:
        from tiphub.store import crypto

        def bind(self: crypto.Sealed, value: Any, dialect: Any) -> Any:
            if value is None:
                return None
            return crypto.encode_plain(self.kind, value).decode()

        def result(self: crypto.Sealed, value: Any, dialect: Any) -> Any:
            if value is None:
                return None
            return crypto.decode_plain(self.kind, str(value).encode())

        crypto.Sealed.process_bind_param = bind  # type: ignore[method-assign]
        crypto.Sealed.process_result_value = result  # type: ignore[method-assign]

    from tiphub.exchange.importer import import_file
    from tiphub.store.db import ensure_schema, make_engine

    engine = make_engine(url)
    ensure_schema(engine)
    start = time.perf_counter()
    outcome = import_file(source, engine=engine)
    seconds = time.perf_counter() - start
    if not outcome.ok:
        raise SystemExit(f"import failed: {outcome.issues[:3]}")
    engine.dispose()
    print(json.dumps({"cases": outcome.cases, "seconds": seconds}))


def run_child(source: Path, url: str, encrypted: bool, key_file: Path) -> float:
    env = {**os.environ, "TIPHUB_KEY_FILE": str(key_file)}
    env.pop("TIPHUB_KEYS", None)
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(source), url, "on" if encrypted else "off"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return float(figures["cases"]) / float(figures["seconds"])


def postgres_scratch(server_url: str, name: str, create: bool) -> str:
    import psycopg

    admin_url = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if create:
            admin.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5_000, help="demo cases in the file")
    parser.add_argument("--database-url", help="also measure PostgreSQL (server URL)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], args.child[2] == "on")
        return

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import write_htcds_csv  # the other benchmarks' HTCDS file

    work = Path(tempfile.mkdtemp(prefix="tiphub-encryption-bench-"))
    source = work / "cases.csv"
    start = time.perf_counter()
    rows = write_htcds_csv(source, args.cases)
    console.print(
        f"generated {args.cases:,} demo cases ({rows:,} HTCDS rows) "
        f"in {time.perf_counter() - start:.1f} s"
    )

    table = Table("database", "encrypted", "not encrypted", "cost", title="import throughput")
    results: dict[str, tuple[float, float]] = {}
    for backend in ["SQLite"] + (["PostgreSQL"] if args.database_url else []):
        rates = []
        for encrypted in (True, False):
            tag = "on" if encrypted else "off"
            key_file = work / f"{backend}-{tag}.keys"
            if backend == "SQLite":
                url = f"sqlite:///{work / f'{tag}.db'}"
                rates.append(run_child(source, url, encrypted, key_file))
            else:
                name = f"tiphub_encbench_{tag}_{os.getpid()}"
                url = postgres_scratch(args.database_url, name, create=True)
                try:
                    rates.append(run_child(source, url, encrypted, key_file))
                finally:
                    postgres_scratch(args.database_url, name, create=False)
        on, off = rates
        results[backend] = (on, off)
        table.add_row(
            backend, f"{on:,.0f} cases/s", f"{off:,.0f} cases/s", f"{(off - on) / off:+.1%}"
        )
    console.print(table)
    console.print(
        "cost = share of the unencrypted throughput lost to sealing (AES-256-GCM) and blind "
        f"indexes (HMAC-SHA256); work files in {work}"
    )


if __name__ == "__main__":
    main()

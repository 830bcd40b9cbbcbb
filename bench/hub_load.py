"""Load benchmark of the hub: the case list and the case page under a held request rate.

    .venv/bin/python bench/hub_load.py [--cases 100000] [--rate 200] [--duration 60]
        [--users 50] [--workers 2] [--database-url postgresql://postgres@127.0.0.1:5432/tiphub_bench]
        [--keep]

Target: 100,000 cases in PostgreSQL; the case list and the case page at 200 requests/s from a
second local process (loopback only, bounded in time): p95 under 50 ms, no errors.

The scratch database is created if absent and dropped at the end (``--keep`` keeps it, and
its key file, for the next run); the demo cases are loaded when fewer are there. The hub runs
as ``tiphub serve --demo --workers N`` in a subprocess on 127.0.0.1; locust runs headless in
another. Both share this machine's cores, so the figures are a lower bound for a hub on its
own server.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/tiphub_bench"
BENCH_USERS = ("caseworker@demo-ngo", "caseworker@demo-police", "supervisor@demo-ngo")
TARGET_P95_MS = 50.0
SEED = 1
# Wide enough for the results table when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 110)
logging.getLogger("alembic").setLevel(logging.WARNING)


# -- the database -------------------------------------------------------------------------
def _server_url(url: str) -> str:
    """The same server's maintenance database, as a psycopg URL."""
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(False)


def _database_name(url: str) -> str:
    name = make_url(url).database
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit("the database name must be letters, digits and underscores")
    return name


def create_database(url: str) -> bool:
    """Create the scratch database if absent; True if it was created."""
    name = _database_name(url)
    with psycopg.connect(_server_url(url), autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists:
            return False
        connection.execute(f'CREATE DATABASE "{name}"')
    return True


def drop_database(url: str) -> None:
    name = _database_name(url)
    with psycopg.connect(_server_url(url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def case_count(engine: Engine) -> int:
    from tiphub.store import models as m
    from tiphub.store.models import table_of

    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(table_of(m.Case))).scalar_one()
        )


def load_cases(engine: Engine, cases: int) -> float:
    """Load ``cases`` demo cases with a progress bar; return the seconds it took."""
    from tiphub.demo.loader import load_demo

    columns = (
        TextColumn("loading demo cases"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("load", total=cases)
        start = time.perf_counter()
        load_demo(
            engine, cases, SEED, on_progress=lambda done: progress.update(task, completed=done)
        )
        return time.perf_counter() - start


def prepare_data(url: str, cases: int) -> tuple[Engine, int, float | None]:
    """(engine, cases present, load seconds or None when the data was already there)."""
    from tiphub.demo.hub import ensure_demo_hub
    from tiphub.store.db import ensure_schema, make_engine

    created = create_database(url)
    engine = make_engine(url)
    ensure_schema(engine)
    present = 0 if created else case_count(engine)
    seconds = None
    if present < cases:
        if present:
            # The generator numbers cases per organisation, so topping up would collide:
            # start again from an empty database.
            console.print(f"{present:,} cases present, {cases:,} asked: reloading from scratch")
            engine.dispose()
            drop_database(url)
            create_database(url)
            engine = make_engine(url)
            ensure_schema(engine)
        seconds = load_cases(engine, cases)
        present = case_count(engine)
    started = time.perf_counter()
    hub = ensure_demo_hub(engine)
    console.print(
        f"demo hub ready in {time.perf_counter() - started:.1f} s: "
        + ", ".join(
            f"{slug} {count:,}" for slug, count in sorted(hub.cases_by_organisation.items())
        )
    )
    return engine, present, seconds


# -- in-process timings: where a request's time goes, without HTTP --------------------------
def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _timed(work: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def in_process_timings(engine: Engine, token: str, runs: int = 60) -> Table:
    """One caseworker's list and read, step by step, in this process (single-threaded)."""
    from tiphub.cases import accounts, audit
    from tiphub.cases.api import CaseStore
    from tiphub.store.db import ensure_schema

    principal = accounts.resolve_token(engine, token, "api", "127.0.0.1")
    store = CaseStore(engine, principal)
    case_ids = [item.id for item in store.page(200).items]

    def audit_append() -> None:
        with engine.begin() as connection:
            audit.record(connection, principal, "bench.probe")

    steps: list[tuple[str, Callable[[], object]]] = [
        ("resolve bearer token", lambda: accounts.resolve_token(engine, token, "api", "local")),
        ("ensure_schema (in CaseStore())", lambda: ensure_schema(engine)),
        ("audit.record alone (own txn)", audit_append),
        ("CaseStore.page(25)", lambda: store.page(25)),
        ("CaseStore.read(id)", lambda: store.read(secrets.choice(case_ids))),
        ("CaseStore.read(id, audited=False)", lambda: store.read(secrets.choice(case_ids), False)),
    ]
    table = Table(title="In-process, one thread, caseworker@demo-ngo (ms)", title_justify="left")
    for column in ("step", "runs", "median", "p95", "max"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for name, work in steps:
        work()  # warm caches and the connection pool outside the figures
        times = _timed(work, runs)
        table.add_row(
            name,
            str(runs),
            f"{statistics.median(times):.1f}",
            f"{_percentile(times, 0.95):.1f}",
            f"{max(times):.1f}",
        )
    return table


# -- the server -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def hub_server(env: dict[str, str], workers: int) -> Iterator[str]:
    port = free_port()
    # The product's own command: the demo hub, its processes sharing the port.
    command = [
        sys.executable,
        "-m",
        "tiphub",
        "serve",
        "--demo",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit("the hub server stopped while starting")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the hub server did not answer within 60 s")
            time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def hub_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the hub has now (the HTML pages may not exist yet)."""
    from tiphub.web.routers import ROUTERS

    found = set()
    for router, prefix in ROUTERS:
        for route in router.routes:
            for method in getattr(route, "methods", None) or ():
                found.add((method, prefix + getattr(route, "path", "")))
    return found


def sign_in(base: str, password: str, html: bool) -> list[dict[str, str]]:
    """A bearer token (and, for the HTML pages, a session) per bench user: 2 sign-ins each,
    well under the limiter's 10 a minute, and never repeated by the locust users."""
    sessions = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for username in BENCH_USERS:
            answer = client.post(
                "/api/v1/auth/token", json={"username": username, "password": password}
            )
            if answer.status_code != 200:
                raise SystemExit(f"API sign-in of {username} refused: HTTP {answer.status_code}")
            account = {"username": username, "token": answer.json()["access_token"]}
            if html:
                account["session"] = _session_cookie(client, username, password)
            sessions.append(account)
    return sessions


def _session_cookie(client: httpx.Client, username: str, password: str) -> str:
    import re

    client.cookies.clear()
    form = client.get("/signin")
    hidden = re.search(r'name="csrf_token"\s+value="([^"]+)"', form.text)
    fields = {"username": username, "password": password}
    if hidden:
        fields["csrf_token"] = hidden.group(1)
    answer = client.post("/signin", data=fields, follow_redirects=False)
    session = answer.cookies.get("tiphub_session") or client.cookies.get("tiphub_session")
    if not session:
        raise SystemExit(f"page sign-in of {username} gave no session: HTTP {answer.status_code}")
    client.cookies.clear()
    return session


# -- locust ---------------------------------------------------------------------------------
def run_locust(
    base: str, sessions_path: Path, csv_prefix: Path, users: int, duration: int, env: dict[str, str]
) -> int:
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(BENCH_DIR / "hub_locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),  # all users within ~1 s, then the stats start afresh (--reset-stats)
        "--run-time",
        f"{duration}s",
        "--reset-stats",
        "--stop-timeout",
        "5",
        "--host",
        base,
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    console.print(f"[dim]$ {' '.join(command[1:])}[/dim]")
    return subprocess.run(
        command,
        env={**env, "TIPHUB_BENCH_SESSIONS": str(sessions_path)},
        stdout=subprocess.DEVNULL,  # its own summary repeats the table printed below
        check=False,
    ).returncode


def read_stats(csv_prefix: Path) -> list[dict[str, str]]:
    with Path(f"{csv_prefix}_stats.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def failures(csv_prefix: Path) -> list[dict[str, str]]:
    path = Path(f"{csv_prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def results_table(rows: list[dict[str, str]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("endpoint")
    for column in ("requests", "failures", "req/s", "median ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    for row in rows:
        aggregated = row["Name"] == "Aggregated"
        style = "bold" if aggregated else None
        p95 = float(row["95%"])
        table.add_row(
            "all" if aggregated else row["Name"],
            f"{int(row['Request Count']):,}",
            f"{int(row['Failure Count']):,}",
            f"{float(row['Requests/s']):.1f}",
            row["50%"],
            f"[{'green' if p95 < TARGET_P95_MS else 'red'}]{row['95%']}[/]",
            row["99%"],
            f"{float(row['Max Response Time']):.0f}",
            style=style,
        )
    return table


# -- main -----------------------------------------------------------------------------------
def machine_line(workers: int) -> str:
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return (
        f"machine: {platform.machine()}, {usable} usable core(s) of {cores}, "
        f"Python {platform.python_version()}; the hub ({workers} server process(es)), "
        "PostgreSQL and locust all share these cores"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="demo cases in the database")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="scratch PostgreSQL database")
    parser.add_argument("--rate", type=float, default=200.0, help="total requests/s to hold")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--users", type=int, default=50, help="locust users")
    parser.add_argument(
        "--workers", type=int, default=2, help="hub server processes (tiphub serve --workers)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and its key file")
    parser.add_argument(
        "--no-profile", action="store_true", help="skip the in-process step timings"
    )
    args = parser.parse_args()
    if not args.database_url.startswith(("postgresql://", "postgres://")):
        raise SystemExit("--database-url must be a postgresql:// URL")

    from tiphub.store.config import data_dir

    name = _database_name(args.database_url)
    key_file = Path(os.environ.get("TIPHUB_KEY_FILE") or data_dir() / "bench" / f"{name}.keys")
    own_key_file = "TIPHUB_KEY_FILE" not in os.environ and "TIPHUB_KEYS" not in os.environ
    password = os.environ.get("TIPHUB_DEMO_PASSWORD") or f"bench {secrets.token_urlsafe(18)} 7"
    os.environ.update(
        TIPHUB_DATABASE_URL=args.database_url,
        TIPHUB_DEMO_PASSWORD=password,
        TIPHUB_KEY_FILE=str(key_file),
    )
    env = {**os.environ, "PYTHONPATH": str(BENCH_DIR.parent)}
    console.print(machine_line(args.workers))
    try:
        engine, present, load_seconds = prepare_data(args.database_url, args.cases)
        if load_seconds is None:
            console.print(f"{present:,} cases already in {name}: not reloaded")
        else:
            console.print(
                f"loaded {present:,} cases into PostgreSQL in {load_seconds:.1f} s "
                f"({present / load_seconds:,.0f} cases/s)"
            )
        routes = hub_routes()
        html = ("GET", "/cases/{case_id}") in routes and ("POST", "/signin") in routes
        if ("GET", "/api/v1/cases") not in routes:
            raise SystemExit("the hub has no GET /api/v1/cases route yet: nothing to measure")
        with hub_server(env, args.workers) as base, tempfile.TemporaryDirectory() as scratch:
            sessions = sign_in(base, password, html)
            if not args.no_profile:
                console.print(in_process_timings(engine, sessions[0]["token"]))
            sessions_path = Path(scratch) / "sessions.json"
            # The tokens are demo users' secrets: private to this user, gone with the folder.
            descriptor = os.open(sessions_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(
                    {"accounts": sessions, "rate": args.rate, "users": args.users, "html": html},
                    handle,
                )
            console.print(
                f"load: {args.rate:g} requests/s from {args.users} locust users "
                f"({', '.join(BENCH_USERS)}) for {args.duration} s against {base}; "
                f"HTML case page {'included' if html else 'absent (route not there yet)'}"
            )
            csv_prefix = Path(scratch) / f"hub-{uuid.uuid4().hex[:8]}"
            run_locust(base, sessions_path, csv_prefix, args.users, args.duration, env)
            rows = read_stats(csv_prefix)
            failed = failures(csv_prefix)
        report(rows, failed, present, args)
        engine.dispose()
    finally:
        if not args.keep:
            drop_database(args.database_url)
            if own_key_file:
                key_file.unlink(missing_ok=True)
            console.print(f"[dim]dropped {name}[/dim]")


def report(rows: list[dict[str, str]], failed: list[dict[str, str]], cases: int, args: Any) -> None:
    console.print(
        results_table(rows, f"{cases:,} cases, {args.rate:g} req/s held for {args.duration} s")
    )
    total = next(row for row in rows if row["Name"] == "Aggregated")
    achieved = float(total["Requests/s"])
    errors = int(total["Failure Count"])
    worst_p95 = max(float(row["95%"]) for row in rows)
    for row in failed:
        console.print(f"[red]{row['Occurrences']} × {row['Name']}: {row['Error']}[/red]")
    verdict = worst_p95 < TARGET_P95_MS and errors == 0
    console.print(
        f"achieved {achieved:.1f} of {args.rate:g} requests/s; worst p95 {worst_p95:g} ms "
        f"(target < {TARGET_P95_MS:g} ms), {errors} error(s): "
        + ("[bold green]PASS[/]" if verdict else "[bold red]FAIL[/]")
    )
    if achieved < 0.95 * args.rate:
        console.print(
            "[yellow]the rate was not held: users waited on slow answers "
            "(raise --users, or the server is saturated)[/yellow]"
        )


if __name__ == "__main__":
    main()

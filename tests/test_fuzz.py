"""A fixed-seed sample of the fuzz suite (``bench/fuzz.py`` runs the full one).

Mutated import files of every format and adversarial ``estimate`` and ``link`` tables go
through the real command line, on the fixture's database; none may end in a traceback, a
partial write, an echoed identity, a hang, runaway memory, a leftover file or a file
readable by others. A second test checks that the harness itself sees each of those.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import pytest
import typer
import typer.main

from tests.fuzz import harness, suite
from tests.fuzz.seeds import build_seeds, load_seed_database

SEED = 20240517
PER_FORMAT = 25
TABLES = 20


def test_fuzz_sample(database_url: str, tmp_path: Path) -> None:
    seeds = build_seeds(tmp_path / "seeds", cases=8, seed=SEED)
    databases: list[harness.Database]
    if database_url.startswith("sqlite"):
        # The fixture's file and a sibling, so that two cases run at once.
        fixture_file = Path(database_url.removeprefix("sqlite:///"))
        databases = suite.sqlite_slots(seeds, [fixture_file, tmp_path / "second.db"])
    else:
        harness.call_in_child(load_seed_database, database_url, 8, SEED)
        databases = [harness.PostgresSlot(database_url)]
    settings = suite.Settings(per_format=PER_FORMAT, tables=TABLES, seed=SEED)
    started = time.monotonic()
    result = suite.run_suite(settings, seeds, databases, tmp_path / "work")
    elapsed = time.monotonic() - started

    figures = harness.tally(result.outcomes)
    assert set(figures) == {"htcds-csv", "htcds-xlsx", "jsonl", "xlsform", "estimate", "link"}
    assert all(row["tried"] == PER_FORMAT for group, row in figures.items() if group not in suite.COMMANDS)
    assert figures["estimate"]["tried"] == TABLES and figures["link"]["tried"] == TABLES
    failures = [
        f"{outcome.group} {outcome.mutation}: {name}: {line}"
        for outcome in result.outcomes
        for name, line in outcome.flags.items()
    ]
    assert not failures, f"{len(failures)} failing case(s) in {elapsed:.0f} s:\n" + "\n".join(failures)


# ---------------------------------------------------------------------------- the harness


# A stand-in for ``tiphub`` whose subcommands fail in every way the harness classifies.
_fake = typer.Typer()


@_fake.command()
def ok() -> None:
    print("fine")


@_fake.command()
def refuse() -> None:
    print("Import refused: the file is not a CSV.", file=sys.stderr)
    raise SystemExit(1)


@_fake.command()
def crash() -> None:
    raise ValueError("boom")


@_fake.command()
def echo() -> None:
    print("row 2: unknown code 'ZYXMARTA'", file=sys.stderr)
    raise SystemExit(1)


@_fake.command()
def report(report: Path) -> None:
    report.write_text("value\nQwoplenko\n")  # an identity, and mode 0644 under the usual umask
    raise SystemExit(1)


@_fake.command()
def hang() -> None:
    time.sleep(60)


@_fake.command()
def hog() -> None:
    block = bytearray(600 << 20)
    block[:: 4096] = b"x" * len(block[:: 4096])
    raise SystemExit(1)


@_fake.command()
def litter() -> None:
    Path(".out.csv.1234").write_text("partial")
    Path(tempfile.gettempdir(), "stray.tmp").write_text("x")
    raise SystemExit(1)


@_fake.command()
def write() -> None:
    connection = sqlite3.connect(os.environ["TIPHUB_DATABASE_URL"].removeprefix("sqlite:///"))
    connection.execute("INSERT INTO organisation (id, slug, name, type, created_at) VALUES ('x', 'x', 'x', 'NGO', '2024-01-01')")
    connection.commit()
    connection.close()
    raise SystemExit(1)


def _case(name: str, outputs: tuple[str, ...] = (), checks_database: bool = False) -> harness.Case:
    def build(folder: Path) -> harness.Invocation:
        paths = tuple(folder / output for output in outputs)
        return harness.Invocation((name, *map(str, paths)), outputs=paths, searched=paths)

    return harness.Case("fake", name, build, checks_database=checks_database, timeout=3.0)


@pytest.mark.parametrize(
    ("name", "outputs", "expected"),
    [
        ("ok", (), set()),
        ("refuse", (), set()),
        ("crash", (), {"traceback"}),
        ("echo", (), {"identity echoed"}),
        ("report", ("report.csv",), {"identity echoed", "loose mode"}),
        ("hang", (), {"hang"}),
        ("hog", (), {"over memory"}),
        ("litter", (), {"leftover"}),
        ("write", (), {"partial write"}),
    ],
)
def test_harness_classifies(tmp_path: Path, name: str, outputs: tuple[str, ...], expected: set[str]) -> None:
    seed = tmp_path / "seed.db"
    connection = sqlite3.connect(seed)
    connection.execute("CREATE TABLE organisation (id TEXT, slug TEXT, name TEXT, type TEXT, created_at TEXT)")
    connection.commit()
    connection.close()
    database = harness.SqliteSlot(seed, tmp_path / "slot.db", tables=["organisation"])
    runner = harness.Runner(typer.main.get_command(_fake), tmp_path / "work", [database])
    (outcome,) = runner.run([_case(name, outputs, checks_database=name == "write")])
    assert set(outcome.flags) == expected, outcome.flags
    assert outcome.accepted == (name == "ok")
    assert outcome.clean_refusal == (name == "refuse")

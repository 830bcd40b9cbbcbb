"""A fixed-seed sample of the fuzz suite (``bench/fuzz.py`` runs the full one).

Mutated import files of every format and adversarial ``estimate`` and ``link`` tables go
through the real command line, on the fixture's database; none may end in a traceback, a
partial write, an echoed identity, a hang, runaway memory, a leftover file or a file
readable by others. A second test checks that the harness itself sees each of those.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import typer
import typer.main

from tests.fuzz import harness, suite

ROOT = Path(__file__).resolve().parents[1]

SEED = 20240517
PER_FORMAT = 25
TABLES = 20


def test_fuzz_sample(database_url: str, tmp_path: Path) -> None:
    # In a fresh process, as `bench/fuzz.py` runs: children forked from this test process
    # would inherit the memory of every library the other tests loaded.
    command = [
        sys.executable,
        str(ROOT / "bench" / "fuzz.py"),
        f"--per-format={PER_FORMAT}",
        f"--tables={TABLES}",
        f"--seed={SEED}",
        "--seed-cases=8",
        "--quiet",
        "--details",
        f"--json={tmp_path / 'figures.json'}",
    ]
    if not database_url.startswith("sqlite"):
        command.append(f"--database-url={database_url}")
    started = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=ROOT)
    elapsed = time.monotonic() - started
    assert (tmp_path / "figures.json").exists(), run.stderr[-3000:]
    figures = json.loads((tmp_path / "figures.json").read_text(encoding="utf-8"))
    groups = figures["groups"]
    assert set(groups) == {"htcds-csv", "htcds-xlsx", "jsonl", "xlsform", "estimate", "link"}
    assert all(row["tried"] == PER_FORMAT for group, row in groups.items() if group not in suite.COMMANDS)
    assert groups["estimate"]["tried"] == TABLES and groups["link"]["tried"] == TABLES
    failures = [
        f"{failure['group']} {failure['mutation']}: {name}: {line}"
        for failure in figures["failures"]
        for name, line in failure["flags"].items()
    ]
    assert not failures, f"{len(failures)} failing case(s) in {elapsed:.0f} s:\n" + "\n".join(failures)
    assert run.returncode == 0, run.stdout[-3000:]


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
    block = bytearray(600 << 20)  # more than the limit above the parent
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
    # The limit is relative to this process's anonymous memory, which a forked child holds
    # resident from its start; its file-backed pages (libraries, mapped model files) are not
    # resident in the child until touched, so a limit over all of this process's resident
    # memory let a late test run's 600 MB hog pass unflagged.
    limit = _rss_mb() + 300
    runner = harness.Runner(
        typer.main.get_command(_fake), tmp_path / "work", [database], memory_limit_mb=limit
    )
    (outcome,) = runner.run([_case(name, outputs, checks_database=name == "write")])
    assert set(outcome.flags) == expected, outcome.flags
    assert outcome.accepted == (name == "ok")
    assert outcome.clean_refusal == (name == "refuse")


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc/self/status")

"""The whole fuzz run: seeds, scratch databases, the three phases, and the figures."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz import harness, imports, tables
from tests.fuzz.seeds import Seeds, load_seed_database

COMMANDS = ("estimate", "link")


@dataclass
class Settings:
    per_format: int = 1000
    tables: int = 200
    seed: int = 1
    formats: Sequence[str] = imports.FORMATS
    commands: Sequence[str] = COMMANDS
    memory_limit_mb: float = harness.MEMORY_LIMIT_MB
    # Linking loads Splink, DuckDB, numba, pandas and scipy: about 330-380 MB before any
    # record is read, so the 400 MB target is not met for `link` (see the note);
    # this limit still catches a runaway run.
    link_memory_limit_mb: float = 600.0
    timeout_scale: float = 1.0
    progress: bool = False


@dataclass
class SuiteResult:
    outcomes: list[harness.Outcome] = field(default_factory=list)
    baselines_mb: dict[str, float] = field(default_factory=dict)  # phase → parent RSS at fork

    @property
    def failures(self) -> int:
        return harness.failure_count(self.outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "groups": harness.tally(self.outcomes),
            "baseline_rss_mb": self.baselines_mb,
            "failure_kinds": [
                {"class": name, "example": example, "first_line": line, "count": count}
                for name, example, line, count in harness.failure_kinds(self.outcomes)
            ],
            "failures": [
                {
                    "group": outcome.group,
                    "mutation": outcome.mutation,
                    "exit_code": outcome.exit_code,
                    "peak_mb": round(outcome.peak_mb, 1),
                    "seconds": round(outcome.seconds, 2),
                    "flags": outcome.flags,
                }
                for outcome in self.outcomes
                if outcome.flags
            ],
        }


def run_suite(settings: Settings, seeds: Seeds, databases: Sequence[harness.Database], workdir: Path) -> SuiteResult:
    """Imports first (lean parent), then estimate, then link (which pulls in Splink)."""
    result = SuiteResult()
    source = imports.make_source(seeds)
    progress = _Progress(settings.progress)
    phases: list[tuple[str, list[str], Iterator[harness.Case]]] = []
    if settings.formats:
        formats = list(settings.formats)
        phases.append(
            (
                "import",
                formats,
                (case for fmt in formats for case in imports.import_cases(fmt, seeds, settings.per_format, settings.seed, source)),
            )
        )
    if "estimate" in settings.commands:
        phases.append(("estimate", ["estimate"], tables.estimate_cases(settings.tables, settings.seed)))
    if "link" in settings.commands:
        phases.append(("link", ["link"], tables.link_cases(seeds, settings.tables, settings.seed)))
    for phase, groups, cases in phases:
        command = harness.prepare_parent(groups, warm_up=seeds.files["htcds-csv"])
        runner = harness.Runner(
            command,
            workdir,
            databases,
            memory_limit_mb=(
                settings.link_memory_limit_mb if phase == "link" else settings.memory_limit_mb
            ),
            timeout_scale=settings.timeout_scale,
            on_outcome=progress.step,
        )
        result.baselines_mb[phase] = round(runner.baseline_mb, 1)
        result.outcomes += runner.run(cases)
    progress.done()
    return result


class _Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.count = 0
        self.failed = 0

    def step(self, outcome: harness.Outcome) -> None:
        self.count += 1
        self.failed += bool(outcome.flags)
        if self.enabled and self.count % 100 == 0:
            print(f"  … {self.count} cases, {self.failed} failing ({outcome.group})", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.enabled:
            print(f"  … {self.count} cases done", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------- databases


def sqlite_slots(seeds: Seeds, paths: Sequence[Path]) -> list[harness.Database]:
    return [harness.SqliteSlot(seeds.database, path) for path in paths]


@contextlib.contextmanager
def postgres_slots(url: str, slots: int, seed_cases: int, seed: int) -> Iterator[list[harness.Database]]:
    """Scratch databases ``<DBNAME>_fuzz<i>`` beside the one ``url`` names, dropped afterwards."""
    import psycopg

    base, _, name = url.rpartition("/")
    name = name.split("?")[0] or "tiphub"
    admin = re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", f"{base}/postgres")
    names = [f"{name}_fuzz{index}" for index in range(slots)]
    with psycopg.connect(admin, autocommit=True) as connection:
        for scratch in names:
            connection.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{scratch}"')
    try:
        databases: list[harness.Database] = []
        for scratch in names:
            scratch_url = f"{base}/{scratch}"
            harness.call_in_child(load_seed_database, scratch_url, seed_cases, seed)
            databases.append(harness.PostgresSlot(scratch_url))
        yield databases
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            for scratch in names:
                connection.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


# ---------------------------------------------------------------------------------- printing


def render(result: SuiteResult, details: bool, link_limit_mb: float = Settings.link_memory_limit_mb) -> None:
    from rich.console import Console
    from rich.table import Table

    # Wide enough for every column even when stdout is a file or a pipe.
    console = Console(highlight=False, width=max(Console().width, 200))
    table = Table(title="tiphub fuzz", title_justify="left")
    table.add_column("format / command")
    for column in harness.COLUMNS:
        table.add_column(column, justify="right")
    figures = harness.tally(result.outcomes)
    for group, row in figures.items():
        cells = []
        for column in harness.COLUMNS:
            value = row[column]
            text = f"{value:g}" if isinstance(value, float) else str(value)
            if column in harness.FAILURES and value:
                text = f"[bold red]{text}[/bold red]"
            cells.append(text)
        table.add_row(group, *cells)
    console.print(table)
    console.print(
        "parent RSS at fork (MB): "
        + ", ".join(f"{phase} {mb:g}" for phase, mb in result.baselines_mb.items())
        + f"; over memory = child peak RSS > {harness.MEMORY_LIMIT_MB:g} MB "
        + f"(link: > {link_limit_mb:g} MB)"
    )
    if not details:
        return
    console.print("\n[bold]Failures[/bold] (mutation → first line)")
    for outcome in result.outcomes:
        for name, line in outcome.flags.items():
            console.print(f"  {outcome.group:10} {name:16} {outcome.mutation[:70]} → {line}", markup=False)
    console.print("\n[bold]Distinct failure kinds[/bold]")
    for name, example, line, count in harness.failure_kinds(result.outcomes):
        console.print(f"  {count:5}× {name:16} e.g. {example[:70]} → {line}", markup=False)


def write_json(result: SuiteResult, path: Path) -> None:
    path.write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

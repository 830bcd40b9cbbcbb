"""How long the command line takes to answer: the median wall time of a few runs of
``tiphub --help``, ``tiphub import --help``, ``tiphub cases --help`` and ``tiphub summary``
on a demo database, each a fresh process as a user would start it. Prints its figures;
asserts none (a loaded machine is slower, not broken).

    .venv/bin/python bench/cli_bench.py [--runs 5] [--cases 2000]

The demo database is made once in a temporary folder and removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console()
TIPHUB = [sys.executable, "-m", "tiphub.cli"]


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run of ``tiphub ARGS``."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run([*TIPHUB, *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


def _median_of(args: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    _run(args, env)  # the first run compiles and caches: not what a user waits for again
    timings = [_run(args, env) for _ in range(runs)]
    return (
        statistics.median(wall for wall, _ in timings),
        statistics.median(cpu for _, cpu in timings),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", type=int, default=2_000, help="Demo cases for `summary`.")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tiphub-cli-bench-") as folder:
        env = {**os.environ, "TIPHUB_DATA_DIR": folder, "COLUMNS": "100"}
        env.pop("TIPHUB_DATABASE_URL", None)
        console.print(f"Loading {options.cases:,} demo cases…", highlight=False)
        subprocess.run(
            [*TIPHUB, "demo", "--cases", str(options.cases), "--seed", "1"],
            env=env,
            check=True,
            capture_output=True,
        )
        lines = [
            ["--help"],
            ["import", "--help"],
            ["cases", "--help"],
            ["summary"],
            ["summary", "--json"],
            ["cases", "list"],
        ]
        table = Table(
            "command",
            f"median wall (s, {options.runs} runs)",
            "median CPU (s)",
            title=f"tiphub on {os.cpu_count()} cores, load average "
            + ", ".join(f"{load:.1f}" for load in os.getloadavg()),
        )
        for line in lines:
            wall, cpu = _median_of(line, env, options.runs)
            table.add_row("tiphub " + " ".join(line), f"{wall:.3f}", f"{cpu:.3f}")
        console.print(table)
        size = Path(folder, "tiphub.db").stat().st_size
        console.print(f"Demo database: {size / 1e6:.1f} MB, {options.cases:,} cases.")


if __name__ == "__main__":
    main()

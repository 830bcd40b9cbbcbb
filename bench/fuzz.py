"""Fuzz tiphub's command line: mutated import files and adversarial estimate and link tables.

    .venv/bin/python bench/fuzz.py [--per-format N] [--tables N] [--seed S]
        [--formats htcds-csv,htcds-xlsx,jsonl,xlsform] [--commands estimate,link]
        [--database-url postgresql://postgres@127.0.0.1:5432/DBNAME] [--slots 2]
        [--details] [--json OUT]

Prints, per import format and command: tried, accepted, clean refusal, long refusal,
traceback, partial write, identity echoed, over memory, hang, leftover, loose mode, max peak
RSS and seconds; exits 1 when any failure class is non-zero. With ``--database-url`` the
imports run on PostgreSQL, in scratch databases ``DBNAME_fuzz0…`` that it creates and drops.
Generated files live in a temporary folder removed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz import harness, imports, suite
from tests.fuzz.seeds import SEED_CASES, build_seeds


def _names(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(allowed)})")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-format", type=int, default=1000, help="mutated files per import format")
    parser.add_argument("--tables", type=int, default=200, help="adversarial tables per command")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--formats", default=",".join(imports.FORMATS), help="import formats ('' for none)")
    parser.add_argument("--commands", default=",".join(suite.COMMANDS), help="estimate,link ('' for none)")
    parser.add_argument("--database-url", help="PostgreSQL server URL; default: SQLite files")
    parser.add_argument("--slots", type=int, default=2, help="cases run at once (one database each)")
    parser.add_argument("--seed-cases", type=int, default=SEED_CASES, help="demo cases in the seed")
    parser.add_argument("--memory-limit-mb", type=float, default=harness.MEMORY_LIMIT_MB)
    parser.add_argument(
        "--link-memory-limit-mb",
        type=float,
        default=suite.Settings.link_memory_limit_mb,
        help="limit for `tiphub link` children (its libraries alone take ~350 MB)",
    )
    parser.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every timeout")
    parser.add_argument("--details", action="store_true", help="one line per failure")
    parser.add_argument("--json", type=Path, help="write the figures and failures here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    settings = suite.Settings(
        per_format=args.per_format,
        tables=args.tables,
        seed=args.seed,
        formats=_names(args.formats, imports.FORMATS, "format"),
        commands=_names(args.commands, suite.COMMANDS, "command"),
        memory_limit_mb=args.memory_limit_mb,
        link_memory_limit_mb=args.link_memory_limit_mb,
        timeout_scale=args.timeout_scale,
        progress=not args.quiet,
    )
    harness.MEMORY_LIMIT_MB = args.memory_limit_mb
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="tiphub-fuzz-"))
    try:
        seeds = build_seeds(workdir / "seeds", cases=args.seed_cases, seed=args.seed)
        if args.database_url:
            with suite.postgres_slots(args.database_url, args.slots, args.seed_cases, args.seed) as databases:
                result = suite.run_suite(settings, seeds, databases, workdir)
        else:
            databases = suite.sqlite_slots(seeds, [workdir / f"slot-{i}.db" for i in range(args.slots)])
            result = suite.run_suite(settings, seeds, databases, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    suite.render(result, args.details, args.link_memory_limit_mb)
    print(f"{len(result.outcomes):,} cases in {time.monotonic() - started:.0f} s; {result.failures:,} failing")
    if args.json:
        suite.write_json(result, args.json)
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())

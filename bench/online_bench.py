"""Everything ``tiphub.online`` promises in figures, in one command.

    .venv/bin/python bench/online_bench.py [--quick]

1. the indicator rules on their labelled set and their speed (bench/online_rules_bench.py);
2. template clustering at 1,000, 10,000 and 100,000 generated ads: template recall, cluster
   precision, seconds, peak memory (bench/online_templates_bench.py; target ≥ 0.95 and
   ≥ 0.95, 100,000 ads < 60 s);
3. the classifier on EMSCAD split by near-duplicate group, at the balanced rate and at 5%
   prevalence (bench/online_classifier_bench.py; target grouped F1 ≥ 0.95);
4. the whole path a user takes, on generated ads in a scratch SQLite database: read the
   CSV, ingest, screen (rules, register, classifier, clustering, storing the decisions),
   export the flagged ads' evidence and verify it.

Each part runs in its own process, so its peak memory is its own. ``--quick`` runs smaller
sizes (1,000 and 10,000 ads, 2 classifier seeds, 10,000 ads end to end).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def _part(title: str, script: str, *arguments: str) -> None:
    print(f"\n== {title}", flush=True)
    subprocess.run([sys.executable, str(BENCH / script), *arguments], check=True)


def end_to_end(count: int) -> None:
    """The user's path on ``count`` generated ads, timed step by step."""
    import resource

    from tiphub.cases.access import local_operator
    from tiphub.online.evidence import verify_bundle, write_bundle
    from tiphub.online.generator import generate_ads, write_csv
    from tiphub.online.hub import evidence_items, ingest_ads
    from tiphub.online.ingest import read_inputs
    from tiphub.online.pipeline import bundle_signing_key, screen_stored
    from tiphub.store.db import ensure_schema, make_engine

    print(f"\n== end to end on {count:,} generated ads (SQLite)", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        os.environ["TIPHUB_DATA_DIR"] = str(base)
        engine = make_engine(f"sqlite:///{base / 'bench.db'}")
        ensure_schema(engine)
        from tiphub.cases import accounts

        operator = local_operator("bench")
        accounts.add_organisation(engine, operator, "bench", "Bench", None, None)
        ads_file = base / "ads.csv"
        write_csv(generate_ads(count, seed=4242).ads, ads_file)
        steps: list[tuple[str, float]] = []

        started = time.perf_counter()
        read = read_inputs([ads_file])
        steps.append(("read the CSV", time.perf_counter() - started))
        started = time.perf_counter()
        outcome = ingest_ads(engine, operator, read.ads, organisation="bench")
        steps.append(("ingest (contacts, evidence, custody)", time.perf_counter() - started))
        started = time.perf_counter()
        run = screen_stored(engine, operator)
        steps.append(("screen and store the decisions", time.perf_counter() - started))
        started = time.perf_counter()
        items = evidence_items(engine, operator)
        bundle = base / "evidence.zip"
        write_bundle(items, bundle, "bench", signing_key=bundle_signing_key())
        check = verify_bundle(bundle, signing_key=bundle_signing_key())
        steps.append(("export and verify the evidence", time.perf_counter() - started))
        engine.dispose()
    for label, seconds in steps:
        print(f"  {label:40s} {seconds:7.1f} s  ({count / seconds:,.0f} ads/s)")
    print(
        f"  {outcome.stored:,} stored, {run.flagged:,} flagged ({run.flagged / count:.1%}), "
        f"{len(run.clusters):,} clusters; evidence of {check.items:,} items "
        f"{'verifies' if check.ok else 'does NOT verify'}; peak "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--end-to-end-only", type=int, metavar="N", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.end_to_end_only:
        end_to_end(arguments.end_to_end_only)
        return
    quick = arguments.quick
    _part("indicator rules", "online_rules_bench.py", "--ads", "20000" if quick else "100000")
    sizes = "1000,10000" if quick else "1000,10000,100000"
    _part("template clustering", "online_templates_bench.py", "--sizes", sizes)
    _part("classifier (EMSCAD)", "online_classifier_bench.py", "--seeds", "2" if quick else "5")
    subprocess.run(
        [sys.executable, __file__, "--end-to-end-only", "10000" if quick else "50000"], check=True
    )


if __name__ == "__main__":
    main()

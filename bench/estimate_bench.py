"""Benchmarks of the MSE engine, single core. Prints its figures.

    .venv/bin/python bench/estimate_bench.py [--quick]

Targets (the reference R packages' times in brackets):
  one stepwise fit, up to 8 lists           < 20 ms   (0.1–1.6 s)
  BCa, 1,000 replicates, 6 lists            < 30 s    (≈ 15 min)
  BCa, 1,000 replicates, 8-list New Orleans < 2 min   (≈ 40 min)
  BIC, all 32,768 order-2 models, 6 lists   < 30 s    (139–788 s)
  BIC, all 6,084 five-list models ≤ order 3 < 5 s     (61 s)
  LCMCR K=5, 200,000 iterations, 6 lists    < 7 s     (7.0 s)
  simulation check behind the robustness
  recommendation, default settings, 6 lists < 60 s    (no R equivalent)
"""

from __future__ import annotations

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from tiphub.estimate.api import estimate  # noqa: E402
from tiphub.estimate.selection import bic_search, stepwise  # noqa: E402
from tiphub.estimate.table import read_capture_table  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "estimate" / "data" / "mse"


def timed(label: str, target: float, action) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    outcome = action()
    seconds = time.perf_counter() - started
    verdict = "meets" if seconds < target else "MISSES"
    print(f"{label:<52}{seconds:>10.3f} s   target < {target:g} s  {verdict}   {outcome}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="100 bootstrap replicates, skip 6-list BIC")
    parser.add_argument("--simulation-only", action="store_true", help="only the simulation check")
    args = parser.parse_args()
    if args.simulation_only:
        simulation_check()
        return
    replicates = 100 if args.quick else 1000
    tables = {name: read_capture_table(DATA / f"{name}.csv") for name in ("UKdat", "UKdat_5", "NewOrl")}
    stepwise(tables["NewOrl"], 0.02)  # warm caches and imports
    for name in ("UKdat", "NewOrl"):
        runs = []
        for _ in range(20):
            started = time.perf_counter()
            stepwise(tables[name], 0.02)
            runs.append(time.perf_counter() - started)
        median = statistics.median(runs)
        verdict = "meets" if median < 0.02 else "MISSES"
        print(f"{'stepwise fit, ' + name + f' ({tables[name].n_lists} lists), median of 20':<52}{median:>10.4f} s   target < 0.02 s  {verdict}")
    for name, target in (("UKdat", 30.0), ("NewOrl", 120.0)):
        timed(
            f"BCa stepwise, {replicates} replicates, {name}",
            target * replicates / 1000,
            lambda name=name: estimate(tables[name], "stepwise", bootstrap_replicates=replicates, profile=False).interval_95,
        )
    timed("BIC, 6,212 five-list models ≤ order 3 (UKdat_5)", 5.0,
          lambda: bic_search(tables["UKdat_5"]).ranking[0][:1])
    if not args.quick:
        timed("BIC, 32,768 order-2 models (UKdat, 6 lists)", 30.0,
              lambda: bic_search(tables["UKdat"]).ranking[0][:1])
    from tiphub.estimate.lcmcr import lcmcr

    uk = tables["UKdat"]
    started = time.perf_counter()
    lcmcr(uk.histories(), uk.counts[uk.observed_cells()], burnin=10, samples=10, thinning=1)
    print(f"{'LCMCR compile (first call, cached afterwards)':<52}{time.perf_counter() - started:>10.3f} s")
    timed("LCMCR K=5, 200,000 iterations (UKdat)", 7.0,
          lambda: round(lcmcr(uk.histories(), uk.counts[uk.observed_cells()]).median()))
    simulation_check()


def simulation_check() -> None:
    """The recommendation's parametric bootstrap (tiphub.estimate.recommend), default
    settings: first the models each method chooses (as a robustness run already has them),
    then the simulation itself; best of two runs."""
    from tiphub.estimate.recommend import chosen_models, recommend

    for name, target in (("UKdat", 60.0), ("UKdat_5", 60.0)):
        table = read_capture_table(DATA / f"{name}.csv")
        best_select = best_check = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            chosen = chosen_models(table, ("main", "stepwise", "aic-stepwise", "bic"), [])
            best_select = min(best_select, time.perf_counter() - started)
            started = time.perf_counter()
            outcome = recommend(table, selections=chosen)
            best_check = min(best_check, time.perf_counter() - started)
        verdict = "meets" if best_check < target else "MISSES"
        label = f"simulation check, {outcome.replicates}/truth × {len(outcome.truths)} truths ({name})"
        print(
            f"{label:<52}{best_check:>10.3f} s   target < {target:g} s  {verdict}   "
            f"{outcome.method} {outcome.population:,.0f}; choosing the models {best_select:.2f} s"
        )


if __name__ == "__main__":
    main()

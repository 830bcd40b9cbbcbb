"""Benchmark of the LCMCR sampler: 200,000 Gibbs sweeps (K = 5) on the six-list UK table.

    .venv/bin/python bench/lcmcr_bench.py [--repeats 3]

Prints the JIT compile (or cache load) time separately from the sampling time. Target: under
7 s on one core for 100,000 burn-in + 1,000 × 100 kept sweeps, the time R's LCMCR 0.4.14 took
for the same run.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from tiphub.estimate.lcmcr import lcmcr

TABLE = Path(__file__).resolve().parents[1] / "tests" / "estimate" / "data" / "mse" / "UKdat.csv"


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    table = np.array(rows[1:], dtype=np.int64)
    return table[:, :-1], table[:, -1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (best is reported)")
    args = parser.parse_args()
    histories, counts = load(TABLE)

    # A tiny run pays for compilation (or loading numba's on-disk cache) up front.
    start = time.perf_counter()
    lcmcr(histories, counts, burnin=1, samples=1, thinning=1)
    compile_seconds = time.perf_counter() - start
    print(f"JIT compile / cache load: {compile_seconds:.2f} s")

    times = []
    for _ in range(args.repeats):
        posterior = lcmcr(histories, counts, K=5, burnin=100_000, samples=1_000, thinning=100)
        times.append(posterior.seconds)
        lo, hi = posterior.interval(0.95)
        print(
            f"200,000 sweeps: {posterior.seconds:.2f} s  "
            f"median N = {posterior.median():.0f}  95% [{lo:.0f}, {hi:.0f}]"
        )
    print(f"best of {args.repeats}: {min(times):.2f} s for {posterior.iterations:,} sweeps (K=5)")


if __name__ == "__main__":
    main()

"""The reference packages' methods against R's own times, one core. Prints its figures.

    .venv/bin/python bench/estimate_methods_bench.py [--repeats 15]

For every row of ``tests/estimate/data/mse/reference-results.csv`` that one of tiphub's
methods reproduces (Rcapture ``closedp.t``/``closedpCI.t``/``closedpMS.t``, R ``dga``,
MultipleSystemsEstimation's ``bayesthresh``), time tiphub's estimator on the same table and
print R's seconds (the ``secs`` column), tiphub's best time over the repeats, and the ratio.
Target: every method at least 20× faster than its R reference. The quick alternatives that
``tiphub estimate`` fits beside every method are left out (``alternatives=False``): they are
timed by ``bench/estimate_bench.py``.
"""

from __future__ import annotations

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from tiphub.estimate.api import estimate  # noqa: E402
from tiphub.estimate.dga import estimate_dga  # noqa: E402
from tiphub.estimate.table import CaptureTable, read_capture_table  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "estimate" / "data" / "mse"
TARGET = 20.0

# (package, method cell in the reference) -> tiphub's method and settings
CLOSEDP = {
    "closedp.t M0": "m0",
    "closedp.t Mh Chao (LB)": "mh-chao",
    "closedp.t Mth Chao (LB)": "mth-chao",
    "closedpCI.t M0": "m0",
    "closedpCI.t Mt": "mt",
}


def runner(row: dict[str, str], table: CaptureTable) -> tuple[str, Callable[[], object]] | None:
    package, method = row["pkg"], row["method"].strip('"')
    if package == "Rcapture" and method in CLOSEDP:
        name = CLOSEDP[method]
        # closedp.t prints no interval; closedpCI.t profiles one.
        profile = method.startswith("closedpCI")
        return name, lambda: estimate(table, name, profile=profile, alternatives=False)
    if package == "Rcapture" and method.startswith("closedpMS.t best"):
        criterion = "aic" if "AIC" in method else "bic"
        order = 2 if table.n_lists >= 6 else None
        return f"closedpms {criterion}", lambda: estimate(
            table, "closedpms", criterion=criterion, max_order=order, alternatives=False
        )
    if package == "dga" and method.startswith("bma.cr"):
        found = re.search(r"N grid to ([0-9]+)(?![0-9*])", row["note"])
        top = float(found.group(1)) if found else None
        return "dga", lambda: estimate_dga(table, max_population=top)
    if package == "MSE-pkg" and method.startswith("bayesthresh"):
        return "bayesthresh", lambda: estimate(table, "bayesthresh", alternatives=False)
    return None


def best_seconds(call: Callable[[], object], repeats: int) -> float:
    call()  # compile and warm caches once, as R's figure excludes loading the package
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    rows = list(csv.DictReader((DATA / "reference-results.csv").open(encoding="utf-8")))
    print(f"{'table':<10}{'R function':<28}{'tiphub method':<18}{'R s':>9}{'tiphub s':>11}{'×':>8}")
    ratios: dict[str, float] = {}
    for row in rows:
        if not row["secs"]:
            continue
        table = read_capture_table(DATA / f"{row['dataset']}.csv")
        found = runner(row, table)
        if found is None:
            continue
        name, call = found
        repeats = 1 if name.startswith("closedpms") and table.n_lists >= 6 else args.repeats
        ours = best_seconds(call, repeats)
        ratio = float(row["secs"]) / ours
        ratios[f"{row['dataset']} {name}"] = ratio
        shown = row["method"].strip('"')[:27]
        print(
            f"{row['dataset']:<10}{shown:<28}{name:<18}{float(row['secs']):>9.3f}"
            f"{ours:>11.4f}{ratio:>8.0f}"
        )
    slow = {key: value for key, value in ratios.items() if value < TARGET}
    print(f"\n{len(ratios)} timings; slowest {min(ratios.values()):.0f}× faster than R")
    for key, value in slow.items():
        print(f"  below the {TARGET:.0f}× target: {key} ({value:.1f}×)")


if __name__ == "__main__":
    main()

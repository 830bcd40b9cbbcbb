"""Utility and speed of the differentially private release (tiphub.release.dp).

    .venv/bin/python bench/release_dp_tuning.py [--seeds 1,2] [--repeats 3] [--delta 1e-6]
        [--epsilons 4,1] [--pac-synth] [--big-rows 1000000]

For each demo table (about 20,000 CTDC rows from 18,000 demo cases and the given seed) and
each ε: DP aggregates and DP synthetic rows, L = 3, measured by ``tiphub.release.metrics``
(plain-Python counting, independent of the release's own array code) with k = 11: MAE over
the real combinations held by at least 11 rows and every released one (missing = 0), the
share of real single values not released, and the share of released combinations no real
row holds. The noise is OpenDP's and differs on every run: figures are means over
``--repeats`` runs. ``--pac-synth`` adds pac-synth's aggregate-seeded synthesiser at the
same ε and δ (slow: about a minute a run). ``--big-rows`` times one release of each kind on
the first table resampled to that many rows.

The parameters of tiphub.release.dp were tuned on seed 1; seed 2 was not looked at while
tuning. The synthesis's triple targets, EB_SIZE_POWER, TRIPLE_WEIGHT and
SYNTHETIC_SINGLE_SHARE were tuned on the tables of ``bench/release_bench.py`` with seeds 7
and 3 (13 columns); seeds 11 and 29 were held out.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tiphub.cases.canonical import case_document
from tiphub.demo.generator import generate
from tiphub.exchange.ctdc import synthetic_rows
from tiphub.release.dp import dp_aggregates, dp_synthetic
from tiphub.release.metrics import ReleaseMetrics, release_metrics, synthetic_metrics
from tiphub.release.table import ReleaseTable, table_from_rows

K = 11
MAX_LENGTH = 3
CASES = 18_000


def demo_table(seed: int) -> ReleaseTable:
    rows = [
        row for record, _ in generate(CASES, seed) for row in synthetic_rows(case_document(record))
    ]
    return table_from_rows(rows)


def released_texts(table: ReleaseTable, counts: dict[Any, int]) -> dict[str, int]:
    return {table.text(tuple(combination)): int(count) for combination, count in counts.items()}


def figures(metrics: ReleaseMetrics) -> list[float]:
    """MAE by length, single values suppressed, fabricated by length."""
    by_length = metrics.by_length
    return (
        [figure.mae for figure in by_length]
        + [metrics.length(1).suppressed]
        + [figure.fabricated for figure in by_length]
    )


def pac_synth(
    table: ReleaseTable, epsilon: float, delta: float
) -> tuple[dict[str, int], np.ndarray]:
    """pac-synth's DP aggregates (as texts) and synthetic codes at the same ε and δ."""
    import pacsynth  # type: ignore[import-untyped]

    lookups = [("", *column.domain) for column in table.columns]
    raw = [list(table.names)] + [
        [lookups[j][code] for j, code in enumerate(row)] for row in table.codes.tolist()
    ]
    parameters = (
        pacsynth.DpAggregateSeededParametersBuilder()
        .reporting_length(MAX_LENGTH)
        .epsilon(epsilon)
        .delta(delta)
        .build()
    )
    synthesizer = pacsynth.DpAggregateSeededSynthesizer(parameters)
    synthesizer.fit(pacsynth.Dataset(raw))
    aggregates = {}
    for key, count in synthesizer.get_dp_aggregates(";").items():
        pairs = sorted(
            (table.names.index(name), value)
            for name, _, value in (part.partition(":") for part in key.split(";"))
        )
        aggregates[";".join(f"{table.names[p]}={value}" for p, value in pairs)] = int(count)
    synthetic = synthesizer.sample()
    header = synthetic[0]
    at = [header.index(name) for name in table.names]
    codes = np.array(
        [[table.code(j, row[i]) for j, i in enumerate(at)] for row in synthetic[1:]],
        dtype=np.int16,
    ).reshape(-1, len(table.names))
    return aggregates, codes


def measure(
    table: ReleaseTable, epsilon: float, delta: float, repeats: int, with_pac: bool
) -> dict[str, list[float]]:
    real = table.rows()
    columns = table.names
    results: dict[str, list[list[float]]] = {"dp aggregates": [], "dp synthetic": []}
    seconds: dict[str, list[float]] = {"dp aggregates": [], "dp synthetic": []}
    for repeat in range(repeats):
        start = time.perf_counter()
        aggregates = dp_aggregates(
            table, epsilon=epsilon, delta=delta, max_length=MAX_LENGTH, seed=repeat
        )
        seconds["dp aggregates"].append(time.perf_counter() - start)
        results["dp aggregates"].append(
            figures(
                release_metrics(
                    real,
                    released_texts(table, aggregates.counts),
                    columns=columns,
                    k=K,
                    max_length=MAX_LENGTH,
                )
            )
        )
        start = time.perf_counter()
        made = dp_synthetic(table, epsilon=epsilon, delta=delta, max_length=MAX_LENGTH, seed=repeat)
        seconds["dp synthetic"].append(time.perf_counter() - start)
        results["dp synthetic"].append(
            figures(
                synthetic_metrics(
                    real,
                    table.with_codes(made.codes).rows(),
                    columns=columns,
                    k=K,
                    max_length=MAX_LENGTH,
                )
            )
        )
    if with_pac:
        results["pac-synth aggregates"], results["pac-synth synthetic"] = [], []
        start = time.perf_counter()
        pac_aggregates, pac_codes = pac_synth(table, epsilon, delta)
        seconds["pac-synth synthetic"] = [time.perf_counter() - start]
        results["pac-synth aggregates"].append(
            figures(
                release_metrics(real, pac_aggregates, columns=columns, k=K, max_length=MAX_LENGTH)
            )
        )
        results["pac-synth synthetic"].append(
            figures(
                synthetic_metrics(
                    real,
                    table.with_codes(pac_codes).rows(),
                    columns=columns,
                    k=K,
                    max_length=MAX_LENGTH,
                )
            )
        )
    summary = {name: list(np.mean(rows, axis=0)) for name, rows in results.items() if rows}
    for name, times in seconds.items():
        if name in summary:
            summary[name].append(float(np.mean(times)))
    return summary


def show(seed: int, rows: int, epsilon: float, summary: dict[str, list[float]]) -> None:
    print(f"\nseed {seed} ({rows:,} rows), ε = {epsilon:g}")
    print(
        f"{'':22} {'MAE 1':>7} {'MAE 2':>7} {'MAE 3':>7} {'supp. 1':>8} "
        f"{'fab. 1':>7} {'fab. 2':>7} {'fab. 3':>7} {'seconds':>8}"
    )
    for name, values in summary.items():
        mae, suppressed, fabricated = values[:3], values[3], values[4:7]
        timing = f"{values[7]:8.1f}" if len(values) > 7 else ""
        print(
            f"{name:22} "
            + " ".join(f"{value:7.2f}" for value in mae)
            + f" {suppressed:8.1%} "
            + " ".join(f"{value:7.1%}" for value in fabricated)
            + f" {timing}"
        )


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--epsilons", default="4,1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--delta", type=float, default=1e-6)
    parser.add_argument("--pac-synth", action="store_true")
    parser.add_argument("--big-rows", type=int, default=0)
    arguments = parser.parse_args()
    first: ReleaseTable | None = None
    for seed in (int(part) for part in arguments.seeds.split(",")):
        table = demo_table(seed)
        first = first or table
        for epsilon in (float(part) for part in arguments.epsilons.split(",")):
            summary = measure(
                table, epsilon, arguments.delta, arguments.repeats, arguments.pac_synth
            )
            show(seed, table.n_rows, epsilon, summary)
    if arguments.big_rows and first is not None:
        rng = np.random.default_rng(np.random.SeedSequence([0, 0xB16]))
        big = first.with_codes(first.codes[rng.integers(0, first.n_rows, size=arguments.big_rows)])
        delta = arguments.delta
        aggregates = timed(lambda: dp_aggregates(big, epsilon=4.0, delta=delta, seed=0))
        synthetic = timed(lambda: dp_synthetic(big, epsilon=1.0, delta=delta, seed=0))
        print(
            f"\n{arguments.big_rows:,} rows: dp aggregates {aggregates:.1f} s, "
            f"dp synthetic (aggregates included) {synthetic:.1f} s"
        )


if __name__ == "__main__":
    main()

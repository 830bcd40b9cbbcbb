"""Linkage benchmark: accuracy, time and memory on FEBRL 3/4 and the demo data.

    .venv/bin/python bench/linkage_bench.py [--demo-size 1000000] [--skip-demo]

Prints pairwise precision, recall, F1, precision ÷ recall, blocking recall, seconds and peak
memory for each set. Targets (issue 4): FEBRL4 F1 >= 0.999 under 5 s; FEBRL3 F1 >= 0.99 with
blocking recall >= 0.995; demo 1,000,000 records over 5 lists F1 >= 0.96, P÷R 1.00 ± 0.05,
under 120 s and 8 GB.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tiphub.linkage import datasets
from tiphub.linkage.linker import LinkResult, link_records
from tiphub.linkage.records import IDENTITY_COLUMNS, RecordSet

CACHE = Path(__file__).resolve().parent / ".cache"


def _record_set(frame: pd.DataFrame) -> RecordSet:
    frame = frame.copy()
    for name in IDENTITY_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    return RecordSet(frame.astype(object).where(frame.notna(), None), ("bench",))


def _pairs(labels: pd.Series) -> int:
    sizes = labels.value_counts()
    return int((sizes * (sizes - 1) // 2).sum())


def _report(name: str, result: LinkResult, truth: pd.DataFrame, seconds: float) -> None:
    merged = result.clusters_frame().merge(truth[["record_id", "true_id"]], on="record_id")
    true_positive = _pairs(merged["cluster_id"] + "|" + merged["true_id"])
    predicted = _pairs(merged["cluster_id"])
    actual = _pairs(merged["true_id"])
    precision = true_positive / predicted if predicted else 1.0
    recall = true_positive / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    ids = result.records.frame["record_id"].to_numpy()
    entity = pd.Series(truth["true_id"].to_numpy(), index=truth["record_id"].to_numpy())
    left = entity.reindex(ids[result.pairs["unique_id_l"].to_numpy(np.int64)]).to_numpy()
    right = entity.reindex(ids[result.pairs["unique_id_r"].to_numpy(np.int64)]).to_numpy()
    blocking_recall = float((left == right).sum()) / actual if actual else 1.0
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    choice = result.threshold
    print(
        f"{name:<22} records {len(ids):>9,}  P {precision:.4f}  R {recall:.4f}  F1 {f1:.4f}  "
        f"P/R {precision / recall:.3f}  blocking recall {blocking_recall:.4f}  "
        f"threshold {choice.threshold:.2f} (est. P/R {choice.precision_over_recall:.3f})  "
        f"{seconds:6.1f} s  peak {peak_gb:.2f} GB",
        flush=True,
    )


def _run(name: str, frame: pd.DataFrame, truth: pd.DataFrame) -> None:
    records = _record_set(frame)
    started = time.perf_counter()
    result = link_records(records)
    _report(name, result, truth, time.perf_counter() - started)


def _demo(size: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    CACHE.mkdir(exist_ok=True)
    records_path = CACHE / f"demo-{size}.parquet"
    truth_path = CACHE / f"demo-{size}-truth.parquet"
    if records_path.exists() and truth_path.exists():
        return pd.read_parquet(records_path), pd.read_parquet(truth_path)
    started = time.perf_counter()
    frame, truth = datasets.demo_person_records(size, seed=7)
    frame.to_parquet(records_path)
    truth.to_parquet(truth_path)
    print(f"(generated {size:,} demo records in {time.perf_counter() - started:.0f} s, cached)")
    return frame, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo-size", type=int, default=1_000_000)
    parser.add_argument("--skip-demo", action="store_true")
    arguments = parser.parse_args()
    for name in ("febrl4", "febrl3"):
        frame = pd.concat(datasets.febrl_records(name), ignore_index=True)
        _run(f"{name} (no soc_sec_id)", frame, datasets.febrl_truth(frame))
    if not arguments.skip_demo:
        frame, truth = _demo(arguments.demo_size)
        _run(f"demo, {frame['list'].nunique()} lists", frame, truth)


if __name__ == "__main__":
    main()

"""R's own bootstrap draws, stored beside the reference tables, read back as tables."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tiphub.estimate.table import CaptureTable, history_mask, read_capture_table

DATA = Path(__file__).parent / "data" / "mse"


def r_replicate_tables(name: str, draws: Path) -> tuple[CaptureTable, list[CaptureTable]]:
    """The table ``name`` and R's bootstrap replicates of it from ``draws``, in R's order.

    Each line of ``draws/NAME.txt.gz`` holds one replicate's counts for the rows of the
    CSV, in the CSV's row order.
    """
    data = read_capture_table(DATA / f"{name}.csv")
    with (DATA / f"{name}.csv").open(encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        lists = [i for i, column in enumerate(header) if column != "count"]
        masks = [history_mask([int(row[i]) for i in lists]) for row in reader]
    assert tuple(header[i] for i in lists) == data.lists
    counts_by_replicate = np.loadtxt(draws / f"{name}.txt.gz", dtype=np.int64, ndmin=2)
    assert counts_by_replicate.shape[1] == len(masks)
    replicates = []
    for draw in counts_by_replicate:
        counts = np.zeros_like(data.counts)
        counts[masks] = draw
        replicates.append(data.with_counts(counts))
    return data, replicates

"""Reportable aggregates: every combination of up to L values, small cells suppressed, the
rest randomly rounded by cell key so that differencing overlapping tables cannot undo it.

Cell-key method (as the Australian Bureau of Statistics' TableBuilder does it): every row
gets a random key in [0, 1); a cell's key is the fractional part of the sum of its rows'
keys. A count is rounded to a multiple of ``base``, up with probability ``remainder / base``
decided by the cell key. The rounding is unbiased, and because the key is a property of
the set of rows, the same cell gets the same figure in every table that shows it: asking
for a cell twice, or in two overlapping tables, never reveals more than asking once.
Subtracting a released cell from a released margin leaves a difference that is only known
to within ``base - 1`` either way, so a suppressed cell of 1 or 2 cannot be recovered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tiphub.release.table import (
    Combination,
    ReleaseRefusedError,
    ReleaseTable,
    combination_groups,
)

DEFAULT_K = 11
DEFAULT_MAX_LENGTH = 3
DEFAULT_BASE = 5


def check_parameters(*, k: int | None = None, max_length: int, n_columns: int) -> None:
    if k is not None and k < 2:
        raise ReleaseRefusedError(f"k must be at least 2 (got {k}): k = 1 protects no one")
    if max_length < 1:
        raise ReleaseRefusedError(f"the longest combination must be at least 1 (got {max_length})")
    if max_length > n_columns:
        raise ReleaseRefusedError(
            f"the longest combination ({max_length}) cannot exceed the number of columns "
            f"({n_columns})"
        )


@dataclass(frozen=True)
class Aggregates:
    """Released counts by combination, and what was done to them."""

    table: ReleaseTable
    counts: dict[Combination, int]
    k: int
    max_length: int
    base: int
    total: int
    suppressed: dict[int, int] = field(default_factory=dict)  # by length
    real_counts: dict[Combination, int] = field(default_factory=dict, repr=False, compare=False)

    def rows(self) -> list[tuple[str, int]]:
        """``(combination text, count)``, shortest combinations first, in column order."""
        ordered = sorted(self.counts.items(), key=lambda item: (len(item[0]), item[0]))
        return [
            (self.table.text(combination), count) for combination, count in ordered if combination
        ]

    def parameters(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "max_combination": self.max_length,
            "rounding": f"random rounding to a multiple of {self.base} by cell key",
            "suppressed_by_length": {
                str(length): n for length, n in sorted(self.suppressed.items())
            },
        }


def record_keys(table: ReleaseTable, seed: int) -> np.ndarray:
    """A key in [0, 1) for every row, fixed by the row's values (and, among identical rows,
    its rank), so a cell gets the same key however the rows are ordered, and a new record
    changes only the cells it falls in. Keys are a seeded universal hash of the values."""
    generator = np.random.default_rng(np.random.SeedSequence([seed, 0x7C3E]))
    multipliers = generator.integers(1, 2**63, size=table.codes.shape[1] + 1, dtype=np.uint64) | 1
    with np.errstate(over="ignore"):
        hashed = (table.codes.astype(np.uint64) * multipliers[:-1]).sum(axis=1, dtype=np.uint64)
        order = np.argsort(hashed, kind="stable")
        ordered = hashed[order]
        starts = np.r_[0, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1]
        rank = np.arange(ordered.size) - np.repeat(starts, np.diff(np.r_[starts, ordered.size]))
        mixed = np.empty_like(hashed)
        mixed[order] = ordered + rank.astype(np.uint64) * multipliers[-1]
        # splitmix64's finaliser spreads every input bit over the whole word.
        mixed ^= mixed >> np.uint64(30)
        mixed *= np.uint64(0xBF58476D1CE4E5B9)
        mixed ^= mixed >> np.uint64(27)
        mixed *= np.uint64(0x94D049BB133111EB)
        mixed ^= mixed >> np.uint64(31)
    keys: np.ndarray = (mixed >> np.uint64(11)).astype(np.float64) / float(2**53)
    return keys


def _round(count: int, cell_key: float, base: int) -> int:
    low = count - count % base
    return low + base if cell_key < (count % base) / base else low


def reportable_aggregates(
    table: ReleaseTable,
    *,
    k: int = DEFAULT_K,
    max_length: int = DEFAULT_MAX_LENGTH,
    seed: int = 0,
    base: int = DEFAULT_BASE,
) -> Aggregates:
    """Counts of every combination of up to ``max_length`` values held by at least ``k``
    rows, each randomly rounded to a multiple of ``base`` by its cell key."""
    check_parameters(k=k, max_length=max_length, n_columns=len(table.columns))
    if table.n_rows < k:
        raise ReleaseRefusedError(
            f"{table.source} has {table.n_rows} rows: fewer than k = {k}, nothing can be released"
        )
    keys = record_keys(table, seed)
    counted = {
        combination: (count, key_sum)
        for combination, count, key_sum in combination_groups(table, max_length, keys)
    }
    released: dict[Combination, int] = {}
    suppressed: dict[int, int] = {}
    for combination, (count, key_sum) in counted.items():
        if count < k:
            suppressed[len(combination)] = suppressed.get(len(combination), 0) + 1
            continue
        released[combination] = _round(count, key_sum % 1.0, base)
    total = _round(table.n_rows, float(keys.sum()) % 1.0, base)
    if not released:
        raise ReleaseRefusedError(
            f"no combination in {table.source} is held by at least k = {k} rows: nothing to release"
        )
    real = {combination: count for combination, (count, _) in counted.items()}
    return Aggregates(table, released, k, max_length, base, total, suppressed, real)

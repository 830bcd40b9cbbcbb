"""k-anonymous synthetic microdata, row-seeded as Microsoft's synthetic-data-showcase does it.

Every combination of up to L values in the output is held by at least k real rows of the
source table (the input after coarsening): no combination rarer than k people is ever
shown, and an attacker who knows L attributes of a survivor can never narrow the candidates
below k.

How the rows are made
---------------------

1. **Seed.** Each synthetic row starts as a copy of one real row.
2. **Repair.** A row holding a combination of up to L values shared by fewer than k real
   rows has cells changed until it holds none. Among the cells of its rare combinations,
   the change chosen is the one that breaks the most rare combinations -- giving the cell
   another value or emptying it, or swapping it with a row alike (which may break that
   row's rare combinations too) -- and among those, the one that keeps the counts closest.
3. **Polish.** Sweeps over the columns then change single cells, swap the values of two
   rows in one column (rows alike, whose shared combinations do not move, and the best
   partners of the whole table), or pass a value on along a chain of two rows, keeping a
   change when it brings the synthetic counts of the combinations held by at least k real
   rows closer to the real ones and never forming a rare combination. The error minimised
   is the sum over lengths of the mean absolute error; after the first sweep each length
   is weighted by its share of that error, so the worst length gets the most work.

Rows are never added or removed: the output has exactly as many rows as the input (a CTDC
user counts rows as victims); ``Synthetic.parameters()`` says so.

Coarsening
----------

A rare value cannot be shown with much around it, so fine categories cost accuracy.
``coarsening=None`` picks a step of the ladder of
:func:`~tiphub.release.coarsening.candidate_coarsenings` (finest first: broad ages, periods
of years, rare countries as their M49 sub-region, then region, ...), by this rule: **the
finest step whose synthetic counts meet the error target** -- the mean absolute error at
every combination length at most ``target_error`` (default 4.3), measured against the
step's own coarsened table. Information lost is what orders the ladder; the error is
measured, never assumed:

* each step is first *screened*: the repair stage alone is run and its error for pairs and
  triples scaled by the polish's usual effect (it halves the pairs' error and takes a sixth
  off the triples'; singles it all but clears), and the ladder is bisected for the finest
  step screened in (at 95% of the target, the screen being a guess);
* that step is synthesised in full and its error measured. If it misses the target, the
  next coarser step is synthesised; if it meets it, the ratio of its measured to its
  screened error predicts the next finer step's, which is synthesised when predicted to
  pass. The finest measured step that passes is used (if none passes, the one with the
  lowest error).

``parameters()["coarsening_choice"]`` lists the ladder, the screened and measured errors
and the information kept (:func:`~tiphub.release.coarsening.information_kept`).

Counting
--------

The counts of every combination of every column subset of up to L columns are one flat
array (a dense block per subset, indexed by the compact codes of its columns, subsets in
colex order so that a subset's number is computable inside the compiled kernels). The real
counts are taken over distinct rows with their multiplicity, and a search works on at most
``POOL`` rows (every row with a rare combination, and a random sample of the others as
partners), so a million rows cost little more than the tens of thousands they resemble.
Kernels are compiled with numba.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

import numpy as np
from numba import njit

from tiphub.release.aggregates import check_parameters
from tiphub.release.coarsening import (
    Coarsening,
    apply_coarsening,
    candidate_coarsenings,
    information_kept,
)
from tiphub.release.table import ReleaseRefusedError, ReleaseTable, combination_groups

DEFAULT_TARGET_ERROR = 4.3
"""The mean absolute error, at every combination length, that a chosen coarsening must meet."""

POOL = 40_000
"""Rows without a rare combination a search may change or pair with, at most (a sample of
them in a larger table); rows with one are always in."""

SWEEPS = 3
"""Polish sweeps over the columns (fewer when a sweep gains under 1%)."""

_MAX_CELLS = 20_000_000  # dense count cells over all column subsets (~40 bytes each)
_NEIGHBOURS = 4  # rows alike tried as swap partners on either side, categorical columns
_FLAG_NEIGHBOURS = 0  # the same for flags (none: the whole-table partners do)
_REPAIR_NEIGHBOURS = 8  # rows alike tried as swap partners while repairing
_PARTNERS = 8  # best partners of the whole table kept per value pair
# the polish's typical effect on the repair stage's error, by length (screening only)
_SCREEN_FACTOR = {2: 0.5, 3: 0.85}
_SCREEN_MARGIN = 0.95  # a step is screened in when its expected error is this share of the target


@dataclass(frozen=True)
class Synthetic:
    """Synthetic rows, the (possibly coarsened) real table they were made from, and how."""

    table: ReleaseTable
    source: ReleaseTable
    k: int
    max_length: int
    coarsening: Coarsening = field(default_factory=dict)
    dropped_values: int = 0
    added_values: int = 0
    changed_values: int = 0
    rows_added: int = 0
    mean_absolute_error: dict[int, float] = field(default_factory=dict)
    target_error: float = DEFAULT_TARGET_ERROR
    choice: dict[str, Any] = field(default_factory=dict)

    def parameters(self) -> dict[str, Any]:
        cells = int((self.source.codes > 0).sum()) or 1
        return {
            "k": self.k,
            "max_combination": self.max_length,
            "coarsening": {name: rule for name, rule in self.coarsening.items()},
            "coarsening_choice": self.choice,
            "real_rows": self.source.n_rows,
            "synthetic_rows": self.table.n_rows,
            "rows_added": self.rows_added,
            "rows_note": (
                "one synthetic row per real row: the number of rows is the real number"
                if self.rows_added == 0
                else f"{self.rows_added} rows were added to the {self.source.n_rows} real "
                "ones: the number of rows is not the number of victims"
            ),
            "values_withheld_share": round(self.dropped_values / cells, 4),
            "values_added_share": round(self.added_values / cells, 4),
            "values_changed_share": round(self.changed_values / cells, 4),
            "target_error": self.target_error,
            "mean_absolute_error_by_length": {
                str(length): round(error, 3)
                for length, error in sorted(self.mean_absolute_error.items())
            },
        }


# --- counting every combination ----------------------------------------------------------


class _Layout:
    """Where each combination's count lives in one flat array.

    Column subsets of each length are taken in colex order (so a subset's number is its
    combinatorial rank, computable inside the compiled kernels); each has a dense block
    indexed by the compact codes of its columns in C order. An index with a 0 (empty) in it
    is no combination.
    """

    def __init__(self, radix: list[int], max_length: int) -> None:
        n_columns = len(radix)
        self.n_columns = n_columns
        self.max_length = max_length
        subsets: list[tuple[int, ...]] = []
        first = [0] * (max_length + 2)
        for length in range(1, max_length + 1):
            first[length] = len(subsets)
            subsets += sorted(combinations(range(n_columns), length), key=lambda s: s[::-1])
        first[max_length + 1] = len(subsets)
        sizes = [math.prod(radix[p] for p in s) for s in subsets]
        total = int(sum(sizes))
        if total > _MAX_CELLS:
            raise ReleaseRefusedError(
                f"{len(subsets)} column subsets of up to {max_length} columns hold {total} "
                "possible combinations: too many to synthesise; lower the longest combination"
            )
        self.subsets = subsets
        self.sizes = np.array(sizes, dtype=np.int64)
        self.offsets = np.zeros(len(subsets), dtype=np.int64)
        self.offsets[1:] = np.cumsum(self.sizes)[:-1]
        self.size = total
        self.first = np.array(first, dtype=np.int64)
        self.radix = np.array(radix, dtype=np.int64)
        self.binomial = np.array(
            [[math.comb(n, r) for r in range(max_length + 2)] for n in range(n_columns + 1)],
            dtype=np.int64,
        )
        combo = np.zeros(total, dtype=bool)
        length_of = np.zeros(total, dtype=np.int8)
        for i, positions in enumerate(subsets):
            block = np.ones([radix[p] for p in positions], dtype=bool)
            for axis in range(len(positions)):
                index: list[Any] = [slice(None)] * len(positions)
                index[axis] = 0
                block[tuple(index)] = False
            start = int(self.offsets[i])
            combo[start : start + sizes[i]] = block.ravel()
            length_of[start : start + sizes[i]] = len(positions)
        self.combo = combo
        self.length_of = length_of

    def count(self, codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Counts of every combination (entries with an empty value stay 0)."""
        return np.asarray(
            _count(
                codes,
                weights.astype(np.int64),
                self.size,
                self.radix,
                self.binomial,
                self.first,
                self.offsets,
            )
        )


# --- compiled kernels --------------------------------------------------------------------


@njit(cache=True, inline="always")
def _next_subset(chosen: np.ndarray, size: int, m: int) -> bool:
    """Advance ``chosen[:size]`` to the next ``size``-subset of ``range(m)`` in lexicographic
    order; False when it was the last (at once for the empty subset)."""
    q = size - 1
    while q >= 0 and chosen[q] == m - size + q:
        q -= 1
    if q < 0:
        return False
    chosen[q] += 1
    for r in range(q + 1, size):
        chosen[r] = chosen[r - 1] + 1
    return True


@njit(cache=True, inline="always")
def _cell(
    codes: np.ndarray,
    g: int,
    present: np.ndarray,
    chosen: np.ndarray,
    length: int,
    radix: np.ndarray,
    binomial: np.ndarray,
    first: np.ndarray,
    offsets: np.ndarray,
) -> int:
    """The count index of row ``g``'s values in the columns ``present[chosen[:length]]``."""
    rank = 0
    for q in range(length):
        rank += binomial[present[chosen[q]], q + 1]
    index = offsets[first[length] + rank]
    stride = 1
    for q in range(length - 1, -1, -1):
        p = present[chosen[q]]
        index += np.int64(codes[g, p]) * stride
        stride *= radix[p]
    return int(index)


@njit(cache=True, inline="always")
def _cells_with(
    codes: np.ndarray,
    g: int,
    j: int,
    present: np.ndarray,
    chosen: np.ndarray,
    size: int,
    members: np.ndarray,
    radix: np.ndarray,
    binomial: np.ndarray,
    first: np.ndarray,
    offsets: np.ndarray,
) -> tuple[int, int]:
    """For the combination of column ``j`` with the columns ``present[chosen[:size]]`` (row
    ``g``'s values there): its count index when column j holds nothing, and column j's
    stride, so that value v of column j is counted at ``base + v * stride``."""
    length = size + 1
    t = 0
    inserted = False
    for q in range(size):
        p = present[chosen[q]]
        if not inserted and j < p:
            members[t] = j
            t += 1
            inserted = True
        members[t] = p
        t += 1
    if not inserted:
        members[t] = j
    rank = 0
    for q in range(length):
        rank += binomial[members[q], q + 1]
    base = offsets[first[length] + rank]
    stride = 1
    stride_j = 0
    for q in range(length - 1, -1, -1):
        p = members[q]
        if p == j:
            stride_j = stride
        else:
            base += np.int64(codes[g, p]) * stride
        stride *= radix[p]
    return int(base), int(stride_j)


@njit(cache=True)
def _count(
    codes: np.ndarray,
    weights: np.ndarray,
    size: int,
    radix: np.ndarray,
    binomial: np.ndarray,
    first: np.ndarray,
    offsets: np.ndarray,
) -> np.ndarray:
    """How many (weighted) rows hold each combination of up to L non-empty values."""
    n_rows, n_columns = codes.shape
    max_length = first.shape[0] - 2
    counts = np.zeros(size, dtype=np.int64)
    present = np.empty(n_columns, dtype=np.int64)
    chosen = np.empty(max_length, dtype=np.int64)
    for g in range(n_rows):
        m = 0
        for p in range(n_columns):
            if codes[g, p] != 0:
                present[m] = p
                m += 1
        for length in range(1, min(max_length, m) + 1):
            for q in range(length):
                chosen[q] = q
            while True:
                index = _cell(codes, g, present, chosen, length, radix, binomial, first, offsets)
                counts[index] += weights[g]
                if not _next_subset(chosen, length, m):
                    break
    return counts


@njit(cache=True)
def _change(
    codes: np.ndarray,
    g: int,
    j: int,
    new: int,
    apply: bool,
    radix: np.ndarray,
    binomial: np.ndarray,
    first: np.ndarray,
    offsets: np.ndarray,
    real: np.ndarray,
    synthetic: np.ndarray,
    weight: np.ndarray,
    bad: np.ndarray,
) -> float:
    """The change of the error if row ``g`` takes ``new`` in column ``j`` (inf if that forms
    a combination held by fewer than k real rows); with ``apply``, make the change."""
    n_columns = codes.shape[1]
    max_length = first.shape[0] - 2
    old = np.int64(codes[g, j])
    if old == new:
        return 0.0
    present = np.empty(n_columns, dtype=np.int64)
    m = 0
    for p in range(n_columns):
        if p != j and codes[g, p] != 0:
            present[m] = p
            m += 1
    members = np.empty(max_length, dtype=np.int64)
    chosen = np.empty(max_length, dtype=np.int64)
    delta = 0.0
    for size in range(min(max_length - 1, m) + 1):
        for q in range(size):
            chosen[q] = q
        while True:
            base, stride_j = _cells_with(
                codes, g, j, present, chosen, size, members, radix, binomial, first, offsets
            )
            if new != 0:
                index = base + new * stride_j
                if apply:
                    synthetic[index] += 1
                else:
                    if bad[index]:
                        return np.inf
                    d = synthetic[index] - real[index]
                    delta += weight[index] * (abs(d + 1) - abs(d))
            if old != 0:
                index = base + int(old) * stride_j
                if apply:
                    synthetic[index] -= 1
                else:
                    d = synthetic[index] - real[index]
                    delta += weight[index] * (abs(d - 1) - abs(d))
            if not _next_subset(chosen, size, m):
                break
    if apply:
        codes[g, j] = new
    return delta


@njit(cache=True)
def _options(
    codes: np.ndarray,
    g: int,
    j: int,
    out: np.ndarray,
    radix: np.ndarray,
    binomial: np.ndarray,
    first: np.ndarray,
    offsets: np.ndarray,
    real: np.ndarray,
    synthetic: np.ndarray,
    weight: np.ndarray,
    bad: np.ndarray,
) -> None:
    """``out[v]``: the change of the error if row ``g`` takes value v in column ``j`` (inf
    where a rare combination would form; 0 for the value it holds)."""
    n_columns = codes.shape[1]
    max_length = first.shape[0] - 2
    old = np.int64(codes[g, j])
    r = radix[j]
    for v in range(r):
        out[v] = 0.0
    present = np.empty(n_columns, dtype=np.int64)
    m = 0
    for p in range(n_columns):
        if p != j and codes[g, p] != 0:
            present[m] = p
            m += 1
    members = np.empty(max_length, dtype=np.int64)
    chosen = np.empty(max_length, dtype=np.int64)
    removal = 0.0
    for size in range(min(max_length - 1, m) + 1):
        for q in range(size):
            chosen[q] = q
        while True:
            base, stride_j = _cells_with(
                codes, g, j, present, chosen, size, members, radix, binomial, first, offsets
            )
            if old != 0:
                index = base + int(old) * stride_j
                d = synthetic[index] - real[index]
                removal += weight[index] * (abs(d - 1) - abs(d))
            for v in range(1, r):
                if v == old:
                    continue
                index = base + v * stride_j
                if bad[index]:
                    out[v] = np.inf
                else:
                    d = synthetic[index] - real[index]
                    out[v] += weight[index] * (abs(d + 1) - abs(d))
            if not _next_subset(chosen, size, m):
                break
    for v in range(r):
        if v != old:
            out[v] += removal
    out[old] = 0.0


@njit(cache=True)
def _swap_delta(
    codes: np.ndarray,
    g: int,
    h: int,
    j: int,
    radix: np.ndarray,
    binomial: np.ndarray,
    first: np.ndarray,
    offsets: np.ndarray,
    real: np.ndarray,
    synthetic: np.ndarray,
    weight: np.ndarray,
    bad: np.ndarray,
    check_shared: bool = False,
) -> float:
    """The change of the error if rows ``g`` and ``h`` swap their values in column ``j``
    (inf if a rare combination would form). Combinations the two rows share cancel (and
    are checked only with ``check_shared``: a row holding a rare one may pass it on)."""
    n_columns = codes.shape[1]
    max_length = first.shape[0] - 2
    present = np.empty(n_columns, dtype=np.int64)
    members = np.empty(max_length, dtype=np.int64)
    chosen = np.empty(max_length, dtype=np.int64)
    delta = 0.0
    for side in range(2):
        row = g if side == 0 else h
        other = h if side == 0 else g
        old = np.int64(codes[row, j])
        new = np.int64(codes[other, j])
        m = 0
        for p in range(n_columns):
            if p != j and codes[row, p] != 0:
                present[m] = p
                m += 1
        for size in range(min(max_length - 1, m) + 1):
            for q in range(size):
                chosen[q] = q
            while True:
                shared = True
                for q in range(size):
                    p = present[chosen[q]]
                    if codes[other, p] != codes[row, p]:
                        shared = False
                        break
                if not shared or check_shared:
                    base, stride_j = _cells_with(
                        codes,
                        row,
                        j,
                        present,
                        chosen,
                        size,
                        members,
                        radix,
                        binomial,
                        first,
                        offsets,
                    )
                    if new != 0:
                        index = base + new * stride_j
                        if bad[index]:
                            return np.inf
                        if not shared:
                            d = synthetic[index] - real[index]
                            delta += weight[index] * (abs(d + 1) - abs(d))
                    if old != 0 and not shared:
                        index = base + old * stride_j
                        d = synthetic[index] - real[index]
                        delta += weight[index] * (abs(d - 1) - abs(d))
                if not _next_subset(chosen, size, m):
                    break
    return delta


@njit(cache=True)
def _sweep(
    codes: np.ndarray,
    j: int,
    neighbours: np.ndarray,
    window: int,
    seed: int,
    radix: np.ndarray,
    binomial: np.ndarray,
    first: np.ndarray,
    offsets: np.ndarray,
    real: np.ndarray,
    synthetic: np.ndarray,
    weight: np.ndarray,
    bad: np.ndarray,
) -> int:
    """One pass over column ``j``, rows in random order: each row takes the best of its
    changes there -- a new value (or emptiness) alone, or a swap with one of the rows next
    to it in ``neighbours`` (rows sorted by their other columns, so swaps are between rows
    alike, whose shared combinations do not move) -- when it lowers the error. Returns the
    number of cells changed."""
    np.random.seed(seed)
    n_rows = codes.shape[0]
    r = radix[j]
    place = np.empty(n_rows, dtype=np.int64)
    for q in range(n_rows):
        place[neighbours[q]] = q
    out = np.empty(r)
    changed = 0
    for g in np.random.permutation(n_rows):
        held = int(codes[g, j])
        _options(codes, g, j, out, radix, binomial, first, offsets, real, synthetic, weight, bad)
        best = 0.0
        value = -1
        for v in range(r):
            if v != held and out[v] < best:
                best = out[v]
                value = v
        partner = -1
        centre = place[g]
        for step in range(1, window + 1):
            for sign in (-1, 1):
                q = centre + sign * step
                if q < 0 or q >= n_rows:
                    continue
                h = neighbours[q]
                if codes[h, j] == held:
                    continue
                d = _swap_delta(
                    codes,
                    g,
                    h,
                    j,
                    radix,
                    binomial,
                    first,
                    offsets,
                    real,
                    synthetic,
                    weight,
                    bad,
                )
                if d < best:
                    best = d
                    partner = h
        if partner >= 0:
            other = int(codes[partner, j])
            _change(
                codes,
                g,
                j,
                other,
                True,
                radix,
                binomial,
                first,
                offsets,
                real,
                synthetic,
                weight,
                bad,
            )
            _change(
                codes,
                partner,
                j,
                held,
                True,
                radix,
                binomial,
                first,
                offsets,
                real,
                synthetic,
                weight,
                bad,
            )
            changed += 2
        elif value >= 0:
            _change(
                codes,
                g,
                j,
                value,
                True,
                radix,
                binomial,
                first,
                offsets,
                real,
                synthetic,
                weight,
                bad,
            )
            changed += 1
    return changed


@njit(cache=True)
def _exchange(
    codes: np.ndarray,
    j: int,
    partners: int,
    seed: int,
    radix: np.ndarray,
    binomial: np.ndarray,
    first: np.ndarray,
    offsets: np.ndarray,
    real: np.ndarray,
    synthetic: np.ndarray,
    weight: np.ndarray,
    bad: np.ndarray,
) -> int:
    """One pass over column ``j`` with partners from the whole table. Every row's gain
    for every value of the column is computed first; then, rows with the most promising
    estimates first, a row takes the best of: a new value alone; a swap with the row (among
    the best few holding that value) that gains most from taking this row's value; or a new
    value with the best row of the table taking the value given up (a chain). Kept when it
    lowers the error. Returns the number of cells changed."""
    np.random.seed(seed)
    n_rows = codes.shape[0]
    r = radix[j]
    offset = offsets[j]
    s_add = np.zeros(r)
    s_remove = np.zeros(r)
    for v in range(1, r):
        d = synthetic[offset + v] - real[offset + v]
        s_add[v] = weight[offset + v] * (abs(d + 1) - abs(d))
        s_remove[v] = weight[offset + v] * (abs(d - 1) - abs(d))
    # context[h, v]: the change of the error, without the column's own single values, if
    # row h took value v
    context = np.empty((n_rows, r))
    out = np.empty(r)
    for h in range(n_rows):
        _options(codes, h, j, out, radix, binomial, first, offsets, real, synthetic, weight, bad)
        held = codes[h, j]
        for v in range(r):
            if v == held or out[v] == np.inf:
                context[h, v] = np.inf
            else:
                context[h, v] = out[v] - s_add[v] - s_remove[held]
    k = min(partners, n_rows)
    # swap partners: for each (value given up u, value held y) the rows holding y that
    # gain most from taking u; chain partners: any row, counting what it gives up
    swap_rows = np.full((r, r, k), -1, dtype=np.int64)
    chain_rows = np.full((r, k), -1, dtype=np.int64)
    by_value = np.argsort(codes[:, j], kind="mergesort")
    bounds = np.zeros(r + 1, dtype=np.int64)
    for g in range(n_rows):
        bounds[codes[g, j] + 1] += 1
    for v in range(r):
        bounds[v + 1] += bounds[v]
    score = np.empty(n_rows)
    for u in range(r):
        for y in range(r):
            if y == u or bounds[y + 1] == bounds[y]:
                continue
            rows_y = by_value[bounds[y] : bounds[y + 1]]
            values = context[rows_y, u]
            ranked = np.argsort(values)
            for q in range(min(k, ranked.size)):
                if values[ranked[q]] == np.inf:
                    break
                swap_rows[u, y, q] = rows_y[ranked[q]]
        if u == 0:
            continue
        for h in range(n_rows):
            score[h] = context[h, u] + s_remove[codes[h, j]]
        ranked = np.argsort(score)
        for q in range(k):
            if score[ranked[q]] == np.inf:
                break
            chain_rows[u, q] = ranked[q]
    estimate = np.full(n_rows, np.inf)
    for g in range(n_rows):
        held = codes[g, j]
        best = np.inf
        for v in range(r):
            if v == held or context[g, v] == np.inf:
                continue
            alone = context[g, v] + s_add[v] + s_remove[held]
            if alone < best:
                best = alone
            h = swap_rows[held, v, 0]
            if h == g and k > 1:
                h = swap_rows[held, v, 1]
            if h >= 0 and h != g:
                e = context[g, v] + context[h, held]
                if e < best:
                    best = e
            if held != 0:
                h = chain_rows[held, 0]
                if h == g and k > 1:
                    h = chain_rows[held, 1]
                if h >= 0 and h != g:
                    e = context[g, v] + s_add[v] + context[h, held] + s_remove[codes[h, j]]
                    if e < best:
                        best = e
        estimate[g] = best
    order = np.argsort(estimate + np.random.random(n_rows) * 1e-12)
    used = np.zeros(n_rows, dtype=np.bool_)
    changed = 0
    for g in order:
        if estimate[g] >= 0.0:
            break
        if used[g]:
            continue
        held = int(codes[g, j])
        # a new value alone
        _options(codes, g, j, out, radix, binomial, first, offsets, real, synthetic, weight, bad)
        best = 0.0
        kind = 0
        value = -1
        partner = -1
        for v in range(r):
            if v != held and out[v] < best:
                best = out[v]
                kind = 1
                value = v
        # swaps with the best partners for the most promising values
        for v in range(r):
            if v == held or context[g, v] == np.inf:
                continue
            for q in range(k):
                h = swap_rows[held, v, q]
                if h < 0:
                    break
                if h == g or used[h] or codes[h, j] != v:
                    continue
                # partners come best estimate first; past the first two, stop once the
                # estimate is worse than half the gain in hand (an estimate overstates the
                # cost of a swap between rows alike, so the first few are always tried)
                if context[g, v] + context[h, held] > 0.5 * -best and q > 1:
                    break
                d = _swap_delta(
                    codes,
                    g,
                    h,
                    j,
                    radix,
                    binomial,
                    first,
                    offsets,
                    real,
                    synthetic,
                    weight,
                    bad,
                    False,
                )
                if d < best:
                    best = d
                    kind = 2
                    value = v
                    partner = h
        # a chain: the best value for this row, and the best row to take its value
        if held != 0:
            target = -1
            lowest = np.inf
            for v in range(r):
                if v != held and out[v] < lowest:
                    lowest = out[v]
                    target = v
            if target >= 0 and lowest < np.inf:
                _change(
                    codes,
                    g,
                    j,
                    target,
                    True,
                    radix,
                    binomial,
                    first,
                    offsets,
                    real,
                    synthetic,
                    weight,
                    bad,
                )
                for q in range(min(k, 6)):
                    h = chain_rows[held, q]
                    if h < 0:
                        break
                    if h == g or used[h] or codes[h, j] == held:
                        continue
                    d = _change(
                        codes,
                        h,
                        j,
                        held,
                        False,
                        radix,
                        binomial,
                        first,
                        offsets,
                        real,
                        synthetic,
                        weight,
                        bad,
                    )
                    if lowest + d < best:
                        best = lowest + d
                        kind = 3
                        value = target
                        partner = h
                _change(
                    codes,
                    g,
                    j,
                    held,
                    True,
                    radix,
                    binomial,
                    first,
                    offsets,
                    real,
                    synthetic,
                    weight,
                    bad,
                )
        if kind == 0:
            continue
        if kind == 2:
            _change(
                codes,
                partner,
                j,
                held,
                True,
                radix,
                binomial,
                first,
                offsets,
                real,
                synthetic,
                weight,
                bad,
            )
        _change(
            codes,
            g,
            j,
            value,
            True,
            radix,
            binomial,
            first,
            offsets,
            real,
            synthetic,
            weight,
            bad,
        )
        if kind == 3:
            _change(
                codes,
                partner,
                j,
                held,
                True,
                radix,
                binomial,
                first,
                offsets,
                real,
                synthetic,
                weight,
                bad,
            )
        used[g] = True
        changed += 1
        if partner >= 0:
            used[partner] = True
            changed += 1
    return changed


@njit(cache=True)
def _rare_hits(
    codes: np.ndarray,
    g: int,
    hits: np.ndarray,
    radix: np.ndarray,
    binomial: np.ndarray,
    first: np.ndarray,
    offsets: np.ndarray,
    bad: np.ndarray,
) -> int:
    """For row ``g``: how many of its combinations held by fewer than k real rows hold each
    column (into ``hits``); returns how many there are."""
    n_columns = codes.shape[1]
    max_length = first.shape[0] - 2
    present = np.empty(n_columns, dtype=np.int64)
    m = 0
    for p in range(n_columns):
        hits[p] = 0
        if codes[g, p] != 0:
            present[m] = p
            m += 1
    chosen = np.empty(max_length, dtype=np.int64)
    found = 0
    for length in range(1, min(max_length, m) + 1):
        for q in range(length):
            chosen[q] = q
        while True:
            index = _cell(codes, g, present, chosen, length, radix, binomial, first, offsets)
            if bad[index]:
                found += 1
                for q in range(length):
                    hits[present[chosen[q]]] += 1
            if not _next_subset(chosen, length, m):
                break
    return found


@njit(cache=True)
def _rare_at(
    codes: np.ndarray,
    g: int,
    j: int,
    radix: np.ndarray,
    binomial: np.ndarray,
    first: np.ndarray,
    offsets: np.ndarray,
    bad: np.ndarray,
) -> int:
    """How many of row ``g``'s combinations held by fewer than k real rows hold column j."""
    if codes[g, j] == 0:
        return 0
    n_columns = codes.shape[1]
    max_length = first.shape[0] - 2
    present = np.empty(n_columns, dtype=np.int64)
    m = 0
    for p in range(n_columns):
        if p != j and codes[g, p] != 0:
            present[m] = p
            m += 1
    members = np.empty(max_length, dtype=np.int64)
    chosen = np.empty(max_length, dtype=np.int64)
    found = 0
    for size in range(min(max_length - 1, m) + 1):
        for q in range(size):
            chosen[q] = q
        while True:
            base, stride_j = _cells_with(
                codes, g, j, present, chosen, size, members, radix, binomial, first, offsets
            )
            index = base + np.int64(codes[g, j]) * stride_j
            if bad[index]:
                found += 1
            if not _next_subset(chosen, size, m):
                break
    return found


@njit(cache=True)
def _rare_rows(
    codes: np.ndarray,
    radix: np.ndarray,
    binomial: np.ndarray,
    first: np.ndarray,
    offsets: np.ndarray,
    bad: np.ndarray,
) -> np.ndarray:
    """Whether each row holds a combination held by fewer than k real rows."""
    hits = np.zeros(codes.shape[1], dtype=np.int64)
    rare = np.zeros(codes.shape[0], dtype=np.bool_)
    for g in range(codes.shape[0]):
        rare[g] = _rare_hits(codes, g, hits, radix, binomial, first, offsets, bad) > 0
    return rare


@njit(cache=True)
def _repair(
    codes: np.ndarray,
    rows: np.ndarray,
    neighbours: np.ndarray,
    places: np.ndarray,
    window: int,
    radix: np.ndarray,
    binomial: np.ndarray,
    first: np.ndarray,
    offsets: np.ndarray,
    real: np.ndarray,
    synthetic: np.ndarray,
    weight: np.ndarray,
    bad: np.ndarray,
) -> int:
    """Make each of ``rows`` (in that order) hold no rare combination. Repeatedly, among the
    cells in its rare combinations: give one a new value (or empty it), or swap it with a
    row alike (``neighbours[p]``: rows sorted by their columns other than p), choosing the
    change that breaks the most rare combinations -- of this row and of the partner --
    then the one that keeps the counts closest. Returns the number of cells changed."""
    n_columns = codes.shape[1]
    hits = np.zeros(n_columns, dtype=np.int64)
    out = np.empty(radix.max())
    n_rows = codes.shape[0]
    changed = 0
    for g in rows:
        while _rare_hits(codes, g, hits, radix, binomial, first, offsets, bad) > 0:
            best_score = -1
            best = np.inf
            best_column = -1
            best_value = 0
            best_partner = -1
            for p in range(n_columns):
                if hits[p] == 0:
                    continue
                held = codes[g, p]
                _options(
                    codes,
                    g,
                    p,
                    out,
                    radix,
                    binomial,
                    first,
                    offsets,
                    real,
                    synthetic,
                    weight,
                    bad,
                )
                for value in range(radix[p]):
                    delta = out[value]
                    if value == held or delta == np.inf:
                        continue
                    if hits[p] > best_score or (hits[p] == best_score and delta < best):
                        best_score = hits[p]
                        best = delta
                        best_column = p
                        best_value = value
                        best_partner = -1
                centre = places[p, g]
                for step in range(1, window + 1):
                    for sign in (-1, 1):
                        q = centre + sign * step
                        if q < 0 or q >= n_rows:
                            continue
                        h = neighbours[p, q]
                        if codes[h, p] == held:
                            continue
                        delta = _swap_delta(
                            codes,
                            g,
                            h,
                            p,
                            radix,
                            binomial,
                            first,
                            offsets,
                            real,
                            synthetic,
                            weight,
                            bad,
                            True,
                        )
                        if delta == np.inf:
                            continue
                        score = hits[p] + _rare_at(
                            codes, h, p, radix, binomial, first, offsets, bad
                        )
                        if score > best_score or (score == best_score and delta < best):
                            best_score = score
                            best = delta
                            best_column = p
                            best_value = codes[h, p]
                            best_partner = h
            if best_partner >= 0:
                _change(
                    codes,
                    best_partner,
                    best_column,
                    codes[g, best_column],
                    True,
                    radix,
                    binomial,
                    first,
                    offsets,
                    real,
                    synthetic,
                    weight,
                    bad,
                )
                changed += 1
            _change(
                codes,
                g,
                best_column,
                best_value,
                True,
                radix,
                binomial,
                first,
                offsets,
                real,
                synthetic,
                weight,
                bad,
            )
            changed += 1
    return changed


# --- the synthesis -----------------------------------------------------------------------


class _Distinct:
    """A table's distinct rows, counted once (every coarsening of it starts from them)."""

    def __init__(self, table: ReleaseTable) -> None:
        self.table = table
        _, first, inverse, multiplicity = np.unique(
            table.codes, axis=0, return_index=True, return_inverse=True, return_counts=True
        )
        self.first = first
        self.inverse = inverse.ravel()
        self.multiplicity = multiplicity.astype(np.int64)


class _Prepared:
    """A coarsened table in compact codes (1..r for the values present, 0 for empty) with
    the real count of every combination, and the rows the search works on (all rows of a
    small table; of a large one, every row holding a rare combination and a sample)."""

    def __init__(
        self, base: _Distinct, rules: Coarsening, k: int, max_length: int, seed: int
    ) -> None:
        self.source = source = apply_coarsening(base.table, rules)
        n_columns = len(source.columns)
        # the coarsened distinct rows, merged where coarsening made them equal
        coarse, merged = np.unique(source.codes[base.first], axis=0, return_inverse=True)
        merged = merged.ravel()
        multiplicity = np.bincount(merged, weights=base.multiplicity).astype(np.int64)
        self.row_of = merged[base.inverse]  # each row's distinct coarsened row
        distinct = np.zeros(coarse.shape, dtype=np.int16)
        self.back: list[np.ndarray] = []
        radix: list[int] = []
        for j in range(n_columns):
            column = coarse[:, j].astype(np.int64)
            present = np.flatnonzero(np.bincount(column, minlength=1))
            present = present[present > 0]
            lookup = np.zeros(int(column.max(initial=0)) + 1, dtype=np.int16)
            lookup[present] = np.arange(1, present.size + 1)
            distinct[:, j] = lookup[column]
            self.back.append(np.concatenate([[0], present]).astype(np.int16))
            radix.append(present.size + 1)
        self.distinct = distinct
        self.layout = layout = _Layout(radix, max_length)
        self.real = layout.count(distinct, multiplicity)
        self.bad = layout.combo & (self.real < k)
        rare_distinct = _rare_rows(
            distinct, layout.radix, layout.binomial, layout.first, layout.offsets, self.bad
        )
        rare = rare_distinct[self.row_of]
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED]))
        others = np.flatnonzero(~rare)
        if others.size <= POOL:
            self.pool = np.arange(source.n_rows)
        else:
            sample = self.rng.choice(others, POOL, replace=False)
            self.pool = np.sort(np.concatenate([np.flatnonzero(rare), sample]))
        self.rare_in_pool = np.flatnonzero(rare[self.pool])

    def codes(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Compact codes of the given rows (all rows by default)."""
        return self.distinct[self.row_of if rows is None else self.row_of[rows]]


class _Search:
    """The search's rows (compact codes) and the counts the whole table makes."""

    def __init__(self, prepared: _Prepared) -> None:
        self.prepared = prepared
        self.layout = layout = prepared.layout
        self.real = prepared.real
        self.bad = prepared.bad
        self.synthetic = prepared.real.copy()
        self.codes = prepared.codes(prepared.pool)
        self.rng = prepared.rng
        self.scored = layout.combo & ~prepared.bad & (prepared.real > 0)
        self.per_length = np.bincount(
            layout.length_of[self.scored], minlength=layout.max_length + 1
        )
        self.weight = np.zeros(layout.size)
        self.emphasise(0.0)

    def emphasise(self, power: float) -> None:
        """Weigh each length's absolute errors by 1 / (its number of combinations), times
        (its mean absolute error / the mean over lengths) to the ``power``."""
        errors = self.error_by_length() if power else {}
        mean = float(np.mean(list(errors.values()))) if errors else 1.0
        scale = np.zeros(self.layout.max_length + 1)
        for length in range(1, self.layout.max_length + 1):
            if self.per_length[length]:
                factor = (max(errors.get(length, 1.0), 1e-3) / max(mean, 1e-3)) ** power
                scale[length] = factor / self.per_length[length]
        self.weight = np.where(self.scored, scale[self.layout.length_of], 0.0)

    def error_by_length(self) -> dict[int, float]:
        """Mean absolute error by length over the combinations held by at least k real rows
        (the output holds no other)."""
        deviation = np.abs(self.synthetic - self.real).astype(np.float64)
        totals = np.bincount(
            self.layout.length_of[self.scored],
            weights=deviation[self.scored],
            minlength=self.layout.max_length + 1,
        )
        return {
            length: float(totals[length] / self.per_length[length])
            for length in range(1, self.layout.max_length + 1)
            if self.per_length[length] > 0
        }

    def _state(self) -> tuple[np.ndarray, ...]:
        layout = self.layout
        return (
            layout.radix,
            layout.binomial,
            layout.first,
            layout.offsets,
            self.real,
            self.synthetic,
            self.weight,
            self.bad,
        )

    def neighbours(self, j: int) -> np.ndarray:
        """The rows sorted by their columns other than ``j``, the most varied columns first
        (ties in random order): rows next to each other are alike."""
        layout = self.layout
        others = [p for p in range(layout.n_columns) if p != j]
        shuffled = [others[i] for i in self.rng.permutation(len(others))]
        keyed = sorted(shuffled, key=lambda p: -int(layout.radix[p]))
        keys = [self.codes[:, p] for p in reversed(keyed)] or [np.zeros(len(self.codes))]
        return np.lexsort(keys).astype(np.int64)

    def repair(self) -> int:
        n_rows, n_columns = self.codes.shape
        neighbours = np.zeros((n_columns, n_rows), dtype=np.int64)
        places = np.zeros((n_columns, n_rows), dtype=np.int64)
        for j in range(n_columns):
            neighbours[j] = self.neighbours(j)
            places[j, neighbours[j]] = np.arange(n_rows)
        rows = self.rng.permutation(self.prepared.rare_in_pool).astype(np.int64)
        return int(
            _repair(self.codes, rows, neighbours, places, _REPAIR_NEIGHBOURS, *self._state())
        )

    def polish(self, sweeps: int) -> None:
        columns = np.flatnonzero(self.layout.radix > 1)
        before = self.error_by_length()
        for sweep in range(sweeps):
            self.emphasise(1.0 if sweep else 0.0)
            for j in self.rng.permutation(columns).tolist():
                window = _NEIGHBOURS if self.layout.radix[j] > 2 else _FLAG_NEIGHBOURS
                seed = int(self.rng.integers(2**31 - 1))
                if window:
                    _sweep(self.codes, j, self.neighbours(j), window, seed, *self._state())
                _exchange(self.codes, j, _PARTNERS, seed + 1, *self._state())
            after = self.error_by_length()
            if sum(after.values()) > 0.99 * sum(before.values()):
                break
            before = after

    def rows(self) -> np.ndarray:
        """Every row of the table in compact codes, the search's rows as they now are."""
        codes = self.prepared.codes()
        codes[self.prepared.pool] = self.codes
        return codes


def _synthesise(
    base: _Distinct,
    rules: Coarsening,
    *,
    k: int,
    max_length: int,
    seed: int,
    sweeps: int,
    target_error: float,
    choice: dict[str, Any],
) -> Synthetic:
    prepared = _Prepared(base, rules, k, max_length, seed)
    search = _Search(prepared)
    if prepared.rare_in_pool.size:
        search.repair()
        search.polish(sweeps)
    codes = search.rows()
    shuffled = codes[prepared.rng.permutation(codes.shape[0])]
    out = np.zeros(shuffled.shape, dtype=np.int16)
    for j, back in enumerate(prepared.back):
        out[:, j] = back[shuffled[:, j]]
    dropped, added, changed = _changes(prepared.codes(), codes)
    return Synthetic(
        prepared.source.with_codes(out),
        prepared.source,
        k,
        max_length,
        dict(rules),
        dropped_values=dropped,
        added_values=added,
        changed_values=changed,
        rows_added=0,
        mean_absolute_error=search.error_by_length(),
        target_error=target_error,
        choice=choice,
    )


def _screen(base: _Distinct, rules: Coarsening, *, k: int, max_length: int, seed: int) -> float:
    """The error a coarsening is expected to leave: the repair stage's mean absolute error
    for combinations of two and three values, times the polish's typical effect."""
    prepared = _Prepared(base, rules, k, max_length, seed)
    if prepared.rare_in_pool.size == 0:
        return 0.0
    search = _Search(prepared)
    search.repair()
    errors = search.error_by_length()
    return max(
        (errors[length] * _SCREEN_FACTOR.get(length, 1.0) for length in errors if length > 1),
        default=0.0,
    )


def _choose_and_synthesise(
    table: ReleaseTable, *, k: int, max_length: int, seed: int, sweeps: int, target_error: float
) -> Synthetic:
    """The synthesis of the finest step of the coarsening ladder whose counts meet the
    error target (see the module's documentation)."""
    base = _Distinct(table)
    ladder = candidate_coarsenings(table, k)
    screened: dict[int, float] = {}
    last = len(ladder) - 1

    def screen(step: int) -> float:
        if step not in screened:
            screened[step] = _screen(base, ladder[step], k=k, max_length=max_length, seed=seed)
        return screened[step]

    # bisect the ladder for the finest step screened in (the screen is a guess: a margin)
    low, high = 0, last
    while low < high:
        middle = (low + high) // 2
        if screen(middle) <= _SCREEN_MARGIN * target_error:
            high = middle
        else:
            low = middle + 1
    # measure: coarser while the error misses the target; finer while a passing step's own
    # ratio of measured to screened error says the next finer step would pass too
    measured: dict[int, Synthetic] = {}
    step = low
    while step not in measured:
        measured[step] = _synthesise(
            base,
            ladder[step],
            k=k,
            max_length=max_length,
            seed=seed,
            sweeps=sweeps,
            target_error=target_error,
            choice={},
        )
        worst = _worst(measured[step])
        if worst > target_error:
            step = min(step + 1, last)
            continue
        ratio = worst / screen(step) if screen(step) > 0 else 1.0
        if step > 0 and screen(step - 1) * ratio <= _SCREEN_MARGIN * target_error:
            step -= 1
    passing = [s for s, synthetic in measured.items() if _worst(synthetic) <= target_error]
    chosen = min(passing) if passing else min(measured, key=lambda s: _worst(measured[s]))
    choice = {
        "rule": "the finest step of the coarsening ladder whose mean absolute error at "
        f"every combination length is at most {target_error}",
        "ladder": [dict(rules) for rules in ladder],
        "step": chosen,
        "information_kept": round(information_kept(table, ladder[chosen]), 4),
        "screened_error": {str(s): round(e, 3) for s, e in sorted(screened.items())},
        "measured_error": {str(s): round(_worst(m), 3) for s, m in sorted(measured.items())},
    }
    return replace(measured[chosen], choice=choice)


def _worst(synthetic: Synthetic) -> float:
    return max(synthetic.mean_absolute_error.values(), default=0.0)


def k_anonymous_synthetic(
    table: ReleaseTable,
    *,
    k: int = 11,
    max_length: int = 3,
    seed: int = 0,
    coarsening: Coarsening | None = None,
    target_error: float = DEFAULT_TARGET_ERROR,
    sweeps: int = SWEEPS,
) -> Synthetic:
    """One synthetic row per real row; every combination of up to ``max_length`` values in
    the output is held by at least ``k`` real rows (of the coarsened table).

    ``coarsening`` None chooses the finest step of the coarsening ladder whose error meets
    ``target_error``; ``{}`` coarsens nothing.
    """
    check_parameters(k=k, max_length=max_length, n_columns=len(table.columns))
    if table.n_rows < k:
        raise ReleaseRefusedError(
            f"{table.source} has {table.n_rows} rows: fewer than k = {k}, nothing can be released"
        )
    if coarsening is None:
        return _choose_and_synthesise(
            table,
            k=k,
            max_length=max_length,
            seed=seed,
            sweeps=sweeps,
            target_error=target_error,
        )
    choice = {"rule": "given", "information_kept": round(information_kept(table, coarsening), 4)}
    return _synthesise(
        _Distinct(table),
        coarsening,
        k=k,
        max_length=max_length,
        seed=seed,
        sweeps=sweeps,
        target_error=target_error,
        choice=choice,
    )


def _changes(real: np.ndarray, synthetic: np.ndarray) -> tuple[int, int, int]:
    """Cells emptied, filled and given another value, against each row's seed."""
    before = real != 0
    after = synthetic != 0
    dropped = int((before & ~after).sum())
    added = int((~before & after).sum())
    changed = int((before & after & (real != synthetic)).sum())
    return dropped, added, changed


def synthetic_counts_are_k_anonymous(synthetic: Synthetic) -> bool:
    """Whether every combination of the output is held by at least k rows of the source."""
    real = {c: n for c, n, _ in combination_groups(synthetic.source, synthetic.max_length)}
    return all(
        real.get(combination, 0) >= synthetic.k
        for combination, _, _ in combination_groups(synthetic.table, synthetic.max_length)
    )

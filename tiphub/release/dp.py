"""Differentially private release: noisy combination counts, and synthetic rows made from them.

Privacy unit: one row (one victim record). Two tables are neighbours when one is the other
with one row added or removed (OpenDP's symmetric distance 1). All the noise is drawn by
OpenDP, and the guarantee is the one OpenDP's privacy map states for the measurement
:func:`release_measurement` builds, checked before any data is read.

The mechanism, in the order its queries run (one adaptive zCDP composition, converted to
(ε, δ) by OpenDP):

1. **The number of rows and row lengths.** A Gaussian count of rows (the released total
   ``()``, sensitivity 1) and a Gaussian histogram of how many non-empty values each row
   holds (each row sits in one bin: L2 sensitivity 1). The histogram chooses ``k``, the
   most values a row may contribute: the smallest ``k`` that drops under 0.5% of the rows'
   value pairs. Fewer values per row, less noise everywhere after.
2. **Single values** over the codebook domain (never the values the data happens to hold).
   Each row keeps at most ``k`` of its values, chosen by a hash of the row itself, so the
   capping is a row-by-row map and neighbours stay neighbours; a row then adds 1 to at most
   ``k`` counts (L2 sensitivity √k). Gaussian noise on every domain value; a value is
   released when its noisy count clears a threshold set so that, on average, at most half a
   value absent from the data gets through (and never under 3 noise standard deviations).
3. **Pairs** of released single values (a public candidate set: it is built from step 2's
   output). Capped rows add 1 to at most C(k, 2) pairs (L2 sensitivity √C(k, 2)). A pair is
   released when its noisy count clears 1.5 noise standard deviations.

   Steps 2 and 3 are the *capped* design. When it gives pairs less noise (few columns
   against the rows' lengths: :func:`_design_for`), the *tables* design replaces them:
   every cell of the two-way table of each pair of columns, an empty cell being a value,
   is counted (a row is one cell of each of the C(c, 2) tables: L2 sensitivity √C(c, 2),
   no cap), on the budget of steps 2 and 3 together. The tables are then made consistent by
   least squares (post-processing): each column's counts combine every table that holds
   it, and each table moves to its columns' counts. A pair of flags is then measured about
   twice as precisely as by its one noisy cell. Single values and pairs are released from
   these estimates by the thresholds above, each with its own noise standard deviation. On
   the 13-column demo table at ε = 1 this cuts the synthetic rows' error by about 10%.
4. **Longer combinations** (length 3 up to ``max_length``) spend no budget: they are
   post-processing of the released counts. A candidate is a combination whose every
   shorter sub-combination was released; its count is the one of the model with no
   highest-order interaction that reproduces the released sub-combination counts
   (iterative proportional fitting's fixed point, solved exactly on the 2^l table). Measured
   on the demo table, that model errs by about 5 on triples while measuring triples directly
   would cost noise of 30-40 per count at ε = 4, so all the budget goes to lengths 1 and 2.

Why not a threshold mechanism (keys taken from the data, δ paying for the rest): at the
noise a pair count needs, a threshold safe at δ = 1e-6 sits near 6 noise standard deviations
and suppresses about half of the real pairs. The public candidate sets above let the
threshold be chosen for utility; what it lets through from outside the data is counted as
fabrication (about 1-2% of released pairs and triples, well within the 7.6% target).

:func:`dp_synthetic` makes rows from these noisy counts alone (post-processing of the same
measurement, no further budget), using every measured pair, released or not:

* a latent class model (:mod:`tiphub.release.latent`: a mixture of products) is fitted to
  the 1- and 2-counts by weighted least squares. It has few parameters, so it is smooth
  where the counts are noisy; two classes did best on the demo table (1 to 32 were
  measured: more classes follow the noise);
* each count's estimate is the model's plus the posterior mean of the model's miss, under
  a prior on the misses estimated from all the counts (empirical Bayes, nonparametric; a
  miss scales with the predicted count to the power EB_SIZE_POWER): near the model where
  it holds, near the measurement where it misses by more than the noise. At ε = 1 this
  halves the error of the pair counts;
* each triple of values whose three pairs may be formed gets a target: the count of the
  model with no three-way interaction fitted to the estimated single and pair counts (the
  maximum-entropy triple given its pairs). With exact pair counts it errs about 30% less on
  triples than rows fitted to the pairs alone. Only for tables of up to TRIPLE_MAX_ROWS
  rows: a search move costs about 6 times more with triples, and a million rows must be
  released in under 2 minutes;
* rows are drawn from the model without ever forming a pair whose estimate is below
  SYNTHESIS_FLOOR, then a local search (single cells, and swaps of one column's values
  between two rows, which leave every single count as it is) brings their 1-, 2- and
  3-counts to the targets by weighted least squares (a triple weighs TRIPLE_WEIGHT: its
  target is a model's, not a measurement).

Synthetic rows spend SYNTHETIC_SINGLE_SHARE of the budget on single values rather than
SINGLE_SHARE: their search leans on the singles, and the change cost the pairs nothing
measurable. Measured on the demo table at ε = 1 against pac-synth's aggregate-seeded
synthesiser and an earlier Chow-Liu tree sampler fitted to the raw noisy counts, it errs
several times and about 45% less (``bench/release_dp_tuning.py``,
``bench/release_bench.py``).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from itertools import combinations, permutations
from numbers import Integral
from statistics import NormalDist
from typing import Any

import numpy as np
import opendp.prelude as dp
from numba import njit

from tiphub.release.codebook import Column
from tiphub.release.latent import fit_latent_classes, sample_latent_classes
from tiphub.release.table import Combination, ReleaseRefusedError, ReleaseTable

TOTAL_SHARE = 0.01  # of ρ: the number of rows
HISTOGRAM_SHARE = 0.01  # of ρ: row lengths (the choice of k)
SINGLE_SHARE = 0.32  # of the remaining ρ when pairs are measured; pairs get the rest
SYNTHETIC_SINGLE_SHARE = 0.45  # the same, for synthetic rows (their search leans on singles)
# Tuned on the demo table: 0.3-0.35 minimises the summed error of lengths 1 and 2 for
# k = 12-15 (ρ_l ∝ C(k, l)^(1/3) gives 0.34 at k = 15).
TRUNCATION_LOSS = 0.005  # k drops at most this share of the rows' value pairs (or values)
SPURIOUS_BIN = 1e-4  # chance that noise alone makes an empty row-length bin count for k
FABRICATED_SINGLES = 0.5  # expected single values from outside the data that clear τ1
SINGLE_THRESHOLD = 3.0  # and τ1 is at least this many noise standard deviations
PAIR_THRESHOLD = 1.5  # τ2 in noise standard deviations
MODEL_FLOOR = 5.0  # modelled combinations below this count are not released
MAX_LENGTH = 5  # longer combinations make too many candidates to model
POLISH_MOVES_PER_ROW = 100  # local-search proposals per synthetic row
POLISH_MOVES_MAX = 40_000_000  # and in all (about 20 s), for tables of a million rows
GUIDED_TRIES = 16  # random rows tried to find one holding (or lacking) a count to correct
SYNTHESIS_FLOOR = 5.0  # estimated pair counts from which the synthesiser may form a pair
LATENT_CLASSES = 2  # classes of the model the synthetic rows are drawn from
LATENT_ITERATIONS = 3000  # L-BFGS iterations of its fit
EB_ITERATIONS = 300  # EM steps of the empirical-Bayes prior
EB_GRID = 201  # points of its grid
EB_SIZE_POWER = 0.4  # a model's miss of a count scales as (its predicted count) ** this
EB_FIT_COUNTS = 20_000  # the prior is fitted on at most this many counts (memory)
SINGLE_WEIGHT = 3.0  # a single value's error counts this many times a pair's in the search
TRIPLE_WEIGHT = 0.2  # and a triple's (its target is a model's, not a measurement)
TRIPLE_FLOOR = 11.0  # triples the model puts at fewer rows get no target
TRIPLE_MAX_VALUES = 300  # more released values than this: no triple targets (memory: n³)
TRIPLE_MAX_ROWS = 100_000  # nor for more rows: a move costs about 6 times more with them
TRIPLE_IPF_ITERATIONS = 60
_SAFETY = 1.0 + 1e-9  # noise scales a hair above the budget's, against float rounding


# -- refusals ---------------------------------------------------------------------------------
class DpRefusedError(ReleaseRefusedError):
    """A differentially private release cannot be made as asked; no data was read."""


class PrivacyBudgetError(DpRefusedError):
    """ε or δ cannot give a differentially private release."""


class CombinationLengthError(DpRefusedError):
    """The longest combination asked for is out of range."""


class TableTooSmallError(DpRefusedError):
    """The table has nothing to release."""


def _check(table: ReleaseTable | None, epsilon: float, delta: float, max_length: int) -> None:
    if not (isinstance(epsilon, int | float) and math.isfinite(epsilon) and epsilon > 0):
        raise PrivacyBudgetError(f"ε must be a finite number above 0 (got {epsilon!r})")
    if not (isinstance(delta, int | float) and math.isfinite(delta) and 0 <= delta < 1):
        raise PrivacyBudgetError(f"δ must be at least 0 and below 1 (got {delta!r})")
    if delta == 0:
        raise PrivacyBudgetError(
            "δ = 0 is not possible: the Gaussian noise this release adds needs δ > 0 "
            "(1e-6 is usual for tables of thousands of rows)"
        )
    if not isinstance(max_length, Integral) or max_length < 1:
        raise CombinationLengthError(
            f"the longest combination must be at least 1 (got {max_length!r})"
        )
    if max_length > MAX_LENGTH:
        raise CombinationLengthError(
            f"the longest combination can be at most {MAX_LENGTH} (got {max_length})"
        )
    if table is None:
        return
    if max_length > len(table.columns):
        raise CombinationLengthError(
            f"the longest combination ({max_length}) cannot exceed the number of columns "
            f"({len(table.columns)})"
        )
    if table.n_rows == 0:
        raise TableTooSmallError(f"{table.source} has no rows: too small to release anything")


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DpAggregates:
    """Released combination counts: ``()`` is the noisy number of rows."""

    counts: dict[Combination, int]
    epsilon: float
    delta: float
    max_length: int
    parameters: dict[str, Any]  # JSON-ready: the accounting and every noise scale and threshold


@dataclass(frozen=True)
class DpSynthetic:
    """Synthetic rows coded like ``ReleaseTable.codes``, and the counts they were made from."""

    codes: np.ndarray  # (rows, columns) int16; 0 = empty
    columns: tuple[Column, ...]
    aggregates: DpAggregates
    parameters: dict[str, Any]

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])

    def table(self, source: str = "synthetic") -> ReleaseTable:
        return ReleaseTable(self.columns, self.codes, source)


# -- privacy accounting -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Budget:
    rho: float  # total zCDP ρ
    shares: dict[str, float]  # query name -> share of ρ, in query order

    @property
    def rhos(self) -> list[float]:
        return [self.rho * share for share in self.shares.values()]


def _shares(max_length: int, n_columns: int, single_share: float) -> dict[str, float]:
    shares = {"total": TOTAL_SHARE, "row_lengths": HISTOGRAM_SHARE}
    rest = 1.0 - TOTAL_SHARE - HISTOGRAM_SHARE
    if max_length >= 2 and n_columns >= 2:
        shares["length_1"] = rest * single_share
        shares["length_2"] = rest * (1.0 - single_share)
    else:
        shares["length_1"] = rest
    return shares


def _enable() -> None:
    # honest-but-curious: the row capping and counting are our code, declared to OpenDP as
    # user transformations with the stability stated in the module docstring.
    dp.enable_features("contrib", "honest-but-curious")


def _table_domain() -> dp.Domain:
    return dp.user_domain(
        "tiphub.release.ReleaseTable", lambda table: isinstance(table, ReleaseTable)
    )


def _compositor(rhos: Sequence[float], delta: float) -> dp.Measurement:
    """All queries as one adaptive zCDP composition, its privacy stated in (ε, δ)."""
    composition = dp.c.make_adaptive_composition(
        _table_domain(),
        dp.symmetric_distance(),
        dp.zero_concentrated_divergence(),
        d_in=1,
        d_mids=list(rhos),
    )
    return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(composition), delta)


def _privacy(measurement: dp.Measurement) -> tuple[float, float]:
    """OpenDP's (ε, δ) for neighbouring tables (one row added or removed)."""
    epsilon, delta = measurement.map(1)  # type: ignore[no-untyped-call]
    return float(epsilon), float(delta)


def _budget(
    epsilon: float, delta: float, max_length: int, n_columns: int, single_share: float
) -> _Budget:
    """The largest ρ whose composition OpenDP maps to at most (ε, δ)."""
    _enable()
    shares = _shares(max_length, n_columns, single_share)

    def spent(rho: float) -> float:
        return _privacy(_compositor([rho * s for s in shares.values()], delta))[0]

    # ρ-zCDP gives (ρ + 2·sqrt(ρ·ln(1/δ)), δ) at best, more than ε when ρ = ε
    low, high = 0.0, float(epsilon)
    for _ in range(60):
        middle = (low + high) / 2
        if spent(middle) <= epsilon:
            low = middle
        else:
            high = middle
    if low <= 0:
        raise PrivacyBudgetError(f"ε = {epsilon:g} at δ = {delta:g} leaves no budget to spend")
    return _Budget(low, shares)


def release_measurement(
    *,
    epsilon: float,
    delta: float,
    max_length: int = 3,
    n_columns: int = 27,
    single_share: float = SINGLE_SHARE,
) -> dp.Measurement:
    """The OpenDP measurement a release with these parameters runs (``map(1)`` is its (ε, δ)).

    Invoked on a :class:`ReleaseTable` it returns the queryable :func:`dp_aggregates` asks;
    each query is refused by OpenDP if it would spend more than its share.
    """
    _check(None, epsilon, delta, max_length)
    budget = _budget(epsilon, delta, max_length, n_columns, single_share)
    return _compositor(budget.rhos, delta)


def _count_query(
    function: Callable[[ReleaseTable], list[int]], size: int, l2_per_row: float, rho: float
) -> tuple[dp.Measurement, float]:
    """Gaussian noise on integer counts whose L2 sensitivity is ``l2_per_row`` per row."""
    scale = l2_per_row / math.sqrt(2 * rho) * _SAFETY
    transformation = dp.t.make_user_transformation(
        _table_domain(),
        dp.symmetric_distance(),
        dp.vector_domain(dp.atom_domain(T="i64"), size=size),
        dp.l2_distance(T="f64"),
        function=function,
        stability_map=lambda d_in: l2_per_row * d_in,
    )
    return transformation >> dp.m.then_gaussian(scale), scale


# -- counting (numba) -------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _splitmix(x: np.uint64) -> np.uint64:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True)
def _cap_rows(codes: np.ndarray, k: int, seed: np.uint64) -> np.ndarray:
    """Each row keeps at most ``k`` non-empty values: those with the smallest hash of
    (seed, the whole row, column). A function of the row alone, so removing one row from
    the table removes one capped row and changes no other."""
    n, c = codes.shape
    out = codes.copy()
    priority = np.empty(c, np.uint64)
    present = np.empty(c, np.int64)
    for r in range(n):
        m = 0
        for j in range(c):
            if codes[r, j] > 0:
                present[m] = j
                m += 1
        if m <= k:
            continue
        h = _splitmix(seed)
        for j in range(c):
            h = _splitmix(h ^ np.uint64(codes[r, j] + 1) ^ (np.uint64(j) << np.uint64(20)))
        for i in range(m):
            priority[i] = _splitmix(h ^ np.uint64(present[i] + 1))
        # insertion sort of the present columns by priority (at most a few dozen)
        for i in range(1, m):
            p = priority[i]
            col = present[i]
            t = i - 1
            while t >= 0 and priority[t] > p:
                priority[t + 1] = priority[t]
                present[t + 1] = present[t]
                t -= 1
            priority[t + 1] = p
            present[t + 1] = col
        for i in range(k, m):
            out[r, present[i]] = 0
    return out


@njit(cache=True)
def _count_items(codes: np.ndarray, offsets: np.ndarray, n_items: int) -> np.ndarray:
    counts = np.zeros(n_items, np.int64)
    n, c = codes.shape
    for r in range(n):
        for j in range(c):
            code = codes[r, j]
            if code > 0:
                counts[offsets[j] + code - 1] += 1
    return counts


@njit(cache=True)
def _count_pairs(
    codes: np.ndarray, offsets: np.ndarray, pair_id: np.ndarray, n_pairs: int
) -> np.ndarray:
    """Counts of the candidate pairs (``pair_id[a, b]`` ≥ 0 for items a < b)."""
    counts = np.zeros(n_pairs, np.int64)
    n, c = codes.shape
    items = np.empty(c, np.int64)
    for r in range(n):
        m = 0
        for j in range(c):
            code = codes[r, j]
            if code > 0:
                items[m] = offsets[j] + code - 1
                m += 1
        for x in range(m):
            for y in range(x + 1, m):
                index = pair_id[items[x], items[y]]
                if index >= 0:
                    counts[index] += 1
    return counts


# -- the layout of items ----------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """Every (column, value) of the codebook as one item number, in column order."""

    offsets: np.ndarray  # first item of each column
    position: np.ndarray  # column of each item

    @classmethod
    def of(cls, columns: Sequence[Column]) -> _Layout:
        sizes = np.array([len(column.domain) for column in columns], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        position = np.repeat(np.arange(len(columns), dtype=np.int64), sizes)
        return cls(offsets, position)

    @property
    def n_items(self) -> int:
        return len(self.position)

    def pair(self, item: int) -> tuple[int, int]:
        position = int(self.position[item])
        return (position, item - int(self.offsets[position]) + 1)


def _choose_cap(histogram: np.ndarray, scale: float, length: int) -> int:
    """The smallest k that drops at most TRUNCATION_LOSS of the rows' ``length``-combinations.

    Bins that do not stand out of the noise are read as empty: noise in the empty bins of
    long rows would otherwise look like rows of every length and push k to the maximum. The
    bar is set so that the chance of any empty bin clearing it is SPURIOUS_BIN (at 3 noise
    standard deviations, one release in about 50 at 27 columns took k near the maximum and
    doubled every pair's noise).
    """
    values = np.arange(len(histogram))
    held = np.array([math.comb(int(m), length) for m in values], dtype=float)
    bar = max(3.0, NormalDist().inv_cdf(1 - SPURIOUS_BIN / len(histogram)))
    rows = np.where(histogram >= bar * scale, histogram, 0.0)
    if float(rows @ held) <= 0:  # a small table: no bin stands out of the noise
        rows = np.maximum(histogram, 0.0)
    total = float(rows @ held)
    if total <= 0:
        return max(1, len(rows) - 1)
    for k in range(1, len(rows)):
        kept = np.array([math.comb(min(int(m), k), length) for m in values], dtype=float)
        if 1 - float(rows @ kept) / total <= TRUNCATION_LOSS:
            return k
    return len(rows) - 1


# -- the model for longer combinations --------------------------------------------------------
class _Known:
    """Released estimates by combination of item numbers (sorted), for lookups in bulk."""

    def __init__(self, n_items: int, total: float, max_length: int) -> None:
        self.base = n_items + 1
        if self.base**max_length >= 2**63:  # pragma: no cover - more values than any codebook
            raise CombinationLengthError(
                f"combinations of {max_length} values of {n_items} are too many to index"
            )
        self.total = total
        self.keys: dict[int, np.ndarray] = {}
        self.values: dict[int, np.ndarray] = {}

    def key(self, items: np.ndarray) -> np.ndarray:
        key = np.zeros(len(items), dtype=np.int64)
        for j in range(items.shape[1]):
            key = key * self.base + items[:, j] + 1
        return key

    def add(self, items: np.ndarray, values: np.ndarray) -> None:
        length = items.shape[1]
        key = self.key(items)
        order = np.argsort(key)
        self.keys[length] = key[order]
        self.values[length] = values[order].astype(float)

    def get(self, items: np.ndarray) -> np.ndarray:
        """Estimates of the combinations ``items`` (rows); NaN when not released."""
        if items.shape[1] == 0:
            return np.full(len(items), self.total)
        keys = self.keys.get(items.shape[1])
        if keys is None or len(keys) == 0:
            return np.full(len(items), np.nan)
        query = self.key(items)
        at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
        found: np.ndarray = np.where(keys[at] == query, self.values[items.shape[1]][at], np.nan)
        return found

    def has(self, items: np.ndarray) -> np.ndarray:
        held: np.ndarray = ~np.isnan(self.get(items))
        return held


def _no_interaction(known: _Known, candidates: np.ndarray) -> tuple[np.ndarray, int]:
    """Counts of the candidates under the model with no highest-order interaction.

    With every proper sub-combination's count fixed, the 2^l table of "holds / does not
    hold" each of the l values has one free cell, x (rows holding all of them); every
    other cell is x plus or minus known counts (inclusion-exclusion). The model sets the
    l-way log-linear interaction to zero: Σ_S sign(S)·log(cell_S) = 0, increasing in x, so
    bisection finds it. Also returns how many candidates had noisy margins that no table
    fits (see below).
    """
    n, length = candidates.shape
    subsets = [
        frozenset(s) for size in range(length + 1) for s in combinations(range(length), size)
    ]
    margin = {
        s: known.get(candidates[:, sorted(s)]) for s in subsets if len(s) < length
    }  # m(T): rows holding every value of T
    bases = []
    signs = []
    for s in subsets:
        base = np.zeros(n)
        for t in subsets:
            if s <= t and len(t) < length:
                base += (-1) ** (len(t) - len(s)) * margin[t]
        bases.append(base)
        signs.append(float((-1) ** (length - len(s))))
    base_array = np.array(bases)  # (cells, n)
    sign_array = np.array(signs)[:, None]
    low = np.max(np.where(sign_array > 0, -base_array, -np.inf), axis=0)
    high = np.min(np.where(sign_array < 0, base_array, np.inf), axis=0)
    low = np.maximum(low, 0.0)
    feasible = high >= low
    # Noisy margins can contradict each other (no table fits them all). Then x is only kept
    # within [0, its smallest sub-combination] and the cells that cannot be positive are
    # floored inside the logarithm.
    direct = np.min(
        np.where(np.array([len(s) == length - 1 for s in subsets])[:, None], base_array, np.inf),
        axis=0,
    )
    low = np.where(feasible, low, 0.0)
    high = np.where(feasible, high, np.maximum(direct, 0.0))
    for _ in range(60):
        middle = (low + high) / 2
        cells = np.maximum(base_array + sign_array * middle, 1e-300)
        value = np.sum(sign_array * np.log(cells), axis=0)
        below = value < 0
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
    return (low + high) / 2, int((~feasible).sum())


def _extend(
    known: _Known, previous: np.ndarray, adjacent: np.ndarray, position: np.ndarray
) -> np.ndarray:
    """Candidates one value longer than the released ``previous`` combinations: every
    sub-combination released (pairs checked through ``adjacent``, longer ones by lookup)."""
    length = previous.shape[1] + 1
    if len(previous) == 0:
        return np.empty((0, length), dtype=np.int64)
    allowed = adjacent[previous[:, 0]].copy()
    for j in range(1, previous.shape[1]):
        allowed &= adjacent[previous[:, j]]
    allowed &= position[None, :] > position[previous[:, -1]][:, None]
    rows, items = np.nonzero(allowed)
    candidates = np.concatenate([previous[rows], items[:, None]], axis=1)
    if length > 3:
        # the other sub-combinations one value shorter (they hold the new value); shorter
        # ones are then released too, as sub-combinations of released ones
        for drop in range(length - 1):
            keep = [j for j in range(length) if j != drop]
            candidates = candidates[known.has(candidates[:, keep])]
    return candidates


# -- single values and pairs: two designs ----------------------------------------------------
DESIGNS = {
    "capped": "each row capped at k values; Gaussian counts of every single value of the "
    "codebook domain, then of the pairs of released single values",
    "tables": "Gaussian counts of every cell of the two-way table of each pair of columns "
    "(an empty cell is a value), made consistent by least squares: every table of a column "
    "agrees on that column's counts, and all agree on the number of rows",
}


@dataclass(frozen=True)
class _Counted:
    """Single values and pairs as one design measured them."""

    singles: np.ndarray  # released items
    single_counts: np.ndarray  # their counts (int64)
    single_scale: float | np.ndarray  # noise standard deviation: of all, or of each
    candidates: np.ndarray  # (n, 2) every measured pair of released items
    candidate_counts: np.ndarray  # their counts (int64), released or not
    pair_scale: float | np.ndarray
    pair_thresholds: float | np.ndarray  # a pair is released from this count
    total: float | None = None  # the design's own estimate of the number of rows


def _design_for(sizes: Sequence[int], k: int, rhos: dict[str, float]) -> str:
    """The tables design when it gives both pairs and single values less noise, judged from
    public figures (the columns' declared domain sizes, ``sizes``, empty included) and the
    noisy cap k.

    Capped rows add 1 to at most C(k, 2) pair counts, measured on ρ₂: variance
    C(k, 2) / 2ρ₂; and to at most k single values, on ρ₁: k / 2ρ₁. Every row adds 1 to one
    cell of each of the C(c, 2) tables, on ρ₁ + ρ₂: a cell's variance is
    v = C(c, 2) / 2(ρ₁ + ρ₂), before consistency removes part of it; a column's counts
    combine the row sums of its tables, a sum over b cells having variance b·v, so
    v / Σ(1/b) over the column's partners. Measured on the demo table at ε = 1
    (bench/release_bench.py): at 13 columns (k = 11) tables err about 10% less on pairs
    and triples; at 27 columns (k = 14) about 5% more on pairs, where the rule keeps the
    capped design.
    """
    n_columns = len(sizes)
    if "length_2" not in rhos or n_columns < 2:
        return "capped"
    cell = math.comb(n_columns, 2) / (rhos["length_1"] + rhos["length_2"])
    pairs_better = cell <= math.comb(k, 2) / rhos["length_2"]
    inverse = 1.0 / np.asarray(sizes, dtype=float)
    single = cell / (inverse.sum() - inverse)  # each column's partners
    singles_better = float(single.mean()) <= k / rhos["length_1"]
    return "tables" if pairs_better and singles_better else "capped"


def _single_threshold_z(n_items: int) -> float:
    """Noise standard deviations a single value's count must reach to be released: on
    average FABRICATED_SINGLES values absent from the data get through."""
    return max(NormalDist().inv_cdf(1 - FABRICATED_SINGLES / max(n_items, 1)), SINGLE_THRESHOLD)


def _measure_capped(
    queryable: Any,
    layout: _Layout,
    k: int,
    cap_seed: int,
    rhos: dict[str, float],
    shares: dict[str, float],
    parameters: dict[str, Any],
) -> _Counted:
    """Rows capped at ``k`` values; single values over the codebook domain, then pairs of
    the released ones."""
    offsets = layout.offsets
    n_items = layout.n_items

    def singles(data: ReleaseTable) -> list[int]:
        capped = _cap_rows(data.codes, k, np.uint64(cap_seed))
        return [int(v) for v in _count_items(capped, offsets, n_items)]

    query, scale = _count_query(singles, n_items, math.sqrt(k), rhos["length_1"])
    noisy_singles = np.asarray(queryable(query), dtype=np.int64)
    threshold = max(scale * _single_threshold_z(n_items), 1.0)
    released_singles = np.nonzero(noisy_singles >= threshold)[0]
    parameters["lengths"]["1"] = {
        "measured": True,
        "rho": rhos["length_1"],
        "share": shares["length_1"],
        "noise_scale": scale,
        "l2_sensitivity": math.sqrt(k),
        "contributions_per_row": k,
        "threshold": threshold,
        "candidates": n_items,
        "candidates_from": "every value of the codebook domain",
        "released": len(released_singles),
    }
    counted = _Counted(
        released_singles.astype(np.int64),
        noisy_singles[released_singles],
        scale,
        np.empty((0, 2), dtype=np.int64),
        np.empty(0, dtype=np.int64),
        math.inf,
        math.inf,
    )
    if "length_2" not in rhos:
        return counted

    grid = np.meshgrid(released_singles, released_singles, indexing="ij")
    first, second = grid[0].ravel(), grid[1].ravel()
    keep = layout.position[first] < layout.position[second]
    candidates = np.stack([first[keep], second[keep]], axis=1).astype(np.int64)
    pair_id = np.full((n_items, n_items), -1, dtype=np.int64)
    pair_id[candidates[:, 0], candidates[:, 1]] = np.arange(len(candidates))
    n_pairs = len(candidates)
    contributions = math.comb(k, 2)

    def pair_counts_of(data: ReleaseTable) -> list[int]:
        capped = _cap_rows(data.codes, k, np.uint64(cap_seed))
        return [int(v) for v in _count_pairs(capped, offsets, pair_id, n_pairs)]

    entry: dict[str, Any] = {
        "measured": bool(n_pairs and contributions),
        "rho": rhos["length_2"],
        "share": shares["length_2"],
        "l2_sensitivity": math.sqrt(contributions),
        "contributions_per_row": contributions,
        "candidates": n_pairs,
        "candidates_from": "pairs of released single values (post-processing of length 1)",
    }
    parameters["lengths"]["2"] = entry
    if not (n_pairs and contributions):
        return counted
    query, scale = _count_query(pair_counts_of, n_pairs, math.sqrt(contributions), rhos["length_2"])
    threshold = max(PAIR_THRESHOLD * scale, 1.0)
    entry.update({"noise_scale": scale, "threshold": threshold})
    return _Counted(
        counted.singles,
        counted.single_counts,
        counted.single_scale,
        candidates,
        np.asarray(queryable(query), dtype=np.int64),
        scale,
        threshold,
    )


def _count_tables(
    codes: np.ndarray, sizes: np.ndarray, tables: Sequence[tuple[int, int]]
) -> np.ndarray:
    """Every cell of the two-way table of each pair of columns, one table after another
    (row-major; code 0, the empty cell, first)."""
    parts = []
    for first, second in tables:
        cell = codes[:, first].astype(np.int64) * sizes[second] + codes[:, second]
        parts.append(np.bincount(cell, minlength=int(sizes[first] * sizes[second])))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _consistent_tables(
    noisy: list[np.ndarray],
    tables: Sequence[tuple[int, int]],
    variance: float,
    total: tuple[float, float],
) -> tuple[float, list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """Least-squares estimates from noisy two-way tables whose cells all carry ``variance``.

    The number of rows combines the measured total (with its standard deviation) and every
    table's sum, each weighted by the inverse of its variance. Each column's counts
    combine the row sums of its tables (a sum over a table's other column of b cells has
    variance b·σ²), then move evenly to add up to that number. Each table then moves to
    its two columns' counts by the smallest change (an additive correction by row and by
    column). Returns the number of rows, the columns' counts, their variances (one per
    column) and the consistent tables."""
    measured, measured_scale = total
    weights = [1.0 / measured_scale**2] + [1.0 / (y.size * variance) for y in noisy]
    sums = [measured] + [float(y.sum()) for y in noisy]
    rows = float(np.dot(weights, sums) / sum(weights))
    n_columns = max(max(pair) for pair in tables) + 1
    margin_sums: list[np.ndarray] = [np.zeros(0)] * n_columns
    precision = np.zeros(n_columns)
    for (first, second), y in zip(tables, noisy, strict=True):
        for column, sums_along, other in (
            (first, y.sum(1), y.shape[1]),
            (second, y.sum(0), y.shape[0]),
        ):
            if precision[column] == 0:
                margin_sums[column] = np.zeros(len(sums_along))
            margin_sums[column] = margin_sums[column] + sums_along / other
            precision[column] += 1.0 / other
    margins = [
        sums_along / weight for sums_along, weight in zip(margin_sums, precision, strict=True)
    ]
    margins = [margin + (rows - margin.sum()) / len(margin) for margin in margins]
    consistent = []
    for (first, second), y in zip(tables, noisy, strict=True):
        size_first, size_second = y.shape
        consistent.append(
            y
            + (margins[first] - y.sum(1))[:, None] / size_second
            + (margins[second] - y.sum(0))[None, :] / size_first
            - (rows - y.sum()) / (size_first * size_second)
        )
    return rows, margins, variance / precision, consistent


def _measure_tables(
    queryable: Any,
    table: ReleaseTable,
    layout: _Layout,
    total: tuple[float, float],
    rhos: dict[str, float],
    shares: dict[str, float],
    parameters: dict[str, Any],
) -> _Counted:
    """Every two-way table, measured twice (on the budget of singles, then of pairs: two
    Gaussian measurements on ρ₁ and ρ₂ combine to one on ρ₁ + ρ₂), made consistent."""
    n_columns = len(table.columns)
    sizes = np.array([len(column.domain) + 1 for column in table.columns], dtype=np.int64)
    tables = list(combinations(range(n_columns), 2))
    n_cells = int(sum(sizes[a] * sizes[b] for a, b in tables))
    sensitivity = math.sqrt(len(tables))  # a row is in one cell of every table

    def cells(data: ReleaseTable) -> list[int]:
        return [int(v) for v in _count_tables(data.codes, sizes, tables)]

    precision_sum = 0.0
    weighted = np.zeros(n_cells)
    queries = []
    for name in ("length_1", "length_2"):
        query, scale = _count_query(cells, n_cells, sensitivity, rhos[name])
        weighted += np.asarray(queryable(query), dtype=float) / scale**2
        precision_sum += 1.0 / scale**2
        queries.append(
            {
                "rho": rhos[name],
                "share": shares[name],
                "l2_sensitivity": sensitivity,
                "noise_scale": scale,
            }
        )
    variance = 1.0 / precision_sum
    bounds = np.cumsum([0] + [int(sizes[a] * sizes[b]) for a, b in tables])
    noisy = [
        (weighted / precision_sum)[start:end].reshape(sizes[a], sizes[b])
        for (a, b), start, end in zip(tables, bounds[:-1], bounds[1:], strict=True)
    ]
    rows, margins, margin_variance, consistent = _consistent_tables(noisy, tables, variance, total)

    z = _single_threshold_z(layout.n_items)
    margin_scale = np.sqrt(margin_variance)
    thresholds = np.maximum(z * margin_scale, 1.0)
    released_codes = [
        np.nonzero(margins[column][1:] >= thresholds[column])[0] + 1 for column in range(n_columns)
    ]
    singles = np.concatenate(
        [layout.offsets[column] + codes - 1 for column, codes in enumerate(released_codes)]
    ).astype(np.int64)
    single_counts = np.concatenate(
        [np.rint(margins[column][codes]) for column, codes in enumerate(released_codes)]
    ).astype(np.int64)
    single_scale = margin_scale[layout.position[singles]]

    candidates, counts, scales = [], [], []
    for (first, second), x in zip(tables, consistent, strict=True):
        kept_first, kept_second = released_codes[first], released_codes[second]
        if len(kept_first) == 0 or len(kept_second) == 0:
            continue
        grid = np.meshgrid(kept_first, kept_second, indexing="ij")
        candidates.append(
            np.stack(
                [
                    layout.offsets[first] + grid[0].ravel() - 1,
                    layout.offsets[second] + grid[1].ravel() - 1,
                ],
                axis=1,
            )
        )
        counts.append(np.rint(x[np.ix_(kept_first, kept_second)]).ravel())
        size_first, size_second = x.shape
        # the cell's own noise after the correction, and its columns' counts' noise
        scales.append(
            np.full(
                grid[0].size,
                math.sqrt(
                    variance * (1 - 1 / size_first) * (1 - 1 / size_second)
                    + margin_variance[first] / size_second**2
                    + margin_variance[second] / size_first**2
                ),
            )
        )
    pair_items = (
        np.concatenate(candidates).astype(np.int64) if candidates else np.empty((0, 2), np.int64)
    )
    pair_counts = np.concatenate(counts).astype(np.int64) if counts else np.empty(0, np.int64)
    pair_scale = np.concatenate(scales) if scales else np.empty(0)
    pair_thresholds = np.maximum(PAIR_THRESHOLD * pair_scale, 1.0)

    parameters["tables"] = {
        "tables": len(tables),
        "cells": n_cells,
        "queries": queries,
        "cell_noise_scale": math.sqrt(variance),
        "estimate": "least squares under the tables' shared margins (post-processing)",
        "rows": "the released number of rows combines the total's count and every table's sum",
    }
    parameters["lengths"]["1"] = {
        "measured": True,
        "from": "the columns' counts, from every table that holds the column",
        "noise_scale_by_column": dict(zip(table.names, margin_scale.tolist(), strict=True)),
        "threshold": f"{z:.3f} noise standard deviations of the column's count, at least 1",
        "candidates": layout.n_items,
        "candidates_from": "every value of the codebook domain",
        "released": len(singles),
    }
    parameters["lengths"]["2"] = {
        "measured": True,
        "from": "the consistent two-way tables",
        "noise_scale": {
            "smallest": float(pair_scale.min()) if len(pair_scale) else None,
            "largest": float(pair_scale.max()) if len(pair_scale) else None,
        },
        "threshold": f"{PAIR_THRESHOLD:g} noise standard deviations of the cell, at least 1",
        "candidates": len(pair_items),
        "candidates_from": "pairs of released single values (post-processing of the tables)",
    }
    return _Counted(
        singles,
        single_counts,
        single_scale,
        pair_items,
        pair_counts,
        pair_scale,
        pair_thresholds,
        rows,
    )


# -- the measurement --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Measured:
    aggregates: DpAggregates
    layout: _Layout
    total: float
    singles: np.ndarray  # released single items
    single_counts: np.ndarray
    pairs: np.ndarray  # (n, 2) released pairs of items
    pair_counts: np.ndarray
    seed: int
    candidate_pairs: np.ndarray  # every measured pair, released or not
    candidate_counts: np.ndarray  # their noisy counts
    pair_scale: float | np.ndarray  # noise standard deviation: of all, or of each
    single_scale: float | np.ndarray


def _measure(
    table: ReleaseTable,
    epsilon: float,
    delta: float,
    max_length: int,
    seed: int | None,
    single_share: float = SINGLE_SHARE,
    design: str = "auto",
) -> _Measured:
    _check(table, epsilon, delta, max_length)
    if design not in ("auto", *DESIGNS):
        raise DpRefusedError(
            f"unknown measurement design {design!r} (choose auto, capped or tables)"
        )
    _enable()
    max_length = int(max_length)
    n_columns = len(table.columns)
    budget = _budget(epsilon, delta, max_length, n_columns, single_share)
    mechanism = _compositor(budget.rhos, delta)
    epsilon_spent, delta_spent = _privacy(mechanism)
    if epsilon_spent > epsilon * _SAFETY or delta_spent > delta * _SAFETY:  # pragma: no cover
        raise PrivacyBudgetError("OpenDP maps this release beyond the budget asked for")
    cap_seed = seed if seed is not None else secrets.randbits(63)
    layout = _Layout.of(table.columns)
    rhos = dict(zip(budget.shares, budget.rhos, strict=True))
    queryable = mechanism(table)
    parameters: dict[str, Any] = {
        "mechanism": "adaptive zCDP composition of Gaussian counts (OpenDP), converted to (ε, δ)",
        "privacy_unit": "one row (one victim record); neighbours differ by one added or removed row",
        "epsilon": epsilon,
        "delta": delta,
        "rho": budget.rho,
        "opendp": {
            "version": version("opendp"),
            "map": {"epsilon": epsilon_spent, "delta": delta_spent},
        },
        "max_length": max_length,
        "domains": "declared by the release codebook, never read from the data",
        "lengths": {},
    }

    # 1. the number of rows, and row lengths for the cap k
    query, total_scale = _count_query(lambda data: [data.n_rows], 1, 1.0, rhos["total"])
    total = max(0.0, float(queryable(query)[0]))
    parameters["total"] = {
        "rho": rhos["total"],
        "share": budget.shares["total"],
        "noise_scale": total_scale,
        "l2_sensitivity": 1.0,
    }

    def row_lengths(data: ReleaseTable) -> list[int]:
        held = (data.codes > 0).sum(axis=1)
        return [int(v) for v in np.bincount(held, minlength=n_columns + 1)]

    query, scale = _count_query(row_lengths, n_columns + 1, 1.0, rhos["row_lengths"])
    histogram = np.asarray(queryable(query), dtype=float)
    measured_length = 2 if "length_2" in rhos else 1
    k = _choose_cap(histogram, scale, measured_length)
    parameters["row_lengths"] = {
        "rho": rhos["row_lengths"],
        "share": budget.shares["row_lengths"],
        "noise_scale": scale,
        "l2_sensitivity": 1.0,
    }
    parameters["contribution_cap"] = {
        "values_per_row": k,
        "rule": f"smallest k losing at most {TRUNCATION_LOSS:.1%} of the rows' "
        f"{'pairs' if measured_length == 2 else 'values'} (from the noisy row-length histogram)",
        "choice": "the k values with the smallest hash of (seed, row, column)",
    }
    if design == "auto":
        design = _design_for([len(column.domain) + 1 for column in table.columns], k, rhos)
    if design == "tables" and "length_2" in rhos:
        counted = _measure_tables(
            queryable, table, layout, (total, total_scale), rhos, budget.shares, parameters
        )
    else:
        design = "capped"
        counted = _measure_capped(queryable, layout, k, cap_seed, rhos, budget.shares, parameters)
    parameters["design"] = {"name": design, "description": DESIGNS[design]}
    if design == "tables":
        parameters["contribution_cap"] = {
            "values_per_row": k,
            "use": "only to choose the design: the tables design caps no row",
        }
    total = max(0.0, counted.total) if counted.total is not None else total
    n_items = layout.n_items
    counts: dict[Combination, int] = {(): round(total)}
    released_singles, single_counts = counted.singles, counted.single_counts
    for item, count in zip(released_singles.tolist(), single_counts.tolist(), strict=True):
        counts[(layout.pair(item),)] = int(count)
    known = _Known(n_items, max(total, 1.0), max_length)
    known.add(released_singles[:, None], single_counts.astype(float))
    chosen = counted.candidate_counts >= counted.pair_thresholds
    pairs, pair_counts = counted.candidates[chosen], counted.candidate_counts[chosen]
    if "2" in parameters["lengths"]:
        parameters["lengths"]["2"]["released"] = len(pairs)
    for (a, b), count in zip(pairs.tolist(), pair_counts.tolist(), strict=True):
        counts[(layout.pair(a), layout.pair(b))] = int(count)
    known.add(pairs, pair_counts.astype(float))
    adjacent = np.zeros((n_items, n_items), dtype=bool)
    adjacent[pairs[:, 0], pairs[:, 1]] = True
    adjacent[pairs[:, 1], pairs[:, 0]] = True

    # 4. longer combinations: the no-interaction model, no budget
    previous = pairs
    for length in range(3, max_length + 1):
        candidates = _extend(known, previous, adjacent, layout.position)
        estimates, inconsistent = (
            _no_interaction(known, candidates) if len(candidates) else (np.empty(0), 0)
        )
        chosen = estimates >= MODEL_FLOOR
        previous = candidates[chosen]
        values = np.rint(estimates[chosen]).astype(np.int64)
        known.add(previous, values.astype(float))
        for combination, count in zip(previous.tolist(), values.tolist(), strict=True):
            counts[tuple(layout.pair(item) for item in combination)] = int(count)
        parameters["lengths"][str(length)] = {
            "measured": False,
            "rho": 0.0,
            "estimate": f"no-{length}-way-interaction model fitted to the released counts of "
            "shorter combinations (post-processing)",
            "candidates": len(candidates),
            "candidates_from": "combinations whose every shorter sub-combination was released",
            "threshold": MODEL_FLOOR,
            "inconsistent_margins": inconsistent,
            "released": len(previous),
        }

    aggregates = DpAggregates(counts, float(epsilon), float(delta), max_length, parameters)
    return _Measured(
        aggregates,
        layout,
        total,
        released_singles.astype(np.int64),
        single_counts.astype(np.int64),
        pairs,
        pair_counts,
        cap_seed,
        counted.candidates,
        counted.candidate_counts,
        counted.pair_scale,
        counted.single_scale,
    )


def dp_aggregates(
    table: ReleaseTable,
    *,
    epsilon: float,
    delta: float,
    max_length: int = 3,
    seed: int | None = None,
    design: str = "auto",
) -> DpAggregates:
    """Differentially private counts of the combinations of 1 to ``max_length`` values.

    ``seed`` fixes which values a row over the cap keeps (the noise is OpenDP's and never
    repeats). ``design`` is how single values and pairs are measured (:data:`DESIGNS`;
    ``auto``: the one with less noise on pairs). Refuses (a ``ValueError``) bad ε, δ or
    length, and an empty table.
    """
    return _measure(table, epsilon, delta, max_length, seed, design=design).aggregates


# -- synthesis --------------------------------------------------------------------------------
@njit(cache=True)
def _change(
    rows: np.ndarray,
    r: int,
    p: int,
    new: int,
    feature: np.ndarray,
    triple: np.ndarray,
    current: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
) -> float:
    """How much setting cell (r, p) to ``new`` (-1: empty) changes Σ weight·(count - target)²;
    +inf when ``new`` would form a pair that was not released with a value of the row.
    ``triple[a, b, c]`` is the feature of a triple with a target (-1: none; a 1×1×1 array:
    no triples)."""
    old = rows[r, p]
    n_columns = rows.shape[1]
    if new >= 0:
        for q in range(n_columns):
            b = rows[r, q]
            if q != p and b >= 0 and feature[new, b] < 0:
                return np.inf
    change = 0.0
    if old >= 0:
        f = feature[old, old]
        change += weights[f] * (1.0 - 2.0 * (current[f] - targets[f]))
    if new >= 0:
        f = feature[new, new]
        change += weights[f] * (1.0 + 2.0 * (current[f] - targets[f]))
    for q in range(n_columns):
        b = rows[r, q]
        if q == p or b < 0:
            continue
        if old >= 0:
            f = feature[old, b]
            change += weights[f] * (1.0 - 2.0 * (current[f] - targets[f]))
        if new >= 0:
            f = feature[new, b]
            change += weights[f] * (1.0 + 2.0 * (current[f] - targets[f]))
        if triple.shape[0] == 1:
            continue
        for q2 in range(q + 1, n_columns):
            c = rows[r, q2]
            if q2 == p or c < 0:
                continue
            if old >= 0:
                f = triple[old, b, c]
                if f >= 0:
                    change += weights[f] * (1.0 - 2.0 * (current[f] - targets[f]))
            if new >= 0:
                f = triple[new, b, c]
                if f >= 0:
                    change += weights[f] * (1.0 + 2.0 * (current[f] - targets[f]))
    return change


@njit(cache=True)
def _apply(
    rows: np.ndarray,
    r: int,
    p: int,
    new: int,
    feature: np.ndarray,
    triple: np.ndarray,
    current: np.ndarray,
) -> None:
    old = rows[r, p]
    n_columns = rows.shape[1]
    if old >= 0:
        current[feature[old, old]] -= 1
    if new >= 0:
        current[feature[new, new]] += 1
    for q in range(n_columns):
        b = rows[r, q]
        if q == p or b < 0:
            continue
        if old >= 0:
            current[feature[old, b]] -= 1
        if new >= 0:
            current[feature[new, b]] += 1
        if triple.shape[0] == 1:
            continue
        for q2 in range(q + 1, n_columns):
            c = rows[r, q2]
            if q2 == p or c < 0:
                continue
            if old >= 0 and triple[old, b, c] >= 0:
                current[triple[old, b, c]] -= 1
            if new >= 0 and triple[new, b, c] >= 0:
                current[triple[new, b, c]] += 1
    rows[r, p] = new


@njit(cache=True)
def _other_state(column: int, item: int, col_start: np.ndarray, col_len: np.ndarray) -> int:
    """A random state of ``column`` other than ``item``: empty or another value."""
    j = np.random.randint(col_len[column])
    if j == 0:
        return -1
    other = int(col_start[column] + j - 1)
    return other + 1 if other >= item else other


@njit(cache=True)
def _try_swap(
    rows: np.ndarray,
    r1: int,
    r2: int,
    p: int,
    feature: np.ndarray,
    triple: np.ndarray,
    current: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
) -> bool:
    """Swap the values of column ``p`` between rows ``r1`` and ``r2`` when that lowers the
    search's error (a row of -1, one a search did not find: nothing to try). A swap leaves
    every single-value count as it is, so it can fix a pair that single-cell moves cannot
    fix without breaking a well-fitted single value."""
    if r1 < 0 or r2 < 0 or r1 == r2:
        return False
    first = rows[r1, p]
    second = rows[r2, p]
    if first == second:
        return False
    change = _change(rows, r1, p, second, feature, triple, current, targets, weights)
    if not np.isfinite(change):
        return False
    _apply(rows, r1, p, second, feature, triple, current)
    change += _change(rows, r2, p, first, feature, triple, current, targets, weights)
    if change < 0:
        _apply(rows, r2, p, first, feature, triple, current)
        return True
    _apply(rows, r1, p, first, feature, triple, current)
    return False


@njit(cache=True)
def _find_row(
    rows: np.ndarray, pa: int, a: int, want_a: bool, pb: int, b: int, want_b: bool
) -> int:
    """A random row that holds (or lacks) ``a`` and holds (or lacks) ``b``; -1 if none is
    found in GUIDED_TRIES draws."""
    n = rows.shape[0]
    for _ in range(GUIDED_TRIES):
        candidate = np.random.randint(n)
        if (rows[candidate, pa] == a) == want_a and (rows[candidate, pb] == b) == want_b:
            return candidate
    return -1


@njit(cache=True)
def _find_row_holding(
    rows: np.ndarray, pa: int, a: int, pb: int, b: int, pc: int, c: int, want_c: bool
) -> int:
    """A random row holding ``a`` and ``b`` that holds (or lacks) ``c``; -1 if none is
    found in GUIDED_TRIES draws."""
    n = rows.shape[0]
    for _ in range(GUIDED_TRIES):
        candidate = np.random.randint(n)
        if (
            rows[candidate, pa] == a
            and rows[candidate, pb] == b
            and (rows[candidate, pc] == c) == want_c
        ):
            return candidate
    return -1


@njit(cache=True)
def _polish(
    rows: np.ndarray,
    col_start: np.ndarray,
    col_len: np.ndarray,
    item_column: np.ndarray,
    feature: np.ndarray,
    triple: np.ndarray,
    feature_items: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    moves: int,
    seed: int,
) -> int:
    """Local search, kept when a move lowers Σ weight·(count - target)² over the single
    values and the pairs (``feature``: -1 for pairs never to be formed): least squares,
    the fit the Gaussian noise of the targets calls for.

    Moves come in four kinds, in turn: a cell set to another state, or a column's values
    swapped between two rows, each either random or aimed at a count that is off its
    target (chosen in proportion to how far off). An aimed cell move finds a row that holds
    (too many) or lacks (too few) the count and changes one of its cells; an aimed swap
    moves one value of an off pair to a row that lacks the other value (too many) or brings
    it to one that holds it (too few)."""
    np.random.seed(seed)
    n, n_columns = rows.shape
    n_features = len(targets)
    current = np.zeros(n_features)
    for r in range(n):
        for p in range(n_columns):
            a = rows[r, p]
            if a < 0:
                continue
            current[feature[a, a]] += 1
            for q in range(p + 1, n_columns):
                b = rows[r, q]
                if b < 0:
                    continue
                current[feature[a, b]] += 1
                if triple.shape[0] == 1:
                    continue
                for q2 in range(q + 1, n_columns):
                    c = rows[r, q2]
                    if c >= 0 and triple[a, b, c] >= 0:
                        current[triple[a, b, c]] += 1
    active = np.nonzero(col_len > 0)[0]
    if len(active) == 0 or n < 2:
        return 0
    cumulative = np.zeros(n_features)
    accepted = 0
    for move in range(moves):
        if move % 4096 == 0:
            running = 0.0
            for f in range(n_features):
                running += weights[f] * abs(current[f] - targets[f])
                cumulative[f] = running
        kind = move % 4
        if kind < 2 and cumulative[-1] > 0:
            f = np.searchsorted(cumulative, np.random.random() * cumulative[-1])
            f = min(f, n_features - 1)
            a = feature_items[f, 0]
            b = feature_items[f, 1]
            c = feature_items[f, 2]
            short = current[f] < targets[f]
            if c >= 0:  # a triple: bring its third value in, or take it out, by a swap
                turn = np.random.randint(3)
                if turn == 1:
                    a, c = c, a
                elif turn == 2:
                    b, c = c, b
                pa = item_column[a]
                pb = item_column[b]
                pc = item_column[c]
                r1 = _find_row_holding(rows, pa, a, pb, b, pc, c, not short)
                r2 = _find_row(rows, pc, c, short, pc, c, short)
                if _try_swap(rows, r1, r2, pc, feature, triple, current, targets, weights):
                    accepted += 1
                continue
            if a != b and np.random.random() < 0.5:
                a, b = b, a  # which side of the pair to change
            pa = item_column[a]
            pb = item_column[b]
            if kind == 1 and a != b:
                if short:
                    r1 = _find_row(rows, pa, a, True, pb, b, False)
                    r2 = _find_row(rows, pa, a, False, pb, b, True)
                else:
                    r1 = _find_row(rows, pa, a, True, pb, b, True)
                    r2 = _find_row(rows, pa, a, False, pb, b, False)
                if _try_swap(rows, r1, r2, pb, feature, triple, current, targets, weights):
                    accepted += 1
                continue
            r = -1
            p = -1
            new = -1
            if a == b:
                r = _find_row(rows, pa, a, not short, pa, a, not short)
                p = pa
                new = a if short else _other_state(pa, a, col_start, col_len)
            else:
                r = _find_row(rows, pa, a, True, pb, b, not short)
                p = pb
                new = b if short else _other_state(pb, b, col_start, col_len)
        elif kind == 3:
            p = active[np.random.randint(len(active))]
            r1 = np.random.randint(n)
            r2 = np.random.randint(n)
            if _try_swap(rows, r1, r2, p, feature, triple, current, targets, weights):
                accepted += 1
            continue
        else:
            r = np.random.randint(n)
            p = active[np.random.randint(len(active))]
            s = np.random.randint(col_len[p] + 1)
            new = -1 if s == 0 else col_start[p] + s - 1
        if r < 0 or new == rows[r, p]:
            continue
        if _change(rows, r, p, new, feature, triple, current, targets, weights) < 0:
            _apply(rows, r, p, new, feature, triple, current)
            accepted += 1
    return accepted


def _shrunk(
    model: np.ndarray, noisy: np.ndarray, scale: float | np.ndarray
) -> tuple[np.ndarray, float]:
    """Empirical-Bayes estimates of counts measured as ``noisy`` (Gaussian noise of standard
    deviation ``scale``, one for all or one per count) that a model predicts as ``model``.

    A model misses big counts by more than small ones: a count's miss (true count − model)
    is taken to be ``size · u`` with ``size = max(model, 1) ** EB_SIZE_POWER`` and ``u``
    drawn from one prior shared by all the counts. That prior is estimated from the data
    themselves: the nonparametric maximum-likelihood prior on a grid (Kiefer-Wolfowitz,
    fitted by EM; on an even sample of EB_FIT_COUNTS counts when there are more). Each
    estimate is the model plus the posterior mean of its miss: where the model holds the
    estimate stays near it; where it misses by much more than the noise the measurement
    wins. Returns the estimates and the median share of the disagreement kept."""
    if len(noisy) == 0 or not np.all(np.isfinite(scale)):
        return model.copy(), 0.0
    scales = np.broadcast_to(np.asarray(scale, float), len(noisy))
    residual = noisy - model
    size = np.maximum(model, 1.0) ** EB_SIZE_POWER
    reach = max(float(np.abs(residual / size).max()), float(scales.max()) / float(size.max()))
    unit = np.linspace(-reach, reach, EB_GRID)

    def likelihood(members: np.ndarray) -> np.ndarray:
        misses = size[members, None] * unit[None, :]
        standard = (residual[members, None] - misses) / scales[members, None]
        return np.asarray(np.exp(-0.5 * standard**2))

    def posterior(joint: np.ndarray) -> np.ndarray:
        return np.asarray(joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-300))

    fitted = np.linspace(0, len(noisy) - 1, min(len(noisy), EB_FIT_COUNTS)).astype(np.int64)
    fitted_likelihood = likelihood(fitted)
    prior = np.full(EB_GRID, 1.0 / EB_GRID)
    for _ in range(EB_ITERATIONS):
        prior = posterior(fitted_likelihood * prior).mean(axis=0)
    shift = np.zeros(len(noisy))
    for first in range(0, len(noisy), EB_FIT_COUNTS):
        members = np.arange(first, min(first + EB_FIT_COUNTS, len(noisy)))
        shift[members] = posterior(likelihood(members) * prior) @ unit * size[members]
    with np.errstate(divide="ignore", invalid="ignore"):
        kept = np.where(residual != 0, shift / residual, 0.0)
    return model + shift, float(np.median(np.clip(kept, 0.0, 1.0)))


def _triple_targets(
    singles: np.ndarray,
    pairs: np.ndarray,
    pair_counts: np.ndarray,
    column_of: np.ndarray,
    total: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Item triples whose three pairs are usable, with the count the model with no three-way
    interaction gives them from the estimated single and pair counts (the 2×2×2 table of
    holding each value, fitted to its pair margins by iterative proportional fitting), when
    that count reaches TRIPLE_FLOOR."""
    n = len(singles)
    if len(pairs) == 0 or n > TRIPLE_MAX_VALUES:
        return np.empty((0, 3), np.int64), np.empty(0)
    count = np.zeros((n, n))
    count[pairs[:, 0], pairs[:, 1]] = pair_counts
    count[pairs[:, 1], pairs[:, 0]] = pair_counts
    adjacent = count > 0
    found = []
    for a in range(n):
        later = np.nonzero(adjacent[a, a + 1 :])[0] + a + 1
        if len(later) < 2:
            continue
        inner = adjacent[np.ix_(later, later)]
        i, j = np.nonzero(np.triu(inner, 1))
        found.append(np.stack([np.full(len(i), a), later[i], later[j]], axis=1))
    if not found:
        return np.empty((0, 3), np.int64), np.empty(0)
    items = np.concatenate(found)
    items = items[
        (column_of[items[:, 0]] != column_of[items[:, 1]])
        & (column_of[items[:, 0]] != column_of[items[:, 2]])
        & (column_of[items[:, 1]] != column_of[items[:, 2]])
    ]
    a, b, c = items.T
    table = np.full((len(items), 2, 2, 2), total / 8.0)
    margins = []
    for x, y in ((a, b), (a, c), (b, c)):
        nx, ny, nxy = singles[x], singles[y], count[x, y]
        margin = np.stack(
            [np.stack([total - nx - ny + nxy, ny - nxy], 1), np.stack([nx - nxy, nxy], 1)], 1
        )
        margins.append(np.maximum(margin, 1e-9))
    for _ in range(TRIPLE_IPF_ITERATIONS):
        table *= (margins[0] / np.maximum(table.sum(3), 1e-12))[:, :, :, None]
        table *= (margins[1] / np.maximum(table.sum(2), 1e-12))[:, :, None, :]
        table *= (margins[2] / np.maximum(table.sum(1), 1e-12))[:, None, :, :]
    estimates = table[:, 1, 1, 1]
    kept = estimates >= TRIPLE_FLOOR
    return items[kept].astype(np.int64), estimates[kept]


def _synthesise(
    measured: _Measured, n_columns: int, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    layout = measured.layout
    items = measured.singles  # sorted item numbers, hence by column
    n_local = len(items)
    n_rows = max(0, round(measured.total))
    if n_local == 0 or n_rows == 0:
        return np.zeros((n_rows, n_columns), dtype=np.int16), {"classes": 0}
    local = np.full(layout.n_items, -1, dtype=np.int64)
    local[items] = np.arange(n_local)
    column_of = layout.position[items]
    col_len = np.bincount(column_of, minlength=n_columns).astype(np.int64)
    col_start = np.zeros(n_columns, dtype=np.int64)
    col_start[1:] = np.cumsum(col_len)[:-1]
    singles = measured.single_counts.astype(float)
    pair_local = (
        local[measured.candidate_pairs]
        if len(measured.candidate_pairs)
        else np.empty((0, 2), np.int64)
    )
    pair_noisy = measured.candidate_counts.astype(float)
    total = max(measured.total, 1.0)

    model = fit_latent_classes(
        column_of,
        singles,
        measured.single_scale,
        pair_local,
        pair_noisy,
        measured.pair_scale,
        total,
        classes=LATENT_CLASSES,
        rng=rng,
        iterations=LATENT_ITERATIONS,
    )
    single_targets, single_kept = _shrunk(model.single_counts(), singles, measured.single_scale)
    pair_targets, pair_kept = _shrunk(
        model.pair_counts(pair_local), pair_noisy, measured.pair_scale
    )
    single_targets = np.maximum(single_targets, 0.0)
    pair_targets = np.maximum(pair_targets, 0.0)
    usable = pair_targets >= SYNTHESIS_FLOOR
    allowed = np.zeros((n_local, n_local), dtype=np.bool_)
    allowed[pair_local[usable, 0], pair_local[usable, 1]] = True
    allowed[pair_local[usable, 1], pair_local[usable, 0]] = True
    rows = sample_latent_classes(
        n_rows,
        model.class_weights,
        model.value_probabilities,
        col_start,
        col_len,
        allowed,
        int(rng.integers(2**31)),
    )

    # features: single value a -> a; usable pair (a, b) -> n_local + index; else -1
    used = pair_local[usable]
    feature = np.full((n_local, n_local), -1, dtype=np.int64)
    feature[np.arange(n_local), np.arange(n_local)] = np.arange(n_local)
    pair_feature = n_local + np.arange(len(used))
    feature[used[:, 0], used[:, 1]] = pair_feature
    feature[used[:, 1], used[:, 0]] = pair_feature
    n_features = n_local + len(used)
    triple_items, triple_targets = (
        _triple_targets(single_targets, used, pair_targets[usable], column_of, total)
        if n_rows <= TRIPLE_MAX_ROWS
        else (np.empty((0, 3), np.int64), np.empty(0))
    )
    triple = np.full((1, 1, 1), -1, dtype=np.int32)
    if len(triple_items):
        triple = np.full((n_local, n_local, n_local), -1, dtype=np.int32)
        ids = n_features + np.arange(len(triple_items))
        for first, second, third in permutations(triple_items.T):
            triple[first, second, third] = ids
    targets = np.concatenate([single_targets, pair_targets[usable], triple_targets])
    weights = np.concatenate(
        [
            np.full(n_local, SINGLE_WEIGHT),
            np.ones(len(used)),
            np.full(len(triple_items), TRIPLE_WEIGHT),
        ]
    )
    moves = min(POLISH_MOVES_PER_ROW * n_rows, POLISH_MOVES_MAX)
    feature_items = np.concatenate(
        [
            np.stack([np.arange(n_local), np.arange(n_local), np.full(n_local, -1)], axis=1),
            np.concatenate([used, np.full((len(used), 1), -1)], axis=1),
            triple_items.reshape(-1, 3),
        ]
    ).astype(np.int64)
    accepted = _polish(
        rows,
        col_start,
        col_len,
        column_of.astype(np.int64),
        feature,
        triple,
        feature_items,
        targets,
        weights,
        moves,
        int(rng.integers(2**31)),
    )

    codes = np.zeros((n_rows, n_columns), dtype=np.int16)
    codebook_code = items - layout.offsets[column_of] + 1
    for p in range(n_columns):
        column = rows[:, p]
        present = column >= 0
        codes[present, p] = codebook_code[column[present]]
    details: dict[str, Any] = {
        "classes": LATENT_CLASSES,
        "fit_iterations": model.iterations,
        "noisy_share_kept_singles": round(single_kept, 4),
        "noisy_share_kept_pairs": round(pair_kept, 4),
        "pairs_usable": int(usable.sum()),
        "triple_targets": len(triple_items),
        "moves_proposed": moves,
        "moves_accepted": int(accepted),
    }
    return codes, details


def dp_synthetic(
    table: ReleaseTable,
    *,
    epsilon: float,
    delta: float,
    max_length: int = 3,
    seed: int | None = None,
    design: str = "auto",
) -> DpSynthetic:
    """Differentially private synthetic rows, about as many as the (noisy) number of rows.

    Made from the noisy counts :func:`dp_aggregates` measures (post-processing: the same ε
    and δ, and ``aggregates`` is that release); their values are released codebook values,
    and two values whose pair's estimated count is below SYNTHESIS_FLOOR never share a row.
    """
    measured = _measure(table, epsilon, delta, max_length, seed, SYNTHETIC_SINGLE_SHARE, design)
    rng = np.random.default_rng(measured.seed)
    codes, details = _synthesise(measured, len(table.columns), rng)
    parameters: dict[str, Any] = {
        **measured.aggregates.parameters,
        "synthesis": {
            "method": "latent-class-model",
            "description": "post-processing of the noisy 1- and 2-counts (every measured "
            "pair, released or not): a latent class model (a mixture of products) fitted to "
            "them by weighted least squares; each count's estimate is the model's plus the "
            "posterior mean of its miss (nonparametric empirical Bayes); triples get the "
            "count of the model with no three-way interaction fitted to those estimates; "
            "rows are drawn from the model, never forming a pair whose estimate is below "
            "the pair floor, then a local search (cell changes and swaps between rows) "
            "brings their 1-, 2- and 3-counts to the targets (no further privacy budget)",
            "pair_floor": SYNTHESIS_FLOOR,
            "triple_floor": TRIPLE_FLOOR,
            "triple_weight": TRIPLE_WEIGHT,
            "compared_with": "on the demo table at the same ε and δ, pac-synth's "
            "DpAggregateSeededSynthesizer errs several times more, and a Chow-Liu tree "
            "sampler fitted to the raw noisy counts about 1.6 times more",
            "rows": int(codes.shape[0]),
            "rows_from": "the noisy total",
            "moves_per_row": POLISH_MOVES_PER_ROW,
            "single_weight": SINGLE_WEIGHT,
            **details,
        },
    }
    return DpSynthetic(codes, tuple(table.columns), measured.aggregates, parameters)

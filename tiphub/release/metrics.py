"""Utility and disclosure risk of a release, measured against the real rows.

Everything here is counted afresh with plain Python (:func:`itertools.combinations` over
each row's non-empty values, :class:`collections.Counter`), deliberately independent of
the array code the generators use (:func:`tiphub.release.table.count_combinations` and
friends): a bug in the generators' counting cannot then hide itself in the measurement.

Rows are mappings of column name to value; an empty (or blank) cell is "not recorded" and
is never part of a combination. A combination is written as ``column=value`` pairs joined
by ``;`` in the order of ``columns`` (``gender=Woman;citizenship=ROU``); released keys in
another column order are put into that order before comparing. The empty key ``""``, when
a release has one, is its total number of rows.

* :func:`release_metrics` compares released counts with the real ones by combination
  length: mean absolute error, how much was suppressed and how much fabricated.
* :func:`synthetic_metrics` does the same for synthetic microdata (its own combination
  counts are what it "releases").
* :func:`singling_out_attack` asks how well an attacker who knows up to L values of a
  person can single them out with the released combinations.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

Item = str  # one "column=value" pair


def _row_items(row: Mapping[str, str], columns: Sequence[str]) -> tuple[Item, ...]:
    """The row's non-empty values as ``column=value`` texts, in column order."""
    items = []
    for column in columns:
        value = row.get(column)
        if value is None:
            continue
        value = value.strip()
        if value:
            items.append(f"{column}={value}")
    return tuple(items)


def combination_counts(
    rows: Iterable[Mapping[str, str]],
    columns: Sequence[str],
    max_length: int,
    weights: Sequence[int] | None = None,
) -> Counter[str]:
    """How many rows hold each combination of 1 to ``max_length`` non-empty values.

    Keys are combination texts in the order of ``columns``; combinations no row holds are
    absent (a :class:`~collections.Counter` reads them as 0). The empty combination is not
    counted.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1 (got {max_length})")
    if len(set(columns)) != len(columns):
        raise ValueError("columns must not repeat")
    # Categorical rows repeat a lot: count each distinct row once, weighted by how often
    # it occurs (a million rows are often only tens of thousands of distinct ones).
    distinct: Counter[tuple[Item, ...]] = Counter()
    if weights is None:
        distinct.update(_row_items(row, columns) for row in rows)
    else:
        for row, weight in zip(rows, weights, strict=True):
            distinct[_row_items(row, columns)] += weight
    by_tuple: dict[tuple[Item, ...], int] = {}
    get = by_tuple.get
    for items, weight in distinct.items():
        for length in range(1, min(max_length, len(items)) + 1):
            for key in combinations(items, length):
                by_tuple[key] = get(key, 0) + weight
    return Counter({";".join(key): count for key, count in by_tuple.items()})


def _canonical(key: str, order: Mapping[str, int]) -> str:
    """A combination text with its pairs in column order; refuses unknown or repeated columns."""
    if not key:
        return ""
    parts = key.split(";")
    names = [part.partition("=")[0] for part in parts]
    for name, part in zip(names, parts, strict=True):
        if name not in order or "=" not in part or not part.partition("=")[2]:
            raise ValueError(
                f"released combination {key!r} is not column=value pairs of the columns"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"released combination {key!r} names a column twice")
    return ";".join(sorted(parts, key=lambda part: order[part.partition("=")[0]]))


def _normalise_release(
    released: Mapping[str, int], columns: Sequence[str]
) -> tuple[dict[str, int], int | None]:
    """Released non-zero counts by canonical key (without the total), and the total if given.

    An explicit count of 0 says the combination is not there, so it is not a released
    combination (it cannot be fabricated, and its real counterpart counts as suppressed).
    """
    order = {name: position for position, name in enumerate(columns)}
    counts: dict[str, int] = {}
    total: int | None = None
    for key, count in released.items():
        text = _canonical(key.strip(), order)
        if text == "":
            total = int(count)
            continue
        if text in counts:
            raise ValueError(f"released combination {key!r} appears twice")
        if count != 0:
            counts[text] = int(count)
    return counts, total


def _length(key: str) -> int:
    return key.count(";") + 1


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def _number(value: float | None) -> float | None:
    """NaN (an undefined figure) as ``None``, for JSON."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _show(value: float, digits: int = 2, percent: bool = False) -> str:
    if math.isnan(value):
        return "n/a"
    if percent:
        return f"{100 * value:.1f}%"
    return f"{value:,.{digits}f}"


@dataclass(frozen=True)
class LengthMetrics:
    """Utility figures for the combinations of one length (``length`` 0: all lengths together).

    Shares and errors over an empty set are NaN.
    """

    length: int
    real: int  # real combinations (held by at least one row)
    reportable: int  # real combinations held by at least k rows
    released: int  # released combinations (non-zero counts)
    mae: float  # mean |released - real| over reportable real ∪ released combinations
    mae_released: float  # mean |released - real| over released combinations only
    max_error: int  # largest |released - real| over reportable real ∪ released combinations
    suppressed: float  # share of real combinations not released
    suppressed_reportable: float  # share of reportable real combinations not released
    fabricated: float  # share of released combinations no real row holds
    n_suppressed: int
    n_suppressed_reportable: int
    n_fabricated: int

    def to_dict(self) -> dict[str, Any]:
        return {key: _number(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class ReleaseMetrics:
    """Utility of a release against the real rows, by combination length."""

    k: int
    max_length: int
    real_rows: int
    released_rows: int | None  # the release's own total, when it states one
    by_length: tuple[LengthMetrics, ...]  # lengths 1..max_length, in order
    overall: LengthMetrics  # every length together (length 0)

    def length(self, length: int) -> LengthMetrics:
        for figures in self.by_length:
            if figures.length == length:
                return figures
        raise KeyError(length)

    @property
    def total_error(self) -> int | None:
        """|released total − real rows|, or None when the release states no total."""
        return None if self.released_rows is None else abs(self.released_rows - self.real_rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "max_length": self.max_length,
            "real_rows": self.real_rows,
            "released_rows": self.released_rows,
            "total_error": self.total_error,
            "by_length": [figures.to_dict() for figures in self.by_length],
            "overall": self.overall.to_dict(),
        }

    def summary(self) -> str:
        """The figures as a plain-text table."""
        header = (
            "length",
            "real",
            f"real>={self.k}",
            "released",
            "MAE",
            "MAE(rel.)",
            "max err",
            "suppressed",
            f"supp.>={self.k}",
            "fabricated",
        )
        lines = [
            "Release utility",
            f"real rows: {self.real_rows:,}   released rows: "
            + ("not stated" if self.released_rows is None else f"{self.released_rows:,}")
            + f"   k = {self.k}   longest combination = {self.max_length}",
            "",
        ]
        table = [header]
        for figures in (*self.by_length, self.overall):
            table.append(
                (
                    str(figures.length) if figures.length else "all",
                    f"{figures.real:,}",
                    f"{figures.reportable:,}",
                    f"{figures.released:,}",
                    _show(figures.mae),
                    _show(figures.mae_released),
                    f"{figures.max_error:,}",
                    _show(figures.suppressed, percent=True),
                    _show(figures.suppressed_reportable, percent=True),
                    _show(figures.fabricated, percent=True),
                )
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            lines.append(
                "  ".join(
                    cell.ljust(width) if i == 0 else cell.rjust(width)
                    for i, (cell, width) in enumerate(zip(row, widths, strict=True))
                )
            )
        lines.append("")
        lines.append(
            "MAE: mean |released - real| over the combinations with at least k real rows and "
            "every released one (missing = 0); suppressed: real combinations not released; "
            "fabricated: released combinations no real row holds."
        )
        return "\n".join(lines)


def _length_metrics(
    length: int, real: Mapping[str, int], released: Mapping[str, int], k: int
) -> LengthMetrics:
    reportable = {key for key, count in real.items() if count >= k}
    union = reportable | released.keys()
    errors = [abs(released.get(key, 0) - real.get(key, 0)) for key in union]
    released_errors = [abs(count - real.get(key, 0)) for key, count in released.items()]
    n_suppressed = sum(1 for key in real if key not in released)
    n_suppressed_reportable = sum(1 for key in reportable if key not in released)
    n_fabricated = sum(1 for key in released if real.get(key, 0) == 0)
    return LengthMetrics(
        length=length,
        real=len(real),
        reportable=len(reportable),
        released=len(released),
        mae=_ratio(sum(errors), len(errors)),
        mae_released=_ratio(sum(released_errors), len(released_errors)),
        max_error=max(errors, default=0),
        suppressed=_ratio(n_suppressed, len(real)),
        suppressed_reportable=_ratio(n_suppressed_reportable, len(reportable)),
        fabricated=_ratio(n_fabricated, len(released)),
        n_suppressed=n_suppressed,
        n_suppressed_reportable=n_suppressed_reportable,
        n_fabricated=n_fabricated,
    )


def _by_length(counts: Mapping[str, int], max_length: int) -> dict[int, dict[str, int]]:
    split: dict[int, dict[str, int]] = {length: {} for length in range(1, max_length + 1)}
    for key, count in counts.items():
        length = _length(key)
        if length <= max_length:
            split[length][key] = count
    return split


def _check(k: int, max_length: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k})")
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1 (got {max_length})")


def release_metrics(
    real_rows: Iterable[Mapping[str, str]],
    released: Mapping[str, int],
    *,
    columns: Sequence[str],
    k: int,
    max_length: int,
    weights: Sequence[int] | None = None,
) -> ReleaseMetrics:
    """Released counts against the real ones, combinations of 1 to ``max_length`` values.

    ``released`` maps combination texts to counts (``""``: the total, if stated).
    Released combinations longer than ``max_length`` are not measured. ``weights``, when
    given, says how many real rows each of ``real_rows`` stands for.
    """
    _check(k, max_length)
    rows = list(real_rows)
    real = combination_counts(rows, columns, max_length, weights)
    counts, total = _normalise_release(released, columns)
    real_split = _by_length(real, max_length)
    released_split = _by_length(counts, max_length)
    by_length = tuple(
        _length_metrics(length, real_split[length], released_split[length], k)
        for length in range(1, max_length + 1)
    )
    measured = {key: count for key, count in counts.items() if _length(key) <= max_length}
    overall = _length_metrics(0, real, measured, k)
    return ReleaseMetrics(
        k=k,
        max_length=max_length,
        real_rows=len(rows) if weights is None else sum(weights),
        released_rows=total,
        by_length=by_length,
        overall=overall,
    )


def synthetic_metrics(
    real_rows: Iterable[Mapping[str, str]],
    synthetic_rows: Iterable[Mapping[str, str]],
    *,
    columns: Sequence[str],
    k: int,
    max_length: int,
) -> ReleaseMetrics:
    """Synthetic rows against the real ones: the synthetic combination counts are the release."""
    synthetic = list(synthetic_rows)
    released: dict[str, int] = dict(combination_counts(synthetic, columns, max_length))
    released[""] = len(synthetic)
    return release_metrics(real_rows, released, columns=columns, k=k, max_length=max_length)


def comparison_points(
    real_rows: Iterable[Mapping[str, str]],
    released: Mapping[str, int],
    *,
    columns: Sequence[str],
    k: int,
    max_length: int,
    weights: Sequence[int] | None = None,
) -> list[tuple[str, int, int]]:
    """``(combination, real count, released count)`` over the combinations the MAE is taken
    on (reportable real ones and released ones, lengths 1..``max_length``), shortest first.
    """
    _check(k, max_length)
    real = combination_counts(real_rows, columns, max_length, weights)
    counts, _total = _normalise_release(released, columns)
    keys = {key for key, count in real.items() if count >= k}
    keys.update(key for key in counts if _length(key) <= max_length)
    order = {name: position for position, name in enumerate(columns)}

    def sort_key(key: str) -> tuple[int, list[int], str]:
        return (_length(key), [order[part.partition("=")[0]] for part in key.split(";")], key)

    return [(key, real.get(key, 0), counts.get(key, 0)) for key in sorted(keys, key=sort_key)]


# ---------------------------------------------------------------------- singling out


@dataclass(frozen=True)
class AttackResult:
    """A singling-out attack on a release by someone who knows up to L values of a person.

    ``largest_chance`` is exhaustive: the largest 1 / (real rows holding c) over every
    released combination c that some real row holds. The simulation draws ``targets`` real
    rows; the attacker knows L of the target's values, chosen at random (all of them when
    the target has fewer), and uses the best released combination made of them.
    """

    k: int
    max_length: int
    released: int  # released combinations examined (non-zero counts, lengths 1..L)
    fabricated: int  # of which no real row holds (they single out nobody)
    below_k: int  # released combinations held by 1 to k-1 real rows
    smallest_support: int | None  # fewest real rows behind a released real combination
    largest_chance: float
    targets: int
    mean_success: float
    max_success: float

    @property
    def passes(self) -> bool:
        """Nobody can be singled out with a chance above 1/k."""
        return self.smallest_support is None or self.smallest_support >= self.k

    def to_dict(self) -> dict[str, Any]:
        figures: dict[str, Any] = {key: _number(value) for key, value in asdict(self).items()}
        figures["passes"] = self.passes
        figures["threshold"] = 1 / self.k
        return figures

    def summary(self) -> str:
        verdict = "PASSES" if self.passes else "FAILS"
        return "\n".join(
            [
                f"Singling-out attack (attacker knows up to {self.max_length} values): {verdict}",
                f"released combinations examined: {self.released:,} "
                f"({self.fabricated:,} held by no real row)",
                f"held by fewer than k = {self.k} real rows: {self.below_k:,}"
                + (
                    ""
                    if self.smallest_support is None
                    else f" (fewest real rows behind one: {self.smallest_support:,})"
                ),
                f"largest chance of singling someone out: {_show(self.largest_chance, 4)} "
                f"(threshold 1/k = {1 / self.k:.4f})",
                f"simulated on {self.targets:,} targets: mean success {_show(self.mean_success, 4)}, "
                f"max {_show(self.max_success, 4)}",
            ]
        )


def singling_out_attack(
    real_rows: Iterable[Mapping[str, str]],
    released: Mapping[str, int],
    *,
    columns: Sequence[str],
    k: int,
    max_length: int,
    targets: int = 1000,
    seed: int = 0,
    weights: Sequence[int] | None = None,
) -> AttackResult:
    """How well the release singles out people to an attacker who knows up to L values.

    L is ``max_length``. Released combinations longer than L are beyond the attacker's
    knowledge and are not examined; the total (``""``) singles out nobody.
    """
    _check(k, max_length)
    if targets < 0:
        raise ValueError(f"targets must not be negative (got {targets})")
    rows = list(real_rows)
    counts, _total = _normalise_release(released, columns)
    examined = {key for key in counts if _length(key) <= max_length}
    real = combination_counts(rows, columns, max_length, weights)

    supports = [real.get(key, 0) for key in examined]
    fabricated = sum(1 for support in supports if support == 0)
    held = [support for support in supports if support > 0]
    smallest = min(held, default=None)
    below_k = sum(1 for support in held if support < k)
    largest_chance = 1 / smallest if smallest is not None else 0.0

    successes: list[float] = []
    if rows and targets:
        generator = random.Random(seed)
        if weights is not None:
            # Each distinct row stands for ``weight`` real rows: draw targets in proportion.
            chosen = generator.choices(range(len(rows)), weights=weights, k=targets)
        elif targets <= len(rows):
            chosen = generator.sample(range(len(rows)), targets)
        else:
            chosen = [generator.randrange(len(rows)) for _ in range(targets)]
        for index in chosen:
            items = _row_items(rows[index], columns)
            known = (
                items
                if len(items) <= max_length
                else tuple(sorted(generator.sample(items, max_length), key=items.index))
            )
            best = 0.0
            for length in range(1, len(known) + 1):
                for combination in combinations(known, length):
                    key = ";".join(combination)
                    if key in examined:
                        # The target holds every value of the combination, so it has support.
                        best = max(best, 1 / real[key])
            successes.append(best)
    return AttackResult(
        k=k,
        max_length=max_length,
        released=len(examined),
        fabricated=fabricated,
        below_k=below_k,
        smallest_support=smallest,
        largest_chance=largest_chance,
        targets=len(successes),
        mean_success=_ratio(sum(successes), len(successes)),
        max_success=max(successes, default=math.nan),
    )

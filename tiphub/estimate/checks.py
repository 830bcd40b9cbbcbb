"""Checks run after every estimate: what could make the figure mislead, in plain words.

:func:`run_checks` is called at the end of :func:`tiphub.estimate.api.estimate`. It fits the
quick alternative methods (no bootstrap) so that a single-method run says when the methods
disagree, and adds coded warnings (:class:`~tiphub.estimate.advice.EstimateWarning`) for
small samples, lists that barely overlap, −∞ terms, an unstable bootstrap and estimates far
above what was observed. Each warning says what the finding means for the figure and what
to do next.

:func:`boundary_refusal` and :func:`unbounded_refusal` write the messages of the refusals
(the estimate does not exist, is not identifiable or is unbounded) in the user's terms:
which lists share no one, and which merge, omission or overlap would let an estimate exist.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import norm

from tiphub.estimate.loglinear import EXISTENCE_MESSAGES, EstimationError
from tiphub.estimate.table import CaptureTable, popcount

if TYPE_CHECKING:
    from tiphub.estimate.api import EstimateOptions
    from tiphub.estimate.results import MSEResult

# ---------------------------------------------------------------------- thresholds

# The quick alternatives fitted beside every estimate, and the most lists each is fitted on
# so that they add about a second at most. Best of two or three timings without intervals on
# the 2-core development machine under load (load average 7–10), synthetic tables of 20,000
# people: main 0.12 s at 10 lists and 0.05 s at 12 (limits.py: about 1.4 s at 14, 4.6 s at
# 16); stepwise 0.37 s at 10 and 0.63 s at 12; aic-stepwise 0.16 s at 8 and 0.48 s at 10;
# bic's exhaustive search 0.3–0.7 s at 5 lists (Western, UKdat_5) but 2.9 s at 6 (UKdat).
# UKdat (6 lists) stepwise: 0.10 s alone, 0.24 s with the alternatives.
QUICK_METHODS = ("main", "stepwise", "aic-stepwise", "bic")
ALTERNATIVE_MAX_LISTS = {"main": 14, "stepwise": 12, "aic-stepwise": 10, "bic": 5}

# Cochran (1954) "Some methods for strengthening the common χ² tests", Biometrics 10:417:
# the large-sample approximations behind the Poisson tests of the stepwise search and the
# log-normal and profile-likelihood intervals want about 5 expected people per cell. A table
# of t lists has 2^t − 1 observable cells; beyond 4 lists tables are sparse by nature (the
# overlap checks below take over), so the requirement is capped at 4 lists' 15 cells.
PEOPLE_PER_CELL = 5
SMALL_SAMPLE_MAX_CELLS = 15

# Robson & Regier (1964) "Sample size in Petersen mark–recapture experiments", Trans. Am.
# Fish. Soc. 93:215 (as quoted by Seber 1982, p. 60): the bias of the two-list estimate is
# negligible only when at least 7 people are "recaptured" (on both lists). Here: people on
# two or more lists in the whole table, and people a list shares with any other list (the
# only information about how many that list misses).
MIN_RECAPTURES = 7

# How many people two lists may share, at most, to be named as "sharing no one or almost no
# one". Chan, Silverman & Vincent (2021, JASA 116:1297) show that a pair of lists with no
# overlap leaves every model containing that pair without a maximum-likelihood estimate; a
# handful of shared people makes that pair's interaction rest on those few.
NEAR_EMPTY_OVERLAP = 2

# The bias correction z0 = Φ⁻¹(share of replicates below the estimate) is meant to be a small
# correction (Efron & Tibshirani 1993, ch. 14). BCa reads the limit of level 1 − 2α at the
# replicates' quantile Φ(z0 + (z0 + z_α)/(1 − a(z0 + z_α))); with a ≈ 0 and |z0| ≥ 0.75 the
# 80% limit on the side z0 points to falls at Φ(−2.78) ≈ 0.003, below the smallest of the
# usual 200 replicates, so both the 95% and the 80% limit are that single replicate. At
# |z0| = 0.75, 77% of replicates lie on one side of the estimate. (The clean UKdat table
# gives |z0| ≈ 0.48 with 200 replicates; the unstable example −1.28.)
EXTREME_Z0 = 0.75
# More failed replicates than this share distort the percentiles the interval is read from.
MAX_FAILED_SHARE = 0.05
# An estimate this many times the number observed says the lists overlap too little.
LARGE_MULTIPLE = 20

DOCS_ROBUSTNESS = "tiphub estimate robustness"


# ---------------------------------------------------------------------- entry point


def run_checks(
    result: MSEResult,
    table: CaptureTable,
    options: EstimateOptions,
    *,
    alternatives: bool = True,
) -> None:
    """Add the coded warnings (and, with ``alternatives``, the alternative fits) to ``result``."""
    if alternatives:
        fit_alternatives(result, table, options)
        check_disagreement(result)
    result.diagnostics.setdefault("overlap_triangles", overlap_triangles(table))
    check_sample_size(result, table)
    check_overlaps(result, table)
    check_infinite_terms(result, table)
    check_fit(result)
    check_bootstrap(result)
    check_size(result)


# ---------------------------------------------------------------------- alternatives


def fit_alternatives(result: MSEResult, table: CaptureTable, options: EstimateOptions) -> None:
    """Fit main, stepwise, aic-stepwise and bic without bootstrap into ``result.alternatives``.

    The run's own result is reused when it is one of them with the default settings and no
    bootstrap; methods beyond :data:`ALTERNATIVE_MAX_LISTS` are listed as skipped, with why.
    """
    from tiphub.estimate.api import estimate

    reusable = (
        options.bootstrap == 0
        and options.pthresh is None
        and options.max_order is None
        and result.method in QUICK_METHODS
    )
    for method in QUICK_METHODS:
        if reusable and method == result.method:
            result.alternatives[method] = _alternative_entry(result)
            continue
        limit = ALTERNATIVE_MAX_LISTS[method]
        if table.n_lists > limit:
            result.alternatives[method] = _skipped(
                f"not fitted beside the main run: {table.n_lists} lists is more than the "
                f"{limit} it takes quickly; run --method {method} on its own"
            )
            continue
        try:
            fitted = estimate(table, method, seed=options.seed, profile=False, alternatives=False)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
            result.alternatives[method] = _skipped(str(error) or type(error).__name__, "error")
            continue
        result.alternatives[method] = _alternative_entry(fitted)


def _alternative_entry(fitted: MSEResult) -> dict[str, Any]:
    return {
        "population": _round(fitted.population),
        "interval_95": [_round(value) for value in fitted.interval_95],
        "interval_method": fitted.interval_method,
        "model": list(fitted.model),
    }


def _skipped(reason: str, key: str = "skipped") -> dict[str, Any]:
    return {"population": None, "interval_95": None, "model": None, key: reason}


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 1)


def _overlaps(first: Sequence[float | None], second: Sequence[float | None]) -> bool:
    low1, high1 = first
    low2, high2 = second
    top1 = math.inf if high1 is None else high1
    top2 = math.inf if high2 is None else high2
    return (low1 or 0.0) <= top2 and (low2 or 0.0) <= top1


def check_disagreement(result: MSEResult) -> None:
    """Warn ``methods-disagree`` when two methods' 95% intervals do not overlap."""
    figures: dict[str, tuple[float, Sequence[float | None]]] = {}
    for name, entry in result.alternatives.items():
        if entry.get("population") is not None and entry.get("interval_95") is not None:
            figures[name] = (entry["population"], entry["interval_95"])
    if result.method not in figures:
        figures[result.method] = (result.population, result.interval_95)
    names = list(figures)
    apart = [
        (a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if not _overlaps(figures[a][1], figures[b][1])
    ]
    if not apart:
        return
    shown = [
        {"name": name, "population": population, "low": interval[0], "high": interval[1]}
        for name, (population, interval) in sorted(figures.items(), key=lambda kv: kv[1][0])
    ]
    lowest = min(figures.values(), key=lambda item: item[0])[0]
    highest = max(figures.values(), key=lambda item: item[0])[0]
    factor = highest / lowest if lowest > 0 else math.inf
    # The words, in English and French, are in tiphub.estimate.advice_texts.
    result.warn(
        "methods-disagree",
        values={
            "figures": shown,
            "pairs": [{"a": a, "b": b} for a, b in apart],
            "factor": factor,
        },
    )


# ---------------------------------------------------------------------- the table


def _on_two_or_more(table: CaptureTable) -> int:
    cells = np.arange(table.counts.size)
    several = np.array([popcount(int(c)) >= 2 for c in cells], dtype=bool)
    return int(table.counts[several].sum())


def shared_with_others(table: CaptureTable) -> dict[str, int]:
    """People on each list who are also on at least one other list."""
    cells = np.arange(table.counts.size)
    several = np.array([popcount(int(c)) >= 2 for c in cells], dtype=bool)
    return {
        name: int(table.counts[several & ((cells >> index) & 1 == 1)].sum())
        for index, name in enumerate(table.lists)
    }


def overlap_triangles(table: CaptureTable) -> int:
    """SparseMSE's ``count_triples``: triples of lists in which every pair shares someone.

    With none, the model of all two-list interactions is not identifiable (Chan, Silverman
    & Vincent 2021), so the number says how much dependence the table can support.
    """
    shares = np.zeros((table.n_lists, table.n_lists), dtype=np.int64)
    for mask in np.flatnonzero(table.counts):
        members = [index for index in range(table.n_lists) if int(mask) >> index & 1]
        for first in members:
            for second in members:
                shares[first, second] = 1
    np.fill_diagonal(shares, 0)
    # Each triangle is counted once per ordered start and direction: 6 times.
    return int(np.trace(shares @ shares @ shares) // 6)


def pair_overlaps(table: CaptureTable) -> dict[tuple[str, str], int]:
    return {
        (a, b): table.overlap([a, b])
        for i, a in enumerate(table.lists)
        for b in table.lists[i + 1 :]
    }


def check_sample_size(result: MSEResult, table: CaptureTable) -> None:
    """``small-sample`` for few people observed; ``few-overlaps`` for few on 2+ lists."""
    cells = min(2**table.n_lists - 1, SMALL_SAMPLE_MAX_CELLS)
    needed = PEOPLE_PER_CELL * cells
    if table.observed < needed:
        result.warn(
            "small-sample",
            values={
                "observed": int(table.observed),
                "lists": len(table.lists),
                "needed": needed,
                "per_cell": PEOPLE_PER_CELL,
            },
        )
    recaptured = _on_two_or_more(table)
    if recaptured < MIN_RECAPTURES:
        result.warn("few-overlaps", values={"recaptured": recaptured, "minimum": MIN_RECAPTURES})


def check_overlaps(result: MSEResult, table: CaptureTable) -> None:
    """``sparse-overlap`` for lists sharing (almost) no one with the others."""
    shared = shared_with_others(table)
    totals = table.list_totals()
    weak = [name for name in table.lists if shared[name] < MIN_RECAPTURES]
    if weak:
        weakest = min(weak, key=lambda name: shared[name])
        result.warn(
            "sparse-overlap",
            values={
                "weak": [
                    {"name": name, "shared": shared[name], "total": int(totals[name])}
                    for name in weak
                ],
                "weakest": weakest,
                # None: no list shares anyone with it, so no merge is suggested by name.
                "partner": _closest_partner(table, weakest),
            },
        )
    if table.n_lists <= 3:
        # With three lists or fewer every pair's overlap is needed to model its dependence.
        empty = [
            (pair, count)
            for pair, count in pair_overlaps(table).items()
            if count <= NEAR_EMPTY_OVERLAP and not (set(pair) & set(weak))
        ]
        if empty:
            first = empty[0][0]
            result.warn(
                "empty-overlap",
                values={
                    "pairs": [{"a": a, "b": b, "count": count} for (a, b), count in empty],
                    "lists": table.n_lists,
                    "first_a": first[0],
                    "first_b": first[1],
                },
            )


def _closest_partner(table: CaptureTable, name: str) -> str | None:
    """The list sharing most people with ``name`` (a natural merge), if any shares one."""
    best = max(
        ((table.overlap([name, other]), other) for other in table.lists if other != name),
        default=(0, None),
    )
    return best[1] if best[0] > 0 else None


def check_infinite_terms(result: MSEResult, table: CaptureTable) -> None:
    """``infinite-terms``: what a −∞ interaction assumes about the missed people."""
    if not result.infinite_terms:
        return
    result.warn(
        "infinite-terms",
        values={
            "terms": list(result.infinite_terms),
            "first": result.infinite_terms[0].split(":"),
        },
    )


def check_fit(result: MSEResult) -> None:
    """``not-converged`` and ``profile-unbounded`` (the log-linear fit's own troubles)."""
    if result.fit is not None and not result.fit.converged:
        result.warn("not-converged", values={})
    profile = result.intervals.get("profile", {})
    if any(high is None for _, high in profile.values()):
        result.warn("profile-unbounded", values={})


def check_size(result: MSEResult) -> None:
    """``large-estimate``: more than :data:`LARGE_MULTIPLE` times the number observed."""
    if result.observed and result.population > LARGE_MULTIPLE * result.observed:
        result.warn(
            "large-estimate",
            values={
                "multiple": float(result.population / result.observed),
                "observed": int(result.observed),
            },
        )


# ---------------------------------------------------------------------- the bootstrap


def check_bootstrap(result: MSEResult) -> None:
    """``unstable-bootstrap`` and ``bootstrap-failures`` for the BCa interval."""
    if "bca" not in result.intervals:
        return
    requested = int(result.settings.get("bootstrap", 0) or 0)
    draws = np.asarray(
        result.population_draws if result.population_draws is not None else [], dtype=float
    )
    draws = draws[np.isfinite(draws)]
    if requested and draws.size < requested * (1 - MAX_FAILED_SHARE):
        failed = requested - draws.size
        _drop_legacy(result, f"{failed} of {requested} bootstrap replicates")
        result.warn(
            "bootstrap-failures",
            values={"failed": failed, "requested": requested, "share": failed / requested},
        )
    if draws.size == 0:
        return
    # Each reason is a fragment of the warning's words (tiphub.estimate.advice_texts).
    reasons: list[dict[str, Any]] = []
    z0 = result.diagnostics.get("bca_bias_z0")
    if isinstance(z0, float) and math.isfinite(z0) and abs(z0) > EXTREME_Z0:
        reasons.append({"kind": "z0", "z0": z0, "share": float(norm.cdf(z0))})
    elif isinstance(z0, float) and math.isinf(z0):
        reasons.append({"kind": "same-side"})
    median = float(np.median(draws))
    low95, high95 = result.intervals["bca"]["95"]
    if (low95 is not None and median < low95) or (high95 is not None and median > high95):
        reasons.append({"kind": "median-outside", "median": median, "low": low95, "high": high95})
    low80, high80 = result.intervals["bca"]["80"]
    same = [
        side
        for side, a, b in (("lower", low95, low80), ("upper", high95, high80))
        if a is not None and b is not None and a == b
    ]
    if same:
        reasons.append(
            {
                "kind": "same-limits",
                "sides": "both" if len(same) == 2 else same[0],
                "value": low95 if same[0] == "lower" else high95,
            }
        )
    if not reasons:
        return
    result.warn("unstable-bootstrap", values={"reasons": reasons})


def _drop_legacy(result: MSEResult, prefix: str) -> None:
    """Remove an uncoded warning that a coded one replaces."""
    result.warnings[:] = [text for text in result.warnings if not text.startswith(prefix)]


# ---------------------------------------------------------------------- refusals


def _pair_list(pairs: Sequence[tuple[str, str]], limit: int = 6) -> str:
    shown = [f"{a} and {b}" for a, b in pairs[:limit]]
    if len(pairs) > limit:
        shown.append(f"{len(pairs) - limit} more pairs")
    return ", ".join(shown)


def overlap_cause(table: CaptureTable) -> tuple[str, str]:
    """(cause, next step) in the user's terms for a table whose lists overlap too little."""
    shared = shared_with_others(table)
    isolated = [name for name in table.lists if shared[name] == 0]
    if table.n_lists == 2:
        a, b = table.lists
        count = table.overlap([a, b])
        return (
            f"lists {a} and {b} share {'no one' if count == 0 else f'only {count}'}; the "
            "people on both lists are what the estimate of the missed is made from",
            f"find the people who are on both {a} and {b} (check the linkage), or add a third list",
        )
    if len(isolated) == table.n_lists:
        return (
            "no one is on more than one list, so nothing shows how many people the lists miss",
            "check the linkage (were records of the same person linked across lists?), or "
            "collect lists that record some of the same people",
        )
    if isolated:
        names = ", ".join(isolated)
        partner = _closest_partner(table, isolated[0]) or next(
            other for other in table.lists if other != isolated[0]
        )
        return (
            f"{'list' if len(isolated) == 1 else 'lists'} {names} "
            f"{'shares' if len(isolated) == 1 else 'share'} no one with any other list",
            f"leave {'it' if len(isolated) == 1 else 'them'} out (--omit {isolated[0]}), merge "
            f"{'it' if len(isolated) == 1 else 'one'} with a list recording similar people "
            f"(e.g. --merge {isolated[0]}+{partner}), or find which of "
            f"{'its' if len(isolated) == 1 else 'their'} people are on other lists",
        )
    empty = [pair for pair, count in pair_overlaps(table).items() if count == 0]
    if empty:
        a, b = empty[0]
        return (
            f"these pairs of lists share no one: {_pair_list(empty)}",
            f"merge such a pair (e.g. --merge {a}+{b}) or omit one of its lists "
            f"(--omit {min((a, b), key=lambda n: table.list_totals()[n])}), or collect the "
            "people on both",
        )
    weakest = min(table.lists, key=lambda name: shared[name])
    return (
        f"the lists share few people (list {weakest} shares {shared[weakest]} with the others)",
        f"merge or omit {weakest} (--omit {weakest}), or collect more of the overlaps",
    )


def boundary_refusal(table: CaptureTable, terms: Sequence[int], code: int) -> str:
    """Why a model has no estimate on this table, and what to do, for :class:`EstimationError`."""
    statistical = EXISTENCE_MESSAGES[code]
    interactions = [t for t in terms if popcount(t) >= 2]
    cause, step = overlap_cause(table)
    if interactions:
        counted = sorted(
            ((table.overlap_mask(t), table.term_name(t)) for t in interactions),
        )
        named = ", ".join(f"{name} ({count})" for count, name in counted[:6])
        # The combinations of lists the model's terms need but nobody is in: the usual cause.
        empty = [
            " + ".join(table.term_name(cell).split(":"))
            for cell in range(1, table.counts.size)
            if popcount(cell) >= 2
            and table.counts[cell] == 0
            and any(cell & term == term for term in interactions)
        ]
        if empty:
            shown = "; ".join(empty[:4]) + (f"; {len(empty) - 4} more" if len(empty) > 4 else "")
            cause = f"nobody is on exactly these combinations of lists the model needs: {shown}"
        return (
            f"this model cannot be estimated from this table ({statistical}): {cause} (people "
            f"on all lists of each of its terms: {named}). Next step: drop the terms with "
            "fewest people from --model, or use --method stepwise, which adds only terms the "
            f"data support; or {step}"
        )
    return f"no estimate can be made from this table ({statistical}): {cause}. Next step: {step}"


def unbounded_refusal(table: CaptureTable) -> str:
    cause, step = overlap_cause(table)
    return (
        "the estimate is unbounded: the lists overlap too little to say how many were missed "
        f"({cause}). Next step: {step}"
    )


def refuse(table: CaptureTable, terms: Sequence[int], code: int) -> EstimationError:
    return EstimationError(boundary_refusal(table, terms, code))

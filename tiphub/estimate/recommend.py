"""Which figure to report: a simulation check of the methods on this table, and BIC averaging.

The methods of a robustness report rest on different assumptions about how the lists depend
on each other, and the data can only partly say which hold. Instead of trusting one method
by habit, :func:`recommend` asks how each method would have done on populations like this one
(a parametric bootstrap):

1. **Possible truths.** main, stepwise, aic-stepwise and bic each choose a log-linear model
   for the table. Each fitted model is a possible truth: it gives an expected count for every
   capture history, the unobserved one included.
2. **Simulated populations.** From each truth, ``replicates`` populations: every one of the
   2^t cells is drawn as Poisson with its fitted mean, the unobserved cell too, so the size
   of each simulated population is known; its unobserved cell is then hidden, as in real data
   collection.
3. **The methods at work.** Each method chooses its model on each simulated table as it
   does on the real one, and gives its estimate with the log-normal (model-conditional)
   95% interval; for aic-stepwise that stands in for its profile-likelihood interval, which
   would cost more than the whole choice (no profile intervals inside the simulation). bic
   chooses among the real table's best-ranked models, as its bootstrap does (an exhaustive
   search per draw would take seconds each on six lists); the model average and dga as on
   the real table.
4. **Evidence.** Per method and truth: relative bias and root-mean-square error of the
   estimate, and how often the 95% interval contains the true size (coverage).

Truths the data reject — BIC more than :data:`SUPPORT_BIC_GAP` above the best candidate's,
"very strong" evidence against on Kass & Raftery's (1995) scale — are shown but do not count.
The recommended method is, among those whose 95% interval contained the truth in at least
:data:`MIN_COVERAGE` of the draws under every supported truth (95% nominal, less Monte-Carlo
error and a margin) and that failed on at most :data:`MAX_FAILURE_SHARE` of them, the one
with the smallest worst-case error (errors within Monte-Carlo error of the smallest count as
a tie, which the coverage nearer 95% settles); a method whose own model the data reject does
not qualify. When none qualifies, the one whose coverage held up best, with that caveat.

**Model averaging.** BIC weights, w_m ∝ exp(−BIC_m / 2) over every admissible hierarchical
model the BIC search fitted, approximate the posterior probabilities of the models under
equal prior odds: Silverman, Chan & Vincent (2024, *Statistics and Computing* 34:44) rank
the same models by BIC, and the weights turn that ranking into an average instead of a single
choice. The averaged distribution of the dark figure is
the mixture of the models' log-normal distributions; its median is the figure, its 2.5% and
97.5% points the interval. It takes part in the simulation as the method ``bic-average``.
R's ``dga`` (Bayesian averaging over decomposable graphical models, 3 to 5 lists) takes part
too when :mod:`tiphub.estimate.dga` is installed.

Limits, said in the report: the truths are the methods' own choices, so each method tends to
do well under its own; judging every method under every supported truth counters that. The
check says nothing about dependence or heterogeneity none of the candidate models captures.
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm

from tiphub.estimate.intervals import lognormal_interval, profile_interval
from tiphub.estimate.loglinear import (
    EXISTENCE_MESSAGES,
    EstimationError,
    LoglinearFit,
    fit_loglinear,
)
from tiphub.estimate.results import IntervalPair
from tiphub.estimate.selection import (
    Selection,
    aic_stepwise,
    batch_fit,
    bic_search,
    default_top_models,
    existence_code_cached,
    model_label,
    project_model,
    stepwise,
)
from tiphub.estimate.table import CaptureTable, ProgressCallback

TRUTH_METHODS = ("main", "stepwise", "aic-stepwise", "bic")
MODEL_AVERAGE = "bic-average"
DGA = "dga"
# Methods the simulation can run, in the order they are shown. dga joins when its module
# (tiphub.estimate.dga) is installed and the table has 3 to 5 lists, as R's dga allows;
# lcmcr does not: one run takes seconds, so hundreds per table would take hours.
SIMULATED_METHODS = ("main", "stepwise", "aic-stepwise", "bic", MODEL_AVERAGE, DGA)
DGA_LISTS = (3, 5)
METHOD_NAMES = {
    "main": "main effects",
    "stepwise": "stepwise",
    "aic-stepwise": "aic-stepwise",
    "bic": "best BIC model",
    MODEL_AVERAGE: "BIC-weighted average of models",
    DGA: "dga (decomposable graphical models)",
}
DEFAULT_REPLICATES = 100
MAX_SIMULATED_COUNT = 1e15
SUPPORT_BIC_GAP = 10.0
MIN_COVERAGE = 0.85
MAX_FAILURE_SHARE = 0.10
# The model average keeps the models holding all but this share of the weight (at most
# AVERAGE_MAX_MODELS): the rest cannot move a quantile of the mixture visibly.
AVERAGE_NEGLECTED_WEIGHT = 1e-4
AVERAGE_MAX_MODELS = 200
# Inside the simulation the average is over the candidate models (the data's best-ranked),
# a little coarser, as each kept model costs a fit per simulated table.
SIMULATION_AVERAGE_NEGLECTED_WEIGHT = 5e-3
SIMULATION_AVERAGE_MAX_MODELS = 12
# As in robustness: the BIC search beyond six lists takes too long.
BIC_MAX_LISTS = 6


def dga_available() -> bool:
    """Whether the dga method (``tiphub.estimate.dga``) is installed; the hook for it."""
    return importlib.util.find_spec("tiphub.estimate.dga") is not None


# ---------------------------------------------------------------------- BIC averaging


def bic_weights(bics: Sequence[float]) -> np.ndarray:
    """exp(−BIC/2), normalised to sum to 1 (computed from the smallest BIC, so no overflow)."""
    values = np.asarray(bics, dtype=float)
    if values.size == 0:
        return values
    relative = np.exp(-(values - values.min()) / 2.0)
    return np.asarray(relative / relative.sum())


@dataclass(frozen=True)
class AveragedModel:
    label: str
    bic: float
    weight: float
    population: float


@dataclass(frozen=True)
class ModelAverage:
    """The BIC-weighted average over the admissible hierarchical models."""

    population: float
    interval_95: tuple[float, float]
    interval_80: tuple[float, float]
    models: list[AveragedModel]
    models_admissible: int
    models_averaged: int
    # Weight of the admissible models left out of the mixture (an upper bound).
    neglected_weight: float

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        return {
            "population": round(self.population, 1),
            "interval_95": [round(v, 1) for v in self.interval_95],
            "interval_80": [round(v, 1) for v in self.interval_80],
            "models_admissible": self.models_admissible,
            "models_averaged": self.models_averaged,
            "neglected_weight": float(f"{self.neglected_weight:.3g}"),
            "top_models": [
                {
                    "model": m.label,
                    "bic": round(m.bic, 3),
                    "weight": round(m.weight, 6),
                    "population": round(m.population, 1),
                }
                for m in self.models[:top]
            ],
        }


def _mixture_quantiles(
    observed: int, fits: Sequence[LoglinearFit], weights: np.ndarray, levels: Sequence[float]
) -> list[float]:
    """Quantiles of observed + a weighted mixture of log-normal dark figures."""
    centres = np.array([fit.intercept for fit in fits])
    spreads = np.array([fit.intercept_se for fit in fits])
    if not (np.isfinite(centres).all() and np.isfinite(spreads).all()):
        raise EstimationError("a model in the average has no finite estimate")
    spreads = np.maximum(spreads, 1e-12)
    if len(fits) == 1:
        return [observed + math.exp(centres[0] + spreads[0] * norm.ppf(q)) for q in levels]
    low = float((centres - 9.0 * spreads).min())
    high = float((centres + 9.0 * spreads).max())

    def cdf(log_dark: float) -> float:
        return float(np.dot(weights, norm.cdf((log_dark - centres) / spreads)))

    return [
        observed + math.exp(brentq(lambda x, q=q: cdf(x) - q, low, high, xtol=1e-10))
        for q in levels
    ]


def _average(
    table: CaptureTable,
    models: Sequence[tuple[int, ...]],
    bics: Sequence[float],
    *,
    neglect: float = AVERAGE_NEGLECTED_WEIGHT,
    max_models: int = AVERAGE_MAX_MODELS,
) -> tuple[float, tuple[float, float], tuple[float, float], np.ndarray, int]:
    """The mixture's median and 95%/80% limits over ``models`` weighted by their BIC.

    The lightest models holding together at most ``neglect`` of the weight, and any beyond
    the ``max_models`` heaviest, are left out of the mixture (each needs a fit for its
    standard error). Returns also the weights over all ``models`` and how many were kept.
    """
    weights = bic_weights(bics)
    order = np.argsort(-weights, kind="stable")
    cumulative = np.cumsum(weights[order])
    keep = int(np.searchsorted(cumulative, 1.0 - neglect) + 1)
    keep = max(1, min(keep, max_models, len(models)))
    chosen = order[:keep]
    fits = [fit_loglinear(table, models[i], check=False) for i in chosen]
    kept = weights[chosen] / weights[chosen].sum()
    q = _mixture_quantiles(table.observed, fits, kept, (0.5, 0.025, 0.975, 0.1, 0.9))
    return q[0], (q[1], q[2]), (q[3], q[4]), weights, keep


def model_average(table: CaptureTable, selection: Selection | None = None) -> ModelAverage:
    """BIC-weighted average over every admissible hierarchical model of the BIC search.

    ``selection`` is that search's result (:func:`~tiphub.estimate.selection.bic_search`),
    run here when not given; it carries every admissible model's BIC. The mixture keeps the
    heaviest models holding all but :data:`AVERAGE_NEGLECTED_WEIGHT` of the weight (at most
    :data:`AVERAGE_MAX_MODELS`); ``neglected_weight`` says how much was left out.
    """
    if selection is None:
        selection = bic_search(table)
    ranked = selection.ranked_models
    if not ranked:
        raise EstimationError("the BIC search ranked no model, so there is nothing to average")
    neglected = 0.0
    if len(selection.ranked_bics) == len(ranked):
        bics = list(selection.ranked_bics)
    else:
        # A selection without every model's BIC: its ranking names the best ones; the others
        # weigh at most their number times the last ranked one's weight.
        bics = [row[1] for row in selection.ranking]
        unranked = len(ranked) - len(bics)
        if unranked > 0 and bics:
            relative = np.exp(-(np.asarray(bics) - bics[0]) / 2.0)
            neglected = float(unranked * relative[-1] / (relative.sum() + unranked * relative[-1]))
        if not bics or neglected > AVERAGE_NEGLECTED_WEIGHT:
            rows = batch_fit(table, ranked)
            pairs = [(model, bic) for model, bic, _ in rows if bic is not None]
            ranked = [model for model, _ in pairs]
            bics = [bic for _, bic in pairs]
            neglected = 0.0
    models = list(ranked[: len(bics)])
    population, interval_95, interval_80, weights, kept = _average(table, models, bics)
    populations = {
        index: fit_loglinear(table, models[index], check=False).population
        for index in np.argsort(-weights, kind="stable")[:10]
    }
    listed = [
        AveragedModel(model_label(table, models[i]), float(bics[i]), float(weights[i]), pop)
        for i, pop in populations.items()
    ]
    left_out = float(np.sort(weights)[::-1][kept:].sum())
    return ModelAverage(
        population=population,
        interval_95=interval_95,
        interval_80=interval_80,
        models=listed,
        models_admissible=selection.models_admissible or len(selection.ranked_models),
        models_averaged=kept,
        neglected_weight=neglected + left_out,
    )


# ---------------------------------------------------------------------- possible truths


@dataclass(frozen=True)
class Truth:
    """A model fitted to the data, used as the truth of simulated populations."""

    label: str
    terms: tuple[str, ...]
    chosen_by: tuple[str, ...]
    population: float
    bic: float
    bic_gap: float
    supported: bool
    fit: LoglinearFit = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.label,
            "terms": list(self.terms),
            "chosen_by": list(self.chosen_by),
            "population": round(self.population, 1),
            "bic": round(self.bic, 3),
            "bic_gap": round(self.bic_gap, 3),
            "supported": self.supported,
        }


def model_key(fit: LoglinearFit) -> tuple[int, ...]:
    return tuple(sorted({*fit.terms, *fit.infinite_terms}))


def candidate_truths(table: CaptureTable, selections: Mapping[str, Selection]) -> list[Truth]:
    """One truth per distinct model chosen by the methods of :data:`TRUTH_METHODS`."""
    chosen: dict[tuple[int, ...], tuple[LoglinearFit, list[str]]] = {}
    for method in TRUTH_METHODS:
        selection = selections.get(method)
        if selection is None:
            continue
        key = model_key(selection.fit)
        if key in chosen:
            chosen[key][1].append(method)
        else:
            chosen[key] = (selection.fit, [method])
    if not chosen:
        return []
    best = min(fit.bic for fit, _ in chosen.values())
    truths = []
    for key, (fit, methods) in chosen.items():
        gap = fit.bic - best
        truths.append(
            Truth(
                label=model_label(table, key),
                terms=(*fit.term_names(), *fit.infinite_term_names()),
                chosen_by=tuple(methods),
                population=fit.population,
                bic=fit.bic,
                bic_gap=gap,
                supported=gap <= SUPPORT_BIC_GAP,
                fit=fit,
            )
        )
    return truths


def cell_means(fit: LoglinearFit) -> np.ndarray:
    """Expected count of every capture history under a fitted model, index 0 the unobserved
    (cells a −∞ term removes have mean 0)."""
    means = np.zeros(1 << fit.table.n_lists)
    means[fit.cells] = fit.fitted
    means[0] = fit.dark_figure
    return means


def parametric_draws(
    fit: LoglinearFit, replicates: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Populations drawn from a fitted model: every cell Poisson with its fitted mean.

    Returns the observable counts (one row per population, the unobserved cell set to 0)
    and each population's true size, the unobserved people included.
    """
    means = cell_means(fit)
    draws = rng.poisson(means, size=(replicates, means.size))
    sizes = draws.sum(axis=1)
    draws[:, 0] = 0
    return draws, sizes


# ---------------------------------------------------------------------- the methods


@dataclass(frozen=True)
class Figure:
    """One method's estimate on one table; ``high`` is ∞ for an unbounded upper limit."""

    population: float
    low: float
    high: float


def _checked(fit: LoglinearFit) -> LoglinearFit:
    """The gates of :func:`tiphub.estimate.api.estimate`: a final model that fails the
    existence check, or an unbounded estimate, is no estimate."""
    table = fit.table
    code = existence_code_cached(
        table.counts, table.n_lists, tuple(sorted({*fit.terms, *fit.infinite_terms})), {}
    )
    if code:
        raise EstimationError(EXISTENCE_MESSAGES[code])
    if not math.isfinite(fit.intercept) or fit.intercept > 50:
        raise EstimationError("the estimate is unbounded")
    return fit


def _lognormal(fit: LoglinearFit) -> Figure:
    low, high = lognormal_interval(_checked(fit), 0.95)
    return Figure(fit.population, low, high if math.isfinite(high) else math.inf)


class MethodRunner:
    """Runs the simulated methods on one table, sharing the BIC fits between bic and its
    average. ``candidates`` are the models bic chooses among (the real table's list order)."""

    def __init__(self, methods: Sequence[str], candidates: Sequence[tuple[int, ...]]) -> None:
        self.methods = tuple(methods)
        self.candidates = list(dict.fromkeys(candidates))

    def run(self, table: CaptureTable) -> dict[str, Figure | str]:
        reduced, dropped = table.without_empty_lists()
        if reduced.n_lists < 2:
            return dict.fromkeys(self.methods, "fewer than two lists have anyone on them")
        dropped_index = [table.lists.index(name) for name in dropped]
        out: dict[str, Figure | str] = {}
        bic_rows: list[tuple[tuple[int, ...], float]] | None = None
        for method in self.methods:
            try:
                if method in (MODEL_AVERAGE, "bic") and bic_rows is None:
                    bic_rows = self._bic_rows(reduced, dropped_index)
                out[method] = self._one(method, reduced, bic_rows)
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
                out[method] = str(error) or type(error).__name__
        return out

    def _bic_rows(
        self, table: CaptureTable, dropped: Sequence[int]
    ) -> list[tuple[tuple[int, ...], float]]:
        models = self.candidates
        if dropped:
            models = list(dict.fromkeys(project_model(m, dropped) for m in models))
        rows = [(m, bic) for m, bic, _ in batch_fit(table, models) if bic is not None]
        if not rows:
            raise EstimationError("no candidate model passes the existence check")
        return rows

    def _one(
        self,
        method: str,
        table: CaptureTable,
        bic_rows: list[tuple[tuple[int, ...], float]] | None,
    ) -> Figure:
        if method == "main":
            return _lognormal(fit_loglinear(table, (), check=False))
        if method == "stepwise":
            return _lognormal(stepwise(table, 0.02).fit)
        if method == "aic-stepwise":
            # Its model choice with the fast log-normal interval: the profile likelihood it
            # reports would cost more than the choice itself, and its maximiser differs from
            # the Poisson fit's estimate by about 0.1% (UK, 5 lists: 11,304 against 11,313).
            return _lognormal(aic_stepwise(table, 0.05).fit)
        if method == "bic":
            assert bic_rows is not None
            best = min(bic_rows, key=lambda row: row[1])[0]
            return _lognormal(fit_loglinear(table, best, check=False))
        if method == MODEL_AVERAGE:
            assert bic_rows is not None
            population, (low, high), _, _, _ = _average(
                table,
                [m for m, _ in bic_rows],
                [b for _, b in bic_rows],
                neglect=SIMULATION_AVERAGE_NEGLECTED_WEIGHT,
                max_models=SIMULATION_AVERAGE_MAX_MODELS,
            )
            return Figure(population, low, high)
        if method == DGA:
            return _dga(table)
        raise EstimationError(f"the simulation check cannot run {method!r}")


def _dga(table: CaptureTable) -> Figure:
    from tiphub.estimate.api import EstimateOptions
    from tiphub.estimate.dga import estimate_dga  # type: ignore[import-not-found,unused-ignore]

    result = estimate_dga(table, EstimateOptions(method=DGA))
    low, high = result.interval_95
    return Figure(
        float(result.population),
        float(low) if low is not None else float(table.observed),
        math.inf if high is None else float(high),
    )


# ---------------------------------------------------------------------- the check


@dataclass(frozen=True)
class Performance:
    """How one method did on the populations drawn from one truth."""

    method: str
    truth: str
    supported: bool
    replicates: int
    failures: int
    relative_bias: float
    relative_rmse: float
    coverage: float

    @property
    def coverage_se(self) -> float:
        done = self.replicates - self.failures
        if done <= 0 or not math.isfinite(self.coverage):
            return math.nan
        return math.sqrt(max(self.coverage * (1 - self.coverage), 0.25 / done) / done)

    @property
    def failure_share(self) -> float:
        return self.failures / self.replicates if self.replicates else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "truth": self.truth,
            "supported": self.supported,
            "replicates": self.replicates,
            "failures": self.failures,
            "relative_bias": _round(self.relative_bias, 4),
            "relative_rmse": _round(self.relative_rmse, 4),
            "coverage_95": _round(self.coverage, 4),
            "coverage_se": _round(self.coverage_se, 4),
        }


@dataclass(frozen=True)
class MethodSummary:
    """One method across the supported truths, with its figure on the real table."""

    method: str
    population: float | None
    interval_95: IntervalPair | None
    worst_bias: float
    worst_rmse: float
    lowest_coverage: float
    worst_failure_share: float
    eligible: bool
    # Whether the data support the model this method chose on them (always for averages).
    model_supported: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "population": _round(self.population, 1),
            "interval_95": None
            if self.interval_95 is None
            else [_round(v, 1) for v in self.interval_95],
            "worst_relative_bias": _round(self.worst_bias, 4),
            "worst_relative_rmse": _round(self.worst_rmse, 4),
            "lowest_coverage_95": _round(self.lowest_coverage, 4),
            "worst_failure_share": _round(self.worst_failure_share, 4),
            "model_supported": self.model_supported,
            "eligible": self.eligible,
        }


def _round(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _performance(
    method: str,
    truth: Truth,
    sizes: np.ndarray,
    figures: Sequence[Figure | str],
) -> Performance:
    done = [(f, n) for f, n in zip(figures, sizes, strict=True) if isinstance(f, Figure)]
    failures = len(figures) - len(done)
    if not done:
        return Performance(
            method, truth.label, truth.supported, len(figures), failures, *(math.nan,) * 3
        )
    estimates = np.array([f.population for f, _ in done])
    truth_sizes = np.array([float(n) for _, n in done])
    errors = (estimates - truth_sizes) / truth_sizes
    covered = np.array([f.low <= n <= f.high for f, n in done])
    return Performance(
        method=method,
        truth=truth.label,
        supported=truth.supported,
        replicates=len(figures),
        failures=failures,
        relative_bias=float(errors.mean()),
        relative_rmse=float(np.sqrt(np.mean(errors**2))),
        coverage=float(covered.mean()),
    )


@dataclass
class Recommendation:
    """The figure to report, why, and the evidence behind it."""

    method: str
    population: float
    interval_95: IntervalPair
    reason: str
    evidence: list[Performance]
    summaries: list[MethodSummary]
    truths: list[Truth]
    replicates: int
    seed: int
    seconds: float
    model_average: ModelAverage | None = None
    notes: list[str] = field(default_factory=list)

    def sentence(self) -> str:
        """The recommendation in one line, as the headline and the command line print it."""
        low, high = self.interval_95
        interval = (
            f"{_count(low) if low is not None else '?'}–"
            f"{_count(high) if high is not None else 'unbounded'}"
        )
        return (
            f"Figure to report: {self.method}, {_count(self.population)} (95% {interval}). "
            f"{self.reason}"
        )

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval_95
        return {
            "method": self.method,
            "population": _round(self.population, 1),
            "interval_95": [_round(low, 1), _round(high, 1)],
            "reason": self.reason,
            "sentence": self.sentence(),
            "summary": [s.to_dict() for s in self.summaries],
            "evidence": [p.to_dict() for p in self.evidence],
            "truths": [t.to_dict() for t in self.truths],
            "model_average": None if self.model_average is None else self.model_average.to_dict(),
            "settings": {
                "replicates_per_truth": self.replicates,
                "seed": self.seed,
                "support_bic_gap": SUPPORT_BIC_GAP,
                "min_coverage": MIN_COVERAGE,
                "max_failure_share": MAX_FAILURE_SHARE,
            },
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
        }


def _count(value: float) -> str:
    return f"{value:,.0f}" if math.isfinite(value) else "∞"


def _percent(value: float, signed: bool = False) -> str:
    if not math.isfinite(value):
        return "n/a"
    text = f"{100 * value:+.1f}%" if signed else f"{100 * value:.0f}%"
    return text.replace("-", "−")


def chosen_models(
    table: CaptureTable, methods: Sequence[str], notes: list[str]
) -> dict[str, Selection]:
    """The truth methods' choices on the real table, when the caller has not got them."""
    found: dict[str, Selection] = {}
    for method in methods:
        try:
            if method == "main":
                found[method] = Selection(fit_loglinear(table, (), check=True))
            elif method == "stepwise":
                found[method] = stepwise(table, 0.02)
            elif method == "aic-stepwise":
                found[method] = aic_stepwise(table, 0.05)
            elif method == "bic":
                if table.n_lists > BIC_MAX_LISTS:
                    notes.append(
                        f"bic is left out: the search over every model is limited to "
                        f"{BIC_MAX_LISTS} lists."
                    )
                    continue
                found[method] = bic_search(table)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
            notes.append(f"{method} gave no model on the real table ({error}).")
    return found


def _figure_on_data(table: CaptureTable, method: str, selection: Selection | None) -> Figure:
    if method == "aic-stepwise" and selection is not None:
        maximum, limits = profile_interval(_checked(selection.fit), levels=(0.95,))
        low, high = limits[0.95]
        return Figure(maximum, low, math.inf if high is None else high)
    if selection is not None:
        return _lognormal(selection.fit)
    if method == DGA:
        return _dga(table)
    raise EstimationError(f"{method} gave no estimate on the real table")


def recommend(
    table: CaptureTable,
    *,
    methods: Sequence[str] = SIMULATED_METHODS,
    selections: Mapping[str, Selection] | None = None,
    figures: Mapping[str, tuple[float, IntervalPair]] | None = None,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 1234,
    progress: ProgressCallback | None = None,
) -> Recommendation:
    """Recommend which method's figure to report for ``table``, with the evidence.

    ``methods`` compete (any of :data:`SIMULATED_METHODS`; ``bic-average`` needs ``bic``).
    ``selections`` are the models the methods of :data:`TRUTH_METHODS` chose on the table
    and ``figures`` their estimate and 95% interval there, as a robustness run has them;
    what is missing is computed. ``progress(done, total)`` counts simulated populations.
    """
    started = time.perf_counter()
    if replicates < 1:
        raise EstimationError(f"the simulation check needs at least 1 replicate, got {replicates}")
    notes: list[str] = []
    requested = list(dict.fromkeys(methods))
    methods = [m for m in requested if m in SIMULATED_METHODS]
    if "lcmcr" in requested:
        notes.append(
            "lcmcr is not in the simulation check: one run takes seconds, so hundreds per "
            "table would take too long."
        )
    others = [m for m in requested if m not in SIMULATED_METHODS and m != "lcmcr"]
    if others:
        notes.append(
            f"Not in the simulation check: {', '.join(others)} (it covers "
            f"{', '.join(SIMULATED_METHODS)})."
        )
    if DGA in methods and not dga_available():
        methods.remove(DGA)
        notes.append("dga is not installed in this version, so it is not in the comparison.")
    elif DGA in methods and not DGA_LISTS[0] <= table.n_lists <= DGA_LISTS[1]:
        methods.remove(DGA)
        notes.append(
            f"dga is not in the comparison: it averages over graphs of {DGA_LISTS[0]} to "
            f"{DGA_LISTS[1]} lists, and this table has {table.n_lists}."
        )
    given = {m: s for m, s in (selections or {}).items() if m in TRUTH_METHODS}
    wanted = [
        m
        for m in TRUTH_METHODS
        if m not in given and (m in methods or (m == "bic" and MODEL_AVERAGE in methods))
    ]
    given.update(chosen_models(table, wanted, notes))
    if "bic" not in given:
        methods = [m for m in methods if m not in ("bic", MODEL_AVERAGE)]
    methods = [m for m in methods if m in given or m in (MODEL_AVERAGE, DGA)]
    truths = candidate_truths(table, given)
    too_large = [t for t in truths if not cell_means(t.fit).max() < MAX_SIMULATED_COUNT]
    if too_large:
        # numpy's Poisson draws stop near 10^19, and counts near it overflow the sums.
        notes.append(
            f"not simulated from, as they expect more than {MAX_SIMULATED_COUNT:.0e} people "
            "in some capture history: "
            + ", ".join(f"{t.label} ({', '.join(t.chosen_by)})" for t in too_large)
            + "."
        )
        truths = [t for t in truths if t not in too_large]
    if not truths or not methods:
        cause = (
            f"the fitted models expect more than {MAX_SIMULATED_COUNT:.0e} people in some "
            "capture history, too many to draw"
            if too_large
            else "no method fitted a model to this table"
        )
        raise EstimationError(f"there is nothing to simulate from: {cause}")

    average: ModelAverage | None = None
    if MODEL_AVERAGE in methods:
        try:
            average = model_average(table, given["bic"])
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
            notes.append(f"the BIC-weighted average could not be computed ({error}).")
            methods.remove(MODEL_AVERAGE)

    data_figures: dict[str, tuple[float, IntervalPair] | None] = {}
    for method in methods:
        if figures is not None and method in figures:
            data_figures[method] = figures[method]
        elif method == MODEL_AVERAGE and average is not None:
            data_figures[method] = (average.population, average.interval_95)
        else:
            try:
                figure = _figure_on_data(table, method, given.get(method))
                high = None if math.isinf(figure.high) else figure.high
                data_figures[method] = (figure.population, (figure.low, high))
            except (ValueError, ArithmeticError, np.linalg.LinAlgError):
                data_figures[method] = None

    candidates: list[tuple[int, ...]] = [()]
    bic_selection = given.get("bic")
    if bic_selection is not None:
        top = default_top_models(table.n_lists)
        candidates += bic_selection.ranked_models[:top]
    candidates += [model_key(truth.fit) for truth in truths]
    runner = MethodRunner(methods, candidates)

    total = replicates * len(truths)
    evidence: list[Performance] = []
    done = 0
    from threadpoolctl import threadpool_limits

    # Thousands of tiny solves: BLAS threads would only add their start-up cost.
    with threadpool_limits(limits=1):
        for index, truth in enumerate(truths):
            rng = np.random.default_rng([seed, index])
            draws, sizes = parametric_draws(truth.fit, replicates, rng)
            results: dict[str, list[Figure | str]] = {m: [] for m in methods}
            for row in draws:
                outcome = runner.run(table.with_counts(row))
                for method in methods:
                    results[method].append(outcome[method])
                done += 1
                if progress is not None:
                    progress(done, total)
            evidence += [_performance(m, truth, sizes, results[m]) for m in methods]

    unsupported = {m for t in truths if not t.supported for m in t.chosen_by}
    summaries = _summaries(methods, evidence, data_figures, unsupported)
    choice, reason = _choose(summaries, truths, replicates)
    if not any(truth.supported for truth in truths):
        notes.append("no candidate model is supported by the data")
    rejected = [t for t in truths if not t.supported]
    if rejected:
        notes.append(
            "not used to judge the methods, as the data reject them (BIC more than "
            f"{SUPPORT_BIC_GAP:g} above the best): "
            + "; ".join(
                f"{t.label} chosen by {', '.join(t.chosen_by)} (BIC +{t.bic_gap:.1f})"
                for t in rejected
            )
            + "."
        )
    chosen = next(s for s in summaries if s.method == choice)
    assert chosen.population is not None and chosen.interval_95 is not None
    return Recommendation(
        method=choice,
        population=chosen.population,
        interval_95=chosen.interval_95,
        reason=reason,
        evidence=evidence,
        summaries=summaries,
        truths=truths,
        replicates=replicates,
        seed=seed,
        seconds=time.perf_counter() - started,
        model_average=average,
        notes=notes,
    )


def _summaries(
    methods: Sequence[str],
    evidence: Sequence[Performance],
    data_figures: Mapping[str, tuple[float, IntervalPair] | None],
    unsupported: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[MethodSummary]:
    """Each method's worst case over the supported truths. A method whose own model the data
    reject is not eligible: its interval assumes that model."""
    summaries = []
    any_supported = any(p.supported for p in evidence)
    for method in methods:
        rows = [p for p in evidence if p.method == method and (p.supported or not any_supported)]
        biases = [p.relative_bias for p in rows]
        finite_bias = [b for b in biases if math.isfinite(b)]
        worst_bias = max(finite_bias, key=abs) if len(finite_bias) == len(rows) else math.nan
        rmses = [p.relative_rmse for p in rows]
        worst_rmse = max(rmses) if all(math.isfinite(r) for r in rmses) else math.inf
        coverages = [p.coverage if math.isfinite(p.coverage) else 0.0 for p in rows]
        lowest = min(coverages) if coverages else 0.0
        failure = max((p.failure_share for p in rows), default=1.0)
        figure = data_figures.get(method)
        eligible = (
            figure is not None
            and method not in unsupported
            and lowest >= MIN_COVERAGE
            and failure <= MAX_FAILURE_SHARE
            and math.isfinite(worst_rmse)
        )
        summaries.append(
            MethodSummary(
                method=method,
                population=None if figure is None else figure[0],
                interval_95=None if figure is None else figure[1],
                worst_bias=worst_bias,
                worst_rmse=worst_rmse,
                lowest_coverage=lowest,
                worst_failure_share=failure,
                eligible=eligible,
                model_supported=method not in unsupported,
            )
        )
    return summaries


def _choose(
    summaries: Sequence[MethodSummary], truths: Sequence[Truth], replicates: int
) -> tuple[str, str]:
    """The method to report and the plain-words reason."""
    supported = [t for t in truths if t.supported] or list(truths)
    scope = (
        "the model the data support"
        if len(supported) == 1
        else f"the {len(supported)} models the data support"
    )
    with_figure = [s for s in summaries if s.population is not None]
    if not with_figure:
        raise EstimationError("no method gave an estimate on the real table")
    eligible = [s for s in with_figure if s.eligible]
    if eligible:
        # Errors within Monte-Carlo error of the smallest count as a tie (the relative error
        # of a root-mean-square estimate from R draws is about 1/√(2R)); among tied methods
        # the interval that comes nearest 95% coverage wins.
        smallest = min(s.worst_rmse for s in eligible)
        tied = [
            s for s in eligible if s.worst_rmse <= smallest * (1 + 1 / math.sqrt(2 * replicates))
        ]
        best = max(tied, key=lambda s: (min(s.lowest_coverage, 0.95), -s.worst_rmse))
        reason = (
            f"In populations simulated from {scope}, {best.method} came closest to the true "
            f"size: a typical error of at most {_percent(best.worst_rmse)}, "
            f"{_lean(best.worst_bias)}, and its 95% interval contained the true size in at "
            f"least {_percent(best.lowest_coverage)} of them."
        )
        qualified = sorted((s for s in eligible if s is not best), key=lambda s: s.worst_rmse)
        if qualified:
            runner = qualified[0]
            reason += (
                f" Next best: {runner.method} (error up to {_percent(runner.worst_rmse)}, "
                f"coverage {_percent(runner.lowest_coverage)})."
            )
        reason += _shortfalls(s for s in with_figure if s is not best)
        return best.method, reason
    best = max(with_figure, key=lambda s: (s.model_supported, s.lowest_coverage, -s.worst_rmse))
    reason = (
        f"No method's 95% interval held up in populations simulated from {scope}: the best, "
        f"{best.method}, contained the true size in only {_percent(best.lowest_coverage)} of "
        f"them (its error up to {_percent(best.worst_rmse)}). Report it with that caveat, "
        "and read its interval as too narrow."
    )
    reason += _shortfalls(s for s in with_figure if s is not best and not s.model_supported)
    return best.method, reason


def _lean(bias: float) -> str:
    """The average error's direction in words."""
    if not math.isfinite(bias):
        return "with no measure of its lean"
    if abs(bias) < 0.005:
        return "right on average"
    direction = "too high" if bias > 0 else "too low"
    return f"at most {abs(100 * bias):.1f}% {direction} on average"


def _shortfalls(summaries: Iterable[MethodSummary]) -> str:
    """Why the other methods were passed over, in one sentence."""
    reasons = []
    for summary in summaries:
        if not summary.model_supported:
            reasons.append(f"{summary.method} (the data reject the model it chose)")
        elif summary.lowest_coverage < MIN_COVERAGE:
            if summary.lowest_coverage > 0:
                share = _percent(summary.lowest_coverage)
                text = f"its interval contained the truth in only {share} of them"
            else:
                text = "its interval missed the truth every time"
            reasons.append(f"{summary.method} ({text}, under at least one model)")
        elif summary.worst_failure_share > MAX_FAILURE_SHARE:
            reasons.append(
                f"{summary.method} (no estimate on {_percent(summary.worst_failure_share)} of "
                "the simulated tables)"
            )
    return " Passed over: " + "; ".join(reasons) + "." if reasons else ""


# ---------------------------------------------------------------------- presentation


def evidence_lines(recommendation: Recommendation) -> list[str]:
    """One plain line per method: its figure and how it did in the simulation."""
    lines = []
    for summary in recommendation.summaries:
        figure = "no estimate" if summary.population is None else _count(summary.population)
        mark = " ← report this" if summary.method == recommendation.method else ""
        lines.append(
            f"{summary.method:<13} {figure:>10}   bias {_percent(summary.worst_bias, True):>7}"
            f"   error {_percent(summary.worst_rmse):>5}"
            f"   95% coverage {_percent(summary.lowest_coverage):>4}{mark}"
        )
    return lines


TRUTH_MARKERS = ("o", "s", "D", "^", "v", "P")


def simulation_chart_svg(recommendation: Recommendation) -> str:
    """Bias and 95% coverage of every method under every possible truth, side by side.

    One line per method; one marker per truth (filled when the data support it, hollow and
    grey when they reject it). Coverage has the nominal 95% and the 85% bar marked.
    """
    from tiphub.estimate.report import _figure, _plain, _svg

    methods = [s.method for s in recommendation.summaries]
    count = max(len(methods), 1)
    figure = _figure(9.0, 1.6 + 0.42 * count)
    bias_axes, coverage_axes = figure.subplots(1, 2, sharey=True)
    ys = {method: count - 1 - i for i, method in enumerate(methods)}
    truths = recommendation.truths
    for index, truth in enumerate(truths):
        marker = TRUTH_MARKERS[index % len(TRUTH_MARKERS)]
        colour = "#1f3b57" if truth.supported else "0.6"
        face = colour if truth.supported else "none"
        offset = (index - (len(truths) - 1) / 2) * 0.12
        rows = [p for p in recommendation.evidence if p.truth == truth.label]
        xs_bias = [100 * p.relative_bias for p in rows if p.method in ys]
        xs_cover = [100 * p.coverage for p in rows if p.method in ys]
        y_rows = [ys[p.method] + offset for p in rows if p.method in ys]
        label = f"truth {truth.label} ({', '.join(truth.chosen_by)})"
        if not truth.supported:
            label += ", rejected by the data"
        bias_axes.scatter(
            xs_bias, y_rows, marker=marker, s=34, color=colour, facecolors=face, label=_plain(label)
        )
        coverage_axes.scatter(xs_cover, y_rows, marker=marker, s=34, color=colour, facecolors=face)
    bias_axes.axvline(0, color="0.3", lw=1)
    coverage_axes.axvline(95, color="0.3", lw=1)
    coverage_axes.axvline(100 * MIN_COVERAGE, color="#c0392b", lw=1, ls="--")
    coverage_axes.set_xlim(-2, 102)
    bias_axes.set_yticks(list(ys.values()), labels=[_plain(m) for m in ys])
    for tick, method in zip(bias_axes.get_yticklabels(), ys, strict=True):
        if method == recommendation.method:
            tick.set_fontweight("bold")
    bias_axes.set_ylim(-0.7, count - 0.3)
    bias_axes.set_xlabel("relative bias of the estimate, % (0 = right on average)", fontsize=8)
    coverage_axes.set_xlabel(
        f"95% interval contained the true size, % of draws (dashed: {100 * MIN_COVERAGE:.0f}%)",
        fontsize=8,
    )
    for axes in (bias_axes, coverage_axes):
        axes.grid(axis="x", alpha=0.25)
        axes.tick_params(axis="y", length=0)
        for spine in ("top", "right"):
            axes.spines[spine].set_visible(False)
    figure.legend(loc="outside lower center", ncols=min(len(truths), 2), fontsize=7, frameon=False)
    title = "How each method did on populations simulated from the fitted models"
    bias_axes.set_title(_plain(title), loc="left", fontsize=11)
    return _svg(figure, title)

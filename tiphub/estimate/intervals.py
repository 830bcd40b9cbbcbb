"""Confidence intervals for the population size.

* :func:`lognormal_interval` — model-conditional: the dark figure is log-normal with the
  intercept's standard error (SparseMSE's ``estimatepopulation.0``).
* :func:`profile_interval` — Rcapture's ``closedpCI.t``: the multinomial profile
  likelihood of N (with Cormack's correction term), its maximiser and χ²₁ limits.
* :func:`bca_interval` — the bootstrap of Chan, Silverman & Vincent (2021): multinomial
  resampling of the whole table with the model selection repeated, bias correction from
  the share of replicates below the estimate, acceleration from the delete-one jackknife
  over distinct observed cells, and R's type-8 quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import gammaln
from scipy.stats import chi2, norm

from tiphub.estimate.loglinear import R_EPSILON, R_MAXIT, LoglinearFit, ModelLayout, fit_poisson
from tiphub.estimate.table import CaptureTable, ProgressCallback

Interval = tuple[float, float | None]

PROFILE_UPPER_FACTOR = 3.0  # Rcapture's fmaxSupCL


def lognormal_interval(fit: LoglinearFit, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    low, high = norm.ppf([tail, 1.0 - tail], loc=fit.intercept, scale=fit.intercept_se)
    observed = fit.table.observed
    with np.errstate(over="ignore"):
        return observed + float(np.exp(low)), observed + float(np.exp(high))


@dataclass
class ProfileLikelihood:
    """Rcapture's multinomial profile likelihood of N for one model."""

    fit: LoglinearFit
    maximum: float = 0.0
    loglik_max: float = 0.0
    _design: np.ndarray = field(init=False, repr=False)
    _y: np.ndarray = field(init=False, repr=False)
    _start: np.ndarray | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        table = self.fit.table
        layout = ModelLayout.build(
            table.counts, table.n_lists, [*self.fit.terms, *self.fit.infinite_terms]
        )
        design = layout.design()
        # The unobserved cell joins as a row with only the intercept.
        unobserved = np.zeros((1, design.shape[1]))
        unobserved[0, 0] = 1.0
        self._design = np.vstack([design, unobserved])
        self._y = np.concatenate([table.counts[layout.cells].astype(float), [0.0]])
        n = float(table.observed)
        upper = PROFILE_UPPER_FACTOR * self.fit.population
        result = minimize_scalar(
            lambda value: -self.loglik(value),
            bounds=(n, upper),
            method="bounded",
            options={"xatol": 1e-7 * max(n, 1.0)},
        )
        self.maximum = float(result.x)
        self.loglik_max = self.loglik(self.maximum)

    def loglik(self, population: float) -> float:
        n = float(self.fit.table.observed)
        unseen = population - n
        unseen = max(unseen, 0.0)
        y = self._y.copy()
        y[-1] = unseen
        if unseen == 0.0:
            # Nobody unseen pushes the intercept to −∞; like Rcapture, take R's glm
            # iterations at face value rather than chase the limit.
            fitted = fit_poisson(self._design, y, epsilon=R_EPSILON, maxit=R_MAXIT)
        else:
            fitted = fit_poisson(self._design, y, start=self._start)
            if not fitted.converged and self._start is not None:
                fitted = fit_poisson(self._design, y)
            if fitted.converged:
                self._start = fitted.coefficients
        deviance = fitted.deviance
        if not math.isfinite(deviance):
            return -math.inf
        correction = _cormack(unseen, population)
        return -(deviance - 2.0 * correction) / 2.0

    def interval(self, level: float) -> Interval:
        n = float(self.fit.table.observed)
        threshold = self.loglik_max - float(chi2.ppf(level, 1)) / 2.0

        def excess(value: float) -> float:
            return float(self.loglik(value) - threshold)

        low = n
        if excess(n) < 0:
            low = float(brentq(excess, n, self.maximum, xtol=1e-6))
        high: float | None = None
        upper = PROFILE_UPPER_FACTOR * self.fit.population
        if excess(upper) < 0:
            high = float(brentq(excess, self.maximum, upper, xtol=1e-6))
        return low, high


def _cormack(unseen: float, population: float) -> float:
    """Cormack's (1992) correction turning the Poisson deviance into a multinomial one."""
    if population > 100:
        if unseen in (0.0, 1.0):
            return -population + 0.5 * math.log(2 * math.pi * population)
        return unseen - population - 0.5 * math.log(unseen / population)
    log_unseen_power = unseen * math.log(unseen) if unseen > 0 else 0.0
    return float(
        log_unseen_power
        + gammaln(population + 1)
        - population * math.log(population)
        - gammaln(unseen + 1)
    )


def profile_interval(
    fit: LoglinearFit, levels: Sequence[float] = (0.95, 0.8)
) -> tuple[float, dict[float, Interval]]:
    profile = ProfileLikelihood(fit)
    return profile.maximum, {level: profile.interval(level) for level in levels}


# ---------------------------------------------------------------------- BCa bootstrap

Estimator = Callable[[CaptureTable], float]


@dataclass
class BootstrapResult:
    estimate: float
    replicates: np.ndarray = field(repr=False)
    jackknife: np.ndarray = field(repr=False)
    acceleration: float
    bias_z0: float
    failed: int
    seed: int

    def interval(self, level: float) -> tuple[float, float]:
        tail = (1.0 - level) / 2.0
        low, high = bca_quantiles(
            self.replicates, self.estimate, self.acceleration, [tail, 1 - tail]
        )
        return low, high


def bca_quantiles(
    replicates: np.ndarray, estimate: float, acceleration: float, alpha: Sequence[float]
) -> list[float]:
    """SparseMSE's ``bcaconfvalues``: adjusted percentiles, R quantile type 8."""
    usable = replicates[np.isfinite(replicates)]
    z0 = norm.ppf(np.mean(usable < estimate))
    za = norm.ppf(np.asarray(alpha))
    shifted = za + z0
    adjusted = norm.cdf(z0 + shifted / (1.0 - acceleration * shifted))
    return [float(v) for v in np.quantile(usable, adjusted, method="median_unbiased")]


@dataclass(frozen=True)
class KeepsEmptyLists:
    """An estimator that takes a replicate whose resampling emptied a list as it is.

    SparseMSE's stepwise bootstrap does: a list nobody is on fails the existence check for
    every two-list term, so that replicate keeps the main-effects model (whose estimate is
    that of the other lists). Dropping the list first would let the selection go on among
    the other lists and pick models R never reaches: on New Orleans (8 lists, three of 6–8
    people) about one replicate in 300, moved by up to a factor of six.
    """

    estimator: Estimator

    def __call__(self, table: CaptureTable) -> float:
        return self.estimator(table)


def resample_estimate(estimator: Estimator, table: CaptureTable) -> float:
    """Estimate on a resampled table. Lists emptied by resampling are dropped (as for a
    list R's glm cannot estimate), unless the estimator is :class:`KeepsEmptyLists`.
    Failures give NaN and are counted."""
    reduced, dropped = table.without_empty_lists()
    if reduced.n_lists < 2:
        return math.nan
    if dropped and isinstance(estimator, KeepsEmptyLists):
        reduced = table
    try:
        return float(estimator(reduced))
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        return math.nan


def bootstrap(
    table: CaptureTable,
    estimator: Estimator,
    *,
    replicates: int,
    seed: int,
    estimate: float | None = None,
    progress: ProgressCallback | None = None,
    replicate_source: Callable[[], CaptureTable] | None = None,
) -> BootstrapResult:
    """BCa bootstrap of ``estimator`` on ``table``.

    ``replicate_source``, when given, supplies the table each replicate resamples instead of
    ``table`` (e.g. with uncertain links redrawn: :mod:`tiphub.estimate.linkage_error`); it
    keeps its own random stream, so the resampling draws follow ``seed`` alone.
    """
    rng = np.random.default_rng(seed)
    point = estimator(table) if estimate is None else estimate
    cells = table.observed_cells()
    observed_counts = table.counts[cells]
    n = int(observed_counts.sum())
    probabilities = observed_counts / n
    values = np.empty(replicates)
    total_steps = replicates + cells.size
    for index in range(replicates):
        # One replicate at a time: the same draws as one (replicates × cells) call, which
        # would need gigabytes for many replicates of a many-list table.
        drawn_cells, drawn_n, drawn_probabilities = cells, n, probabilities
        if replicate_source is not None:
            source = replicate_source()
            drawn_cells = source.observed_cells()
            drawn_n = int(source.counts[drawn_cells].sum())
            drawn_probabilities = source.counts[drawn_cells] / drawn_n
        draw = rng.multinomial(drawn_n, drawn_probabilities)
        counts = np.zeros_like(table.counts)
        counts[drawn_cells] = draw
        values[index] = resample_estimate(estimator, table.with_counts(counts))
        if progress is not None:
            progress(index + 1, total_steps)
    jackknife = np.zeros(cells.size)
    for index, cell in enumerate(cells):
        counts = table.counts.copy()
        counts[cell] -= 1
        jackknife[index] = resample_estimate(estimator, table.with_counts(counts))
        if progress is not None:
            progress(replicates + index + 1, total_steps)
    weights = observed_counts.astype(float)
    jack_ok = np.isfinite(jackknife)
    weights_ok = weights[jack_ok]
    jack_values = jackknife[jack_ok]
    residuals = np.sum(weights_ok * jack_values) / np.sum(weights_ok) - jack_values
    denominator = 6.0 * np.sum(weights_ok * residuals**2) ** 1.5
    acceleration = (
        float(np.sum(weights_ok * residuals**3) / denominator) if denominator > 0 else 0.0
    )
    finite = values[np.isfinite(values)]
    z0 = float(norm.ppf(np.mean(finite < point))) if finite.size else math.nan
    return BootstrapResult(
        estimate=point,
        replicates=values,
        jackknife=jackknife,
        acceleration=acceleration,
        bias_z0=z0,
        failed=int((~np.isfinite(values)).sum()),
        seed=seed,
    )

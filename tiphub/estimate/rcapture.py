"""Rcapture's closed-population models: ``closedp.t``, ``closedpCI.t`` and ``closedpMS.t``.

Rivest & Baillargeon's Rcapture fits every model as a Poisson log-linear model over the
2^t − 1 observable capture histories, with R's ``glm`` (no existence checks: a parameter
whose maximum-likelihood value is −∞ drifts until glm stops, at most 25 iterations).
To reproduce its figures, :func:`r_glm_poisson` steps and stops exactly as ``glm.fit``.

Models (Rcapture's design columns, besides the intercept):

* ``M0``: the number of lists a history is on; ``Mt``: one column per list.
* ``Mh`` / ``Mth``: the same plus a heterogeneity term in the number of captures k:
  Chao's lower bound (columns ``eta_j = max(k − j + 1, 0)`` for j = 3…t; negative eta
  parameters are removed one at a time, first in column order, and the model refitted),
  Poisson2 (``2^k − 1``), Darroch (``k²/2``) or Gamma3.5 (``−log(3.5 + k) + log 3.5``).
* ``closedpMS.t``: every hierarchical model (all main effects, interactions up to
  ``maxorder``), ranked by BIC or AIC.

The estimate is ``n + exp(intercept)`` with standard error
``sqrt(exp(a) + exp(2a)·var(a))``; ``closedpCI.t`` adds the multinomial profile
likelihood of N (Cormack's correction) and its χ²₁ interval, searched as Rcapture does:
the maximum in (n, 1.5·N), the lower limit in (n, N_max) — else n — and the upper in
(N_max, 3·N) — else unbounded.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit
from scipy.optimize import brentq, minimize_scalar
from scipy.special import gammaln
from scipy.stats import chi2, norm

from tiphub.estimate.loglinear import EstimationError, existence_code
from tiphub.estimate.results import MSEResult
from tiphub.estimate.selection import hierarchical_models
from tiphub.estimate.table import CaptureTable, popcount

R_EPSILON = 1e-8  # glm.control()$epsilon
R_MAXIT = 25  # glm.control()$maxit
R_DOUBLE_EPS = float(np.finfo(float).eps)  # the floor of R's poisson()$linkinv
PROFILE_UPPER_FACTOR = 3.0  # closedpCI.t's fmaxSupCL
PROFILE_SEARCH_FACTOR = 1.5  # optimize() searches the maximum in (n, 1.5 N)
LEVELS = (0.95, 0.8)

# method name -> (Rcapture's model name, time effects?, heterogeneity, theta)
CLOSEDP_MODELS: dict[str, tuple[str, bool, str | None, float | None]] = {
    "m0": ("M0", False, None, None),
    "mt": ("Mt", True, None, None),
    "mh-chao": ("Mh Chao (LB)", False, "Chao", None),
    "mh-poisson": ("Mh Poisson2", False, "Poisson", 2.0),
    "mh-darroch": ("Mh Darroch", False, "Darroch", None),
    "mh-gamma": ("Mh Gamma3.5", False, "Gamma", 3.5),
    "mth-chao": ("Mth Chao (LB)", True, "Chao", None),
    "mth-poisson": ("Mth Poisson2", True, "Poisson", 2.0),
    "mth-darroch": ("Mth Darroch", True, "Darroch", None),
    "mth-gamma": ("Mth Gamma3.5", True, "Gamma", 3.5),
}


# ---------------------------------------------------------------------- R's glm.fit


@dataclass
class GlmFit:
    """What Rcapture takes from a ``glm(family = poisson)`` fit."""

    coefficients: np.ndarray
    fitted: np.ndarray
    deviance: float
    converged: bool
    iterations: int
    covariance: np.ndarray = field(repr=False)

    @property
    def rank(self) -> int:
        return int(self.coefficients.size)


def r_glm_poisson(
    design: np.ndarray,
    y: np.ndarray,
    *,
    epsilon: float = R_EPSILON,
    maxit: int = R_MAXIT,
    start: np.ndarray | None = None,
) -> GlmFit:
    """``glm.fit`` for the Poisson log link, step for step.

    Starts at μ = y + 0.1, solves each weighted least-squares step by a QR decomposition
    of √W·X (as ``Cdqrls``), floors μ at the machine epsilon as R's link inverse does, and
    stops when the deviance changes by less than ``epsilon`` relative to |dev| + 0.1 or
    after ``maxit`` steps. The covariance is ``summary.glm``'s unscaled one: the inverse of
    X'WX at the weights of the last step. ``design`` includes the intercept column.
    """
    width = design.shape[1]
    warm = start is not None
    coefficients, mu, deviance, converged, iterations, r_factor = _irls_qr(
        np.ascontiguousarray(design, dtype=np.float64),
        np.ascontiguousarray(y, dtype=np.float64),
        np.zeros(width) if start is None else np.asarray(start, dtype=np.float64),
        warm,
        epsilon,
        maxit,
    )
    r_inverse = np.linalg.solve(r_factor, np.eye(width))
    covariance = r_inverse @ r_inverse.T
    return GlmFit(coefficients, mu, float(deviance), bool(converged), int(iterations), covariance)


@njit(cache=True)
def _irls_qr(
    design: np.ndarray, y: np.ndarray, start: np.ndarray, warm: bool, epsilon: float, maxit: int
) -> tuple[np.ndarray, np.ndarray, float, bool, int, np.ndarray]:
    rows, width = design.shape
    coefficients = start.copy()
    eta = np.empty(rows)
    mu = np.empty(rows)
    for i in range(rows):
        if warm:
            eta[i] = design[i] @ coefficients
            mu[i] = max(math.exp(eta[i]), 2.220446049250313e-16)
        else:
            mu[i] = y[i] + 0.1
            eta[i] = math.log(mu[i])
    deviance_old = _poisson_deviance_nb(y, mu)
    deviance = deviance_old
    converged = False
    r_factor = np.eye(width)
    weighted = np.empty((rows, width))
    response = np.empty(rows)
    iteration = 0
    while iteration < maxit:
        iteration += 1
        for i in range(rows):
            root_w = math.sqrt(mu[i])
            response[i] = (eta[i] + (y[i] - mu[i]) / mu[i]) * root_w
            for j in range(width):
                weighted[i, j] = design[i, j] * root_w
        q_factor, r_factor = np.linalg.qr(weighted)
        coefficients = np.linalg.solve(r_factor, np.ascontiguousarray(q_factor.T) @ response)
        for i in range(rows):
            eta[i] = design[i] @ coefficients
            mu[i] = max(math.exp(eta[i]), 2.220446049250313e-16)
        deviance = _poisson_deviance_nb(y, mu)
        if abs(deviance - deviance_old) / (abs(deviance) + 0.1) < epsilon:
            converged = True
            break
        deviance_old = deviance
    return coefficients, mu, deviance, converged, iteration, r_factor


def poisson_loglik(y: np.ndarray, mu: np.ndarray) -> float:
    """Σ log dpois(y, μ), the likelihood behind glm's AIC."""
    with np.errstate(divide="ignore"):
        return float(np.sum(np.where(y > 0, y * np.log(mu), 0.0) - mu - gammaln(y + 1.0)))


# ---------------------------------------------------------------------- designs


def _cells(n_lists: int) -> np.ndarray:
    return np.arange(1, 1 << n_lists, dtype=np.int64)


def _captures(n_lists: int) -> np.ndarray:
    """How many lists each observable history (in mask order 1 … 2^t − 1) is on."""
    return np.array([popcount(int(c)) for c in _cells(n_lists)], dtype=np.float64)


def closedp_design(n_lists: int, method: str) -> tuple[np.ndarray, list[str], int]:
    """Design (intercept first), column names and ``nca`` (columns before Chao's etas)."""
    _, time_effects, heterogeneity, theta = CLOSEDP_MODELS[method]
    cells = _cells(n_lists)
    captures = _captures(n_lists)
    columns = [np.ones(cells.size)]
    names = ["(Intercept)"]
    if time_effects:
        for i in range(n_lists):
            columns.append(((cells >> i) & 1).astype(np.float64))
            names.append(f"beta{i + 1}")
    else:
        columns.append(captures)
        names.append("beta")
    nca = len(columns)
    if heterogeneity == "Chao":
        for j in range(3, n_lists + 1):
            columns.append(np.maximum(captures - j + 1, 0.0))
            names.append(f"eta{j}")
    elif heterogeneity == "Poisson":
        assert theta is not None
        columns.append(theta**captures - 1.0)
        names.append("tau")
    elif heterogeneity == "Darroch":
        columns.append(captures**2 / 2.0)
        names.append("tau")
    elif heterogeneity == "Gamma":
        assert theta is not None
        columns.append(-np.log(theta + captures) + math.log(theta))
        names.append("tau")
    return np.column_stack(columns), names, nca


def hierarchical_design(n_lists: int, terms: Sequence[int]) -> tuple[np.ndarray, list[int]]:
    """Intercept, main effects and the given interactions, as 0/1 columns by term mask."""
    cells = _cells(n_lists)
    masks = [0, *(1 << i for i in range(n_lists)), *sorted(terms, key=lambda m: (popcount(m), m))]
    array = np.asarray(masks, dtype=np.int64)
    design = ((cells[:, None] & array[None, :]) == array[None, :]).astype(np.float64)
    return design, masks


# ---------------------------------------------------------------------- one model


@dataclass
class ClosedpFit:
    """One Rcapture model fitted: Poisson estimate, fit statistics and the glm."""

    n: int
    glm: GlmFit
    design: np.ndarray = field(repr=False)
    names: list[str]
    removed: list[str]
    y: np.ndarray = field(repr=False)
    nca: int | None

    @property
    def intercept(self) -> float:
        return float(self.glm.coefficients[0])

    @property
    def population(self) -> float:
        return self.n + math.exp(self.intercept)

    @property
    def stderr(self) -> float:
        dark = math.exp(self.intercept)
        return math.sqrt(dark + dark * dark * float(self.glm.covariance[0, 0]))

    @property
    def deviance(self) -> float:
        return self.glm.deviance

    @property
    def df(self) -> int:
        return int(self.y.size - self.glm.rank)

    @property
    def aic(self) -> float:
        return -2.0 * poisson_loglik(self.y, self.glm.fitted) + 2.0 * self.glm.rank

    @property
    def bic(self) -> float:
        return self.aic + (math.log(self.n) - 2.0) * self.glm.rank

    def asymptotic_bias(self) -> float:
        """Rcapture's asymptotic bias of N (closedp.fitone; from Louis-Paul Rivest)."""
        x = self.design
        v = self.glm.covariance
        xi = -0.5 * np.einsum("ij,jk,ik->i", x, v, x)
        psi = -2.0 * x.T @ (self.glm.fitted * xi)
        psi[0] -= 1.0
        return float(0.5 * math.exp(self.intercept) * (-(v @ psi))[0])

    def coefficient_table(self) -> list[tuple[str, float, float]]:
        se = np.sqrt(np.maximum(np.diag(self.glm.covariance), 0.0))
        return [
            (name, float(b), float(s))
            for name, b, s in zip(self.names, self.glm.coefficients, se, strict=True)
        ]


def _fit_removing_negative_etas(
    design: np.ndarray, names: list[str], y: np.ndarray, nca: int | None
) -> tuple[GlmFit, np.ndarray, list[str], list[str]]:
    """Rcapture's ``Chao.neg``: refit without the first negative eta until none is left."""
    fit = r_glm_poisson(design, y)
    removed: list[str] = []
    if nca is None:
        return fit, design, names, removed
    while True:
        negative = [j for j in range(nca, design.shape[1]) if fit.coefficients[j] < 0]
        if not negative:
            return fit, design, names, removed
        drop = negative[0]
        removed.append(names[drop])
        design = np.delete(design, drop, axis=1)
        names = names[:drop] + names[drop + 1 :]
        fit = r_glm_poisson(design, y)


def fit_design(
    table: CaptureTable, design: np.ndarray, names: list[str], nca: int | None = None
) -> ClosedpFit:
    """Fit a design over the table's observable histories (mask order), as closedp.fitone.

    ``nca`` marks a Chao lower-bound model: columns from ``nca`` on are its eta terms.
    """
    if table.observed == 0:
        raise EstimationError("the table is empty: nobody is on any list; add the list data")
    y = table.counts[1:].astype(np.float64)
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise EstimationError(
            "this model has more parameters than the lists can tell apart; "
            "use more lists or a simpler model (m0 or mt)"
        )
    try:
        glm, design, names, removed = _fit_removing_negative_etas(design, names, y, nca)
    except np.linalg.LinAlgError:
        glm = None
    if glm is None or not np.isfinite(glm.coefficients).all() or not math.isfinite(glm.deviance):
        raise EstimationError(
            "the Poisson fit broke down on this table; collect more overlaps between lists "
            "or use a simpler model"
        )
    return ClosedpFit(table.observed, glm, design, names, removed, y, nca)


def fit_closedp(table: CaptureTable, method: str) -> ClosedpFit:
    """One of ``closedp.t``'s models, by tiphub's method name (``m0``, ``mth-chao``, …)."""
    if method not in CLOSEDP_MODELS:
        raise EstimationError(
            f"unknown Rcapture model {method!r}; choose one of {', '.join(CLOSEDP_MODELS)}"
        )
    _, _, heterogeneity, _ = CLOSEDP_MODELS[method]
    if heterogeneity is not None and table.n_lists < 3:
        raise EstimationError(
            f"{method} needs at least 3 lists (Rcapture fits only M0, Mt and Mb on 2); "
            "add a list or use --method m0 or mt"
        )
    design, names, nca = closedp_design(table.n_lists, method)
    return fit_design(table, design, names, nca if heterogeneity == "Chao" else None)


# ---------------------------------------------------------------------- profile likelihood


def _cormack(unseen: float, population: float) -> float:
    """Cormack's (1992) term turning the Poisson deviance into the multinomial one,
    written as in closedpCI.t (Stirling's form above 100 people, R's 0^0 = 1)."""
    if population > 100:
        if unseen in (0.0, 1.0):
            return -population + 0.5 * math.log(2 * math.pi * population)
        return unseen - population - 0.5 * math.log(unseen / population)
    power = unseen * math.log(unseen) if unseen > 0 else 0.0
    return float(
        power + gammaln(population + 1) - population * math.log(population) - gammaln(unseen + 1)
    )


@lru_cache(maxsize=16)
def _chi2_quantile(level: float) -> float:
    return float(chi2.ppf(level, 1))  # scipy's distributions cost ~0.3 ms a call


@lru_cache(maxsize=16)
def _normal_quantile(probability: float) -> float:
    return float(norm.ppf(probability))


@dataclass
class ProfileResult:
    maximum: float
    intervals: dict[float, tuple[float, float | None]]
    notes: list[str]


class ProfileLikelihood:
    """closedpCI.t's multinomial profile log-likelihood of N for one fitted design."""

    def __init__(self, fit: ClosedpFit, full_design: np.ndarray, full_names: list[str]) -> None:
        # Like closedpCI.t: the full design (Chao's etas all back in), plus a row for the
        # unseen cell with only the intercept; negative etas are removed at every N.
        unseen_row = np.zeros((1, full_design.shape[1]))
        unseen_row[0, 0] = 1.0
        design = np.vstack([full_design, unseen_row])
        y = np.concatenate([fit.y, [0.0]])
        # Histories with identical rows (all of them by number of captures, in M0 and Mh)
        # share one fitted mean: fit their sums with offset log(multiplicity). The MLE is
        # the same and the deviance differs by a constant, added back in loglik().
        rows, group, multiplicity = np.unique(
            design, axis=0, return_inverse=True, return_counts=True
        )
        group = group.ravel()
        self.design = np.ascontiguousarray(rows)
        self.offset = np.log(multiplicity.astype(np.float64))
        self.unseen_group = int(group[-1])
        if multiplicity[self.unseen_group] != 1:  # a history row can never be all zeros
            raise EstimationError("the design gives the unseen cell the row of a history")
        self.observed_y = np.bincount(group, weights=y, minlength=rows.shape[0])
        positive = y > 0
        within = float(np.sum(y[positive] * np.log(y[positive])))
        grouped = self.observed_y[self.observed_y > 0]
        self.constant = 2.0 * (within - float(np.sum(grouped * np.log(grouped))))
        self.constant += 2.0 * float(np.sum(self.observed_y * self.offset))
        self.nca = fit.nca
        self.n = float(fit.n)
        self.poisson_estimate = fit.population
        # The Poisson fit is the profile's fit at N = n + exp(intercept) (the unseen cell
        # then fits exactly): start there, removed etas at 0.
        seed = np.zeros(full_design.shape[1])
        for name, value in zip(fit.names, fit.glm.coefficients, strict=True):
            seed[full_names.index(name)] = value
        self._starts: dict[bytes, np.ndarray] = {np.ones(seed.size, dtype=bool).tobytes(): seed}

    def loglik(self, population: float) -> float:
        unseen = max(population - self.n, 0.0)
        y = self.observed_y.copy()
        y[self.unseen_group] = unseen
        deviance = self._deviance(y, unseen == 0.0)
        if not math.isfinite(deviance):
            return -math.inf
        # Back to the ungrouped deviance: the unseen cell is alone in its group.
        deviance += self.constant
        return -(deviance - 2.0 * _cormack(unseen, self.n + unseen)) / 2.0

    def _deviance(self, y: np.ndarray, glm_stop: bool) -> float:
        """Deviance at one N, Chao's negative etas removed one at a time (Chao.neg).

        With nobody unseen the intercept drifts to −∞: the fit stops where glm stops
        (25 steps, 1e-8), as in Rcapture. Otherwise only the deviance is used, and glm's
        rule leaves it within 1e-8 relative of the optimum; iterating to 1e-11 from the
        previous N's fit with the same columns is closer and faster.
        """
        width = self.design.shape[1]
        active = np.ones(width, dtype=bool)
        previous: np.ndarray | None = None
        while True:
            columns = np.flatnonzero(active)
            design = np.ascontiguousarray(self.design[:, columns])
            key = active.tobytes()
            start = self._starts.get(key, previous)
            if glm_stop:
                beta, deviance, _ = _irls_dense(
                    design, y, self.offset, np.zeros(columns.size), False, R_EPSILON, R_MAXIT
                )
            else:
                deviance = math.inf
                if start is not None:
                    # Unconverged after 50 Newton steps from a nearby fit means drifting
                    # terms: the deviance is then already closer to its limit than glm's.
                    beta, deviance, _ = _irls_dense(design, y, self.offset, start, True, 1e-11, 50)
                if not math.isfinite(deviance):
                    beta, deviance, _ = _irls_dense(
                        design, y, self.offset, np.zeros(columns.size), False, 1e-11, 50
                    )
                if math.isfinite(deviance):
                    self._starts[key] = beta
            if self.nca is None or not math.isfinite(deviance):
                return float(deviance)
            negative = [j for j in range(self.nca, columns.size) if beta[j] < 0]
            if not negative:
                return float(deviance)
            active[columns[negative[0]]] = False
            previous = np.delete(beta, negative[0])  # the next stage starts from this fit

    def run(self, levels: Sequence[float] = LEVELS) -> ProfileResult:
        n = self.n
        notes: list[str] = []
        seen: dict[float, float] = {}

        def loglik(value: float) -> float:
            if value not in seen:
                seen[value] = self.loglik(value)
            return seen[value]

        result = minimize_scalar(
            lambda value: -loglik(value),
            bounds=(n, PROFILE_SEARCH_FACTOR * self.poisson_estimate),
            method="bounded",
            options={"xatol": 1e-4},  # R optimize(tol = 0.0001): the same Brent search
        )
        maximum = float(result.x)
        loglik_max = loglik(maximum)
        upper = PROFILE_UPPER_FACTOR * self.poisson_estimate
        intervals: dict[float, tuple[float, float | None]] = {}
        at_upper = loglik(upper)
        for level in levels:
            threshold = loglik_max - _chi2_quantile(level) / 2.0

            def excess(value: float, threshold: float = threshold) -> float:
                return loglik(value) - threshold

            # The profile rises up to its maximum: a point below the threshold between n
            # and the maximum already shows the sign change, sparing the fit at N = n
            # (the slowest: the intercept drifts for glm's 25 steps in every Chao stage).
            crossed = any(value < threshold for x, value in seen.items() if n <= x < maximum)
            for share in (0.5, 0.2, 0.05):  # probes that also narrow the bracket
                if crossed:
                    break
                crossed = loglik(n + share * (maximum - n)) < threshold
            if crossed or loglik(n) - threshold < 0 < loglik_max - threshold:
                low = float(brentq(excess, *_bracket(seen, n, maximum, threshold), xtol=1e-4))
            else:
                low = n
                notes.append(f"{round(level * 100)}% lower limit set to the number observed")
            high: float | None = None
            if at_upper - threshold < 0 < loglik_max - threshold:
                high = float(brentq(excess, *_bracket(seen, maximum, upper, threshold), xtol=1e-4))
            else:
                notes.append(
                    f"{round(level * 100)}% upper limit beyond 3 × the estimate (unbounded)"
                )
            intervals[level] = (low, high)
        return ProfileResult(maximum, intervals, notes)


def _bracket(
    seen: dict[float, float], low: float, high: float, threshold: float
) -> tuple[float, float]:
    """The narrowest sign change of loglik − threshold in [low, high] among the points
    already evaluated (the profile is unimodal, so there is one), to save evaluations."""
    points = sorted((x, value - threshold) for x, value in seen.items() if low <= x <= high)
    best = (low, high)
    for (x0, f0), (x1, f1) in itertools.pairwise(points):
        if (f0 < 0) != (f1 < 0) and x1 - x0 < best[1] - best[0]:
            best = (x0, x1)
    return best


def profile(fit: ClosedpFit, full_design: np.ndarray, full_names: list[str]) -> ProfileResult:
    """closedpCI.t's multinomial estimate and profile-likelihood intervals (95% and 80%)."""
    return ProfileLikelihood(fit, full_design, full_names).run()


def chao_lognormal(fit: ClosedpFit, level: float) -> tuple[float, float]:
    """Log-normal interval from N's standard error (Chao 1987, eq. 12), as closedpCI.t
    gives for its normal-heterogeneity model."""
    z = _normal_quantile(1.0 - (1.0 - level) / 2.0)
    dark = fit.population - fit.n
    factor = math.exp(z * math.sqrt(math.log(1.0 + fit.stderr**2 / dark**2)))
    return fit.n + dark / factor, fit.n + dark * factor


# ---------------------------------------------------------------------- compiled kernels


@njit(cache=True)
def _cholesky_solve(matrix: np.ndarray, vector: np.ndarray) -> tuple[np.ndarray, bool]:
    """Solve a symmetric positive-definite system; ``False`` where it is not (numerically)
    positive definite — a compiled loop cannot catch LAPACK's exception, so it reports."""
    size = vector.size
    lower = np.zeros((size, size))
    for j in range(size):
        diagonal = matrix[j, j]
        for k in range(j):
            diagonal -= lower[j, k] * lower[j, k]
        if not diagonal > 0.0:
            return np.zeros(size), False
        lower[j, j] = math.sqrt(diagonal)
        for i in range(j + 1, size):
            value = matrix[i, j]
            for k in range(j):
                value -= lower[i, k] * lower[j, k]
            lower[i, j] = value / lower[j, j]
    forward = np.empty(size)
    for i in range(size):
        value = vector[i]
        for k in range(i):
            value -= lower[i, k] * forward[k]
        forward[i] = value / lower[i, i]
    solution = np.empty(size)
    for i in range(size - 1, -1, -1):
        value = forward[i]
        for k in range(i + 1, size):
            value -= lower[k, i] * solution[k]
        solution[i] = value / lower[i, i]
    return solution, True


@njit(cache=True)
def _poisson_deviance_nb(y: np.ndarray, mu: np.ndarray) -> float:
    total = 0.0
    for i in range(y.size):
        if y[i] > 0:
            total += y[i] * math.log(y[i] / mu[i])
        total -= y[i] - mu[i]
    return 2.0 * total


@njit(cache=True)
def _irls_dense(
    design: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray,
    start: np.ndarray,
    warm: bool,
    epsilon: float,
    maxit: int,
) -> tuple[np.ndarray, float, bool]:
    """glm.fit's iteration (with an offset) by the normal equations, for the profile's
    many small fits. A breakdown (no positive-definite step) gives an infinite deviance."""
    rows, width = design.shape
    eta = np.empty(rows)
    mu = np.empty(rows)
    beta = start.copy()
    if warm:
        for i in range(rows):
            eta[i] = design[i] @ beta + offset[i]
            mu[i] = max(math.exp(eta[i]), 2.220446049250313e-16)
    else:
        for i in range(rows):
            mu[i] = y[i] + 0.1
            eta[i] = math.log(mu[i])
    deviance_old = _poisson_deviance_nb(y, mu)
    xtwx = np.empty((width, width))
    xtwz = np.empty(width)
    for _ in range(maxit):
        xtwx[:, :] = 0.0
        xtwz[:] = 0.0
        for i in range(rows):
            w = mu[i]
            z = eta[i] - offset[i] + (y[i] - mu[i]) / mu[i]
            for a in range(width):
                xa = design[i, a] * w
                if xa != 0.0:
                    xtwz[a] += xa * z
                    for b in range(a, width):
                        xtwx[a, b] += xa * design[i, b]
        for a in range(width):
            for b in range(a):
                xtwx[a, b] = xtwx[b, a]
        if not (np.isfinite(xtwx).all() and np.isfinite(xtwz).all()):
            return beta, math.inf, False
        beta, solved = _cholesky_solve(xtwx, xtwz)
        if not solved:
            return beta, math.inf, False
        for i in range(rows):
            eta[i] = design[i] @ beta + offset[i]
            mu[i] = max(math.exp(eta[i]), 2.220446049250313e-16)
        deviance = _poisson_deviance_nb(y, mu)
        if abs(deviance - deviance_old) / (abs(deviance) + 0.1) < epsilon:
            return beta, deviance, True
        deviance_old = deviance
    return beta, deviance_old, False


@njit(cache=True)
def _fit_hierarchical_models(
    y: np.ndarray,
    masks: np.ndarray,
    offsets: np.ndarray,
    n_lists: int,
    epsilon: float,
    maxit: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """glm.fit, step for step, on many hierarchical models of one table.

    ``y`` is indexed by history mask (cell 0, the unseen, is not fitted). The 0/1 design is
    never built: X'WX[a, b] is the sum of w over the histories containing both terms, read
    from one superset-sum transform of w, and X·β is a subset-sum transform of β — O(t·2^t)
    per step instead of O(2^t·p²).
    Returns each model's intercept, deviance, Σ log dpois(y, μ) and convergence.
    """
    size = 1 << n_lists
    n_models = offsets.size - 1
    intercepts = np.empty(n_models)
    deviances = np.empty(n_models)
    logliks = np.empty(n_models)
    converged = np.zeros(n_models, dtype=np.bool_)
    log_factorial = 0.0
    for c in range(1, size):
        log_factorial += math.lgamma(y[c] + 1.0)
    eta = np.zeros(size)
    mu = np.zeros(size)
    sums_w = np.zeros(size)
    sums_wz = np.zeros(size)
    subset = np.zeros(size)
    for model in range(n_models):
        terms = masks[offsets[model] : offsets[model + 1]]
        width = terms.size
        for c in range(1, size):
            mu[c] = y[c] + 0.1
            eta[c] = math.log(mu[c])
        deviance_old = _poisson_deviance_nb(y[1:], mu[1:])
        deviance = deviance_old
        beta = np.zeros(width)
        done = False
        for _ in range(maxit):
            sums_w[0] = 0.0
            sums_wz[0] = 0.0
            for c in range(1, size):
                sums_w[c] = mu[c]
                sums_wz[c] = mu[c] * eta[c] + (y[c] - mu[c])
            for bit in range(n_lists):
                step = 1 << bit
                for m in range(size):
                    if not m & step:
                        sums_w[m] += sums_w[m | step]
                        sums_wz[m] += sums_wz[m | step]
            xtwx = np.empty((width, width))
            xtwz = np.empty(width)
            for a in range(width):
                xtwz[a] = sums_wz[terms[a]]
                for b in range(width):
                    xtwx[a, b] = sums_w[terms[a] | terms[b]]
            beta, solved = _cholesky_solve(xtwx, xtwz)
            if not solved:
                deviance = math.inf
                break
            subset[:] = 0.0
            for a in range(width):
                subset[terms[a]] = beta[a]
            for bit in range(n_lists):
                step = 1 << bit
                for m in range(size):
                    if m & step:
                        subset[m] += subset[m ^ step]
            for c in range(1, size):
                eta[c] = subset[c]
                mu[c] = max(math.exp(eta[c]), 2.220446049250313e-16)
            deviance = _poisson_deviance_nb(y[1:], mu[1:])
            if abs(deviance - deviance_old) / (abs(deviance) + 0.1) < epsilon:
                done = True
                break
            deviance_old = deviance
        if not math.isfinite(deviance):
            # A breakdown (no positive-definite step): the model is left out of the ranking.
            intercepts[model] = math.nan
            deviances[model] = math.inf
            logliks[model] = -math.inf
            continue
        loglik = -log_factorial
        for c in range(1, size):
            if y[c] > 0:
                loglik += y[c] * math.log(mu[c])
            loglik -= mu[c]
        intercepts[model] = beta[0]
        deviances[model] = deviance
        logliks[model] = loglik
        converged[model] = done
    return intercepts, deviances, logliks, converged


# ---------------------------------------------------------------------- closedpMS.t


def rcapture_max_order(n_lists: int, max_order: int | None) -> int:
    """closedpMS.t's ``maxorder``: t − 1 by default, refused where Rcapture's ``stopiflong``
    refuses (6 lists at order ≥ 3, 7 or more lists at order ≥ 2) — except that for 6 lists
    the default becomes 2, as in the reference calls, instead of an error."""
    if n_lists < 2:
        raise EstimationError("closedpms needs at least 2 lists")
    if max_order is None:
        max_order = n_lists - 1 if n_lists <= 5 else 2
    if not 1 <= max_order <= n_lists - 1:
        raise EstimationError(
            f"--max-order must be between 1 and {n_lists - 1} for {n_lists} lists, got {max_order}"
        )
    if (n_lists == 6 and max_order >= 3) or (n_lists >= 7 and max_order >= 2):
        count = "about 3.7 million" if n_lists == 6 else f"over {2**21:,}"
        raise EstimationError(
            f"closedpms over every hierarchical model of {n_lists} lists up to order {max_order} "
            f"means {count} models (Rcapture refuses it too); use --max-order "
            f"{2 if n_lists == 6 else 1}, merge or omit lists, or use --method bic or stepwise"
        )
    return max_order


def rcapture_label(n_lists: int, terms: Sequence[int]) -> str:
    """Rcapture's model name, e.g. ``[12,15,25,45,3]``: the generating terms, highest order
    first, each order in list order."""
    every = set(terms) | {1 << i for i in range(n_lists)}
    maximal = [t for t in every if not any(t != u and t & u == t for u in every)]
    maximal.sort(key=lambda m: (-popcount(m), [i for i in range(n_lists) if m >> i & 1]))
    names = ["".join(str(i + 1) for i in range(n_lists) if m >> i & 1) for m in maximal]
    return "[" + ",".join(names) + "]"


@dataclass
class ModelSearch:
    """Every model closedpMS.t fits, with the statistics it tabulates."""

    models: list[tuple[int, ...]]
    population: np.ndarray
    aic: np.ndarray
    bic: np.ndarray
    deviance: np.ndarray
    converged: np.ndarray

    def best(self, criterion: str) -> int:
        values = self.bic if criterion == "bic" else self.aic
        finite = np.where(np.isfinite(values), values, np.inf)
        return int(np.argmin(finite))


def search_models(table: CaptureTable, max_order: int) -> ModelSearch:
    """Fit every hierarchical model (all main effects, interactions up to ``max_order``)
    as closedpMS.t does: plain glm fits, no existence checks, models that drift included."""
    n_lists = table.n_lists
    models = list(hierarchical_models(n_lists, max_order))
    masks: list[int] = []
    offsets = [0]
    for model in models:
        masks.extend([0, *(1 << i for i in range(n_lists)), *model])
        offsets.append(len(masks))
    y = table.counts.astype(np.float64)
    intercepts, deviances, logliks, converged = _fit_hierarchical_models(
        y,
        np.asarray(masks, dtype=np.int64),
        np.asarray(offsets, dtype=np.int64),
        n_lists,
        R_EPSILON,
        R_MAXIT,
    )
    ranks = np.diff(np.asarray(offsets, dtype=np.float64))
    aic = -2.0 * logliks + 2.0 * ranks
    bic = aic + (math.log(table.observed) - 2.0) * ranks
    with np.errstate(over="ignore"):
        population = table.observed + np.exp(intercepts)
    return ModelSearch(models, population, aic, bic, deviances, converged)


# ---------------------------------------------------------------------- MSEResult


def _level_key(level: float) -> str:
    return f"{round(level * 100)}"


def _result(
    table: CaptureTable,
    options: Any,
    fit: ClosedpFit,
    full_design: np.ndarray,
    full_names: list[str],
    *,
    model: list[str],
    model_label: str,
    settings: dict[str, Any],
    diagnostics: dict[str, Any],
    estimator: Any,
) -> MSEResult:
    """Estimate, intervals and diagnostics of one fitted Rcapture model."""
    intervals: dict[str, dict[str, tuple[float | None, float | None]]] = {
        "lognormal": {_level_key(level): chao_lognormal(fit, level) for level in LEVELS}
    }
    headline = "lognormal"
    notes: list[str] = []
    if options.profile:
        try:
            profiled = profile(fit, full_design, full_names)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
            notes.append(f"the profile-likelihood interval failed ({error}); log-normal shown")
        else:
            intervals["profile"] = {
                _level_key(level): pair for level, pair in profiled.intervals.items()
            }
            headline = "profile"
            diagnostics["profile_maximum"] = profiled.maximum
            diagnostics["profile_notes"] = profiled.notes
            notes.extend(note for note in profiled.notes if "lower limit" in note)
    bias = fit.asymptotic_bias()
    diagnostics.update(
        {
            "se": fit.stderr,
            "deviance": fit.deviance,
            "df": fit.df,
            "aic": fit.aic,
            "bic": fit.bic,
            "asymptotic_bias": bias,
            "converged": fit.glm.converged,
            "iterations": fit.glm.iterations,
            "interval_note": (
                "profile: closedpCI.t's multinomial profile likelihood (its maximum is "
                "profile_maximum); lognormal: from the standard error (Chao 1987)"
            ),
            "coefficients": {name: round(b, 6) for name, b, _ in fit.coefficient_table()},
        }
    )
    if fit.removed:
        diagnostics["eta_removed"] = list(fit.removed)
    result = MSEResult(
        method=options.method,
        lists=table.lists,
        observed=table.observed,
        population=fit.population,
        interval_method=headline,
        intervals=intervals,
        model=model,
        settings=settings,
        model_label=model_label,
        diagnostics=diagnostics,
    )
    for note in notes:
        if "lower limit" not in note:
            result.warnings.append(note)
    if abs(bias) > 0.1 * fit.population:
        # The words, in English and French, are in tiphub.estimate.advice_texts.
        result.warn("rcapture-large-bias", values={"bias": float(bias)})
    if not fit.glm.converged:
        result.warn("rcapture-not-converged", values={})
    if any("lower limit" in note for note in notes):
        result.warn("profile-lower-at-observed", values={})
    if options.bootstrap:
        from tiphub.estimate.intervals import bootstrap

        boot = bootstrap(
            table,
            estimator,
            replicates=options.bootstrap,
            seed=options.seed,
            estimate=fit.population,
        )
        intervals["bca"] = {_level_key(level): boot.interval(level) for level in LEVELS}
        result.interval_method = "bca"
        finite = boot.replicates[np.isfinite(boot.replicates)]
        result.population_draws = finite
        diagnostics.update(
            {
                "bootstrap_replicates": int(finite.size),
                "bootstrap_median": float(np.median(finite)) if finite.size else math.nan,
                "bca_acceleration": boot.acceleration,
                "bca_bias_z0": boot.bias_z0,
            }
        )
        settings["bootstrap"] = options.bootstrap
        if boot.failed:
            result.warnings.append(
                f"{boot.failed} of {options.bootstrap} bootstrap replicates gave no estimate "
                "and were left out"
            )
    return result


def estimate_closedp(table: CaptureTable, options: Any) -> MSEResult:
    """Rcapture ``closedp.t``'s model named by ``options.method`` (``m0``, ``mh-chao``, …).

    ``population`` is closedp.t's abundance (the Poisson estimate n + exp(intercept));
    the headline interval is closedpCI.t's profile likelihood, whose maximum — the
    multinomial estimate closedpCI.t prints — is ``diagnostics['profile_maximum']``.
    """
    method = options.method
    fit = fit_closedp(table, method)
    full_design, full_names, _ = closedp_design(table.n_lists, method)
    rcapture_name = CLOSEDP_MODELS[method][0]

    def estimator(resampled: CaptureTable) -> float:
        return rcapture_point_estimate(resampled, options)

    return _result(
        table,
        options,
        fit,
        full_design,
        full_names,
        model=[rcapture_name],
        model_label=rcapture_name,
        settings={"seed": options.seed, "rcapture_model": rcapture_name},
        diagnostics={"rcapture_model": rcapture_name},
        estimator=estimator,
    )


def estimate_closedpms(table: CaptureTable, options: Any) -> MSEResult:
    """Rcapture ``closedpMS.t``: the hierarchical model with the smallest BIC (or AIC).

    ``population`` is the abundance closedpMS.t tabulates for that model; the profile
    interval is closedpCI.t's for it (``mX`` = the best model), as in the reference runs.
    """
    criterion = options.criterion
    max_order = rcapture_max_order(table.n_lists, options.max_order)
    if table.observed == 0:
        raise EstimationError("the table is empty: nobody is on any list; add the list data")
    if options.bootstrap and table.n_lists >= 6 and max_order >= 2:
        # Each replicate refits all 32,768 models (seconds), plus one per distinct history.
        raise EstimationError(
            "a bootstrap of closedpms on 6 lists refits 32,768 models per replicate (tens of "
            "minutes); merge two lists (--merge A+B), use --max-order 1, or drop --bootstrap "
            "(--profits and --strata bootstrap too) and use the profile interval"
        )
    search = search_models(table, max_order)
    best = search.best(criterion)
    terms = search.models[best]
    design, masks = hierarchical_design(table.n_lists, terms)
    names = ["(Intercept)", *(table.term_name(m) for m in masks[1:])]
    fit = fit_design(table, design, names)
    values = search.bic if criterion == "bic" else search.aic
    order = np.argsort(np.where(np.isfinite(values), values, np.inf), kind="stable")
    diagnostics: dict[str, Any] = {
        "criterion": criterion,
        "models_considered": len(search.models),
    }
    if len(order) > 1:
        runner_up = int(order[1])
        diagnostics[f"{criterion}_runner_up"] = rcapture_label(
            table.n_lists, search.models[runner_up]
        )
        diagnostics[f"{criterion}_runner_up_population"] = float(search.population[runner_up])
        diagnostics[f"{criterion}_gap_to_runner_up"] = float(values[runner_up] - values[best])
    label = rcapture_label(table.n_lists, terms)

    def estimator(resampled: CaptureTable) -> float:
        return rcapture_point_estimate(resampled, options)

    ordered_terms = sorted(terms, key=lambda m: (popcount(m), m))
    result = _result(
        table,
        options,
        fit,
        design,
        names,
        model=[table.term_name(m) for m in ordered_terms],
        model_label=label,
        settings={"seed": options.seed, "criterion": criterion, "max_order": max_order},
        diagnostics=diagnostics,
        estimator=estimator,
    )
    # Rcapture ranks models whose maximum-likelihood estimate does not exist (terms drift
    # to about −20) like any other; say so when the best one is such a model.
    result.existence_code = existence_code(table.counts, table.n_lists, list(terms))
    if result.existence_code:
        result.warn(
            "rcapture-boundary-model",
            values={"criterion": criterion.upper(), "existence_code": result.existence_code},
        )
    return result


def rcapture_point_estimate(table: CaptureTable, options: Any) -> float:
    """The population alone (for the bootstrap and strata): the Poisson abundance of
    closedp.t's model, or of closedpMS.t's best model by ``options.criterion``."""
    if options.method == "closedpms":
        # A replicate may lose lists, so an order fitting the original may not fit it.
        order = options.max_order
        if order is not None:
            order = min(order, table.n_lists - 1)
        found = search_models(table, rcapture_max_order(table.n_lists, order))
        return float(found.population[found.best(options.criterion)])
    return fit_closedp(table, options.method).population

"""Hierarchical log-linear Poisson models for capture-history tables.

Counts ``N_ω`` of the observable histories ω are Poisson with ``log μ_ω = Σ α_θ`` over the
model's list subsets θ ⊆ ω (the intercept is θ = ∅). The dark figure is ``exp(α_∅)``.

Terms are bit masks over the lists (bit ``i`` = the table's ``i``-th column). A model is
given by its interaction terms (order ≥ 2); the intercept and every main effect are always in.

Sparse data: when nobody is on all the lists of a term (its sufficient statistic is 0),
its maximum-likelihood value is −∞. As SparseMSE and MultipleSystemsEstimation do, such a
term is not left to drift to ≈ −20 inside an iterative fit: it is reported as −∞, the
cells containing it get fitted value 0 and are removed, and the rest is fitted exactly.

Existence and identifiability follow Fienberg & Rinaldo (2012) as SparseMSE's ``checkident``
does, with the same codes: 0 fine, 1 the MLE does not exist, 2 not identifiable, 3 both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog
from scipy.special import gammaln

from tiphub.estimate.table import CaptureTable, popcount

EXISTENCE_MESSAGES = {
    0: "the maximum-likelihood estimate exists and is identifiable",
    1: "the maximum-likelihood estimate does not exist (the data lie on the boundary)",
    2: "the model is not identifiable from these data",
    3: "the maximum-likelihood estimate does not exist and the model is not identifiable",
}

R_EPSILON = 1e-8
R_MAXIT = 25
STRICT_EPSILON = 1e-13
STRICT_MAXIT = 100


class EstimationError(ValueError):
    """A model cannot be fitted to a table (non-existence, non-identifiability, bad input)."""


def all_cells(n_lists: int) -> np.ndarray:
    return np.arange(1, 1 << n_lists, dtype=np.int64)


def main_terms(n_lists: int) -> list[int]:
    return [1 << i for i in range(n_lists)]


def term_key(mask: int, n_lists: int) -> tuple[int, ...]:
    """Sort key: by order, then by list position (A:B before A:C before B:C)."""
    return (popcount(mask), *[i for i in range(n_lists) if mask >> i & 1])


def pair_order_key(mask: int) -> tuple[int, ...]:
    """R's ``expand.grid`` order of pairs: by the second list, then the first."""
    bits = [i for i in range(mask.bit_length()) if mask >> i & 1]
    return (popcount(mask), *reversed(bits))


def generators(terms: Iterable[int], n_lists: int) -> list[int]:
    """Maximal terms of a hierarchical model, including main effects in no interaction."""
    every = set(terms) | set(main_terms(n_lists))
    maximal = [t for t in every if not any(t != u and t & u == t for u in every)]
    return sorted(maximal, key=lambda m: term_key(m, n_lists))


def design_matrix(cells: np.ndarray, parameters: Sequence[int]) -> np.ndarray:
    """Columns: 1 for the intercept (mask 0), else 1 where the term ⊆ the cell's history."""
    masks = np.asarray(parameters, dtype=np.int64)
    return np.asarray(((cells[:, None] & masks[None, :]) == masks[None, :]).astype(np.float64))


def sufficient_statistics(counts: np.ndarray, terms: Sequence[int]) -> np.ndarray:
    """People on all lists of each term, whatever else they are on."""
    cells = np.arange(counts.size, dtype=np.int64)
    masks = np.asarray(terms, dtype=np.int64)
    inside = (cells[:, None] & masks[None, :]) == masks[None, :]
    return np.asarray((counts[:, None] * inside).sum(axis=0))


@dataclass(frozen=True)
class ModelLayout:
    """Which cells are fitted and which parameters estimated, once −∞ terms are set aside."""

    n_lists: int
    terms: tuple[int, ...]
    infinite_terms: tuple[int, ...]
    cells: np.ndarray = field(repr=False)
    parameters: tuple[int, ...]

    @classmethod
    def build(cls, counts: np.ndarray, n_lists: int, terms: Sequence[int]) -> ModelLayout:
        interactions = [t for t in terms if popcount(t) >= 2]
        stats = sufficient_statistics(counts, interactions) if interactions else np.zeros(0)
        infinite = tuple(t for t, s in zip(interactions, stats, strict=True) if s == 0)
        finite = tuple(t for t, s in zip(interactions, stats, strict=True) if s != 0)
        cells = all_cells(n_lists)
        for term in infinite:
            cells = cells[(cells & term) != term]
        parameters = (0, *main_terms(n_lists), *finite)
        return cls(n_lists, finite, infinite, cells, parameters)

    def design(self) -> np.ndarray:
        return design_matrix(self.cells, self.parameters)


def _mle_exists(design: np.ndarray, support: np.ndarray) -> bool:
    """Is the observed margin in the relative interior of the marginal cone?

    It is not exactly when some direction θ has Xθ = 0 on the observed cells, Xθ ≥ 0 on
    the zero cells and Xθ ≠ 0 there (a supporting hyperplane of a proper face). Working in
    the null space of the observed-cell rows keeps the linear programme tiny.
    """
    zero_rows = design[~support]
    if zero_rows.shape[0] == 0:
        return True
    observed_rows = design[support]
    if observed_rows.shape[0]:
        # Thin when the rows outnumber the columns: the full U (rows × rows) would cost
        # seconds and gigabytes on tables of many lists, and only V is needed.
        rows, columns = observed_rows.shape
        _, singular, vt = np.linalg.svd(observed_rows, full_matrices=rows < columns)
        tolerance = (
            max(observed_rows.shape) * np.finfo(float).eps * (singular[0] if singular.size else 0)
        )
        rank = int((singular > max(tolerance, 1e-10)).sum())
        null_space = vt[rank:].T
    else:
        null_space = np.eye(design.shape[1])
    if null_space.shape[1] == 0:
        return True
    directions = zero_rows @ null_space
    directions[np.abs(directions) < 1e-9] = 0.0
    if not directions.any():
        return True
    if directions.shape[1] == 1:
        column = directions[:, 0]
        return not (bool((column >= 0).all()) or bool((column <= 0).all()))
    d = directions.shape[1]
    result = linprog(
        c=-directions.sum(axis=0),
        A_ub=np.vstack([-directions, directions]),
        b_ub=np.concatenate([np.zeros(len(directions)), np.ones(len(directions))]),
        bounds=[(None, None)] * d,
        method="highs",
    )
    return not (result.status == 0 and -result.fun > 1e-7)


def existence_code(counts: np.ndarray, n_lists: int, terms: Sequence[int]) -> int:
    """SparseMSE's ``checkident`` code for a model on a table: 0, 1, 2 or 3."""
    layout = ModelLayout.build(counts, n_lists, terms)
    design = layout.design()
    rank = np.linalg.matrix_rank(design)
    rank_deficient = rank < design.shape[1]
    exists = _mle_exists(design, counts[layout.cells] > 0)
    return (0 if exists else 1) + (2 if rank_deficient else 0)


@dataclass
class PoissonFit:
    coefficients: np.ndarray
    fitted: np.ndarray
    deviance: float
    converged: bool
    iterations: int
    xtwx: np.ndarray = field(repr=False)

    def covariance(self) -> np.ndarray:
        try:
            return np.asarray(np.linalg.inv(self.xtwx))
        except np.linalg.LinAlgError:
            return np.asarray(np.linalg.pinv(self.xtwx))


def poisson_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
        deviance = float(2.0 * np.sum(term - (y - mu)))
    return deviance if math.isfinite(deviance) else math.inf


def fit_poisson(
    design: np.ndarray,
    y: np.ndarray,
    *,
    epsilon: float = STRICT_EPSILON,
    maxit: int = STRICT_MAXIT,
    start: np.ndarray | None = None,
) -> PoissonFit:
    """Iteratively reweighted least squares for a Poisson log-linear model.

    Starts, steps and stops as R's ``glm.fit`` does (μ = y + 0.1, relative deviance change
    below ``epsilon``), so that fits R would only approximate — boundary cases where a
    parameter drifts — come out the same; ``epsilon`` is far tighter by default.
    """
    y = np.asarray(y, dtype=np.float64)
    if start is None:
        eta = np.log(y + 0.1)
        mu = y + 0.1
    else:
        eta = design @ start
        mu = np.exp(eta)
    deviance_old = poisson_deviance(y, mu)
    beta = np.zeros(design.shape[1]) if start is None else np.asarray(start, dtype=float)
    converged = False
    xtwx = np.eye(design.shape[1])
    iteration = 0
    for iteration in range(1, maxit + 1):
        if not np.isfinite(mu).all() or (mu <= 0).any():
            # Diverged (a boundary fit far from the data): report it unconverged.
            return PoissonFit(beta, mu, math.inf, False, iteration, xtwx)
        z = eta + (y - mu) / mu
        weighted = design * mu[:, None]
        xtwx = design.T @ weighted
        xtwz = weighted.T @ z
        try:
            beta = np.linalg.solve(xtwx, xtwz)
        except np.linalg.LinAlgError:
            beta = np.linalg.lstsq(xtwx, xtwz, rcond=None)[0]
        eta = design @ beta
        with np.errstate(over="ignore"):
            mu = np.exp(eta)
        deviance = poisson_deviance(y, mu)
        if abs(deviance - deviance_old) / (abs(deviance) + 0.1) < epsilon:
            converged = True
            break
        deviance_old = deviance
    # Like glm, the covariance comes from the last weighted least-squares step, whose
    # weights are those of the previous iterate; summary.glm's cov.unscaled is this matrix.
    return PoissonFit(beta, mu, poisson_deviance(y, mu), converged, iteration, xtwx)


@dataclass
class LoglinearFit:
    """A fitted hierarchical log-linear model on a capture-history table."""

    table: CaptureTable = field(repr=False)
    terms: tuple[int, ...]
    infinite_terms: tuple[int, ...]
    parameters: tuple[int, ...]
    coefficients: np.ndarray = field(repr=False)
    covariance: np.ndarray = field(repr=False)
    cells: np.ndarray = field(repr=False)
    fitted: np.ndarray = field(repr=False)
    deviance: float
    loglik: float
    converged: bool

    @property
    def intercept(self) -> float:
        return float(self.coefficients[0])

    @property
    def intercept_se(self) -> float:
        return math.sqrt(max(float(self.covariance[0, 0]), 0.0))

    @property
    def dark_figure(self) -> float:
        return math.exp(self.intercept)

    @property
    def population(self) -> float:
        return self.table.observed + self.dark_figure

    @property
    def n_parameters(self) -> int:
        """Parameters of the model, −∞ ones included (as the reference packages count)."""
        return len(self.parameters) + len(self.infinite_terms)

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_parameters

    @property
    def bic(self) -> float:
        return self.n_parameters * math.log(self.table.observed) - 2.0 * self.loglik

    def term_names(self) -> list[str]:
        return [self.table.term_name(t) for t in self.terms]

    def infinite_term_names(self) -> list[str]:
        return [self.table.term_name(t) for t in self.infinite_terms]

    def wald_pvalue(self, term: int) -> float:
        """Two-sided Wald p-value of a term's coefficient (1 for a −∞ term)."""
        from scipy.stats import norm

        if term in self.infinite_terms:
            return 1.0
        index = self.parameters.index(term)
        se = math.sqrt(max(float(self.covariance[index, index]), 0.0))
        if se == 0.0 or not math.isfinite(se):
            return 1.0
        return float(2.0 * norm.sf(abs(float(self.coefficients[index])) / se))

    def coefficient_table(self) -> list[tuple[str, float, float]]:
        names = ["(Intercept)"] + [self.table.term_name(p) for p in self.parameters[1:]]
        rows = [
            (name, float(b), math.sqrt(max(float(v), 0.0)))
            for name, b, v in zip(names, self.coefficients, np.diag(self.covariance), strict=True)
        ]
        rows.extend((self.table.term_name(t), -math.inf, math.nan) for t in self.infinite_terms)
        return rows

    def expected(self, mask: int) -> float:
        """Fitted mean of people on all lists of ``mask`` (cells removed as −∞ count 0)."""
        inside = (self.cells & mask) == mask
        return float(self.fitted[inside].sum())


def fit_loglinear(
    table: CaptureTable,
    terms: Sequence[int] = (),
    *,
    check: bool = True,
    r_like: bool = True,
) -> LoglinearFit:
    """Fit the hierarchical model with the given interaction terms.

    With ``check`` the existence/identifiability code is computed first and a model that
    fails is refused with :class:`EstimationError`. ``r_like`` (the default) stops where R's
    ``glm`` does (25 iterations, relative deviance change 1e-8), so that results defined by
    R's output — down to the standard errors of boundary fits — are reproduced; without it
    the iteration runs to machine precision.
    """
    counts = table.counts
    n_lists = table.n_lists
    layout = ModelLayout.build(counts, n_lists, terms)
    if check:
        code = existence_code(counts, n_lists, terms)
        if code:
            # Imported here: checks imports this module. The message names the lists.
            from tiphub.estimate.checks import boundary_refusal

            raise EstimationError(boundary_refusal(table, terms, code))
    design = layout.design()
    y = counts[layout.cells].astype(np.float64)
    if r_like:
        fit = fit_poisson(design, y, epsilon=R_EPSILON, maxit=R_MAXIT)
    else:
        fit = fit_poisson(design, y)
    mu = fit.fitted
    loglik = float(
        np.sum(np.where(y > 0, y * np.log(np.where(mu > 0, mu, 1.0)), 0.0) - mu - gammaln(y + 1))
    )
    return LoglinearFit(
        table=table,
        terms=layout.terms,
        infinite_terms=layout.infinite_terms,
        parameters=layout.parameters,
        coefficients=fit.coefficients,
        covariance=fit.covariance(),
        cells=layout.cells,
        fitted=mu,
        deviance=fit.deviance,
        loglik=loglik,
        converged=fit.converged,
    )

"""Bayesian thresholding (Silverman 2020), as in MultipleSystemsEstimation's ``bayesthresh``.

Silverman, B. W. (2020), "Multiple-systems analysis for the quantification of modern
slavery: classical and Bayesian approaches", *JRSS A* 183:691–736; R package
MultipleSystemsEstimation 1.2.0, ``estimate_population(d, method = "bayesthresh")`` with its
defaults (proper prior, prior variance 1, threshold 2, two-list interactions only).

Model. Counts of the 2^t − 1 observable capture histories (zeros included) are Poisson with
log-mean intercept + main effects + two-list interactions; the dark figure is
exp(intercept). Priors: flat on the intercept and main effects (as in R, approximated by
N(0, 10⁴)), N(0, ``prior_variance``) on each interaction.

Procedure.
1. Fit the model with every two-list interaction by MCMC.
2. Keep the interactions whose |posterior mean| / posterior standard deviation is at least
   ``threshold``.
3. Refit with the kept interactions; the total population's posterior is
   observed + exp(intercept). The posterior median is the estimate; the 2.5/97.5% and
   10/90% posterior quantiles (R's ``quantile`` type 7) the 95% and 80% intervals.

Sampler (R's ``MCMCpack::MCMCpoisson``): random-walk Metropolis on all coefficients at once,
proposal N(β, T (B0 + I)⁻¹ T), where I is the Fisher information at the maximum-likelihood
fit (``glm``'s ``vcov`` inverted), B0 the prior precision and T = 1.1·identity; start
(log 5n, log(list total / 5n), 0, …); 1,000 burn-in iterations, 10,000 kept, no thinning.
Both MCMC runs start from the same seed, as R's do (MCMCpoisson reseeds every call).
R's random numbers (Mersenne Twister through Scythe) are not reproduced, so a run matches R
in distribution, not draw for draw: over seeds, the medians centre on R's figure within the
Monte-Carlo error of one run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba
import numpy as np

from tiphub.estimate.loglinear import R_EPSILON, R_MAXIT, EstimationError, fit_poisson
from tiphub.estimate.results import MSEResult
from tiphub.estimate.table import CaptureTable

if TYPE_CHECKING:
    from tiphub.estimate.api import EstimateOptions

BURNIN = 1_000
SAMPLES = 10_000
TUNE = 1.1
PRIOR_VARIANCE = 1.0
THRESHOLD = 2.0
# The intercept's and main effects' "flat" prior, as R approximates it.
FLAT_PRECISION = 1e-4
MAX_LISTS = 10  # 1,023 cells × 56 coefficients: about 2 s; beyond that merge lists
QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)


@numba.njit(cache=True)
def _log_posterior(
    design: np.ndarray,
    counts: np.ndarray,
    beta: np.ndarray,
    precision: np.ndarray,
) -> float:
    total = 0.0
    for row in range(design.shape[0]):
        eta = 0.0
        for col in range(design.shape[1]):
            eta += design[row, col] * beta[col]
        total += counts[row] * eta - math.exp(eta)
    for col in range(beta.size):
        total -= 0.5 * precision[col] * beta[col] * beta[col]
    return total


@numba.njit(cache=True)
def _metropolis(
    design: np.ndarray,
    counts: np.ndarray,
    start: np.ndarray,
    proposal_root: np.ndarray,
    precision: np.ndarray,
    burnin: int,
    samples: int,
    seed: int,
) -> tuple[np.ndarray, int]:
    """Random-walk Metropolis as MCMCpoisson runs it; returns the kept draws and acceptances."""
    np.random.seed(seed)
    k = start.size
    beta = start.copy()
    candidate = np.empty(k)
    step = np.empty(k)
    current = _log_posterior(design, counts, beta, precision)
    draws = np.empty((samples, k))
    accepted = 0
    for iteration in range(burnin + samples):
        for i in range(k):
            step[i] = np.random.standard_normal()
        for i in range(k):
            shift = 0.0
            for j in range(i + 1):  # the root is lower triangular
                shift += proposal_root[i, j] * step[j]
            candidate[i] = beta[i] + shift
        proposed = _log_posterior(design, counts, candidate, precision)
        # A non-finite proposal (exp overflow) compares False and is rejected.
        if np.random.random() < math.exp(min(proposed - current, 0.0)):
            beta[:] = candidate
            current = proposed
            accepted += 1
        if iteration >= burnin:
            draws[iteration - burnin] = beta
    return draws, accepted


def _design(n_lists: int, pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Intercept, main effects and the given pair interactions over all observable cells."""
    cells = np.arange(1, 1 << n_lists)
    on = (cells[:, None] >> np.arange(n_lists)[None, :]) & 1
    columns = [np.ones(cells.size), *on.T.astype(float)]
    columns += [(on[:, a] * on[:, b]).astype(float) for a, b in pairs]
    return np.column_stack(columns), cells


def _run(
    table: CaptureTable,
    pairs: list[tuple[int, int]],
    *,
    prior_variance: float,
    burnin: int,
    samples: int,
    seed: int,
) -> tuple[np.ndarray, float]:
    """One MCMCpoisson run for the model with ``pairs``; the draws and the acceptance rate."""
    n_lists = table.n_lists
    design, cells = _design(n_lists, pairs)
    counts = table.counts[cells].astype(float)
    observed = table.observed
    list_totals = np.array(
        [table.counts[cells[(cells >> i) & 1 == 1]].sum() for i in range(n_lists)]
    )
    with np.errstate(divide="ignore"):
        start = np.concatenate(
            [[math.log(5 * observed)], np.log(list_totals / (5 * observed)), np.zeros(len(pairs))]
        )
    if not np.isfinite(start).all():
        empty = [table.lists[i] for i in range(n_lists) if list_totals[i] == 0]
        raise EstimationError(
            f"list {', '.join(empty)} has no one on it; omit it (--omit) before estimating"
        )
    precision = np.concatenate(
        [np.full(1 + n_lists, FLAT_PRECISION), np.full(len(pairs), 1.0 / prior_variance)]
    )
    # The maximum-likelihood fit as glm stops it; its X'WX is the inverse of glm's vcov.
    information = fit_poisson(design, counts, epsilon=R_EPSILON, maxit=R_MAXIT).xtwx
    if not np.isfinite(information).all():
        # A diverged fit gives no curvature; the prior alone then scales the proposal.
        information = np.zeros_like(information)
    proposal = TUNE**2 * np.linalg.inv(np.diag(precision) + information)
    proposal = (proposal + proposal.T) / 2
    root = np.linalg.cholesky(proposal)
    draws, accepted = _metropolis(design, counts, start, root, precision, burnin, samples, seed)
    return draws, accepted / (burnin + samples)


def bayesthresh_pairs(n_lists: int) -> list[tuple[int, int]]:
    """Every two-list interaction, in R's order (12, 13, 23, 14, 24, 34, …)."""
    return [(a, b) for b in range(n_lists) for a in range(b)]


def estimate_bayesthresh(
    table: CaptureTable,
    options: EstimateOptions | None = None,
    *,
    prior_variance: float = PRIOR_VARIANCE,
    threshold: float = THRESHOLD,
    burnin: int = BURNIN,
    samples: int = SAMPLES,
    seed: int | None = None,
) -> MSEResult:
    """MultipleSystemsEstimation's Bayesian-threshold estimate (posterior median)."""
    n_lists = table.n_lists
    if n_lists < 2:
        raise EstimationError("bayesthresh needs at least two lists to estimate anyone missed")
    if n_lists > MAX_LISTS:
        raise EstimationError(
            f"bayesthresh handles up to {MAX_LISTS} lists ({n_lists} given): every pair of lists "
            "gets a coefficient and the sampler would take minutes. Merge lists that share a "
            "source or a way of finding people (--merge A+B), or use --method stepwise."
        )
    if table.observed == 0:
        raise EstimationError("the table has no one on any list; there is nothing to estimate")
    if seed is None:
        seed = options.seed if options is not None else 1234
    candidates = bayesthresh_pairs(n_lists)

    def run(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, float]:
        return _run(
            table, pairs, prior_variance=prior_variance, burnin=burnin, samples=samples, seed=seed
        )

    first, first_acceptance = run(candidates)
    interaction_draws = first[:, 1 + n_lists :]
    spread = interaction_draws.std(axis=0, ddof=1)
    if not (spread > 0).all():
        # A chain that never left its start: no posterior to threshold (R would divide 0 by 0).
        raise EstimationError(
            f"the sampler for the model with all {len(candidates)} pairs of lists never moved "
            f"from its starting point ({first_acceptance:.1%} of proposals accepted): with "
            f"{n_lists} lists, many of which share no one, that model is too large for this "
            "method. Merge lists from related sources (--merge A+B) or use --method stepwise "
            "or lcmcr."
        )
    ratios = np.abs(interaction_draws.mean(axis=0)) / spread
    kept = [pair for pair, ratio in zip(candidates, ratios, strict=True) if ratio >= threshold]
    final, final_acceptance = run(kept)
    population = table.observed + np.exp(final[:, 0])
    low95, low80, median, high80, high95 = np.quantile(population, QUANTILES)

    def name(pair: tuple[int, int]) -> str:
        return f"{table.lists[pair[0]]}:{table.lists[pair[1]]}"

    result = MSEResult(
        method="bayesthresh",
        lists=table.lists,
        observed=table.observed,
        population=float(median),
        interval_method="posterior",
        intervals={
            "posterior": {"95": (float(low95), float(high95)), "80": (float(low80), float(high80))}
        },
        model=[name(pair) for pair in kept],
        settings={
            "seed": seed,
            "prior_variance": prior_variance,
            "threshold": threshold,
            "burnin": burnin,
            "samples": samples,
        },
        diagnostics={
            "posterior_mean": float(population.mean()),
            "threshold_statistics": {
                name(pair): round(float(ratio), 3)
                for pair, ratio in zip(candidates, ratios, strict=True)
            },
            "acceptance_all_pairs": first_acceptance,
            "acceptance_final": final_acceptance,
        },
        population_draws=population,
    )
    for label, rate in (("first", first_acceptance), ("final", final_acceptance)):
        # MCMCpack's proposal (1.1 × the posterior's spread in every direction) accepts a
        # few percent with five or more lists; below 1% the chain has barely moved.
        if rate < 0.01:
            # The words, in English and French, are in tiphub.estimate.advice_texts.
            result.warn("bayesthresh_low_acceptance", values={"run": label, "rate": float(rate)})
    return result

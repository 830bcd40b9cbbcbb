"""Bayesian latent-class capture–recapture (LCMCR) population-size estimation.

This is the model of Manrique-Vallier (2016), "Bayesian population size estimation using
Dirichlet process mixtures", *Biometrics* 72(4):1246–1254, as implemented in the R package
LCMCR 0.4.x (the Human Rights Data Analysis Group's standard tool for multiple systems
estimation), re-implemented here with numba.

Model. Each of the N people in the population belongs to one of K latent classes,
P(z = k) = π_k. Given the class, being on list j is an independent Bernoulli(λ_jk) event, so
heterogeneity in capture and dependence between lists are both absorbed by the mixture.
Priors: a truncated stick-breaking (Dirichlet-process) prior, V_k ~ Beta(1, α) for k < K,
V_K = 1, π_k = V_k ∏_{l<k} (1 − V_l); α ~ Gamma(a_alpha, rate b_alpha); λ_jk ~ Beta(1, 1);
p(N) ∝ 1/N.

Sampler (Manrique-Vallier 2016, section 3), in the order of R's
``CNPLCM_CR_Basic_Freq::Update``: Gibbs sampling with data augmentation of the n0 people seen
by no list. One sweep

1. splits each observed capture-history cell's count over the classes, multinomially with
   probabilities ∝ π_k ∏_j λ_jk^x_j (1 − λ_jk)^(1 − x_j);
2. draws λ_jk ~ Beta(1 + #(class k on list j), 1 + #(class k not on list j)), counting the
   unobserved people of the previous sweep as on no list;
3. draws V_k ~ Beta(1 + n_k, α + Σ_{l>k} n_l) (counts again with the previous unobserved);
4. draws n0 ~ NegativeBinomial(n_obs, 1 − π0), π0 = Σ_k π_k ∏_j (1 − λ_jk) (the 1/N prior
   makes this exact), redrawn while n0 > 20·n_obs as R does (so the prior on N is truncated
   at 21·n_obs), then the classes of those n0 people multinomially ∝ π_k ∏_j (1 − λ_jk);
5. draws α ~ Gamma(a_alpha + K − 1, rate b_alpha − Σ_{k<K} log(1 − V_k)).

The population size is N = n_obs + n0. A sweep costs O(cells · K · J) whatever the number of
people, because step 1 works on the table of distinct capture histories.

The chain starts as R's (``_start``): every class with the lists' marginal capture rates,
weights from one stick-breaking draw with V_k ~ Beta(1, 1), nobody unobserved; then 500
warm-up sweeps with α held at 0.3/K and the classes sorted by weight, before the burn-in.

On some tables the posterior has regions with different numbers of occupied classes and very
different N, between which the sampler moves only every few million sweeps; a chain then
reports the region it happened to settle in, and its own Monte-Carlo error cannot show it
(UKdat_5: about one chain in sixteen from R's start settles at N ≈ 12,500 instead of
≈ 22,000). :func:`lcmcr_chains` therefore runs several chains from different seeds and
measures their agreement (split-R̂, the chains' medians); ``tiphub estimate`` warns when they
disagree.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_CHAINS",
    "RHAT_LIMIT",
    "RHAT_ROUGH",
    "LCMCRChains",
    "LCMCRPosterior",
    "chain_seeds",
    "effective_sample_size",
    "geweke_limit",
    "geweke_z",
    "lcmcr",
    "lcmcr_chains",
    "quantile_mcse",
    "split_rhat",
]


def _empty_int64() -> npt.NDArray[np.int64]:
    return np.zeros(0, dtype=np.int64)


def equal_tailed(draws: np.ndarray, level: float) -> tuple[float, float]:
    """The equal-tailed interval of ``draws`` at ``level`` (R's default quantile type 7)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level}")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return float(low), float(high)


@dataclass(frozen=True, eq=False)  # eq=False: element-wise array comparison has no truth value
class LCMCRPosterior:
    """Posterior draws of the population size N from :func:`lcmcr`, with the run's settings."""

    population_draws: npt.NDArray[np.int64]
    observed: int
    K: int
    iterations: int
    burnin: int
    thinning: int
    seed: int
    seconds: float
    occupied_classes: npt.NDArray[np.int64] = field(default_factory=_empty_int64)

    def median(self) -> float:
        """Posterior median of N (the point estimate LCMCR users report)."""
        return float(np.median(self.population_draws))

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Equal-tailed credible interval for N (linear interpolation, as R's default quantile)."""
        return equal_tailed(self.population_draws, level)

    def quantile_mcse(self, p: float) -> float:
        """Monte-Carlo standard error of the posterior p-quantile of N; see :func:`quantile_mcse`."""
        return quantile_mcse(self.population_draws, p)

    def diagnostics(self) -> dict[str, float]:
        """Convergence and precision summaries of the kept N draws.

        ``ess``: effective sample size; ``geweke_z``: Geweke's z-score comparing the first 10%
        with the last 50% of the draws (|z| > 2 suggests the chain had not settled);
        ``mcse_median``: Monte-Carlo standard error of the posterior median;
        ``mean_occupied_classes``: mean number of latent classes with anyone in them
        (close to K suggests K is too small). Gibbs sampling has no acceptance rate.
        """
        draws = self.population_draws.astype(np.float64)
        result = {
            "draws": float(draws.size),
            "ess": effective_sample_size(draws),
            "geweke_z": geweke_z(draws),
            "mcse_median": quantile_mcse(self.population_draws, 0.5),
        }
        if self.occupied_classes.size:
            result["mean_occupied_classes"] = float(np.mean(self.occupied_classes))
        return result


# --------------------------------------------------------------------------------------------
# MCMC summaries


def _autocovariance(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    n = x.size
    centred = x - x.mean()
    # Zero-padding to twice the length turns the FFT's circular correlation into a linear one.
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, size)
    acov: npt.NDArray[np.float64] = np.fft.irfft(spectrum * np.conj(spectrum), size)[:n] / n
    return acov


def _asymptotic_variance(x: npt.NDArray[np.float64]) -> float:
    """σ² in Var(mean) ≈ σ²/n, by Geyer's (1992) initial monotone sequence estimator."""
    acov = _autocovariance(x)
    if acov[0] <= 0.0:
        return 0.0
    # Sums of adjacent pairs of autocovariances are positive and decreasing for a reversible
    # chain; truncating at the first non-positive pair avoids summing pure noise.
    pairs = acov[: acov.size - acov.size % 2].reshape(-1, 2).sum(axis=1)
    total = 0.0
    previous = math.inf
    for pair in pairs:
        if pair <= 0.0:
            break
        pair = min(pair, previous)
        total += pair
        previous = pair
    # σ² = γ0 + 2·Σ_{t≥1} γ_t, and the pairs (γ0 + γ1) + (γ2 + γ3) + … count γ0 once.
    return max(2.0 * total - float(acov[0]), float(acov[0]) / x.size)


def effective_sample_size(draws: npt.ArrayLike) -> float:
    """Effective sample size of a chain of draws (Geyer's initial monotone sequence)."""
    x = np.asarray(draws, dtype=np.float64)
    if x.size < 4:
        return float(x.size)
    variance = float(np.var(x))
    if variance == 0.0:
        return float(x.size)
    return float(min(x.size * variance / _asymptotic_variance(x), x.size * math.log10(x.size)))


def geweke_z(draws: npt.ArrayLike, first: float = 0.1, last: float = 0.5) -> float:
    """Geweke (1992) z-score: mean of the first ``first`` fraction against the last ``last``."""
    x = np.asarray(draws, dtype=np.float64)
    a = x[: int(first * x.size)]
    b = x[x.size - int(last * x.size) :]
    if a.size < 4 or b.size < 4:
        return math.nan
    var = _asymptotic_variance(a) / a.size + _asymptotic_variance(b) / b.size
    if var <= 0.0:
        return 0.0 if a.mean() == b.mean() else math.copysign(math.inf, a.mean() - b.mean())
    return float((a.mean() - b.mean()) / math.sqrt(var))


def quantile_mcse(draws: npt.ArrayLike, p: float) -> float:
    """Monte-Carlo standard error of the p-quantile of a chain of draws.

    Uses the asymptotic result for MCMC quantiles (Doss, Flegal, Jones & Neath 2014):
    se(q̂_p) ≈ se(mean of 1{X ≤ q̂_p}) / f(q_p). The indicator's standard error accounts for
    autocorrelation via Geyer's estimator; the density f is estimated from the spacing of
    neighbouring sample quantiles.
    """
    x = np.asarray(draws, dtype=np.float64)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be strictly between 0 and 1, got {p}")
    if x.size < 10:
        return math.nan
    q = float(np.quantile(x, p))
    indicator = (x <= q).astype(np.float64)
    se_indicator = math.sqrt(_asymptotic_variance(indicator) / x.size)
    # The half-width h keeps about 2·sqrt(n) draws between the two spacing quantiles, which
    # balances the bias of a wide window against the noise of a narrow one, and stays inside
    # (0, 1) for tail quantiles.
    h = min(1.0 / math.sqrt(x.size), p / 2.0, (1.0 - p) / 2.0)
    h = max(h, 2.0 / x.size)
    lo, hi = np.quantile(x, [max(p - h, 0.0), min(p + h, 1.0)])
    inverse_density = (float(hi) - float(lo)) / (min(p + h, 1.0) - max(p - h, 0.0))
    return se_indicator * inverse_density


# --------------------------------------------------------------------------------------------
# The sampler

# Sweeps before the burn-in with α held small, as the R package does (see _gibbs).
_WARMUP = 500
# Cells with fewer people than this are split person by person (see _multinomial).
_SMALL_CELL = 8
# R's LCMCR redraws the number of unobserved people while it exceeds 20 times the number
# observed: the prior on N is truncated at 21·n_obs (see _missing_count).
_MAX_MISSING_PER_OBSERVED = 20
# Rejected draws of the unobserved count before switching to exact inversion (see
# _missing_count); only reached when nearly all of the distribution lies above the cap.
_MAX_REJECTIONS = 1_000


@numba.njit(cache=True)
def _log_gamma_draw(shape: float) -> float:
    # Sampling log G directly keeps V_k and 1 − V_k representable when a shape is tiny (small
    # α): the usual X/(X+Y) can round 1 − V_k to exactly 0 and send α's rate to infinity.
    # Uses G(a) = G(a+1)·U^(1/a) (Marsaglia & Tsang) for a < 1.
    if shape < 1.0:
        u = 1.0 - np.random.random()  # in (0, 1], so the log is finite
        return math.log(np.random.gamma(shape + 1.0, 1.0)) + math.log(u) / shape
    return math.log(np.random.gamma(shape, 1.0))


@numba.njit(cache=True)
def _log_add(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) without overflow or underflow."""
    top = max(a, b)
    return top + math.log(math.exp(a - top) + math.exp(b - top))


@numba.njit(cache=True)
def _categorical(weights: np.ndarray, total: float) -> int:
    """One draw from the categories ∝ weights, whose sum is total."""
    u = np.random.random() * total
    last = 0
    for k in range(weights.size):
        if weights[k] > 0.0:
            last = k
            u -= weights[k]
            if u < 0.0:
                return k
    return last  # only reached through rounding; never pick a zero-weight category


@numba.njit(cache=True)
def _multinomial(n: int, weights: np.ndarray, out: np.ndarray) -> None:
    """Split n over len(weights) categories ∝ weights (not necessarily normalised) into out."""
    k_max = weights.size
    for k in range(k_max):
        out[k] = 0
    if n == 0:
        return
    total = 0.0
    for k in range(k_max):
        total += weights[k]
    if n < _SMALL_CELL:
        # One categorical draw per person costs one uniform; the binomial route below costs
        # K − 1 binomial draws whatever n is, so it only pays off for larger cells. Most cells
        # of sparse tables hold one or a few people.
        for _ in range(n):
            out[_categorical(weights, total)] += 1
        return
    remaining = n
    rest = total
    for k in range(k_max - 1):
        if rest <= 0.0:
            break
        p = weights[k] / rest
        p = min(max(p, 0.0), 1.0)  # rounding can push the conditional probability past 1
        draw = np.random.binomial(remaining, p)
        out[k] = draw
        remaining -= draw
        rest -= weights[k]
        if remaining == 0:
            return
    # Whatever is left goes to the last category with non-zero weight.
    for k in range(k_max - 1, -1, -1):
        if weights[k] > 0.0 or k == 0:
            out[k] += remaining
            return


@numba.njit(cache=True)
def _missing_count(n_obs: int, pi0: float, pi_seen: float, max_missing: int) -> int:
    """n0 ~ NegativeBinomial(n_obs, 1 − π0) truncated to n0 ≤ max_missing, as R draws it.

    The negative binomial is drawn as its gamma–Poisson mixture, n0 ~ Poisson(G·π0/(1 − π0))
    with G ~ Gamma(n_obs, 1), so that 1 − π0 (``pi_seen``) never has to be formed by
    subtraction, which cancels badly when capture probabilities are small. R redraws until
    the value is within the cap; so do we, but after _MAX_REJECTIONS failures (the
    distribution then lies almost wholly above the cap, where R would loop for a very long
    time) we invert the truncated distribution's CDF, which gives the same law exactly.
    """
    rate = pi0 / pi_seen
    for _ in range(_MAX_REJECTIONS):
        n0: int = np.random.poisson(np.random.gamma(float(n_obs), 1.0) * rate)
        if n0 <= max_missing:
            return n0
    log_p0 = math.log(pi0)
    log_seen = math.log(pi_seen)
    log_pmf = np.empty(max_missing + 1)
    top = -math.inf
    for k in range(max_missing + 1):
        log_pmf[k] = (
            math.lgamma(n_obs + k) - math.lgamma(k + 1.0) - math.lgamma(n_obs)
            + n_obs * log_seen + k * log_p0
        )  # fmt: skip
        top = max(top, log_pmf[k])
    total = 0.0
    for k in range(max_missing + 1):
        log_pmf[k] = math.exp(log_pmf[k] - top)
        total += log_pmf[k]
    return _categorical(log_pmf, total)


@numba.njit(cache=True)
def _sweep(
    cells: np.ndarray,
    freq: np.ndarray,
    n_obs: int,
    max_missing: int,
    log_lam: np.ndarray,
    log_not_lam: np.ndarray,
    log_pi: np.ndarray,
    alpha: float,
    class_obs: np.ndarray,
    class_unobs: np.ndarray,
    on_list: np.ndarray,
    weights: np.ndarray,
    split: np.ndarray,
) -> tuple[int, float]:
    """One Gibbs sweep in R's order: z, λ, π, n0, z0; updates the arrays in place.

    λ and π are drawn with the unobserved people's classes from the previous sweep, and only
    then the new unobserved people, as R's ``CNPLCM_CR_Basic_Freq::Update`` does. Returns n0
    and log π_K = Σ_{k<K} log(1 − V_k), which α's update needs and which would underflow if
    recomputed from π_K.
    """
    n_cells, n_lists = cells.shape
    n_classes = log_pi.size

    # 1. classes of the observed people, cell by cell, from log weights (as R: no underflow
    # when capture probabilities are tiny).
    on_list[:, :] = 0
    class_obs[:] = 0
    for m in range(n_cells):
        top = -math.inf
        for k in range(n_classes):
            w = log_pi[k]
            for j in range(n_lists):
                w += log_lam[j, k] if cells[m, j] == 1 else log_not_lam[j, k]
            weights[k] = w
            top = max(top, w)
        for k in range(n_classes):
            weights[k] = math.exp(weights[k] - top)
        _multinomial(freq[m], weights, split)
        for k in range(n_classes):
            c = split[k]
            if c == 0:
                continue
            class_obs[k] += c
            for j in range(n_lists):
                if cells[m, j] == 1:
                    on_list[j, k] += c

    # 2. capture probabilities, in log space (see _log_gamma_draw); the unobserved people of
    # the previous sweep count as "not on list j" for every j.
    for k in range(n_classes):
        total_k = class_obs[k] + class_unobs[k]
        for j in range(n_lists):
            g_on = _log_gamma_draw(1.0 + on_list[j, k])
            g_off = _log_gamma_draw(1.0 + (total_k - on_list[j, k]))
            log_sum = _log_add(g_on, g_off)
            log_lam[j, k] = g_on - log_sum
            log_not_lam[j, k] = g_off - log_sum

    # 3. stick-breaking weights, in log space.
    remaining = n_obs
    for k in range(n_classes):
        remaining += class_unobs[k]
    log_rest = 0.0  # Σ_{l<k} log(1 − V_l)
    for k in range(n_classes - 1):
        n_k = class_obs[k] + class_unobs[k]
        remaining -= n_k
        g1 = _log_gamma_draw(1.0 + n_k)
        g2 = _log_gamma_draw(alpha + remaining)
        log_sum = _log_add(g1, g2)
        log_pi[k] = g1 - log_sum + log_rest
        log_rest += g2 - log_sum
    log_pi[n_classes - 1] = log_rest

    # 4. number of unobserved people, then (5) their classes.
    pi0 = 0.0
    pi_seen = 0.0
    top = -math.inf
    for k in range(n_classes):
        log_none = 0.0
        for j in range(n_lists):
            log_none += log_not_lam[j, k]
        weights[k] = log_pi[k] + log_none
        top = max(top, weights[k])
        pi0 += math.exp(weights[k])
        # 1 − π0 accumulated directly rather than by subtraction (see _missing_count).
        pi_seen += math.exp(log_pi[k]) * -math.expm1(log_none)
    n0 = _missing_count(n_obs, pi0, pi_seen, max_missing)
    for k in range(n_classes):
        weights[k] = math.exp(weights[k] - top)
    _multinomial(n0, weights, class_unobs)
    return n0, log_rest


@numba.njit(cache=True)
def _swap_columns(values: np.ndarray, a: int, b: int) -> None:
    for row in range(values.shape[0]):
        values[row, a], values[row, b] = values[row, b], values[row, a]


@numba.njit(cache=True)
def _sort_classes(
    log_pi: np.ndarray, log_lam: np.ndarray, log_not_lam: np.ndarray, class_unobs: np.ndarray
) -> None:
    """Reorder the classes by decreasing π, in place (insertion sort: K is small).

    The unobserved people's classes move with their class because the next sweep's λ and π
    use them. Written out rather than with argsort and fancy indexing, which triple the
    compile time.
    """
    for k in range(1, log_pi.size):
        j = k
        while j > 0 and log_pi[j - 1] < log_pi[j]:
            log_pi[j - 1], log_pi[j] = log_pi[j], log_pi[j - 1]
            class_unobs[j - 1], class_unobs[j] = class_unobs[j], class_unobs[j - 1]
            _swap_columns(log_lam, j - 1, j)
            _swap_columns(log_not_lam, j - 1, j)
            j -= 1


@numba.njit(cache=True)
def _start(
    cells: np.ndarray, freq: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R's initial log λ, log(1 − λ) and log π; uses the random state (seed it first)."""
    n_cells, n_lists = cells.shape
    n_obs = freq.sum()
    # R's start (CNPLCM_CR_Basic_Freq::Initializes): every class's capture probabilities are
    # the lists' marginal rates, the weights one draw of the stick-breaking prior with α = 1
    # (V_k ~ Beta(1, 1)), nobody unobserved. (R then sets 0.9/4 on four classes in its
    # ``nuK`` array, but the sampler reads the weights from ``log_nuK``, which keeps the
    # stick-breaking draw, and the first sweep overwrites both.) Since the classes start
    # identical, the first sweep splits people by weight alone and the classes then separate.
    log_lam = np.empty((n_lists, n_classes))
    log_not_lam = np.empty((n_lists, n_classes))
    for j in range(n_lists):
        on = 0
        for m in range(n_cells):
            on += cells[m, j] * freq[m]
        rate = on / n_obs
        for k in range(n_classes):
            log_lam[j, k] = math.log(rate)
            log_not_lam[j, k] = math.log1p(-rate) if rate < 1.0 else -math.inf
    log_pi = np.empty(n_classes)
    log_rest = 0.0
    for k in range(n_classes - 1):
        g1 = _log_gamma_draw(1.0)
        g2 = _log_gamma_draw(1.0)
        log_sum = _log_add(g1, g2)
        log_pi[k] = g1 - log_sum + log_rest
        log_rest += g2 - log_sum
    log_pi[n_classes - 1] = log_rest
    return log_lam, log_not_lam, log_pi


@numba.njit(cache=True)
def _seeded_start(
    cells: np.ndarray, freq: np.ndarray, n_classes: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_start` after seeding numba's random state, so that the start can be checked."""
    np.random.seed(seed)
    return _start(cells, freq, n_classes)


# nogil lets independent chains run in parallel threads; numba's random state is per thread.
@numba.njit(cache=True, nogil=True)
def _gibbs(
    cells: np.ndarray,
    freq: np.ndarray,
    n_classes: int,
    burnin: int,
    samples: int,
    thinning: int,
    a_alpha: float,
    b_alpha: float,
    seed: int,
    warmup: int,
) -> tuple[np.ndarray, np.ndarray]:
    np.random.seed(seed)
    n_lists = cells.shape[1]
    n_obs = freq.sum()  # an int64 from the start: a literal 0 would compile _sweep twice
    max_missing = _MAX_MISSING_PER_OBSERVED * n_obs

    log_lam, log_not_lam, log_pi = _start(cells, freq, n_classes)

    weights = np.empty(n_classes)
    split = np.empty(n_classes, dtype=np.int64)
    on_list = np.empty((n_lists, n_classes), dtype=np.int64)
    class_obs = np.empty(n_classes, dtype=np.int64)
    class_unobs = np.zeros(n_classes, dtype=np.int64)

    # Warm-up as in the R package: sweeps with α held at 0.3/K, which keeps the number of
    # classes small while the class profiles form, then the classes sorted by decreasing
    # weight, because the stick-breaking prior is not exchangeable and favours big classes
    # first. These sweeps come before, and in addition to, the burn-in. α keeps 0.3/K until
    # the end of the first sweep after them, where it is first drawn (R's order).
    alpha = 0.3 / n_classes
    for _ in range(warmup):
        _sweep(cells, freq, n_obs, max_missing, log_lam, log_not_lam, log_pi, alpha,
               class_obs, class_unobs, on_list, weights, split)  # fmt: skip
    _sort_classes(log_pi, log_lam, log_not_lam, class_unobs)

    n_draws = np.empty(samples, dtype=np.int64)
    occupied = np.empty(samples, dtype=np.int64)
    kept = 0
    for it in range(burnin + samples * thinning):
        n0, log_pi_last = _sweep(cells, freq, n_obs, max_missing, log_lam, log_not_lam,
                                 log_pi, alpha, class_obs, class_unobs, on_list, weights,
                                 split)  # fmt: skip
        alpha = np.random.gamma(a_alpha + n_classes - 1.0, 1.0 / (b_alpha - log_pi_last))
        if it >= burnin and (it - burnin + 1) % thinning == 0:
            n_draws[kept] = n_obs + n0
            busy = 0
            for k in range(n_classes):
                if class_obs[k] + class_unobs[k] > 0:
                    busy += 1
            occupied[kept] = busy
            kept += 1
    return n_draws, occupied


# --------------------------------------------------------------------------------------------
# Public entry point


def _validate(
    histories: npt.ArrayLike, counts: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    x = np.asarray(histories)
    c = np.asarray(counts)
    if x.ndim != 2:
        raise ValueError(
            f"histories must be a 2-d (cells × lists) array, got {x.ndim} dimension(s)"
        )
    if x.shape[1] < 2:
        raise ValueError(f"capture–recapture needs at least 2 lists, got {x.shape[1]}")
    if c.ndim != 1 or c.shape[0] != x.shape[0]:
        raise ValueError(
            f"counts must be 1-d with one entry per history row ({x.shape[0]}), got shape {c.shape}"
        )
    if x.size and not np.isin(x, (0, 1)).all():
        raise ValueError("histories must contain only 0 and 1")
    if x.shape[0] and (x.sum(axis=1) == 0).any():
        rows = np.flatnonzero(x.sum(axis=1) == 0).tolist()
        raise ValueError(f"histories row(s) {rows} are all zero: nobody is observed on no list")
    if c.size and not np.all(np.isfinite(c.astype(np.float64))):
        raise ValueError("counts must be finite")
    if c.size and not np.array_equal(c, np.round(c)):
        raise ValueError("counts must be whole numbers")
    if (c < 0).any():
        raise ValueError("counts must be non-negative")
    if c.sum() <= 0:
        raise ValueError("no observations: counts sum to zero")
    keep = c > 0
    return (
        np.ascontiguousarray(x[keep], dtype=np.int64),
        np.ascontiguousarray(c[keep], dtype=np.int64),
    )


def lcmcr(
    histories: npt.ArrayLike,
    counts: npt.ArrayLike,
    *,
    K: int = 5,  # noqa: N803 - K is the paper's and the R package's name
    burnin: int = 100_000,
    samples: int = 1_000,
    thinning: int = 100,
    a_alpha: float = 0.25,
    b_alpha: float = 0.25,
    seed: int = 12345,
) -> LCMCRPosterior:
    """Fit LCMCR to a capture-history table and return posterior draws of the population size.

    ``histories`` is a (cells × lists) 0/1 array of observed capture histories (no all-zero
    row); ``counts`` holds the number of people with each history (zero rows are ignored).
    Runs ``burnin + samples * thinning`` Gibbs sweeps and keeps every ``thinning``-th after
    the burn-in. The defaults are those of R's ``lcmCR`` / ``lcmCR_PostSampl`` as used by HRDAG.
    The same ``seed`` gives identical draws.
    """
    if K < 1:
        raise ValueError(f"K must be at least 1, got {K}")
    if burnin < 0 or samples < 1 or thinning < 1:
        raise ValueError(
            f"need burnin >= 0, samples >= 1, thinning >= 1; got {burnin}, {samples}, {thinning}"
        )
    if not (a_alpha > 0.0 and b_alpha > 0.0):
        raise ValueError(f"a_alpha and b_alpha must be positive, got {a_alpha}, {b_alpha}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    cells, freq = _validate(histories, counts)
    start = time.perf_counter()
    draws, occupied = _gibbs(
        cells, freq, int(K), int(burnin), int(samples), int(thinning),
        float(a_alpha), float(b_alpha), int(seed), _WARMUP,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    return LCMCRPosterior(
        population_draws=draws,
        observed=int(freq.sum()),
        K=int(K),
        iterations=int(burnin + samples * thinning),
        burnin=int(burnin),
        thinning=int(thinning),
        seed=int(seed),
        seconds=seconds,
        occupied_classes=occupied,
    )


# --------------------------------------------------------------------------------------------
# Several chains

# Rank-normalised split-R̂ of log N above this means the chains have not found the same
# posterior. Measured at the reference settings (runs of 4 chains): chains that agree but
# mix slowly gave 1.00–1.05 on the reference tables (UKdat, UKdat_5: medians within ±5%) and
# 1.08 on a simulated table (medians 25,100–27,100), while runs with a chain in another
# region gave 1.4–1.6 (UKdat_5 with one chain at 12,500 against 22,000; simulated multimodal
# tables). Vehtari et al.'s (2021) 1.01 would flag the slow but agreeing UK chains nearly
# every time.
RHAT_LIMIT = 1.1
# Above this (and up to RHAT_LIMIT) the chains agree roughly: the figure is less precise than
# one chain's draws suggest, which the output says together with its Monte-Carlo error.
RHAT_ROUGH = 1.05
# Chains of a default run: enough for split-R̂ and the spread of medians to show disagreement.
DEFAULT_CHAINS = 4


def geweke_limit(chains: int) -> float:
    """|z| beyond which the worst of ``chains`` Geweke z-scores says a chain had not settled.

    3 for one chain (a false alarm in 0.27% of settled chains, if z is normal), raised with
    the number of chains so that a run of several settled chains keeps that false-alarm
    rate (Šidák: the largest of m |z| exceeds the limit with probability 0.27%).
    """
    from scipy.special import ndtr, ndtri

    false_alarm = 2.0 * (1.0 - float(ndtr(3.0)))  # two-sided P(|Z| > 3)
    per_chain = 1.0 - (1.0 - false_alarm) ** (1.0 / max(chains, 1))
    return float(ndtri(1.0 - per_chain / 2.0))


def chain_seeds(seed: int, chains: int) -> list[int]:
    """Independent 32-bit seeds for ``chains`` chains, derived from one user seed.

    numpy's SeedSequence spreads the entropy of ``seed`` over every chain, so the chains of
    one run, and those of runs with neighbouring seeds, do not share random streams as
    ``seed + i`` would.
    """
    state = np.random.SeedSequence(seed).generate_state(chains, dtype=np.uint32)
    return [int(s) for s in state]


def _classic_rhat(split: npt.NDArray[np.float64]) -> float:
    n = split.shape[1]
    within = float(np.mean(np.var(split, axis=1, ddof=1)))
    between_over_n = float(np.var(np.mean(split, axis=1), ddof=1))
    if within <= 0.0:
        return 1.0 if between_over_n <= 0.0 else math.inf
    return math.sqrt(((n - 1) / n * within + between_over_n) / within)


def split_rhat(chains: list[npt.NDArray[np.int64]] | list[npt.ArrayLike]) -> float:
    """Rank-normalised split-R̂ of log N (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021).

    Each chain is split in halves (which also catches a chain that drifts), the pooled draws
    replaced by normal scores of their ranks (robust to N's long right tail), and Gelman &
    Rubin's potential scale reduction computed on them and on their distances from the
    median (which catches chains with equal centres but different spreads); the larger is
    returned. 1 means the chains agree; NaN with fewer than 4 draws per chain.
    """
    from scipy.special import ndtri
    from scipy.stats import rankdata

    arrays = [np.log(np.asarray(c, dtype=np.float64)) for c in chains]
    n = min(a.size for a in arrays) // 2
    if n < 2:
        return math.nan
    halves = np.array([half for a in arrays for half in (a[:n], a[a.size - n :])])
    ranks = rankdata(halves, method="average").reshape(halves.shape)
    scores = ndtri((ranks - 0.375) / (halves.size + 0.25))
    bulk = _classic_rhat(scores)
    folded = np.abs(halves - np.median(halves))
    ranks = rankdata(folded, method="average").reshape(halves.shape)
    tail = _classic_rhat(ndtri((ranks - 0.375) / (halves.size + 0.25)))
    return max(bulk, tail)


@dataclass(frozen=True, eq=False)
class LCMCRChains:
    """Independent chains of :func:`lcmcr` on one table: pooled draws and their agreement.

    The estimate is the median of the pooled draws, as if one chain of the combined length
    had been run, but only when the chains agree (:meth:`agree`); when they settle in
    different regions of a multimodal posterior the pooled figure mixes them, and
    :meth:`chain_medians` shows each region.
    """

    chains: tuple[LCMCRPosterior, ...]

    @property
    def population_draws(self) -> npt.NDArray[np.int64]:
        return np.concatenate([chain.population_draws for chain in self.chains])

    @property
    def observed(self) -> int:
        return self.chains[0].observed

    @property
    def seconds(self) -> float:
        """The chains' sampling times added up (more than the wall time when in parallel)."""
        return sum(chain.seconds for chain in self.chains)

    def median(self) -> float:
        """Posterior median of N from the pooled draws."""
        return float(np.median(self.population_draws))

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Equal-tailed credible interval for N from the pooled draws."""
        return equal_tailed(self.population_draws, level)

    def chain_medians(self) -> list[float]:
        return [chain.median() for chain in self.chains]

    def split_rhat(self) -> float:
        """Rank-normalised split-R̂ of log N over the chains (see :func:`split_rhat`)."""
        return split_rhat([chain.population_draws for chain in self.chains])

    def agree(self) -> bool:
        """Whether the chains describe the same posterior (split-R̂ ≤ :data:`RHAT_LIMIT`).

        A single chain cannot be checked against another and counts as agreeing; its
        split-R̂ (its two halves) still flags a chain that drifts.
        """
        rhat = self.split_rhat()
        return not rhat > RHAT_LIMIT  # NaN (too few draws to tell) is not a disagreement

    def mcse_median(self) -> float:
        """Monte-Carlo standard error of the pooled median.

        The larger of the chains' own (autocorrelation-aware) errors combined, and the
        spread of their medians, each divided by √chains: the spread catches chains in
        different regions, which each chain's own error cannot see.
        """
        m = len(self.chains)
        own = math.sqrt(float(np.mean([c.quantile_mcse(0.5) ** 2 for c in self.chains])))
        if m < 2:
            return own
        between = float(np.std(self.chain_medians(), ddof=1))
        return max(own, between) / math.sqrt(m)

    def diagnostics(self) -> dict[str, Any]:
        """Convergence and precision summaries over the chains.

        ``chains``; ``draws`` (pooled); ``ess`` (effective sample size summed over the
        chains); ``geweke_z`` (of log N, the chain with the largest |z|) and ``geweke_limit``
        (beyond it, that chain had probably not settled; see :func:`geweke_limit`);
        ``split_rhat`` (see :func:`split_rhat`); ``mcse_median``;
        ``chain_medians``; ``mean_occupied_classes``.
        """
        per_chain = [chain.diagnostics() for chain in self.chains]
        # Geweke's z on log N: N's long right tail makes the first 10% of the draws' mean a
        # poor fit to the normal approximation behind the z-score.
        gewekes = [geweke_z(np.log(chain.population_draws)) for chain in self.chains]
        finite = [z for z in gewekes if math.isfinite(z)]
        result: dict[str, Any] = {
            "chains": len(self.chains),
            "draws": float(sum(d["draws"] for d in per_chain)),
            "ess": float(sum(d["ess"] for d in per_chain)),
            "geweke_z": max(finite, key=abs) if finite else math.nan,
            "geweke_limit": geweke_limit(len(self.chains)),
            "split_rhat": self.split_rhat(),
            "mcse_median": self.mcse_median(),
            "chain_medians": self.chain_medians(),
        }
        occupied = [d["mean_occupied_classes"] for d in per_chain if "mean_occupied_classes" in d]
        if occupied:
            result["mean_occupied_classes"] = float(np.mean(occupied))
        return result


def lcmcr_chains(
    histories: npt.ArrayLike,
    counts: npt.ArrayLike,
    *,
    chains: int = DEFAULT_CHAINS,
    K: int = 5,  # noqa: N803 - K is the paper's and the R package's name
    burnin: int = 100_000,
    samples: int = 1_000,
    thinning: int = 100,
    a_alpha: float = 0.25,
    b_alpha: float = 0.25,
    seed: int = 12345,
    workers: int | None = None,
) -> LCMCRChains:
    """Run ``chains`` independent :func:`lcmcr` chains, each with its own seed from ``seed``.

    Each chain has the full settings (its own warm-up, burn-in and ``samples`` kept draws),
    so the pooled posterior has ``chains × samples`` draws. The chains run in parallel
    threads, up to ``workers`` (default: one per CPU), since the sampler releases the GIL;
    the result does not depend on the number of threads.
    """
    if chains < 1:
        raise ValueError(f"chains must be at least 1, got {chains}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")

    def run(chain_seed: int) -> LCMCRPosterior:
        return lcmcr(
            histories, counts, K=K, burnin=burnin, samples=samples, thinning=thinning,
            a_alpha=a_alpha, b_alpha=b_alpha, seed=chain_seed,
        )  # fmt: skip

    seeds = chain_seeds(seed, chains)
    threads = min(chains, workers or os.cpu_count() or 1)
    if threads <= 1:
        return LCMCRChains(tuple(run(s) for s in seeds))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return LCMCRChains(tuple(pool.map(run, seeds)))

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

Sampler (Manrique-Vallier 2016, section 3): Gibbs sampling with data augmentation of the
n0 people seen by no list. One sweep

1. splits each observed capture-history cell's count over the classes, multinomially with
   probabilities ∝ π_k ∏_j λ_jk^x_j (1 − λ_jk)^(1 − x_j);
2. draws n0 ~ NegativeBinomial(n_obs, 1 − π0), π0 = Σ_k π_k ∏_j (1 − λ_jk) (the 1/N prior
   makes this exact), then the classes of those n0 people multinomially ∝ π_k ∏_j (1 − λ_jk);
3. draws λ_jk ~ Beta(1 + #(class k on list j), 1 + #(class k not on list j)), counting the
   unobserved people as on no list;
4. draws V_k ~ Beta(1 + n_k, α + Σ_{l>k} n_l) and α ~ Gamma(a_alpha + K − 1,
   rate b_alpha − Σ_{k<K} log(1 − V_k)).

The population size is N = n_obs + n0. A sweep costs O(cells · K · J) whatever the number of
people, because step 1 works on the table of distinct capture histories.

Like R's sampler, the chain starts from few occupied classes and runs 500 warm-up sweeps with
α held small before the burn-in (see ``_gibbs``). Check ``diagnostics()`` and, for important
results, compare runs with different seeds: on some tables the posterior has regions with
different numbers of occupied classes and different N between which the sampler moves only
rarely, and one chain's Monte-Carlo error then exceeds what its own draws suggest.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["LCMCRPosterior", "effective_sample_size", "geweke_z", "lcmcr", "quantile_mcse"]


def _empty_int64() -> npt.NDArray[np.int64]:
    return np.zeros(0, dtype=np.int64)


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
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be strictly between 0 and 1, got {level}")
        tail = (1.0 - level) / 2.0
        lo, hi = np.quantile(self.population_draws, [tail, 1.0 - tail])
        return float(lo), float(hi)

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
# Initial weight of each class but the first (see _gibbs).
_INITIAL_MINOR_WEIGHT = 1e-3


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
def _sweep(
    cells: np.ndarray,
    freq: np.ndarray,
    n_obs: int,
    lam: np.ndarray,
    pi: np.ndarray,
    alpha: float,
    class_obs: np.ndarray,
    class_unobs: np.ndarray,
    on_list: np.ndarray,
    weights: np.ndarray,
    split: np.ndarray,
    miss: np.ndarray,
) -> tuple[int, float]:
    """One Gibbs sweep over z, (n0, z0), λ and π, updating the arrays in place.

    Returns n0 and log π_K = Σ_{k<K} log(1 − V_k), which α's update needs and which would
    underflow if recomputed from π_K.
    """
    n_cells, n_lists = cells.shape
    n_classes = pi.size

    # 1. classes of the observed people, cell by cell.
    on_list[:, :] = 0
    class_obs[:] = 0
    for m in range(n_cells):
        for k in range(n_classes):
            w = pi[k]
            for j in range(n_lists):
                w *= lam[j, k] if cells[m, j] == 1 else 1.0 - lam[j, k]
            weights[k] = w
        _multinomial(freq[m], weights, split)
        for k in range(n_classes):
            c = split[k]
            if c == 0:
                continue
            class_obs[k] += c
            for j in range(n_lists):
                if cells[m, j] == 1:
                    on_list[j, k] += c

    # 2. number of unobserved people, then their classes.
    pi0 = 0.0
    pi_seen = 0.0
    for k in range(n_classes):
        log_none = _log1m_prod(lam, k)
        miss[k] = pi[k] * math.exp(log_none)
        pi0 += miss[k]
        # 1 − π0 accumulated directly rather than by subtraction, which cancels badly when
        # capture probabilities are small and π0 is close to 1.
        pi_seen += pi[k] * -math.expm1(log_none)
    # NegBin(n_obs, 1 − π0) as its gamma–Poisson mixture, n0 ~ Poisson(G·π0/(1 − π0)) with
    # G ~ Gamma(n_obs, 1), so that 1 − π0 never has to be formed by subtraction.
    n0: int = np.random.poisson(np.random.gamma(float(n_obs), 1.0) * pi0 / pi_seen)
    _multinomial(n0, miss, class_unobs)

    # 3. capture probabilities; the unobserved count as "not on list j" for every j.
    for k in range(n_classes):
        total_k = class_obs[k] + class_unobs[k]
        for j in range(n_lists):
            lam[j, k] = np.random.beta(1.0 + on_list[j, k], 1.0 + (total_k - on_list[j, k]))

    # 4. stick-breaking weights, in log space (see _log_gamma_draw).
    remaining = n_obs + n0
    log_rest = 0.0  # Σ_{l<k} log(1 − V_l)
    for k in range(n_classes - 1):
        n_k = class_obs[k] + class_unobs[k]
        remaining -= n_k
        g1 = _log_gamma_draw(1.0 + n_k)
        g2 = _log_gamma_draw(alpha + remaining)
        top = max(g1, g2)
        log_sum = top + math.log(math.exp(g1 - top) + math.exp(g2 - top))
        pi[k] = math.exp(g1 - log_sum + log_rest)
        log_rest += g2 - log_sum
    pi[n_classes - 1] = math.exp(log_rest)
    return n0, log_rest


@numba.njit(cache=True)
def _sort_classes(pi: np.ndarray, lam: np.ndarray) -> None:
    """Reorder the classes by decreasing π, in place (insertion sort: K is small).

    Written out rather than with argsort and fancy indexing, which triple the compile time.
    """
    for k in range(1, pi.size):
        j = k
        while j > 0 and pi[j - 1] < pi[j]:
            pi[j - 1], pi[j] = pi[j], pi[j - 1]
            for row in range(lam.shape[0]):
                lam[row, j - 1], lam[row, j] = lam[row, j], lam[row, j - 1]
            j -= 1


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
    n_cells, n_lists = cells.shape
    n_obs = freq.sum()  # an int64 from the start: a literal 0 would compile _sweep twice

    # Start with (almost) everyone in the first class, whose capture probabilities are the
    # lists' marginal rates. Why: on some tables (the UK ones) the posterior has regions with
    # few and with many occupied classes between which this Gibbs sampler moves only every
    # few million sweeps, and chains started spread over K classes can spend the whole run
    # in a many-class region (UKdat_5: N ≈ 12,000 instead of ≈ 22,000) that long runs
    # show they leave for good. Growing classes from one, as is usual for Dirichlet-process
    # mixtures, reaches the well-supported region within the burn-in, as R's chains do.
    lam = np.empty((n_lists, n_classes))
    for j in range(n_lists):
        on = 0
        for m in range(n_cells):
            on += cells[m, j] * freq[m]
        for k in range(n_classes):
            lam[j, k] = on / n_obs
    pi = np.full(n_classes, _INITIAL_MINOR_WEIGHT)
    pi[0] = 1.0 - _INITIAL_MINOR_WEIGHT * (n_classes - 1)

    weights = np.empty(n_classes)
    split = np.empty(n_classes, dtype=np.int64)
    on_list = np.empty((n_lists, n_classes), dtype=np.int64)
    class_obs = np.empty(n_classes, dtype=np.int64)
    class_unobs = np.zeros(n_classes, dtype=np.int64)
    miss = np.empty(n_classes)

    # Warm-up as in the R package: sweeps with α held at 0.3/K, which keeps the number of
    # classes small while the class profiles form, then the classes sorted by decreasing
    # weight, because the stick-breaking prior is not exchangeable and favours big classes
    # first. These sweeps come before, and in addition to, the burn-in.
    alpha = 0.3 / n_classes
    for _ in range(warmup):
        _sweep(cells, freq, n_obs, lam, pi, alpha, class_obs, class_unobs, on_list,
               weights, split, miss)  # fmt: skip
    _sort_classes(pi, lam)
    alpha = 1.0

    n_draws = np.empty(samples, dtype=np.int64)
    occupied = np.empty(samples, dtype=np.int64)
    kept = 0
    for it in range(burnin + samples * thinning):
        n0, log_pi_last = _sweep(cells, freq, n_obs, lam, pi, alpha, class_obs, class_unobs,
                                 on_list, weights, split, miss)  # fmt: skip
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


@numba.njit(cache=True)
def _log1m_prod(lam: np.ndarray, k: int) -> float:
    """log ∏_j (1 − λ_jk), accurate when the λ are tiny."""
    total = 0.0
    for j in range(lam.shape[0]):
        total += math.log1p(-lam[j, k])
    return total


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

"""Tests of the LCMCR sampler against R's LCMCR 0.4.14, an exact posterior and a simulation.

The reference values are read from ``data/mse/reference-results.csv`` (rows with pkg LCMCR):
R's ``lcmCR(createLCMCR(d), tabular = TRUE, K = K, seed = 12345)`` followed by
``lcmCR_PostSampl(burnin = 1e5, samples = 1000, thinning = 100)``. A single MCMC run like R's
is itself a random quantity, so the comparisons are "within Monte-Carlo error", with the error
estimated from our own chains as explained in ``_single_chain_se``.
"""

from __future__ import annotations

import csv
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from scipy.special import betaln, gammaln

from tiphub.estimate.lcmcr import LCMCRPosterior, effective_sample_size, geweke_z, lcmcr

DATA = Path(__file__).resolve().parent / "data" / "mse"

# Independent chains per configuration: R's seed plus three more. Replicates show Monte-Carlo
# error that one chain cannot reveal about itself: the UK posteriors have regions with about
# 2.5 and about 4 occupied classes between which the Gibbs sampler moves only every few
# million sweeps. Chains that settle in different regions (as they did before the sampler
# was made to start from one class) have medians thousands apart, while each chain's own
# error estimate is ~250; the spread across chains exposes that.
SEEDS = (12345, 1, 2, 3)


def load_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    with (DATA / f"{name}.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    table = np.array(rows[1:], dtype=np.int64)
    return table[:, :-1], table[:, -1]


def _references() -> dict[tuple[str, int], dict[str, float]]:
    refs: dict[tuple[str, int], dict[str, float]] = {}
    with (DATA / "reference-results.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            match = re.fullmatch(r"lcmCR K=(\d+) \(median\)", row["method"])
            if row["pkg"] == "LCMCR" and match:
                refs[(row["dataset"], int(match.group(1)))] = {
                    key: float(row[key]) for key in ("est", "lo95", "hi95", "lo80", "hi80")
                }
    return refs


REFERENCES = _references()
CONFIGS = sorted(REFERENCES)


def test_reference_table_has_every_configuration() -> None:
    expected = {
        ("UKdat", 5), ("UKdat_5", 5), ("NewOrl", 5), ("NewOrl_5", 5),
        ("Western", 5), ("Kosovo", 5), ("Kosovo", 10), ("Korea", 5),
    }  # fmt: skip
    assert set(CONFIGS) == expected


@pytest.fixture(scope="module")
def chains() -> dict[tuple[str, int], list[LCMCRPosterior]]:
    """Full-length (200,000-sweep) runs of every reference configuration, one per seed.

    The sampler releases the GIL and numba keeps one random state per thread, so the chains
    run in parallel threads and each stays reproducible.
    """
    tables = {name: load_table(name) for name, _ in CONFIGS}
    lcmcr(*tables["Korea"], burnin=1, samples=1, thinning=1)  # compile once, before threading
    jobs = [(config, seed) for config in CONFIGS for seed in SEEDS]

    def run(job: tuple[tuple[str, int], int]) -> LCMCRPosterior:
        (name, k), seed = job
        return lcmcr(*tables[name], K=k, burnin=100_000, samples=1_000, thinning=100, seed=seed)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(run, jobs))
    out: dict[tuple[str, int], list[LCMCRPosterior]] = {config: [] for config in CONFIGS}
    for (config, _seed), posterior in zip(jobs, results, strict=True):
        out[config].append(posterior)
    return out


def _single_chain_se(values: list[float], within: list[float]) -> float:
    """Monte-Carlo standard error of one chain's estimate (a median or a limit).

    The larger of (a) the spread of the estimate across the independent chains, which catches
    chains that settle in different regions of a multimodal posterior, and (b) the median over
    chains of each chain's own error estimate (autocorrelation-aware: the indicator's
    initial-monotone-sequence variance over the local density, see ``quantile_mcse``), which
    is the better estimate when the chains agree, as four chains give a noisy spread. The
    median rather than the mean of (b) because in the tails one chain's density estimate
    rests on a few extreme draws and can be off by a large factor.
    """
    between = float(np.std(values, ddof=1))
    own = float(np.median(within))
    return max(between, own)


def _tolerance(se_chain: float, sigmas: float) -> float:
    # We compare the pooled posterior of len(SEEDS) chains (error se/√m) with R's single chain
    # of the same length and thinning run by the same algorithm (error ≈ se, as nothing better
    # is known about it), so the difference has standard deviation se·√(1/m + 1).
    return sigmas * se_chain * math.sqrt(1.0 / len(SEEDS) + 1.0)


@pytest.mark.parametrize("config", CONFIGS, ids=[f"{n}-K{k}" for n, k in CONFIGS])
def test_posterior_median_matches_r(
    chains: dict[tuple[str, int], list[LCMCRPosterior]], config: tuple[str, int]
) -> None:
    runs = chains[config]
    reference = REFERENCES[config]["est"]
    pooled = float(np.median(np.concatenate([p.population_draws for p in runs])))
    se = _single_chain_se([p.median() for p in runs], [p.quantile_mcse(0.5) for p in runs])
    # 4 standard deviations: over the eight configurations a false alarm has probability
    # about 8 × 6e-5 if the errors are normal, and we take the larger of two error estimates.
    # Korea's N is discrete and its median sits on an integer, so allow half a unit more.
    tol = _tolerance(se, 4.0) + 0.5
    assert abs(pooled - reference) <= tol, (
        f"{config}: median {pooled:.1f} vs R {reference:.1f} (tolerance {tol:.1f}, se {se:.1f}; "
        f"chain medians {[p.median() for p in runs]})"
    )


@pytest.mark.parametrize("config", CONFIGS, ids=[f"{n}-K{k}" for n, k in CONFIGS])
def test_95_percent_limits_match_r(
    chains: dict[tuple[str, int], list[LCMCRPosterior]], config: tuple[str, int]
) -> None:
    runs = chains[config]
    pooled = np.concatenate([p.population_draws for p in runs])
    for p_tail, key in ((0.025, "lo95"), (0.975, "hi95")):
        reference = REFERENCES[config][key]
        ours = float(np.quantile(pooled, p_tail))
        values = [float(np.quantile(p.population_draws, p_tail)) for p in runs]
        se = _single_chain_se(values, [p.quantile_mcse(p_tail) for p in runs])
        # Looser than for the median: 5 standard deviations, because a 2.5% quantile rests on
        # ~25 draws per chain, so both its error estimate (density from the spacing of a few
        # extreme draws) and the normal approximation behind "k sigma" are much rougher there,
        # and the right tails of N are long. Plus one unit for the discreteness of N.
        tol = _tolerance(se, 5.0) + 1.0
        assert abs(ours - reference) <= tol, (
            f"{config} {key}: {ours:.1f} vs R {reference:.1f} (tolerance {tol:.1f}, se {se:.1f})"
        )


def test_pooled_80_percent_interval_overlaps_r(
    chains: dict[tuple[str, int], list[LCMCRPosterior]],
) -> None:
    # A coarse sanity check on the interval's middle part: the 80% intervals must overlap
    # substantially (at least half of the shorter one) for every configuration.
    for config, runs in chains.items():
        pooled = np.concatenate([p.population_draws for p in runs])
        lo, hi = np.quantile(pooled, [0.1, 0.9])
        ref_lo, ref_hi = REFERENCES[config]["lo80"], REFERENCES[config]["hi80"]
        overlap = min(hi, ref_hi) - max(lo, ref_lo)
        assert overlap >= 0.5 * min(hi - lo, ref_hi - ref_lo), (config, lo, hi, ref_lo, ref_hi)


# --------------------------------------------------------------------------------------------
# Exact check with one latent class


def _exact_quantiles_one_class(
    histories: np.ndarray, counts: np.ndarray, probs: tuple[float, ...]
) -> np.ndarray:
    # With K = 1 the model is M_t with λ_j ~ Beta(1, 1) and p(N) ∝ 1/N; integrating out the λ
    # gives p(N | data) ∝ (1/N) · N!/(N − n)! · ∏_j B(n_j + 1, N − n_j + 1).
    n = int(counts.sum())
    on_list = histories.T @ counts
    grid = np.arange(n, 100 * n, dtype=np.float64)
    log_post = -np.log(grid) + gammaln(grid + 1) - gammaln(grid - n + 1)
    for n_j in on_list:
        log_post += betaln(n_j + 1.0, grid - n_j + 1.0)
    weights = np.exp(log_post - log_post.max())
    cdf = np.cumsum(weights) / weights.sum()
    return grid[np.searchsorted(cdf, probs)]


@pytest.mark.parametrize("name", ["Korea", "NewOrl", "Kosovo"])
def test_one_class_matches_exact_posterior(name: str) -> None:
    histories, counts = load_table(name)
    posterior = lcmcr(histories, counts, K=1, burnin=2_000, samples=5_000, thinning=4, seed=7)
    probs = (0.025, 0.5, 0.975)
    exact = _exact_quantiles_one_class(histories, counts, probs)
    for p, truth in zip(probs, exact, strict=True):
        ours = float(np.quantile(posterior.population_draws, p))
        # 4 Monte-Carlo standard errors of the chain's quantile, plus one unit for the
        # discreteness of N (the exact quantile is itself an integer).
        tol = 4.0 * posterior.quantile_mcse(p) + 1.0
        assert abs(ours - truth) <= tol, (name, p, ours, truth, tol)


# --------------------------------------------------------------------------------------------
# Simulation with a known population


def test_simulated_population_with_list_dependence_is_covered() -> None:
    rng = np.random.default_rng(0)
    size = 2000
    # Two latent classes of equal size with opposite capture patterns: class 0 is found mostly
    # by lists 1–2, class 1 mostly by lists 3–4. This makes lists 1–2 and 3–4 positively
    # dependent, the situation latent classes are for. (Heterogeneity that is the same on every
    # list, such as a class that is rarely found by anyone, is not identifiable from the table
    # by any method, so it would not test the sampler.)
    capture = np.array([[0.5, 0.4, 0.1, 0.15], [0.1, 0.15, 0.4, 0.5]])
    classes = rng.choice(2, size=size, p=[0.5, 0.5])
    on = rng.random((size, 4)) < capture[classes]
    seen = on[on.any(axis=1)].astype(np.int64)
    histories, counts = np.unique(seen, axis=0, return_counts=True)
    observed = int(counts.sum())

    posterior = lcmcr(histories, counts, K=5, burnin=20_000, samples=1_000, thinning=20, seed=3)
    lo, hi = posterior.interval(0.95)
    assert posterior.observed == observed
    assert observed < lo <= size <= hi, (observed, lo, hi)
    # The latent classes matter here: the one-class (independence) model is misled by the
    # dependence and its interval misses the truth.
    one_class = lcmcr(histories, counts, K=1, burnin=2_000, samples=1_000, thinning=5, seed=3)
    assert one_class.interval(0.95)[0] > size


# --------------------------------------------------------------------------------------------
# Reproducibility, summaries and validation

KOREA = load_table("Korea")


def test_same_seed_gives_identical_draws() -> None:
    a = lcmcr(*KOREA, burnin=500, samples=200, thinning=5, seed=42)
    b = lcmcr(*KOREA, burnin=500, samples=200, thinning=5, seed=42)
    assert a.population_draws.dtype == np.int64
    np.testing.assert_array_equal(a.population_draws, b.population_draws)
    np.testing.assert_array_equal(a.occupied_classes, b.occupied_classes)


def test_same_seed_identical_across_threads() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(
            pool.map(
                lambda _: lcmcr(*KOREA, burnin=2_000, samples=300, thinning=10, seed=9), [0, 1]
            )
        )
    np.testing.assert_array_equal(runs[0].population_draws, runs[1].population_draws)


def test_different_seed_gives_different_draws() -> None:
    a = lcmcr(*KOREA, burnin=500, samples=200, thinning=5, seed=42)
    b = lcmcr(*KOREA, burnin=500, samples=200, thinning=5, seed=43)
    assert not np.array_equal(a.population_draws, b.population_draws)


def test_posterior_summaries() -> None:
    posterior = lcmcr(*KOREA, burnin=2_000, samples=500, thinning=10, seed=5)
    assert posterior.population_draws.shape == (500,)
    assert posterior.iterations == 2_000 + 500 * 10
    assert (posterior.population_draws >= 123).all()  # never fewer than the observed
    assert posterior.observed == 123
    lo95, hi95 = posterior.interval()
    lo80, hi80 = posterior.interval(0.8)
    assert lo95 <= lo80 <= posterior.median() <= hi80 <= hi95
    diagnostics = posterior.diagnostics()
    assert 0 < diagnostics["ess"] <= 500 * math.log10(500)
    assert math.isfinite(diagnostics["geweke_z"])
    assert 1.0 <= diagnostics["mean_occupied_classes"] <= 5.0
    assert diagnostics["mcse_median"] >= 0.0
    with pytest.raises(ValueError, match="level"):
        posterior.interval(1.5)


def test_ess_and_geweke_on_known_processes() -> None:
    rng = np.random.default_rng(0)
    white = rng.normal(size=4000)
    assert 3000 < effective_sample_size(white) < 5000
    # AR(1) with φ = 0.9 has ESS n(1 − φ)/(1 + φ) ≈ 210 for n = 4000.
    ar = np.empty(4000)
    ar[0] = 0.0
    for t in range(1, ar.size):
        ar[t] = 0.9 * ar[t - 1] + rng.normal()
    assert 120 < effective_sample_size(ar) < 350
    assert abs(geweke_z(white)) < 4.0
    # A chain whose level shifts by one standard deviation halfway: the first 10% and the last
    # 50% differ by 1 with standard error sqrt(1/400 + 1/2000) ≈ 0.055, so z ≈ −18.
    shifted = white + (np.arange(white.size) >= white.size // 2)
    assert geweke_z(shifted) < -10.0


@pytest.mark.parametrize(
    ("histories", "counts", "message"),
    [
        ([[1], [0]], [1, 2], "at least 2 lists"),
        ([[1, 2], [0, 1]], [1, 2], "only 0 and 1"),
        ([[1, 0], [0, 0]], [1, 2], "all zero"),
        ([[1, 0], [0, 1]], [1, -2], "non-negative"),
        ([[1, 0], [0, 1]], [0, 0], "no observations"),
        ([[1, 0], [0, 1]], [1], "one entry per history row"),
        ([[1, 0], [0, 1]], [1.5, 2], "whole numbers"),
        ([1, 0], [1], "2-d"),
    ],
)
def test_invalid_input_is_rejected(histories: object, counts: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lcmcr(np.asarray(histories), np.asarray(counts), burnin=1, samples=1, thinning=1)


def test_zero_count_rows_are_ignored() -> None:
    histories, counts = KOREA
    padded_h = np.vstack([histories, [[1, 0, 1]]])
    padded_c = np.append(counts, 0)
    a = lcmcr(histories, counts, burnin=200, samples=50, thinning=2, seed=1)
    b = lcmcr(padded_h, padded_c, burnin=200, samples=50, thinning=2, seed=1)
    np.testing.assert_array_equal(a.population_draws, b.population_draws)


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="K must be"):
        lcmcr(*KOREA, K=0)
    with pytest.raises(ValueError, match="thinning"):
        lcmcr(*KOREA, thinning=0)
    with pytest.raises(ValueError, match="a_alpha"):
        lcmcr(*KOREA, a_alpha=0.0)
    with pytest.raises(ValueError, match="seed"):
        lcmcr(*KOREA, seed=-1)

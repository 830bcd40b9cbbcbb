"""Refitted match rates and the path-based quality estimate, against hand-computed values and
simulations whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from tiphub.linkage.calibrate import fit_priors, fit_rate, log_bayes_factor
from tiphub.linkage.cluster import (
    cluster,
    estimate_quality,
    expected_missed_pairs,
    expected_true_pairs,
)


def _edges(*pairs: tuple[int, int, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    left = np.array([a for a, _, _ in pairs], dtype=np.int64)
    right = np.array([b for _, b, _ in pairs], dtype=np.int64)
    probability = np.array([p for _, _, p in pairs], dtype=float)
    return left, right, probability


def test_a_chain_counts_the_product_along_its_path() -> None:
    # a-b 0.9 and b-c 0.8 join one cluster; a-c was never scored: 0.9 + 0.8 + 0.9 × 0.8.
    left, right, probability = _edges((0, 1, 0.9), (1, 2, 0.8))
    clustering = cluster(
        3, left, right, probability, np.zeros(3, dtype=np.int64), 0.5, one_to_one=False
    )
    assert clustering.n_clusters == 1
    assert expected_true_pairs(clustering, left, right, probability) == pytest.approx(2.42)


def test_the_spanning_tree_takes_the_strongest_path() -> None:
    # a-c scored 0.6 directly, but a-b-c at 0.95 × 0.9 = 0.855 is the tree path.
    left, right, probability = _edges((0, 1, 0.95), (1, 2, 0.9), (0, 2, 0.6))
    clustering = cluster(
        3, left, right, probability, np.zeros(3, dtype=np.int64), 0.5, one_to_one=False
    )
    assert expected_true_pairs(clustering, left, right, probability) == pytest.approx(
        0.95 + 0.9 + 0.95 * 0.9
    )


def test_clusters_kept_apart_miss_all_their_pairs_at_their_strongest_link() -> None:
    # {0, 1} linked; 2 alone; 0-2 scored 0.1 and 1-2 scored 0.3: one person with chance 0.3,
    # and then both pairs (0-2, 1-2) are missed.
    left, right, probability = _edges((0, 1, 0.99), (0, 2, 0.1), (1, 2, 0.3))
    codes = np.array([0, 1, 2], dtype=np.int64)
    clustering = cluster(3, left, right, probability, codes, 0.5)
    assert clustering.n_clusters == 2
    assert expected_missed_pairs(clustering, left, right, probability) == pytest.approx(0.6)
    precision, recall, implied, true_links = estimate_quality(clustering, left, right, probability)
    assert implied == 1
    assert true_links == pytest.approx(0.99)
    assert precision == pytest.approx(0.99)
    assert recall == pytest.approx(0.99 / (0.99 + 0.6))


def _simulated_log_factors(
    rate: float, total: int, spread: float, seed: int
) -> tuple[np.ndarray, int]:
    """Log Bayes factors that are exact for the simulation: matches ~ N(s²/2, s) and
    non-matches ~ N(-s²/2, s), whose density ratio at x is exp(x)."""
    rng = np.random.default_rng(seed)
    matches = rng.binomial(total, rate)
    factors = np.concatenate(
        [
            rng.normal(spread**2 / 2, spread, matches),
            rng.normal(-(spread**2) / 2, spread, total - matches),
        ]
    )
    return factors, matches


@pytest.mark.parametrize(("rate", "seed"), [(0.02, 1), (0.002, 2), (0.1, 3)])
def test_the_rate_is_recovered_from_exact_bayes_factors(rate: float, seed: int) -> None:
    factors, matches = _simulated_log_factors(rate, 200_000, 4.0, seed)
    fitted = fit_rate(factors, len(factors), start=rate / 20)
    assert fitted == pytest.approx(matches / len(factors), rel=0.1)


def test_within_list_pairs_get_their_own_rate() -> None:
    # Two lists of 200 records; every record of list 0 matches the same-position record of
    # list 1 (strong evidence), no record repeats within a list.
    n = 200
    left = np.concatenate([np.arange(n), np.arange(0, n - 1)])
    right = np.concatenate([np.arange(n) + n, np.arange(1, n)])
    codes = np.array([0] * n + [1] * n, dtype=np.int64)
    prior = 1e-3
    weights = np.concatenate([np.full(n, 12.0), np.full(n - 1, -8.0)])
    fitted = fit_priors(weights, prior, left, right, codes)
    assert fitted.within_list < fitted.across_lists / 10
    within_pairs = fitted.probability[n:]
    assert within_pairs.max() < 0.05
    # Across-list pairs judged under the within-list rate are less likely matches.
    assert np.all(fitted.probability_within[:n] < fitted.probability[:n])
    assert log_bayes_factor([0.0], 0.5)[0] == pytest.approx(0.0)


def test_a_lone_look_alike_pair_between_clusters_counts_for_less() -> None:
    # {0, 1, 2, 3} is one cluster; 4 looks like 3 only (p 0.5). Were 4 the same person, the
    # other three pairs would look alike too: the chance is 0.5 × √(1/4), over 4 pairs.
    left, right, probability = _edges((0, 1, 0.99), (1, 2, 0.99), (2, 3, 0.99), (3, 4, 0.5))
    clustering = cluster(
        5, left, right, probability, np.zeros(5, dtype=np.int64), 0.9, one_to_one=False
    )
    assert clustering.n_clusters == 2
    assert expected_missed_pairs(clustering, left, right, probability) == pytest.approx(1.0)

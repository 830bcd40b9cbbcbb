"""Match probabilities whose prior is fitted to the records: across lists and within a list.

Training sets the prior match rate from deterministic rules, before the model knows how
names and dates vary; on records written in several scripts and orders it comes out too
low, and every probability with it. Here the prior is refitted by EM on the scored pairs,
the model's Bayes factors held fixed, separately for pairs of two lists and pairs within one
list: how often a list records one person twice is a rate estimated from the data, not a
rule that it never does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_MAX_ITERATIONS = 500
_TOLERANCE = 1e-10
# A rate never fitted to exactly 0 or 1: either would make some weight infinite.
_RATE_FLOOR = 1e-12
_RATE_CEILING = 0.5


@dataclass(frozen=True)
class FittedPriors:
    """Prior match rates and the probabilities they give, for every scored pair."""

    across_lists: float
    within_list: float
    probability: npt.NDArray[np.float64]
    # Each pair's probability as if its two records were of one list: what merging two
    # clusters that share a list has to clear.
    probability_within: npt.NDArray[np.float64]


def log_bayes_factor(match_weight: npt.ArrayLike, prior: float) -> npt.NDArray[np.float64]:
    """Natural-log Bayes factor of each pair: its match weight without the prior's share."""
    weight = np.asarray(match_weight, dtype=np.float64)
    factor: npt.NDArray[np.float64] = (weight - np.log2(prior / (1 - prior))) * np.log(2)
    return factor


def _posterior(log_factor: npt.NDArray[np.float64], rate: float) -> npt.NDArray[np.float64]:
    log_odds = np.log(rate / (1 - rate)) + log_factor
    posterior: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))
    return posterior


def fit_rate(log_factor: npt.NDArray[np.float64], total_pairs: float, start: float) -> float:
    """The mixing proportion of matches among ``total_pairs`` pairs, by EM.

    Only candidate pairs are scored; the others (not sharing any blocking key) are taken to
    have probability 0, so they count in the denominator only.
    """
    if total_pairs <= 0 or len(log_factor) == 0:
        return min(max(start, _RATE_FLOOR), _RATE_CEILING)
    rate = min(max(start, _RATE_FLOOR), _RATE_CEILING)
    for _ in range(_MAX_ITERATIONS):
        updated = float(_posterior(log_factor, rate).sum()) / total_pairs
        updated = min(max(updated, _RATE_FLOOR), _RATE_CEILING)
        if abs(updated - rate) <= _TOLERANCE * max(rate, _RATE_FLOOR):
            return updated
        rate = updated
    return rate


def fit_priors(
    match_weight: npt.ArrayLike,
    prior: float,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    list_codes: npt.NDArray[np.int64],
) -> FittedPriors:
    """Refit the prior across and within lists; see the module's docstring."""
    log_factor = log_bayes_factor(match_weight, prior)
    sizes = np.bincount(list_codes).astype(np.float64)
    n_records = float(sizes.sum())
    all_pairs = n_records * (n_records - 1) / 2
    within_pairs = float((sizes * (sizes - 1) / 2).sum())
    across_pairs = all_pairs - within_pairs
    same_list = list_codes[left] == list_codes[right]
    across = fit_rate(log_factor[~same_list], across_pairs, prior)
    within = fit_rate(log_factor[same_list], within_pairs, prior) if within_pairs else across
    probability = np.where(
        same_list, _posterior(log_factor, within), _posterior(log_factor, across)
    )
    return FittedPriors(
        across_lists=across,
        within_list=within,
        probability=probability,
        probability_within=_posterior(log_factor, within),
    )

"""Birth date, sex and nationality weighed among records whose names are alike.

Training learns how names agree from pairs sharing a birth date, then how birth dates agree
from pairs sharing the sound of a name. In that second step Splink must leave the name
comparison out (the pairs were chosen by it), and EM on dates, sex and nationality alone
cannot tell a namesake from the same person: on 200,000 generated records it settled on
"matches mostly disagree on the date" (m of the last date level 0.80 where the truth is
0.003), so that an exact birth date counted for little and recall fell to 0.77.

Here EM runs again on those pairs with the name's trained weight, term frequencies
included, held fixed: a rare shared name says "same person", a common one does not, and
that anchors the classes. The u of sex and nationality is estimated among pairs of
*different* people with alike names, which is what the chain rule needs after the name's
own weight: two namesakes share a nationality nine times in ten where two random records do
so once in eight, so agreement counts for little and disagreement for much, as it should.
The date's u stays that of random pairs: names say nothing of when two people were born.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

# The comparisons re-weighed; names are the anchor, the rest keep Splink's estimates.
CONDITIONED = ("date_of_birth", "sex", "nationality")
# Fewer pairs of alike names than this leave the training as it was.
MIN_PAIRS = 500
# Where every pair of namesakes in the sample shares a nationality (a file of Vietnamese and
# Thai people), u of "nationalities differ" would be 0 and a differing nationality infinite
# evidence for a match; u among random pairs, counted as this many pairs, keeps it finite.
PRIOR_PAIRS = 100.0
_MAX_ITERATIONS = 200
_TOLERANCE = 1e-7
_FLOOR = 1e-9


@dataclass(frozen=True)
class ConditionalFit:
    """Expected matches among the pairs, and per comparison its m and u, level by level.

    Levels are indexed by Splink's gamma value (0 the last level, ``-1`` missing, not
    estimated): ``m[name][gamma]``.
    """

    pairs: int
    expected_matches: float
    m: dict[str, npt.NDArray[np.float64]]
    u: dict[str, npt.NDArray[np.float64]]
    iterations: int


def _distribution(
    levels: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    size: int,
    prior: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """Weighted share of each level; with ``prior``, :data:`PRIOR_PAIRS` pairs spread as it
    says are added, so that a level no pair of the sample shows keeps a share."""
    present = levels >= 0
    counts = np.bincount(levels[present], weights=weights[present], minlength=size)[:size]
    if prior is not None:
        counts = counts + PRIOR_PAIRS * prior / prior.sum()
    total = counts.sum()
    share = counts / total if total > 0 else np.full(size, 1.0 / size)
    share = np.maximum(share, _FLOOR)
    result: npt.NDArray[np.float64] = share / share.sum()
    return result


def fit_conditional(
    anchor_log_odds: npt.ArrayLike,
    levels: Mapping[str, npt.ArrayLike],
    sizes: Mapping[str, int],
    start_m: Mapping[str, Sequence[float]],
    random_u: Mapping[str, Sequence[float]],
    fixed_u: Sequence[str] = (),
) -> ConditionalFit:
    """EM over pairs whose log odds from the prior and the name (natural log, term
    frequencies included) are held fixed; the other comparisons' m and u are estimated.

    ``levels``: per comparison, each pair's gamma (``-1`` where a side is missing, which
    adds no evidence); ``sizes``: the number of non-missing levels; ``start_m``: m by gamma;
    ``random_u``: u among random pairs, by gamma; ``fixed_u``: comparisons whose u is that
    one, held; the others' u is estimated among the pairs, starting from and smoothed
    towards it.
    """
    random = {
        name: np.maximum(np.asarray(random_u[name], dtype=np.float64), _FLOOR) for name in levels
    }
    held = {name: random[name] for name in fixed_u}
    anchor = np.asarray(anchor_log_odds, dtype=np.float64)
    gammas = {name: np.asarray(value, dtype=np.int64) for name, value in levels.items()}
    m = {name: np.maximum(np.asarray(start_m[name], dtype=np.float64), _FLOOR) for name in gammas}
    # Nearly every pair of alike names is two people: their spread of levels is u's start.
    u = {
        name: held.get(
            name, _distribution(gammas[name], np.ones(len(anchor)), sizes[name], random[name])
        )
        for name in gammas
    }
    expected = 0.0
    iterations = 0
    while iterations < _MAX_ITERATIONS:
        iterations += 1
        log_odds = anchor.copy()
        for name, gamma in gammas.items():
            present = gamma >= 0
            ratio = np.log(m[name]) - np.log(u[name])
            log_odds[present] += ratio[gamma[present]]
        weight = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))
        expected = float(weight.sum())
        new_m = {name: _distribution(g, weight, sizes[name]) for name, g in gammas.items()}
        new_u = {
            name: held.get(name, _distribution(g, 1.0 - weight, sizes[name], random[name]))
            for name, g in gammas.items()
        }
        change = max(
            [float(np.abs(new_m[name] - m[name]).max()) for name in gammas]
            + [float(np.abs(new_u[name] - u[name]).max()) for name in gammas]
        )
        m, u = new_m, new_u
        if change < _TOLERANCE:
            break
    return ConditionalFit(len(anchor), expected, m, u, iterations)


def scored_levels(model: Mapping[str, Any], comparison: str) -> list[dict[str, Any]]:
    """The levels of ``comparison`` in a Splink model dictionary, the null level left out,
    top level first (gamma ``len - 1`` down to 0); empty if the model lacks it."""
    for item in model["comparisons"]:
        if item.get("output_column_name") == comparison:
            return [level for level in item["comparison_levels"] if not level.get("is_null_level")]
    return []


def level_count(model: Mapping[str, Any], comparison: str) -> int:
    return len(scored_levels(model, comparison))


def model_probabilities(model: Mapping[str, Any], comparison: str, key: str) -> list[float]:
    """The model's ``m_probability`` or ``u_probability`` of ``comparison`` indexed by gamma
    (0 = last level); a level Splink left without a number gets 0.01."""
    values = [level.get(key) for level in reversed(scored_levels(model, comparison))]
    return [float(v) if isinstance(v, int | float) else 0.01 for v in values]


def with_conditional(model: dict[str, Any], fit: ConditionalFit) -> dict[str, Any]:
    """``model`` with m and u of the fitted comparisons replaced by the conditional ones."""
    for name in fit.m:
        for gamma, level in enumerate(reversed(scored_levels(model, name))):
            level["m_probability"] = float(fit.m[name][gamma])
            level["u_probability"] = float(fit.u[name][gamma])
    return model

"""Dates, sex and nationality re-weighed among alike names, with the name's weight held.

Checked against simulations whose m and u are known: EM must recover them from pairs it
sees only as (name log odds, levels), starting from the namesake solution that Splink's own
date step had settled on.
"""

from __future__ import annotations

import numpy as np
import pytest

from tiphub.linkage.conditional import fit_conditional, with_conditional

# Gamma order: index 0 is the last level ("else").
TRUE_M = {
    "date_of_birth": np.array([0.003, 0.002, 0.02, 0.04, 0.015, 0.06, 0.86]),
    "sex": np.array([0.008, 0.992]),
    "nationality": np.array([0.013, 0.987]),
}
_DATE_U = np.array([0.84, 0.126, 0.029, 0.0021, 3e-5, 0.0019, 9e-5])
RANDOM_U = {
    "date_of_birth": _DATE_U / _DATE_U.sum(),
    "sex": np.array([0.47, 0.53]),
    "nationality": np.array([0.873, 0.127]),
}
# Among namesakes, sex and nationality agree far more often than among random pairs.
NAMESAKE_U = {
    "date_of_birth": RANDOM_U["date_of_birth"],
    "sex": np.array([0.2, 0.8]),
    "nationality": np.array([0.06, 0.94]),
}
# The namesake solution: "matches mostly disagree on the date".
BAD_START = {
    "date_of_birth": [0.80, 0.12, 0.03, 0.005, 0.005, 0.005, 0.04],
    "sex": [0.19, 0.81],
    "nationality": [0.02, 0.98],
}
SIZES = {name: len(values) for name, values in TRUE_M.items()}


def _simulate(seed: int, pairs: int, match_share: float, missing: float = 0.1):
    rng = np.random.default_rng(seed)
    is_match = rng.random(pairs) < match_share
    # The name's log odds: matches mostly rare shared names, namesakes mostly common ones,
    # with the true share built in so that the anchor is calibrated.
    anchor = np.where(is_match, rng.normal(1.0, 2.0, pairs), rng.normal(-4.0, 2.0, pairs))
    levels = {}
    for name in TRUE_M:
        drawn_m = rng.choice(SIZES[name], size=pairs, p=TRUE_M[name])
        drawn_u = rng.choice(SIZES[name], size=pairs, p=NAMESAKE_U[name])
        gamma = np.where(is_match, drawn_m, drawn_u)
        gamma[rng.random(pairs) < missing] = -1
        levels[name] = gamma
    # The anchor as a log odds: log of the two normal densities' ratio plus the prior odds.
    log_odds = (
        -((anchor - 1.0) ** 2) / 8
        + ((anchor + 4.0) ** 2) / 8
        + np.log(match_share / (1 - match_share))
    )
    return log_odds, levels, is_match


@pytest.mark.parametrize(("seed", "share"), [(1, 0.05), (2, 0.3)])
def test_recovers_m_and_namesake_u_from_the_namesake_start(seed: int, share: float) -> None:
    log_odds, levels, is_match = _simulate(seed, 200_000, share)
    fit = fit_conditional(log_odds, levels, SIZES, BAD_START, RANDOM_U, fixed_u=("date_of_birth",))
    assert abs(fit.expected_matches - is_match.sum()) / is_match.sum() < 0.03
    for name in TRUE_M:
        assert np.allclose(fit.m[name], TRUE_M[name], atol=0.012), name
    for name in ("sex", "nationality"):
        assert np.allclose(fit.u[name], NAMESAKE_U[name], atol=0.01), name
    # The date's u is held at the random pairs' u, not estimated.
    assert np.allclose(fit.u["date_of_birth"], RANDOM_U["date_of_birth"])
    # An exact date now weighs what it truly weighs: about 9,500 to one.
    ratio = fit.m["date_of_birth"][6] / fit.u["date_of_birth"][6]
    assert 8_000 < ratio < 11_000


def test_a_level_no_namesake_shows_is_not_evidence_for_a_match() -> None:
    # Every namesake shares the nationality: without smoothing, u of "differs" would be 0
    # and a differing nationality infinite evidence for a match.
    log_odds, levels, _ = _simulate(3, 5_000, 0.2)
    nationality = levels["nationality"]
    levels["nationality"] = np.where(nationality == 0, 1, nationality)
    fit = fit_conditional(log_odds, levels, SIZES, BAD_START, RANDOM_U, fixed_u=("date_of_birth",))
    assert fit.m["nationality"][0] / fit.u["nationality"][0] < 1


def test_with_conditional_writes_levels_in_splink_order() -> None:
    model = {
        "comparisons": [
            {
                "output_column_name": "sex",
                "comparison_levels": [
                    {"is_null_level": True},
                    {"m_probability": 0.5, "u_probability": 0.5},
                    {"m_probability": 0.5, "u_probability": 0.5},
                ],
            }
        ]
    }
    log_odds, levels, _ = _simulate(4, 20_000, 0.2)
    fit = fit_conditional(
        log_odds, {"sex": levels["sex"]}, {"sex": 2}, {"sex": [0.5, 0.5]}, RANDOM_U
    )
    written = with_conditional(model, fit)["comparisons"][0]["comparison_levels"]
    # The first non-null level is the top one (exact agreement, gamma 1).
    assert written[1]["m_probability"] == pytest.approx(float(fit.m["sex"][1]))
    assert written[2]["u_probability"] == pytest.approx(float(fit.u["sex"][0]))
    assert written[1]["m_probability"] > 0.95

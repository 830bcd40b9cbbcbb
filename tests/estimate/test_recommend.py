"""The recommendation of a robustness run: simulation check and BIC model averaging.

Expected values come from outside the code under test: the population drawn into a known
simulated table, the closed-form Lincoln–Petersen estimate, and BIC values of every
hierarchical model refitted here by direct maximisation of the Poisson likelihood (scipy).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import gammaln
from scipy.stats import norm

from tiphub.estimate.intervals import lognormal_interval
from tiphub.estimate.loglinear import fit_loglinear
from tiphub.estimate.recommend import (
    MODEL_AVERAGE,
    bic_weights,
    cell_means,
    model_average,
    parametric_draws,
    recommend,
)
from tiphub.estimate.report import robustness
from tiphub.estimate.selection import bic_search
from tiphub.estimate.simulate import Scenario, simulate_table
from tiphub.estimate.table import CaptureTable, read_capture_table

DATA = Path(__file__).parent / "data" / "mse"
DEPENDENT_N = 4_000


def dependent_table() -> CaptureTable:
    """Four lists; people on A are far more likely to be on B as well (log odds ratio 2)."""
    scenario = Scenario((0.25, 0.2, 0.3, 0.25), {(0, 1): 2.0})
    return simulate_table(scenario, DEPENDENT_N, np.random.default_rng(20260))


@pytest.fixture(scope="module")
def dependent_recommendation():  # type: ignore[no-untyped-def]
    return recommend(dependent_table(), replicates=24, seed=7)


# ---------------------------------------------------------------------- the recommendation


def test_strong_dependence_is_not_left_to_main_effects(dependent_recommendation) -> None:  # type: ignore[no-untyped-def]
    recommendation = dependent_recommendation
    assert recommendation.method != "main"
    main = next(s for s in recommendation.summaries if s.method == "main")
    # Positive dependence between A and B hides the unseen: main effects undercounts badly,
    # and the data reject its model outright.
    assert main.worst_bias < -0.1
    assert not main.model_supported and not main.eligible
    chosen = next(s for s in recommendation.summaries if s.method == recommendation.method)
    assert chosen.eligible
    assert 0.85 <= chosen.lowest_coverage <= 1.0
    assert abs(chosen.worst_bias) < 0.1
    low, high = recommendation.interval_95
    assert low is not None and high is not None and low <= DEPENDENT_N <= high
    # Every truth the data support carries an A:B dependence.
    supported = [t for t in recommendation.truths if t.supported]
    assert supported and all("A:B" in t.terms for t in supported)


def test_evidence_covers_every_method_under_every_truth(dependent_recommendation) -> None:  # type: ignore[no-untyped-def]
    recommendation = dependent_recommendation
    methods = {s.method for s in recommendation.summaries}
    assert {"main", "stepwise", "aic-stepwise", "bic", MODEL_AVERAGE} <= methods
    pairs = {(p.method, p.truth) for p in recommendation.evidence}
    assert pairs == {(m, t.label) for m in methods for t in recommendation.truths}
    for row in recommendation.evidence:
        assert row.replicates == 24
        assert 0 <= row.failures <= row.replicates
        assert 0.0 <= row.coverage <= 1.0


def test_a_correct_model_shows_nominal_coverage() -> None:
    # Lists independent by construction: main effects is the true model, so its log-normal
    # interval should contain the truth in about 95% of draws and its estimate be unbiased.
    probabilities = np.array([0.3, 0.25, 0.35])
    masks = np.arange(8)
    on = (masks[:, None] >> np.arange(3)) & 1
    counts = np.rint(10_000 * np.prod(np.where(on == 1, probabilities, 1 - probabilities), 1))
    counts[0] = 0
    table = CaptureTable(("A", "B", "C"), counts.astype(np.int64))
    replicates = 400
    recommendation = recommend(table, methods=("main",), replicates=replicates, seed=11)
    (row,) = recommendation.evidence
    assert row.failures == 0
    margin = 3.5 * math.sqrt(0.95 * 0.05 / replicates)
    assert 0.95 - margin <= row.coverage <= 0.95 + margin
    assert abs(row.relative_bias) < 0.01
    assert recommendation.method == "main"


def test_the_same_seed_gives_the_same_evidence() -> None:
    table = read_capture_table(DATA / "Korea.csv")
    first = recommend(table, methods=("main", "stepwise"), replicates=5, seed=3)
    second = recommend(table, methods=("main", "stepwise"), replicates=5, seed=3)
    assert [p.to_dict() for p in first.evidence] == [p.to_dict() for p in second.evidence]


# ---------------------------------------------------------------------- parametric draws


def test_draws_from_main_effects_on_two_lists_match_lincoln_petersen() -> None:
    # Two lists: the main-effects MLE of the unseen is n10 · n01 / n11 (Lincoln–Petersen),
    # and the model reproduces the three observed cells exactly.
    n10, n01, n11 = 300, 200, 50
    table = CaptureTable(("A", "B"), np.array([0, n10, n01, n11]))
    fit = fit_loglinear(table, ())
    unseen = n10 * n01 / n11
    population = n10 + n01 + n11 + unseen
    assert cell_means(fit) == pytest.approx([unseen, n10, n01, n11], rel=1e-6)
    replicates = 20_000
    draws, sizes = parametric_draws(fit, replicates, np.random.default_rng(11))
    assert (draws[:, 0] == 0).all()
    # A sum of Poisson cells: variance = mean = population.
    standard_error = math.sqrt(population / replicates)
    assert abs(sizes.mean() - population) < 4 * standard_error
    assert abs(sizes.var() / population - 1) < 0.05
    for cell, expected in ((1, n10), (2, n01), (3, n11)):
        assert abs(draws[:, cell].mean() - expected) < 4 * math.sqrt(expected / replicates)


def test_draws_from_a_fitted_interaction_model_average_its_population() -> None:
    table = read_capture_table(DATA / "UKdat_5.csv")
    fit = fit_loglinear(table, [table.term_mask("LA:NG"), table.term_mask("NG:GP")])
    replicates = 4_000
    draws, sizes = parametric_draws(fit, replicates, np.random.default_rng(5))
    standard_error = math.sqrt(fit.population / replicates)
    assert abs(sizes.mean() - fit.population) < 4 * standard_error
    # With an intercept, the Poisson likelihood equations make the fitted observed cells sum
    # to the number observed: the simulated tables see as many people on average.
    seen = draws.sum(axis=1)
    assert abs(seen.mean() - table.observed) < 4 * math.sqrt(table.observed / replicates)


def test_refitting_the_true_model_to_the_draws_is_unbiased_with_nominal_coverage() -> None:
    # The UK stepwise model (seven list pairs) as the truth: the model-conditional
    # log-normal interval of that same model should hold its 95% and the estimate be right
    # on average; only model selection may take the methods away from this.
    table = read_capture_table(DATA / "UKdat.csv")
    fit = fit_loglinear(table, [table.term_mask(t) for t in ("PF:NCA", "LA:NG", "NG:GP")])
    model = [*fit.terms, *fit.infinite_terms]
    replicates = 300
    draws, sizes = parametric_draws(fit, replicates, np.random.default_rng(1))
    errors, covered = [], []
    for row, size in zip(draws, sizes, strict=True):
        refit = fit_loglinear(table.with_counts(row), model, check=False)
        errors.append((refit.population - size) / size)
        low, high = lognormal_interval(refit, 0.95)
        covered.append(low <= size <= high)
    assert abs(np.mean(errors)) < 3 * np.std(errors) / math.sqrt(replicates) + 0.002
    assert abs(np.mean(covered) - 0.95) < 3.5 * math.sqrt(0.95 * 0.05 / replicates)


# ---------------------------------------------------------------------- BIC weights


def _independent_bic(counts: np.ndarray, n_lists: int, terms: tuple[int, ...]) -> float:
    """BIC of a hierarchical Poisson log-linear model, fitted here by BFGS."""
    cells = np.arange(1, 1 << n_lists)
    columns = [np.ones(cells.size)]
    for mask in [1 << i for i in range(n_lists)] + list(terms):
        columns.append(((cells & mask) == mask).astype(float))
    design = np.column_stack(columns)
    y = counts[cells].astype(float)

    def negative_loglik(beta: np.ndarray) -> float:
        eta = design @ beta
        return float(np.sum(np.exp(eta) - y * eta))

    def gradient(beta: np.ndarray) -> np.ndarray:
        return np.asarray(design.T @ (np.exp(design @ beta) - y))

    start = np.zeros(design.shape[1])
    start[0] = math.log(y.mean())
    result = minimize(negative_loglik, start, jac=gradient, method="BFGS", tol=1e-12)
    loglik = -result.fun - float(np.sum(gammaln(y + 1)))
    return design.shape[1] * math.log(y.sum()) - 2 * loglik


def test_bic_weights_match_exp_minus_half_bic_of_independent_fits() -> None:
    table = read_capture_table(DATA / "Kosovo.csv")
    selection = bic_search(table)
    assert selection.models_admissible == len(selection.ranked_models) == 113
    bics = np.array(
        [_independent_bic(table.counts, table.n_lists, m) for m in selection.ranked_models]
    )
    expected = np.exp(-(bics - bics.min()) / 2)
    expected /= expected.sum()
    weights = bic_weights(selection.ranked_bics)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(weights, expected, atol=1e-6)
    average = model_average(table, selection)
    assert average.models_admissible == 113
    for model in average.models:
        index = next(
            i for i, m in enumerate(selection.ranked_models) if model.label == _label(table, m)
        )
        assert model.weight == pytest.approx(expected[index], abs=1e-6)


def _label(table: CaptureTable, model: tuple[int, ...]) -> str:
    from tiphub.estimate.selection import model_label

    return model_label(table, model)


def test_model_average_is_the_median_of_the_weighted_log_normal_mixture() -> None:
    # Korea: two models carry all the weight (the rest lie 30+ BIC units behind).
    table = read_capture_table(DATA / "Korea.csv")
    selection = bic_search(table)
    average = model_average(table, selection)
    weights = bic_weights(selection.ranked_bics)
    heavy = [i for i, w in enumerate(weights) if w > 1e-6]
    assert len(heavy) == 2
    # Each model's log dark figure is normal with the intercept's standard error, taken
    # here from the inverse Fisher information X'diag(μ)X at the fitted means.
    centres, spreads = [], []
    for index in heavy:
        fit = fit_loglinear(table, selection.ranked_models[index], check=False, r_like=False)
        design = np.column_stack(
            [
                ((fit.cells & p) == p).astype(float) if p else np.ones(fit.cells.size)
                for p in fit.parameters
            ]
        )
        information = design.T @ (design * fit.fitted[:, None])
        centres.append(fit.intercept)
        spreads.append(math.sqrt(np.linalg.inv(information)[0, 0]))
    share = weights[heavy] / weights[heavy].sum()
    grid = np.linspace(min(centres) - 8, max(centres) + 8, 400_001)
    cdf = sum(w * norm.cdf((grid - c) / s) for w, c, s in zip(share, centres, spreads, strict=True))
    median = table.observed + math.exp(float(grid[np.searchsorted(cdf, 0.5)]))
    low = table.observed + math.exp(float(grid[np.searchsorted(cdf, 0.025)]))
    high = table.observed + math.exp(float(grid[np.searchsorted(cdf, 0.975)]))
    assert average.population == pytest.approx(median, rel=1e-3)
    assert average.interval_95 == pytest.approx((low, high), rel=1e-3)
    # Published BIC bootstrap interval on Korea: 128–349 (Silverman, Chan & Vincent 2024);
    # averaging the two leading models spans nearly the same range.
    assert 120 < average.interval_95[0] < 140 and 300 < average.interval_95[1] < 400


# ---------------------------------------------------------------------- in the report


def test_robustness_json_and_html_carry_the_recommendation() -> None:
    table = read_capture_table(DATA / "Korea.csv")
    steps: list[tuple[int, int]] = []
    report = robustness(
        table,
        methods=("main", "stepwise", "bic"),
        variant_methods=("main",),
        simulation_replicates=6,
        progress=lambda done, total: steps.append((done, total)),
    )
    recommendation = report.recommendation
    assert recommendation is not None
    assert steps[-1][0] == steps[-1][1]
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(steps))
    data = json.loads(json.dumps(report.to_dict()))
    block = data["recommendation"]
    assert block["method"] == recommendation.method
    assert block["reason"] == recommendation.reason
    assert {row["method"] for row in block["summary"]} >= {"main", "stepwise", "bic"}
    assert block["evidence"] and all("coverage_95" in row for row in block["evidence"])
    assert block["settings"]["replicates_per_truth"] == 6
    row = report.full(recommendation.method)
    if row is not None:
        # The recommended figure is the one the method table shows.
        assert block["population"] == pytest.approx(row.population, abs=0.1)
    assert "Figure to report: " + recommendation.method in report.headline()
    page = report.to_html()
    assert "<h2>Which figure to report</h2>" in page
    assert "Evidence per possible truth" in page
    assert page.count("<svg") == 4  # methods, variants, overlaps, simulation check


def test_no_simulation_when_asked_for_none() -> None:
    table = read_capture_table(DATA / "Korea.csv")
    report = robustness(table, methods=("main",), variant_methods=(), simulation_replicates=0)
    assert report.recommendation is None
    assert report.to_dict()["recommendation"] is None
    assert "Which figure to report" not in report.to_html()

"""The MSE engine against the reference R packages' results and the published figures.

Expected values come from ``data/mse/reference-results.csv`` (R 4.2.2: SparseMSE 2.0.1,
modslavmse 2.0, Rcapture 1.4-4, MultipleSystemsEstimation 1.2.0) — independent of this code.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import pytest

from tiphub.estimate.api import estimate
from tiphub.estimate.intervals import bca_quantiles, lognormal_interval, profile_interval
from tiphub.estimate.loglinear import existence_code, fit_loglinear
from tiphub.estimate.selection import aic_stepwise, bic_search, stepwise
from tiphub.estimate.table import CaptureTable, read_capture_table

DATA = Path(__file__).parent / "data" / "mse"
REFERENCE = list(csv.DictReader((DATA / "reference-results.csv").open(encoding="utf-8")))
DATASETS = ["UKdat", "UKdat_5", "NewOrl", "NewOrl_5", "Western", "Kosovo", "Korea"]


def table(name: str) -> CaptureTable:
    return read_capture_table(DATA / f"{name}.csv")


def rows(pkg: str, method_pattern: str) -> list[dict[str, str]]:
    pattern = re.compile(method_pattern)
    return [r for r in REFERENCE if r["pkg"] == pkg and pattern.fullmatch(r["method"])]


def number(text: str) -> float | None:
    return float(text) if text.strip() else None


def model_string(fit_terms: list[str], infinite: list[str]) -> str:
    text = "+".join(fit_terms) or "main"
    if infinite:
        text += " [-Inf: " + ",".join(infinite) + "]"
    return text


def ident(row: dict[str, str]) -> str:
    return f"{row['dataset']}:{row['method']}"


# ---------------------------------------------------------------------- SparseMSE


@pytest.mark.parametrize("row", rows("SparseMSE", r"stepwise p=[0-9.]+"), ids=ident)
def test_sparsemse_stepwise_matches(row: dict[str, str]) -> None:
    data = table(row["dataset"])
    pthresh = float(row["method"].split("=")[1])
    fit = stepwise(data, pthresh).fit
    assert abs(fit.population - float(row["est"])) < 0.1
    assert model_string(fit.term_names(), fit.infinite_term_names()) == row["model"]
    low95, high95 = lognormal_interval(fit, 0.95)
    low80, high80 = lognormal_interval(fit, 0.80)
    assert abs(low95 - float(row["lo95"])) < 0.1 and abs(high95 - float(row["hi95"])) < 0.1
    assert abs(low80 - float(row["lo80"])) < 0.1 and abs(high80 - float(row["hi80"])) < 0.1


@pytest.mark.parametrize("row", rows("SparseMSE", "main effects"), ids=ident)
def test_sparsemse_main_effects_matches(row: dict[str, str]) -> None:
    result = estimate(table(row["dataset"]), "main")
    assert abs(result.population - float(row["est"])) < 0.1
    assert result.model == []
    low, high = result.interval_95
    assert low is not None and high is not None
    assert abs(low - float(row["lo95"])) < 0.1 and abs(high - float(row["hi95"])) < 0.1


@pytest.mark.parametrize("row", rows("SparseMSE", r"checkident .*"), ids=ident)
def test_existence_codes_match_checkident(row: dict[str, str]) -> None:
    data = table(row["dataset"])
    expected = int(re.search(r"ierr = (\d)", row["note"]).group(1))  # type: ignore[union-attr]
    n = data.n_lists
    pairs = [(1 << i) | (1 << j) for j in range(n) for i in range(j)]
    label = row["method"].removeprefix("checkident ")
    models = {"all 2-way": pairs, "AB only": [0b011], "AC+BC": [0b101, 0b110]}
    assert existence_code(data.counts, n, models[label]) == expected


def test_artificial_3_codes_are_2_1_0() -> None:
    data = table("Artificial_3")
    assert [existence_code(data.counts, 3, m) for m in ([3, 5, 6], [3], [5, 6])] == [2, 1, 0]


def test_zero_overlap_terms_are_minus_infinity_not_drifting() -> None:
    fit = stepwise(table("NewOrl"), 1.0).fit
    names = dict((name, coef) for name, coef, _ in fit.coefficient_table())
    assert "A:B" in fit.infinite_term_names()
    assert names["A:B"] == -math.inf
    finite = [coef for name, coef, _ in fit.coefficient_table() if name not in fit.infinite_term_names()]
    assert all(math.isfinite(c) and c > -15 for c in finite)


# ---------------------------------------------------------------------- modslavmse / Rcapture


def _check_profile(population: float, intervals: dict, row: dict[str, str]) -> None:
    assert abs(population - float(row["est"])) < 0.1
    for level, low_key, high_key in ((0.95, "lo95", "hi95"), (0.8, "lo80", "hi80")):
        low, high = intervals[level]
        if row[low_key]:
            assert abs(low - float(row[low_key])) < 1
        if row[high_key]:
            assert high is not None and abs(high - float(row[high_key])) < 1
        elif high_key == "hi95":
            assert high is None  # Rcapture prints "> 3N"


@pytest.mark.parametrize("row", rows("modslavmse", r"main effects|AIC-stepwise p=.*"), ids=ident)
def test_modslavmse_matches(row: dict[str, str]) -> None:
    data = table(row["dataset"])
    if row["method"] == "main effects":
        fit = fit_loglinear(data, r_like=True)
        assert row["model"] == "main"
    else:
        fit = aic_stepwise(data, float(row["method"].split("=")[1])).fit
        assert (("+".join(fit.term_names())) or "main") == row["model"]
    population, intervals = profile_interval(fit)
    _check_profile(population, intervals, row)


@pytest.mark.parametrize("row", rows("Rcapture", r"closedpCI\.t Mt"), ids=ident)
def test_rcapture_profile_interval_matches(row: dict[str, str]) -> None:
    population, intervals = profile_interval(fit_loglinear(table(row["dataset"])))
    _check_profile(population, intervals, row)


@pytest.mark.parametrize("row", rows("Rcapture", r"closedp\.t Mt"), ids=ident)
def test_rcapture_mt_is_main_effects(row: dict[str, str]) -> None:
    assert abs(fit_loglinear(table(row["dataset"])).population - float(row["est"])) < 0.1


def test_aic_stepwise_cli_method_reports_profile_estimate() -> None:
    result = estimate(table("UKdat"), "aic-stepwise", pthresh=0.05)
    assert abs(result.population - 11408.9) < 0.1
    assert result.interval_method == "profile"
    assert result.model == ["PF:NCA", "LA:NG", "NG:GP", "LA:PF", "PF:GP", "GO:GP", "NG:GO"]


# ---------------------------------------------------------------------- MultipleSystemsEstimation


def hierarchy_set(label: str) -> set[str]:
    return set(label.strip("[]").split(","))


@pytest.mark.parametrize("row", rows("MSE-pkg", r"bic \(point\)"), ids=ident)
def test_bic_matches(row: dict[str, str]) -> None:
    result = estimate(table(row["dataset"]), "bic", profile=False)
    assert abs(result.population - float(row["est"])) < 0.1
    assert hierarchy_set(result.model_label) == hierarchy_set(row["model"])
    ranked = int(re.match(r"(\d+)", row["note"]).group(1))  # type: ignore[union-attr]
    assert result.diagnostics["models_admissible"] == ranked


@pytest.mark.parametrize("row", rows("MSE-pkg", r"stepwise \(point\)"), ids=ident)
def test_mse_package_stepwise_matches(row: dict[str, str]) -> None:
    result = estimate(table(row["dataset"]), "stepwise", profile=False)
    assert abs(result.population - float(row["est"])) < 0.1
    assert hierarchy_set(result.model_label) == hierarchy_set(row["model"])


# ---------------------------------------------------------------------- BCa bootstrap


def bca_mc_errors(result) -> dict[tuple[str, int], float]:  # type: ignore[no-untyped-def]
    """Monte-Carlo standard errors of the BCa limits, by resampling the replicates.

    Resampling the B replicates (no refitting) and recomputing the limits — bias correction
    included — shows how much the limits move with another set of B draws.
    """
    draws = result.population_draws
    acceleration = result.diagnostics["bca_acceleration"]
    rng = np.random.default_rng(99)
    limits = np.array(
        [
            bca_quantiles(rng.choice(draws, draws.size), result.population, acceleration,
                          [0.025, 0.975, 0.1, 0.9])
            for _ in range(300)
        ]
    )
    spread = limits.std(axis=0)
    return {("95", 0): spread[0], ("95", 1): spread[1], ("80", 0): spread[2], ("80", 1): spread[3]}


def _check_bca(result, row: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    errors = bca_mc_errors(result)
    for key, level, side in (("lo95", "95", 0), ("hi95", "95", 1), ("lo80", "80", 0), ("hi80", "80", 1)):
        ours = result.intervals["bca"][level][side]
        reference = float(row[key])
        # Both runs carry Monte-Carlo error of the same size (same B), so the difference has
        # sqrt(2) × our standard error. Extreme BCa limits have heavy-tailed Monte-Carlo error
        # (the adjusted percentile sits far in the tail), hence five such errors.
        tolerance = 5 * math.sqrt(2) * errors[(level, side)] + 1.0
        assert abs(ours - reference) <= tolerance, (key, ours, reference, tolerance)


# One run against R's one run can only be as tight as their Monte-Carlo error (a median of
# 1,000 replicates moves ~2% between seeds); test_bootstrap_reference.py checks the same
# rows exactly, on R's own bootstrap draws.
BCA_ROWS = rows("SparseMSE", r"stepwise BCa B=\d+")


@pytest.mark.parametrize("row", BCA_ROWS, ids=ident)
def test_stepwise_bca_within_monte_carlo_error(row: dict[str, str]) -> None:
    replicates = int(row["method"].split("=")[1])
    result = estimate(table(row["dataset"]), "stepwise", bootstrap_replicates=replicates, seed=2024, profile=False)
    assert abs(result.population - float(row["est"])) < 0.1
    expected_acceleration = float(re.search(r"ahat=(-?[0-9.]+)", row["note"]).group(1))  # type: ignore[union-attr]
    # The jackknife is deterministic, so the acceleration must agree to the printed digits.
    assert abs(result.diagnostics["bca_acceleration"] - expected_acceleration) < 5e-5
    _check_bca(result, row)


@pytest.mark.parametrize("row", rows("MSE-pkg", r"bic BCa B=\d+"), ids=ident)
def test_bic_bca_within_monte_carlo_error(row: dict[str, str]) -> None:
    result = estimate(table(row["dataset"]), "bic", bootstrap_replicates=200, seed=2024, profile=False)
    assert abs(result.population - float(row["est"])) < 0.1
    top = int(re.search(r"top-(\d+)", row["note"]).group(1))  # type: ignore[union-attr]
    assert result.diagnostics["bootstrap_models"] == top
    _check_bca(result, row)


def test_bootstrap_is_reproducible_with_a_seed() -> None:
    data = table("Korea")
    first = estimate(data, "stepwise", bootstrap_replicates=100, seed=7, profile=False)
    second = estimate(data, "stepwise", bootstrap_replicates=100, seed=7, profile=False)
    third = estimate(data, "stepwise", bootstrap_replicates=100, seed=8, profile=False)
    assert np.array_equal(first.population_draws, second.population_draws)
    assert not np.array_equal(first.population_draws, third.population_draws)


# ---------------------------------------------------------------------- published figures (README)


def test_published_uk_figures() -> None:
    uk = estimate(table("UKdat"), "stepwise")
    assert round(uk.population) == 11418
    assert [round(v) for v in uk.interval_95] == [9977, 13146]  # type: ignore[arg-type]
    uk5 = estimate(table("UKdat_5"), "stepwise")
    assert round(uk5.population) == 11313
    assert [round(v) for v in uk5.interval_95] == [9884, 13027]  # type: ignore[arg-type]
    assert round(bic_search(table("UKdat")).fit.population) == 12350
    assert round(bic_search(table("UKdat_5")).fit.population) == 25311
    assert round(bic_search(table("UKdat_5"), max_order=2).fit.population) == 22991


def test_published_new_orleans_western_kosovo_korea() -> None:
    new_orleans = stepwise(table("NewOrl"), 0.02).fit
    assert new_orleans.term_names() == ["D:E"] and round(new_orleans.population) == 1184
    assert round(stepwise(table("NewOrl_5"), 0.02).fit.population) == 1034
    western = stepwise(table("Western"), 0.02).fit
    assert western.term_names() == ["A:E"] and round(western.population) == 2483
    assert round(bic_search(table("Kosovo")).fit.population) == 10357
    assert round(bic_search(table("Kosovo"), max_order=2).fit.population) == 14342
    assert round(bic_search(table("Korea")).fit.population) == 157


def test_merging_pf_and_nca_reproduces_the_five_list_table() -> None:
    merged = table("UKdat").merge(["PF", "NCA"])
    five = table("UKdat_5")
    assert merged.lists == ("LA", "NG", "PFNCA", "GO", "GP")
    assert np.array_equal(merged.counts, five.counts)

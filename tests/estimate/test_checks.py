"""The checks run after every estimate: alternatives, coded warnings, refusals that advise.

Figures are checked against the R reference rows (``data/mse/reference-results.csv``), a
known simulated truth, the closed-form Lincoln–Petersen estimate, or scipy — never against
this code's own earlier output.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm
from typer.testing import CliRunner

from tiphub.cli.app import app
from tiphub.estimate.api import estimate, estimate_strata
from tiphub.estimate.checks import EXTREME_Z0, MIN_RECAPTURES, check_bootstrap
from tiphub.estimate.loglinear import EstimationError
from tiphub.estimate.results import IntervalPair, MSEResult
from tiphub.estimate.simulate import Scenario, simulate_table
from tiphub.estimate.table import CaptureTable, read_capture_table

DATA = Path(__file__).parent / "data" / "mse"
REFERENCE = list(csv.DictReader((DATA / "reference-results.csv").open(encoding="utf-8")))


def reference(dataset: str, pkg: str, method: str) -> dict[str, float]:
    row = next(
        r for r in REFERENCE if (r["dataset"], r["pkg"], r["method"]) == (dataset, pkg, method)
    )
    return {key: float(row[key]) for key in ("est", "lo95", "hi95")}


def table(name: str) -> CaptureTable:
    return read_capture_table(DATA / f"{name}.csv")


def make(lists: str, cells: dict[str, int]) -> CaptureTable:
    """A table from histories written as 0/1 strings in list order, e.g. {"110": 5}."""
    counts = np.zeros(1 << len(lists), dtype=np.int64)
    for history, count in cells.items():
        counts[sum(1 << i for i, on in enumerate(history) if on == "1")] = count
    return CaptureTable(tuple(lists), counts)


def codes(result: MSEResult) -> list[str]:
    return [warning.code for warning in result.checks]


def warning(result: MSEResult, code: str) -> str:
    found = [w for w in result.checks if w.code == code]
    assert found, f"no {code} warning in {codes(result)}"
    return f"{found[0].message} {found[0].advice}"


# ---------------------------------------------------------------------- the clean case


def test_ukdat_gives_no_warning_and_its_alternatives_match_r() -> None:
    result = estimate(table("UKdat"), "stepwise")
    assert result.checks == []
    assert result.warnings == []
    main = reference("UKdat", "SparseMSE", "main effects")
    assert result.alternatives["main"]["population"] == pytest.approx(main["est"], abs=0.1)
    low, high = result.alternatives["main"]["interval_95"]
    assert (low, high) == (
        pytest.approx(main["lo95"], abs=0.1),
        pytest.approx(main["hi95"], abs=0.1),
    )
    stepwise = reference("UKdat", "SparseMSE", "stepwise p=0.02")
    assert result.alternatives["stepwise"]["population"] == pytest.approx(stepwise["est"], abs=0.1)
    aic = reference("UKdat", "modslavmse", "AIC-stepwise p=0.05")
    assert result.alternatives["aic-stepwise"]["population"] == pytest.approx(aic["est"], abs=0.1)
    # Six lists: the exhaustive BIC search is too slow to run beside every estimate.
    skipped = result.alternatives["bic"]
    assert skipped["population"] is None and "--method bic" in skipped["skipped"]


def test_ukdat_bootstrap_is_not_called_unstable() -> None:
    result = estimate(
        table("UKdat"), "stepwise", bootstrap_replicates=200, seed=2024, profile=False
    )
    assert "unstable-bootstrap" not in codes(result)
    assert "bootstrap-failures" not in codes(result)


# ---------------------------------------------------------------------- methods disagree


def test_kosovo_methods_disagree_as_in_r() -> None:
    main = reference("Kosovo", "SparseMSE", "main effects")
    stepwise = reference("Kosovo", "SparseMSE", "stepwise p=0.02")
    assert main["hi95"] < stepwise["lo95"]  # R's own intervals do not overlap
    result = estimate(table("Kosovo"), "main")
    text = warning(result, "methods-disagree")
    assert "main and stepwise" in text
    assert "7,395" in text and "14,342" in text
    assert "tiphub estimate robustness" in text
    assert result.alternatives["stepwise"]["population"] == pytest.approx(stepwise["est"], abs=0.1)
    # Bic runs on 4 lists: R's MultipleSystemsEstimation point estimate.
    bic = next(r for r in REFERENCE if (r["dataset"], r["method"]) == ("Kosovo", "bic (point)"))
    assert result.alternatives["bic"]["population"] == pytest.approx(float(bic["est"]), abs=0.1)


def test_disagreement_on_a_simulated_table_where_main_is_wrong() -> None:
    # Lists A–B and C–D strongly dependent: main effects (independence) must fall short.
    scenario = Scenario([0.25, 0.25, 0.25, 0.25], {(0, 1): 2.0, (2, 3): 2.0})
    truth = 4000
    data = simulate_table(scenario, truth, np.random.default_rng(5))
    result = estimate(data, "main")
    main_low, main_high = result.alternatives["main"]["interval_95"]
    step_low, step_high = result.alternatives["stepwise"]["interval_95"]
    assert not main_low <= truth <= main_high  # independence misses the truth
    assert step_low <= truth <= step_high  # the pairs found by stepwise recover it
    assert "main and stepwise" in warning(result, "methods-disagree")


def test_no_disagreement_when_intervals_overlap() -> None:
    scenario = Scenario([0.3, 0.3, 0.3], {})
    data = simulate_table(scenario, 3000, np.random.default_rng(11))
    result = estimate(data, "stepwise")
    assert "methods-disagree" not in codes(result)
    assert set(result.alternatives) == {"main", "stepwise", "aic-stepwise", "bic"}


def test_alternatives_can_be_turned_off() -> None:
    result = estimate(table("Kosovo"), "main", alternatives=False)
    assert result.alternatives == {}
    assert "methods-disagree" not in codes(result)


def test_strata_estimates_carry_no_alternatives() -> None:
    kosovo = table("Kosovo")
    strata = estimate_strata({"a": kosovo, "b": kosovo}, "main", replicates=5)
    assert all(result.alternatives == {} for result in strata.strata.values())


# ---------------------------------------------------------------------- small samples


def test_eleven_people_give_a_small_sample_warning() -> None:
    data = make("ABC", {"100": 3, "010": 4, "001": 2, "110": 1, "011": 1})
    assert data.observed == 11
    result = estimate(data, "main")
    assert "11 people" in warning(result, "small-sample")
    assert "few-overlaps" in codes(result)  # only 2 people on two lists


def test_few_people_on_several_lists() -> None:
    # 500 people, but only 6 (< 7, Robson & Regier) on more than one list.
    data = make("ABC", {"100": 200, "010": 150, "001": 144, "110": 2, "011": 2, "101": 2})
    result = estimate(data, "main")
    assert data.observed >= 75 and "small-sample" not in codes(result)
    assert f"below {MIN_RECAPTURES}" in warning(result, "few-overlaps")


# ---------------------------------------------------------------------- overlaps


def test_a_list_sharing_almost_no_one_is_named_with_a_merge_and_an_omission() -> None:
    data = make(
        "ABCD",
        {
            "1000": 300,
            "0100": 250,
            "0010": 200,
            "0001": 80,
            "1100": 60,
            "1010": 50,
            "0110": 40,
            "1110": 10,
            "1001": 1,
        },
    )
    result = estimate(data, "main")
    text = warning(result, "sparse-overlap")
    assert "D shares 1 of its 81" in text
    assert "--merge D+A" in text and "--omit D" in text


def test_an_empty_pair_in_three_lists_is_named() -> None:
    data = make("ABC", {"100": 300, "010": 250, "001": 200, "101": 60, "011": 50, "111": 0})
    result = estimate(data, "main")
    text = warning(result, "empty-overlap")
    assert "A and B share 0" in text and "--merge A+B" in text


def test_infinite_terms_say_what_they_assume() -> None:
    uk = table("UKdat")
    assert uk.overlap(["LA", "GP"]) == 0
    result = estimate(uk, "fixed", model=["LA:GP"])
    assert result.infinite_terms == ["LA:GP"]
    text = warning(result, "infinite-terms")
    assert "nobody at all" in text and "--merge LA+GP" in text


def test_estimate_far_above_observed() -> None:
    # Two lists: main effects is the Lincoln–Petersen estimate n1·n2/m, in closed form.
    data = make("AB", {"10": 1000, "01": 1000, "11": 10})
    result = estimate(data, "main")
    assert result.population == pytest.approx(1010 * 1010 / 10, rel=1e-9)
    assert "51 times" in warning(result, "large-estimate")
    assert "large-estimate" not in codes(estimate(table("UKdat"), "main"))


# ---------------------------------------------------------------------- the bootstrap


def test_unstable_bootstrap_is_flagged() -> None:
    result = estimate(
        table("NewOrl_5"), "stepwise", bootstrap_replicates=200, seed=2024, profile=False
    )
    draws = np.asarray(result.population_draws)
    # z0 recomputed independently of the engine: Φ⁻¹(share of replicates below the estimate).
    z0 = float(norm.ppf(np.mean(draws < result.population)))
    assert abs(z0) > EXTREME_Z0
    low95, low80 = result.intervals["bca"]["95"][0], result.intervals["bca"]["80"][0]
    assert low95 == low80 == pytest.approx(float(draws.min()))
    text = warning(result, "unstable-bootstrap")
    assert f"{z0:.2f}" in text
    assert "lower limits are the same number" in text
    assert "Do not quote this interval" in text


def _bootstrap_result(draws: np.ndarray, requested: int, bca: dict[str, IntervalPair]) -> MSEResult:
    return MSEResult(
        method="stepwise",
        lists=("A", "B", "C"),
        observed=100,
        population=150.0,
        interval_method="bca",
        intervals={"bca": bca},
        settings={"bootstrap": requested},
        diagnostics={"bca_bias_z0": float(norm.ppf(np.mean(draws < 150.0)))},
        population_draws=draws,
        warnings=[f"{requested - draws.size} of {requested} bootstrap replicates gave no estimate"],
    )


def test_many_failed_replicates_and_a_median_outside_the_interval() -> None:
    rng = np.random.default_rng(3)
    draws = rng.normal(240.0, 10.0, 150)  # 50 of 200 failed; median far above the interval
    result = _bootstrap_result(draws, 200, {"95": (120.0, 200.0), "80": (130.0, 190.0)})
    check_bootstrap(result)
    assert "50 of 200" in warning(result, "bootstrap-failures")
    assert "lies outside the 95% interval" in warning(result, "unstable-bootstrap")
    # The coded warning replaces the plain one; nothing is said twice.
    assert sum("bootstrap replicates" in text for text in result.warnings) == 1


def test_a_steady_bootstrap_is_left_alone() -> None:
    rng = np.random.default_rng(4)
    draws = rng.normal(150.0, 10.0, 199)
    low95, high95 = np.quantile(draws, [0.025, 0.975])
    low80, high80 = np.quantile(draws, [0.1, 0.9])
    result = _bootstrap_result(draws, 200, {"95": (low95, high95), "80": (low80, high80)})
    check_bootstrap(result)
    assert result.checks == []


# ---------------------------------------------------------------------- JSON and text


def test_json_has_coded_warnings_and_alternatives() -> None:
    data = make("ABC", {"100": 3, "010": 4, "001": 2, "110": 1, "011": 1})
    payload = json.loads(json.dumps(estimate(data, "main").to_dict()))
    assert {"code", "message", "advice"} <= set(payload["warnings"][0])
    assert "small-sample" in [w["code"] for w in payload["warnings"]]
    assert set(payload["alternatives"]) == {"main", "stepwise", "aic-stepwise", "bic"}
    assert {"population", "interval_95", "model"} <= set(payload["alternatives"]["stepwise"])


def test_plain_string_warnings_still_reach_json_as_notes() -> None:
    result = estimate(table("UKdat"), "main", alternatives=False)
    result.warnings.append("something a caller added")
    entries = result.to_dict()["warnings"]
    assert entries == [{"code": "note", "message": "something a caller added", "advice": ""}]


def test_summary_prints_warnings_with_advice_before_the_details() -> None:
    text = estimate(table("Kosovo"), "main").summary()
    assert "WARNING [methods-disagree]" in text and "What to do:" in text
    assert text.index("WARNING [methods-disagree]") < text.index("(Intercept)")


def test_cli_json_carries_warnings_and_alternatives() -> None:
    outcome = CliRunner().invoke(
        app, ["estimate", str(DATA / "Kosovo.csv"), "--method", "main", "--json"]
    )
    assert outcome.exit_code == 0, outcome.output
    payload = json.loads(outcome.stdout)
    disagree = [w for w in payload["warnings"] if w["code"] == "methods-disagree"]
    assert disagree and "tiphub estimate robustness" in disagree[0]["advice"]
    main = reference("Kosovo", "SparseMSE", "main effects")
    assert payload["alternatives"]["main"]["population"] == pytest.approx(main["est"], abs=0.1)


def test_cli_text_shows_the_warning() -> None:
    outcome = CliRunner().invoke(app, ["estimate", str(DATA / "Kosovo.csv"), "--method", "main"])
    assert outcome.exit_code == 0, outcome.output
    assert "WARNING [methods-disagree]" in outcome.stdout


# ---------------------------------------------------------------------- refusals


def test_two_lists_sharing_no_one_are_named_with_the_next_step() -> None:
    data = make("AB", {"10": 30, "01": 40})
    with pytest.raises(EstimationError) as refused:
        estimate(data, "main")
    text = str(refused.value)
    assert "A and B share no one" in text
    assert "Next step" in text and "add a third list" in text


def test_no_one_on_two_lists_says_check_the_linkage() -> None:
    data = make("ABC", {"100": 10, "010": 20, "001": 5})
    for method in ("main", "stepwise", "aic-stepwise", "bic"):
        with pytest.raises(EstimationError) as refused:
            estimate(data, method)
        text = str(refused.value)
        assert "no one is on more than one list" in text and "check the linkage" in text, method


def test_a_fixed_model_the_data_cannot_support_names_the_missing_combination() -> None:
    # Chan et al. (2021, Table 2)-style: all pairs in, but nobody on all three lists.
    data = make("ABC", {"100": 30, "010": 40, "001": 20, "110": 5, "011": 3, "101": 4})
    with pytest.raises(EstimationError) as refused:
        estimate(data, "fixed", model=["A:B", "B:C", "A:C"])
    text = str(refused.value)
    assert "A + B + C" in text
    assert "--model" in text and "--method stepwise" in text


def test_an_isolated_list_among_others_is_named_with_omit_and_merge() -> None:
    from tiphub.estimate.checks import overlap_cause

    data = make("ABCD", {"1000": 30, "0100": 40, "0010": 20, "0001": 9, "1100": 5, "0110": 4})
    cause, step = overlap_cause(data)
    assert "list D shares no one" in cause
    assert "--omit D" in step and "--merge D+" in step


def test_too_few_lists_names_the_next_step() -> None:
    with pytest.raises(ValueError, match="add a second list"):
        estimate(table("Kosovo").omit("EXH").omit("ABA").omit("OSCE"), "main")


@pytest.mark.parametrize("name", ["UKdat", "Kosovo"])
def test_alternatives_are_finite_numbers(name: str) -> None:
    result = estimate(table(name), "stepwise")
    for entry in result.alternatives.values():
        if entry["population"] is not None:
            assert math.isfinite(entry["population"])


def test_unbounded_refusal_names_the_lists_and_the_next_step() -> None:
    from tiphub.estimate.checks import unbounded_refusal

    text = unbounded_refusal(make("ABC", {"100": 30, "010": 40, "001": 20, "110": 5}))
    assert text.startswith("the estimate is unbounded")
    assert "list C shares no one with any other list" in text
    assert "--omit C" in text


def test_strata_refuse_lcmcr_with_the_methods_that_work() -> None:
    with pytest.raises(EstimationError, match="use --method stepwise"):
        estimate_strata({"a": table("Kosovo")}, "lcmcr", replicates=5)


def test_overlap_triangles_match_sparsemse_count_triples() -> None:
    import re

    from tiphub.estimate.checks import overlap_triangles
    from tiphub.estimate.table import read_capture_table

    data = Path(__file__).parent / "data" / "mse"
    rows = [
        row
        for row in csv.DictReader((data / "reference-results.csv").open(encoding="utf-8"))
        if row["method"] == "count_triples"
    ]
    assert len(rows) == 7
    for row in rows:
        expected = int(re.fullmatch(r"triples = (\d+)", row["note"]).group(1))  # type: ignore[union-attr]
        table = read_capture_table(data / f"{row['dataset']}.csv")
        assert overlap_triangles(table) == expected, row["dataset"]
    kosovo = estimate(read_capture_table(data / "Kosovo.csv"), "main", alternatives=False)
    assert kosovo.diagnostics["overlap_triangles"] == 4

"""Rcapture's closedp.t, closedpCI.t and closedpMS.t against R's own output.

Expected values: ``data/mse/reference-results.csv`` (Rcapture 1.4-4 on R 4.2.2), a
closedp.t table published in a book, and an independent Poisson fit written here with
scipy — never this code's earlier output.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize
from typer.testing import CliRunner

from tiphub.cli.app import app
from tiphub.estimate.api import estimate
from tiphub.estimate.loglinear import EstimationError
from tiphub.estimate.rcapture import (
    closedp_design,
    fit_closedp,
    fit_design,
    hierarchical_design,
    profile,
    r_glm_poisson,
    rcapture_max_order,
)
from tiphub.estimate.table import CaptureTable, read_capture_table

DATA = Path(__file__).parent / "data" / "mse"
REFERENCE = list(csv.DictReader((DATA / "reference-results.csv").open(encoding="utf-8")))
runner = CliRunner()

CLOSEDP_METHOD = {"M0": "m0", "Mt": "mt", "Mh Chao (LB)": "mh-chao", "Mth Chao (LB)": "mth-chao"}


def table(name: str) -> CaptureTable:
    return read_capture_table(DATA / f"{name}.csv")


def rows(method_pattern: str) -> list[dict[str, str]]:
    pattern = re.compile(method_pattern)
    return [r for r in REFERENCE if r["pkg"] == "Rcapture" and pattern.fullmatch(r["method"])]


def ident(row: dict[str, str]) -> str:
    return f"{row['dataset']}:{row['method']}"


def printed(value: float, expected: str | float, digits: int = 1) -> bool:
    """Does ``value`` print as R printed ``expected`` (rounded to ``digits``)?"""
    return abs(value - float(expected)) <= 0.5 * 10**-digits + 1e-9 * abs(value)


def note_values(note: str) -> dict[str, float]:
    return {key: float(value) for key, value in re.findall(r"(\w+)=([-0-9.]+)", note)}


# ---------------------------------------------------------------------- closedp.t


@pytest.mark.parametrize("row", rows(r"closedp\.t .*"), ids=ident)
def test_closedp_matches_r(row: dict[str, str]) -> None:
    method = CLOSEDP_METHOD[row["method"].removeprefix("closedp.t ")]
    fit = fit_closedp(table(row["dataset"]), method)
    expected = note_values(row["note"])
    assert printed(fit.population, row["est"])
    assert printed(fit.stderr, expected["se"])
    assert printed(fit.deviance, expected["dev"])
    assert fit.df == expected["df"]
    assert printed(fit.aic, expected["AIC"])
    assert printed(fit.bic, expected["BIC"])


@pytest.mark.parametrize("row", rows(r"closedp\.t (M0|Mh Chao \(LB\)|Mth Chao \(LB\))"), ids=ident)
def test_closedp_methods_report_the_poisson_abundance(row: dict[str, str]) -> None:
    method = CLOSEDP_METHOD[row["method"].removeprefix("closedp.t ")]
    result = estimate(table(row["dataset"]), method, profile=False, alternatives=False)
    assert printed(result.population, row["est"])
    assert printed(result.diagnostics["se"], note_values(row["note"])["se"])
    assert result.interval_method == "lognormal"


def test_chao_lower_bound_drops_negative_etas_as_rcapture() -> None:
    # Korea: Rcapture prints identical rows for Mh Chao and M0 (and Mth Chao and Mt):
    # the only eta is negative and is removed.
    korea = table("Korea")
    chao = fit_closedp(korea, "mh-chao")
    assert chao.removed == ["eta3"]
    assert chao.population == pytest.approx(fit_closedp(korea, "m0").population, rel=1e-9)
    assert fit_closedp(korea, "mth-chao").removed == ["eta3"]


# ---------------------------------------------------------------------- a published closedp.t table

# Daróczi (2015), *Mastering Data Analysis with R*, ch. 14: R users on three lists.
# descriptive() printed f_i = 44312, 860, 40; u_i = 279, 3958, 40975; v_i = 157, 3194,
# 41861; n_i = 279, 4012, 41861 — which fix the seven cells below (bit i = list i + 1).
DAROCZI_COUNTS = {
    0b001: 157,
    0b010: 3180,
    0b100: 40975,
    0b011: 14,
    0b101: 68,
    0b110: 778,
    0b111: 40,
}
DAROCZI_CLOSEDP = {  # abundance, stderr, deviance, df, AIC, BIC as printed by closedp(t)
    "m0": (750158.4, 23800.7, 73777.800, 5, 73835.630, 73853.069),
    "mt": (192022.2, 5480.0, 240.278, 3, 302.109, 336.986),
    "mh-chao": (806279.2, 26954.8, 73694.125, 4, 73753.956, 73780.113),
    "mh-poisson": (2085896.4, 214443.8, 73694.125, 4, 73753.956, 73780.113),
    "mh-darroch": (5516992.8, 1033404.9, 73694.125, 4, 73753.956, 73780.113),
    "mh-gamma": (14906552.8, 4090049.0, 73694.125, 4, 73753.956, 73780.113),
    "mth-chao": (205343.8, 6190.1, 30.598, 2, 94.429, 138.025),
    "mth-poisson": (1086549.0, 114592.9, 30.598, 2, 94.429, 138.025),
    "mth-darroch": (6817027.3, 1342273.7, 30.598, 2, 94.429, 138.025),
    "mth-gamma": (45168873.4, 13055279.1, 30.598, 2, 94.429, 138.025),
}


def test_daroczi_table_reconstructs_the_printed_margins() -> None:
    data = CaptureTable.from_counts(["L1", "L2", "L3"], DAROCZI_COUNTS)
    assert data.observed == 45212
    assert list(data.list_totals().values()) == [279, 4012, 41861]


@pytest.mark.parametrize("method", list(DAROCZI_CLOSEDP))
def test_published_closedp_output(method: str) -> None:
    data = CaptureTable.from_counts(["L1", "L2", "L3"], DAROCZI_COUNTS)
    population, se, deviance, df, aic, bic = DAROCZI_CLOSEDP[method]
    fit = fit_closedp(data, method)
    assert printed(fit.population, population)
    assert printed(fit.stderr, se)
    assert printed(fit.deviance, deviance, 3)
    assert fit.df == df
    assert printed(fit.aic, aic, 3)
    assert printed(fit.bic, bic, 3)


# ---------------------------------------------------------------------- an independent fit


def independent_design(n_lists: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Histories in Rcapture's own order (1…1 first) and the model's columns, from the
    formulas of Rivest & Baillargeon, built without tiphub."""
    histories = np.array(list(itertools.product([1, 0], repeat=n_lists))[:-1])
    k = histories.sum(axis=1).astype(float)
    base = histories.astype(float) if method.startswith("mth") else k[:, None]
    kind = method.split("-")[1]
    extra = {"poisson": 2.0**k - 1, "darroch": k**2 / 2, "gamma": np.log(3.5) - np.log(3.5 + k)}
    design = np.column_stack([np.ones(k.size), base, extra[kind]])
    return histories, design


def scipy_poisson_fit(design: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Maximum likelihood by scipy's trust-region Newton: intercept and its variance."""

    def objective(beta: np.ndarray) -> float:
        eta = design @ beta
        return float(np.sum(np.exp(eta)) - y @ eta)

    def gradient(beta: np.ndarray) -> np.ndarray:
        return np.asarray(design.T @ (np.exp(design @ beta) - y))

    def hessian(beta: np.ndarray) -> np.ndarray:
        return np.asarray(design.T @ (design * np.exp(design @ beta)[:, None]))

    start = np.linalg.lstsq(design, np.log(y + 0.5), rcond=None)[0]
    found = minimize(
        objective, start, jac=gradient, hess=hessian, method="trust-exact", options={"gtol": 1e-10}
    )
    # At the optimum to rounding, trust-exact may report it cannot improve: check the score.
    assert np.abs(gradient(found.x)).max() < 1e-6 * y.sum()
    covariance = np.linalg.inv(hessian(found.x))
    return float(found.x[0]), float(covariance[0, 0])


@pytest.mark.parametrize("name", ["UKdat", "UKdat_5", "Western", "Kosovo", "NewOrl_5"])
@pytest.mark.parametrize(
    "method",
    ["mh-poisson", "mh-darroch", "mh-gamma", "mth-poisson", "mth-darroch", "mth-gamma"],
)
def test_heterogeneity_models_match_an_independent_poisson_fit(name: str, method: str) -> None:
    data = table(name)
    histories, design = independent_design(data.n_lists, method)
    masks = histories @ (1 << np.arange(data.n_lists))
    y = data.counts[masks].astype(float)
    intercept, variance = scipy_poisson_fit(design, y)
    dark = math.exp(intercept)
    fit = fit_closedp(data, method)
    assert fit.population == pytest.approx(data.observed + dark, rel=1e-6)
    expected_se = math.sqrt(dark + dark**2 * variance)
    # R's glm stops at a relative deviance change of 1e-8 and takes the covariance at the
    # weights of its last step: the standard error is R's to ~1e-4; fully converged, exact.
    assert fit.stderr == pytest.approx(expected_se, rel=1e-3)
    tight = r_glm_poisson(fit.design, fit.y, epsilon=1e-14, maxit=100)
    assert math.sqrt(dark + dark**2 * tight.covariance[0, 0]) == pytest.approx(
        expected_se, rel=1e-6
    )
    result = estimate(data, method, profile=False, alternatives=False)
    assert result.population == pytest.approx(data.observed + dark, rel=1e-6)


# ---------------------------------------------------------------------- closedpCI.t


def check_interval(pair: tuple[float, float | None], low: str, high: str) -> None:
    assert printed(pair[0], low)
    if high:
        assert pair[1] is not None and printed(pair[1], high)
    else:
        assert pair[1] is None  # Rcapture prints "> 3N"


@pytest.mark.parametrize("row", rows(r"closedpCI\.t M0"), ids=ident)
def test_m0_profile_interval_matches_closedpci(row: dict[str, str]) -> None:
    result = estimate(table(row["dataset"]), "m0", alternatives=False)
    assert result.interval_method == "profile"
    assert printed(result.diagnostics["profile_maximum"], row["est"])
    check_interval(result.intervals["profile"]["95"], row["lo95"], row["hi95"])
    check_interval(result.intervals["profile"]["80"], row["lo80"], row["hi80"])


@pytest.mark.parametrize("row", rows(r"closedpCI\.t Mt"), ids=ident)
def test_mt_profile_interval_matches_closedpci(row: dict[str, str]) -> None:
    data = table(row["dataset"])
    design, names, _ = closedp_design(data.n_lists, "mt")
    found = profile(fit_closedp(data, "mt"), design, names)
    assert printed(found.maximum, row["est"])
    check_interval(found.intervals[0.95], row["lo95"], row["hi95"])
    check_interval(found.intervals[0.8], row["lo80"], row["hi80"])


def all_two_way(data: CaptureTable) -> tuple[np.ndarray, list[str]]:
    pairs = [(1 << i) | (1 << j) for i, j in itertools.combinations(range(data.n_lists), 2)]
    design, masks = hierarchical_design(data.n_lists, pairs)
    return design, [str(mask) for mask in masks]


@pytest.mark.parametrize("row", rows(r"closedpCI\.t all 2-way"), ids=ident)
def test_all_two_way_profile_matches_closedpci_with_drifting_terms(row: dict[str, str]) -> None:
    # Plain glm: terms with no overlap drift to about −20 and glm stops where R stops.
    data = table(row["dataset"])
    design, names = all_two_way(data)
    fit = fit_design(data, design, names)
    converged = "converged = TRUE" in row["note"]
    assert fit.glm.converged is converged
    lowest = float(row["note"].split("min coef = ")[1])
    assert printed(float(fit.glm.coefficients.min()), lowest)
    found = profile(fit, design, names)
    check_interval(found.intervals[0.95], row["lo95"], row["hi95"])
    if row["dataset"] == "Korea":
        # Not identifiable (N ≈ 10^11 from 123 people): the profile is flat and R's Brent
        # search stops on rounding noise. The limits agree; the maximum only in magnitude.
        assert 1e10 < found.maximum < 1e12
    else:
        assert printed(found.maximum, row["est"])


# ---------------------------------------------------------------------- closedpMS.t


@pytest.mark.parametrize("row", rows(r"closedpMS\.t best (BIC|AIC)"), ids=ident)
def test_closedpms_matches_r(row: dict[str, str]) -> None:
    criterion = "bic" if row["method"].endswith("BIC") else "aic"
    result = estimate(
        table(row["dataset"]), "closedpms", criterion=criterion, max_order=2, alternatives=False
    )
    assert printed(result.population, row["est"])
    assert result.model_label == row["model"]
    assert result.diagnostics["models_considered"] == int(re.match(r"\d+", row["note"])[0])  # type: ignore[index]
    if row["lo95"]:
        assert result.interval_method == "profile"
        check_interval(result.interval_95, row["lo95"], row["hi95"])


def test_closedpms_default_order_is_rcapture_s() -> None:
    assert rcapture_max_order(4, None) == 3  # maxorder = t − 1
    assert rcapture_max_order(6, None) == 2  # Rcapture refuses t − 1 there; its calls use 2
    with pytest.raises(EstimationError, match="--max-order 2"):
        rcapture_max_order(6, 3)
    with pytest.raises(EstimationError, match="--max-order 1"):
        rcapture_max_order(7, None)
    result = estimate(table("Kosovo"), "closedpms", profile=False, alternatives=False)
    assert result.settings["max_order"] == 3
    assert result.diagnostics["models_considered"] == 113  # every hierarchical model


def test_heterogeneity_models_need_three_lists() -> None:
    pair = CaptureTable.from_counts(["A", "B"], {1: 10, 2: 12, 3: 4})
    with pytest.raises(EstimationError, match="at least 3 lists"):
        fit_closedp(pair, "mh-chao")
    assert fit_closedp(pair, "m0").population > pair.observed


# ---------------------------------------------------------------------- command line


def cli(*arguments: str) -> tuple[int, str]:
    outcome = runner.invoke(app, ["estimate", *arguments])
    return outcome.exit_code, outcome.output


def test_cli_rcapture_methods_print_the_package_figure() -> None:
    code, output = cli(str(DATA / "Western.csv"), "--method", "mth-chao", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["population"] == 2200.5
    assert data["method"] == "mth-chao"
    assert data["interval_method"] == "profile"


def test_cli_closedpms_with_criterion_and_max_order() -> None:
    path = str(DATA / "Western.csv")
    code, output = cli(
        path, "--method", "closedpms", "--criterion", "aic", "--max-order", "2", "--json"
    )
    assert code == 0, output
    data = json.loads(output)
    assert data["population"] == 2308.2
    assert data["model_hierarchy"] == "[12,15,25,45,3]"
    assert data["interval_95"] == [1522.8, 3797.6]
    code, output = cli(path, "--method", "closedpms", "--max-order", "2", "--json")
    assert code == 0, output
    assert json.loads(output)["population"] == 2483.4  # bic by default


def test_cli_criterion_usage_errors() -> None:
    path = str(DATA / "Western.csv")
    code, output = cli(path, "--method", "m0", "--criterion", "aic")
    assert code == 2
    assert "--criterion applies to --method closedpms" in output
    code, output = cli(path, "--method", "closedpms", "--criterion", "aicc")
    assert code == 2
    assert "--criterion must be bic or aic" in output
    code, output = cli(path, "--method", "m0", "--max-order", "2")
    assert code == 2
    assert "--max-order applies to --method bic or closedpms" in output

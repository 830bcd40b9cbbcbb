"""Illicit-profit estimates: checked against the ILO's published figures and their arithmetic,
against closed-form distributions, and on a small synthetic case store."""

from __future__ import annotations

import csv
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import Engine

from tests.factories import case, victim
from tiphub.cases.api import CaseStore
from tiphub.estimate.profits import (
    EXPLOITATION_FORMS,
    FORMS,
    ProfitFigureError,
    UnverifiedFigureWarning,
    YearInput,
    classify_exploitation,
    estimate_profits,
    exploitation_counts_from_store,
    load_profit_figures,
    prevalence_and_profits,
    profit_per_victim,
)
from tiphub.standard.codelists import codelist

# GEMS 2021 as the ILO 2024 report uses it: 23.6m in privately imposed forced labour, of
# whom 6.3m in forced commercial sexual exploitation (CSE) and 17.3m in other forced labour.
ILO_2024_VICTIMS = 23.6e6
ILO_2024_MIX = {"sexual": 6_300_000, "labour": 17_300_000}
ILO_2024_TOTAL = 236e9


def raw_rows() -> list[dict[str, str]]:
    """The packaged CSV read directly, not through the module under test."""
    text = (
        resources.files("tiphub.estimate")
        .joinpath("data", "ilo-profits.csv")
        .read_text(encoding="utf-8")
    )
    return list(csv.DictReader(text.splitlines()))


def published(edition: int, metric: str, category: str) -> float:
    matches = [
        row
        for row in raw_rows()
        if row["edition_year"] == str(edition)
        and row["metric"] == metric
        and row["category"] == category
    ]
    assert len(matches) == 1, (edition, metric, category, matches)
    return float(matches[0]["value"])


# --- the data ------------------------------------------------------------------------------


def test_every_figure_loads_with_its_status_and_source() -> None:
    figures = load_profit_figures()
    rows = raw_rows()
    assert len(figures) == len(rows)
    for figure, row in zip(figures, rows, strict=True):
        assert figure.status == row["status"]
        assert figure.report == row["report"]
        assert figure.edition_year == int(row["edition_year"])
        assert figure.source_url == (row["source_url"] or None)
        assert figure.value == (float(row["value"]) if row["value"] else None)
    assert {f.status for f in figures} <= {
        "primary",
        "confirmed_secondary",
        "recalled_unverified",
        "derived_check",
    }
    # A figure "seen in a public secondary source" must say where.
    assert all(f.source_url for f in figures if f.status == "confirmed_secondary")


def test_every_figure_names_its_ilo_publication_and_second_hand_ones_say_so() -> None:
    figures = load_profit_figures()
    for figure in figures:
        # The ILO report itself is what is cited, with its year, never only a web page.
        assert figure.report.startswith(f"ILO ({figure.edition_year})"), figure.report
        citation = figure.citation()
        assert figure.report in citation
        if figure.status == "primary":
            assert figure.ilo_location and figure.ilo_location in citation
            assert "SECOND-HAND" not in citation
        else:
            assert figure.second_hand and "SECOND-HAND" in citation
            assert figure.to_dict()["second_hand"] is True
    # A news site or a statistics portal is never the only thing a figure names.
    news = [f for f in figures if f.source_url and "ilo.org" not in f.source_url]
    assert news and all(f.second_hand for f in news)


def test_a_primary_figure_without_its_table_or_page_is_refused() -> None:
    from tiphub.estimate.profits import parse_profit_figures

    header = list(raw_rows()[0])
    row = dict.fromkeys(header, "")
    row.update(
        report="ILO (2024) Profits and poverty",
        edition_year="2024",
        reference_year="2021",
        metric="annual_profit_per_victim",
        breakdown="all",
        category="everyone",
        value="1",
        unit="USD",
        status="primary",
    )
    text = ",".join(header) + "\n" + ",".join(row[h] for h in header) + "\n"
    with pytest.raises(ValueError, match=r"line 2.*ilo_location"):
        parse_profit_figures(text)
    row["ilo_location"] = "Table 3"
    text = ",".join(header) + "\n" + ",".join(row[h] for h in header) + "\n"
    (figure,) = parse_profit_figures(text)
    assert not figure.second_hand and "Table 3" in figure.citation()


def test_notice_describes_the_source_and_the_statuses() -> None:
    notice = resources.files("tiphub.estimate").joinpath("data", "NOTICE.md").read_text("utf-8")
    for word in ("ILO", "confirmed_secondary", "recalled_unverified", "derived_check"):
        assert word in notice


def test_ilo_2024_consistency_checks_hold() -> None:
    cse_profit = published(2024, "annual_illegal_profits", "forced commercial sexual exploitation")
    cse_per_victim = published(
        2024, "annual_profit_per_victim", "forced commercial sexual exploitation"
    )
    fle_per_victim = published(
        2024, "annual_profit_per_victim", "forced labour exploitation (non-state, non-sexual)"
    )
    total = published(2024, "annual_illegal_profits", "all privately imposed forced labour")
    # 172.6bn / 27,252 per victim ≈ 6.33m CSE victims (the derived_check row, and GEMS' 6.3m)
    implied_cse = cse_profit * 1e9 / cse_per_victim / 1e6
    assert implied_cse == pytest.approx(
        published(2024, "implied_victims", "CSE victims implied by 172.6bn / 27,252"), abs=0.01
    )
    # 6.3m × 27,252 + 17.3m × 3,687 ≈ 236bn, within the rounding of the victim counts
    rebuilt = 6.3e6 * cse_per_victim + 17.3e6 * fle_per_victim
    assert rebuilt == pytest.approx(total * 1e9, rel=0.01)
    # the regional totals add up to the total (236.5 before rounding)
    regional = sum(
        float(row["value"])
        for row in raw_rows()
        if row["edition_year"] == "2024"
        and row["metric"] == "annual_illegal_profits"
        and row["breakdown"] == "region"
    )
    assert regional == pytest.approx(total, abs=0.6)
    # about US$10,000 per victim on average
    average = published(2024, "annual_profit_per_victim", "all privately imposed forced labour")
    assert total * 1e9 / ILO_2024_VICTIMS == pytest.approx(average, rel=0.01)


# --- choosing a figure -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "edition", "category"),
    [
        ("sexual", 2024, "forced commercial sexual exploitation"),
        ("labour", 2024, "forced labour exploitation (non-state, non-sexual)"),
        ("domestic", 2024, "domestic work"),
        ("criminality", 2024, "all privately imposed forced labour"),
        ("other", 2024, "all privately imposed forced labour"),
        ("sexual", 2014, "forced commercial sexual exploitation"),
        ("labour", 2014, "forced labour exploitation outside domestic work"),
        # 2014 has neither a domestic-work nor an all-forms figure per victim
        ("domestic", 2014, "forced labour exploitation outside domestic work"),
        ("other", 2014, "forced labour exploitation outside domestic work"),
    ],
)
def test_profit_per_victim_follows_the_documented_rules(
    form: str, edition: int, category: str
) -> None:
    figure = profit_per_victim(form, edition=edition)
    assert figure.category == category
    assert figure.value == published(edition, "annual_profit_per_victim", category)
    assert figure.edition_year == edition


def test_all_forms_figure_is_not_the_2014_restatement() -> None:
    assert profit_per_victim("other").value != published(
        2024, "annual_profit_per_victim", "2014 estimate restated in 2021 prices"
    )


def test_regional_figures_exist_for_2014_and_ignore_case() -> None:
    africa = profit_per_victim("sexual", region="  africa ", edition=2014)
    assert africa.category == "Africa"
    assert africa.value == published(2014, "annual_profit_per_victim", "Africa")
    # the regional figure covers all forms, so every form gets the same one
    assert profit_per_victim("labour", region="Africa", edition=2014) == africa
    latin = profit_per_victim("labour", region="Latin America and the Caribbean", edition=2014)
    assert latin.unverified and latin.status == "recalled_unverified"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: profit_per_victim("begging"), ["begging", "sexual", "labour", "domestic"]),
        (lambda: profit_per_victim("sexual", edition=2019), ["2019", "2014", "2024"]),
        (lambda: profit_per_victim("sexual", edition=2005), ["2005", "no per-victim", "2014"]),
        (
            lambda: profit_per_victim("sexual", region="Africa", edition=2024),
            ["2024", "regional", "2014"],
        ),
        (
            lambda: profit_per_victim("sexual", region="Atlantis", edition=2014),
            ["Atlantis", "Africa", "Middle East", "Asia-Pacific"],
        ),
    ],
)
def test_errors_name_the_valid_values(call: Any, expected: list[str]) -> None:
    with pytest.raises(ProfitFigureError) as error:
        call()
    for text in expected:
        assert text in str(error.value)


@pytest.mark.parametrize(
    ("population", "counts", "options", "message"),
    [
        ([], {"sexual": 1}, {}, "non-empty"),
        ([[1.0, 2.0]], {"sexual": 1}, {}, "one-dimensional"),
        ([1.0, float("nan")], {"sexual": 1}, {}, "NaN"),
        ([-5.0], {"sexual": 1}, {}, "negative"),
        ([10.0], {}, {}, "empty"),
        ([10.0], {"sexual": -1}, {}, "negative"),
        ([10.0], {"sexual": 1.5}, {}, "integer"),
        ([10.0], {"slavery": 3}, {}, "valid forms: sexual"),
        ([10.0], {"sexual": 1}, {"draws": 0}, "positive"),
        ([10.0], {"sexual": 1}, {"cv": -0.1}, "cv"),
    ],
)
def test_estimate_refuses_bad_input(
    population: Any, counts: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        estimate_profits(np.array(population), counts, **options)


# --- the estimate ----------------------------------------------------------------------------


def test_ilo_2024_total_is_reproduced_from_its_victims_and_mix() -> None:
    estimate = estimate_profits(np.full(2_000, ILO_2024_VICTIMS), ILO_2024_MIX, cv=0.0)
    assert estimate.median == pytest.approx(ILO_2024_TOTAL, rel=0.01)
    assert estimate.mean == pytest.approx(ILO_2024_TOTAL, rel=0.01)
    cse = published(2024, "annual_illegal_profits", "forced commercial sexual exploitation")
    assert estimate.by_form["sexual"].profit_median == pytest.approx(cse * 1e9, rel=0.01)
    fle = ILO_2024_TOTAL - cse * 1e9
    assert estimate.by_form["labour"].profit_median == pytest.approx(fle, rel=0.01)
    # With the mix known from 23.6m records and exact figures, nothing is left uncertain.
    assert estimate.interval_95.width < 0.001 * ILO_2024_TOTAL
    assert estimate.interval_95.lower <= estimate.median <= estimate.interval_95.upper


def test_population_uncertainty_passes_through_linearly_without_other_uncertainty() -> None:
    population = np.random.default_rng(3).gamma(50.0, 200.0, size=5_000)
    estimate = estimate_profits(population, {"sexual": 12}, cv=0.0)
    per_victim = published(
        2024, "annual_profit_per_victim", "forced commercial sexual exploitation"
    )
    lower, upper = np.quantile(population, [0.025, 0.975])
    assert estimate.interval_95.lower == pytest.approx(lower * per_victim, rel=1e-9)
    assert estimate.interval_95.upper == pytest.approx(upper * per_victim, rel=1e-9)
    assert estimate.population_median == pytest.approx(float(np.median(population)))


def test_figure_error_is_lognormal_with_mean_one_and_the_stated_cv() -> None:
    cv, victims = 0.3, 10_000.0
    estimate = estimate_profits(np.full(40_000, victims), {"labour": 5}, cv=cv, seed=7)
    value = published(
        2024, "annual_profit_per_victim", "forced labour exploitation (non-state, non-sexual)"
    )
    expected = victims * value
    sigma = math.sqrt(math.log1p(cv**2))
    error = stats.lognorm(s=sigma, scale=math.exp(-(sigma**2) / 2))
    assert error.mean() == pytest.approx(1.0)
    assert estimate.mean == pytest.approx(expected, rel=0.01)
    assert estimate.profit_draws.std() / estimate.mean == pytest.approx(cv, rel=0.03)
    assert estimate.interval_95.lower == pytest.approx(expected * error.ppf(0.025), rel=0.02)
    assert estimate.interval_95.upper == pytest.approx(expected * error.ppf(0.975), rel=0.02)
    assert estimate.interval_80.lower == pytest.approx(expected * error.ppf(0.10), rel=0.02)
    assert estimate.interval_80.upper == pytest.approx(expected * error.ppf(0.90), rel=0.02)


def test_mix_uncertainty_is_the_dirichlet_posterior_of_the_counts() -> None:
    sexual, labour = 30, 70
    victims = 1_000.0
    estimate = estimate_profits(
        np.full(40_000, victims), {"sexual": sexual, "labour": labour}, cv=0.0, seed=11
    )
    high = profit_per_victim("sexual").value
    low = profit_per_victim("labour").value
    assert high is not None and low is not None
    # With two forms the CSE share is Beta(1 + 30, 1 + 70), and profit is linear in it.
    share = stats.beta(1 + sexual, 1 + labour)

    def profit(s: float) -> float:
        return victims * (s * high + (1 - s) * low)

    assert estimate.interval_95.lower == pytest.approx(profit(share.ppf(0.025)), rel=0.01)
    assert estimate.interval_95.upper == pytest.approx(profit(share.ppf(0.975)), rel=0.01)
    assert estimate.mean == pytest.approx(profit(share.mean()), rel=0.005)


@pytest.mark.parametrize("seed", range(5))
def test_wider_cv_gives_a_wider_interval(seed: int) -> None:
    population = np.random.default_rng(seed).normal(50_000, 2_000, size=4_000)
    counts = {"sexual": 40, "labour": 100, "domestic": 10}
    widths = [
        estimate_profits(population, counts, cv=cv, seed=seed).interval_95.width
        for cv in (0.0, 0.1, 0.3, 0.6)
    ]
    assert widths == sorted(widths) and len(set(widths)) == len(widths)


def test_more_victims_means_more_profit() -> None:
    population = np.random.default_rng(5).normal(50_000, 2_000, size=4_000)
    counts = {"sexual": 40, "labour": 100}
    small = estimate_profits(population, counts)
    large = estimate_profits(population * 2, counts)
    assert large.median > small.median and large.interval_95.lower > small.interval_95.lower
    # Profit is proportional to the number of victims when all else is drawn alike.
    assert large.median == pytest.approx(2 * small.median, rel=1e-9)


def test_a_more_sexual_mix_means_more_profit() -> None:
    population = np.full(4_000, 10_000.0)
    mostly_labour = estimate_profits(population, {"sexual": 10, "labour": 90})
    mostly_sexual = estimate_profits(population, {"sexual": 90, "labour": 10})
    assert mostly_sexual.median > 3 * mostly_labour.median


def test_same_seed_same_result_and_draws_resample() -> None:
    population = np.random.default_rng(2).normal(9_000, 500, size=1_000)
    counts = {"sexual": 4, "labour": 9}
    first = estimate_profits(population, counts, seed=4)
    again = estimate_profits(population, counts, seed=4)
    other = estimate_profits(population, counts, seed=5)
    assert np.array_equal(first.profit_draws, again.profit_draws)
    assert not np.array_equal(first.profit_draws, other.profit_draws)
    resampled = estimate_profits(population, counts, draws=300)
    assert resampled.n_draws == 300 and resampled.profit_draws.shape == (300,)
    assert set(resampled.population_draws) <= set(population)


def test_unverified_figures_are_flagged_and_more_uncertain() -> None:
    population = np.full(20_000, 100_000.0)
    counts = {"sexual": 10, "labour": 30}
    with pytest.warns(UnverifiedFigureWarning, match="Latin America"):
        unverified = estimate_profits(
            population, counts, region="Latin America and the Caribbean", edition=2014
        )
    confirmed = estimate_profits(population, counts, region="Africa", edition=2014)
    assert any("recalled_unverified" in text for text in unverified.warnings)
    assert not any("recalled_unverified" in text for text in confirmed.warnings)
    assert unverified.cv_unverified == 2 * unverified.cv

    def relative_width(estimate: Any) -> float:
        return float(estimate.interval_95.upper / estimate.interval_95.lower)

    assert relative_width(unverified) > 1.5 * relative_width(confirmed)
    assert "UNVERIFIED" in unverified.summary()
    assert unverified.to_dict()["figures"][0]["unverified"] is True


def test_every_output_carries_each_figures_source_and_status() -> None:
    estimate = estimate_profits(
        np.full(500, 1_000.0), {"sexual": 3, "domestic": 2, "criminality": 1}, cv=0.2
    )
    document = json.loads(json.dumps(estimate.to_dict()))
    assert set(document["by_form"]) == {"sexual", "domestic", "criminality"}
    assert len(document["figures"]) == 3
    summary = estimate.summary()
    for figure in document["figures"]:
        assert {"report", "edition_year", "status", "source_url", "second_hand"} <= set(figure)
        assert figure["source_url"] in summary
        assert figure["status"] in summary
        assert not figure["second_hand"] or "SECOND-HAND" in summary
    assert document["profit"]["interval_80"]["level"] == 0.8
    assert "Total profit" in summary and "criminality" in summary
    # criminality has no ILO figure of its own, and the result says so
    assert any("forced criminality" in text for text in estimate.warnings)


def test_intervals_are_nested_and_ordered() -> None:
    population = np.random.default_rng(9).lognormal(10, 0.3, size=3_000)
    estimate = estimate_profits(population, {"sexual": 5, "labour": 15, "other": 1})
    i95, i80 = estimate.interval_95, estimate.interval_80
    assert i95.lower < i80.lower < estimate.median < i80.upper < i95.upper
    assert estimate.conf_int(0.95) == (i95.lower, i95.upper)
    for part in estimate.by_form.values():
        assert part.profit_95.lower <= part.profit_median <= part.profit_95.upper
    assert sum(p.share_median for p in estimate.by_form.values()) == pytest.approx(1, abs=0.05)


# --- the yearly table ----------------------------------------------------------------------


def _year(year: int, mean: float, sd: float, seed: int, **options: Any) -> YearInput:
    draws = np.random.default_rng(seed).normal(mean, sd, size=5_000)
    counts = options.pop("counts", {"sexual": 300, "labour": 700})
    return YearInput(year, draws, counts, **options)


def test_table_sees_a_clear_fall_and_a_clear_rise() -> None:
    table = prevalence_and_profits(
        [_year(2023, 700, 30, 2), _year(2022, 1_000, 30, 1), _year(2024, 1_000, 30, 3)],
        cv=0.3,
    )
    first, fell, rose = table.rows
    assert [row.year for row in table.rows] == [2022, 2023, 2024]
    assert first.population_change is None and first.probability_both_fell is None
    assert fell.population_change is not None and fell.profit_change is not None
    assert fell.population_change.from_year == 2022
    assert fell.population_change.probability_fell > 0.99
    assert fell.profit_change.probability_fell > 0.95
    assert fell.probability_both_fell is not None and fell.probability_both_fell > 0.95
    assert fell.population_change.median == pytest.approx(-300, abs=10)
    assert rose.population_change is not None and rose.profit_change is not None
    assert rose.population_change.probability_fell < 0.01
    assert rose.profit_change.probability_fell < 0.05


def test_probability_of_a_fall_matches_all_pairs_of_the_draws() -> None:
    before = np.random.default_rng(21).normal(1_000, 50, size=2_000)
    after = np.random.default_rng(22).normal(980, 50, size=2_000)
    table = prevalence_and_profits(
        [
            YearInput(2020, before, {"sexual": 1, "labour": 3}),
            YearInput(2021, after, {"sexual": 1, "labour": 3}),
        ],
        draws=40_000,
    )
    change = table.rows[1].population_change
    assert change is not None
    every_pair = float(np.mean(after[:, None] < before[None, :]))
    assert change.probability_fell == pytest.approx(every_pair, abs=0.015)
    # and both agree with the normal theory: P = Φ(20 / (50 √2)) ≈ 0.61
    assert change.probability_fell == pytest.approx(stats.norm.cdf(20 / (50 * 2**0.5)), abs=0.03)


def test_figure_error_is_shared_between_years_so_it_cancels_in_the_change() -> None:
    # Same victims and mix in both years: the profits differ only by the mix draws.
    same = {"sexual": 3_000_000, "labour": 7_000_000}
    table = prevalence_and_profits(
        [
            YearInput(2021, np.full(100, 5_000.0), same),
            YearInput(2022, np.full(100, 5_000.0), same),
        ],
        cv=0.5,
    )
    change = table.rows[1].profit_change
    assert change is not None
    assert table.rows[1].profit_95.width > 1e6  # each year on its own is uncertain …
    # Independent errors would make the change wider than either year; shared ones cancel.
    assert change.interval_95.width < 0.01 * table.rows[1].profit_95.width


def test_table_refuses_duplicates_and_empty_input() -> None:
    with pytest.raises(ValueError, match="2021"):
        prevalence_and_profits([_year(2021, 10, 1, 1), _year(2021, 12, 1, 2)])
    with pytest.raises(ValueError, match="empty"):
        prevalence_and_profits([])
    with pytest.raises(ProfitFigureError, match="valid regions"):
        prevalence_and_profits([_year(2021, 10, 1, 1, region="Mars", edition=2014)])


def test_table_warns_when_years_mix_editions_or_skip_a_year() -> None:
    table = prevalence_and_profits(
        [_year(2019, 500, 20, 1, edition=2014), _year(2021, 480, 20, 2)], draws=2_000
    )
    text = " ".join(table.warnings)
    assert "different ILO editions" in text and "2019→2021" in text
    assert "USD at 2012 prices" in table.summary() and "USD at 2021 prices" in table.summary()


def test_table_summary_dict_and_csv(tmp_path: Path) -> None:
    years = [
        _year(2022, 1_000, 30, 1),
        _year(2023, 800, 30, 2, region="Middle East", edition=2014),
        _year(
            2024,
            600,
            30,
            3,
            region="Central and South-Eastern Europe (non-EU) and CIS",
            edition=2014,
        ),
    ]
    with pytest.warns(UnverifiedFigureWarning):
        table = prevalence_and_profits(years, draws=3_000)
    document = json.loads(json.dumps(table.to_dict()))
    assert [row["year"] for row in document["rows"]] == [2022, 2023, 2024]
    assert document["rows"][0]["population"]["change"] is None
    assert 0 <= document["rows"][1]["population"]["change"]["probability_fell"] <= 1
    summary = table.summary()
    assert "P(fell)" in summary and "2023" in summary and "UNVERIFIED" in summary

    path = table.to_csv(tmp_path / "table.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["year"] for row in rows] == ["2022", "2023", "2024"]
    assert rows[0]["probability_population_fell"] == ""
    assert float(rows[1]["probability_population_fell"]) > 0.99
    assert float(rows[1]["profit_median_usd"]) == pytest.approx(table.rows[1].profit_median)
    assert [row["unverified_figures"] for row in rows] == ["false", "false", "true"]
    for row, table_row in zip(rows, table.rows, strict=True):
        for figure in table_row.estimate.figures:
            assert figure.status in row["figures"] and figure.report in row["figures"]
            assert (figure.source_url or "none recorded") in row["figures"]


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".svg", b"<svg")])
def test_chart_is_written(tmp_path: Path, suffix: str, magic: bytes) -> None:
    table = prevalence_and_profits(
        [_year(2022, 1_000, 30, 1), _year(2023, 800, 30, 2)], draws=1_000
    )
    path = table.plot(tmp_path / f"chart{suffix}")
    content = path.read_bytes()
    assert len(content) > 1_000
    assert magic in content[:2_000]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"chart{suffix}"]


def test_chart_refuses_other_formats(tmp_path: Path) -> None:
    table = prevalence_and_profits([_year(2022, 1_000, 30, 1)], draws=500)
    with pytest.raises(ValueError, match="png"):
        table.plot(tmp_path / "chart.pdf")
    assert list(tmp_path.iterdir()) == []


# --- counts from the store ---------------------------------------------------------------


def test_every_exploitation_code_has_a_form() -> None:
    assert set(codelist("exploitation_type").codes) == set(EXPLOITATION_FORMS)
    assert set(EXPLOITATION_FORMS.values()) <= set(FORMS)


@pytest.mark.parametrize(
    ("types", "industry", "form"),
    [
        (["SexualExploitation", "ForcedLabour"], None, "sexual"),
        (["ForcedLabour"], "T_ActivitiesOfHouseholdsAsEmployers", "domestic"),
        (["Servitude"], "T_ActivitiesOfHouseholdsAsEmployers", "domestic"),
        (["ForcedLabour"], "C_Manufacturing", "labour"),
        (["ForcedBegging", "ForcedMarriage"], None, "labour"),
        (["ForcedCriminality", "OrganRemoval"], None, "criminality"),
        (["ForcedMarriage"], "T_ActivitiesOfHouseholdsAsEmployers", "other"),
        ([], "C_Manufacturing", None),
    ],
)
def test_classify_exploitation(types: list[str], industry: str | None, form: str | None) -> None:
    assert classify_exploitation(types, industry) == form


def _victim(person_id: str, types: list[str], industry: str | None = None) -> dict[str, Any]:
    participant = victim(person_id, first_name=f"Person {person_id}")
    participant["victim"]["exploitation_types"] = types
    if industry is not None:
        participant["victim"]["industry"] = industry
    return participant


def _case(external_id: str, opened_on: str, *participants: dict[str, Any]) -> dict[str, Any]:
    return case(
        external_id, opened_on=opened_on, participants=list(participants), events=[], consents=[]
    )


def test_exploitation_counts_from_store(engine: Engine) -> None:
    store = CaseStore(engine)
    not_a_victim = _victim("p7", ["ForcedLabour"])
    not_a_victim["victim"]["trafficking_status"].append(
        {
            "status": "NotAVictimOfTrafficking",
            "decided_by_type": "Police",
            "asserted_by": "police-north",
            "asserted_on": "2024-06-01",
        }
    )
    witness = {"role": "Witness", "person": {"external_id": "w1", "gender": "Masculine"}}
    store.create(_case("c1", "2024-03-01", _victim("p1", ["SexualExploitation", "ForcedLabour"])))
    store.create(
        _case(
            "c2",
            "2024-04-01",
            _victim("p2", ["ForcedLabour"], "T_ActivitiesOfHouseholdsAsEmployers"),
        )
    )
    store.create(
        _case(
            "c3",
            "2024-05-01",
            _victim("p3", ["ForcedLabour"], "C_Manufacturing"),
            _victim("p4", ["ForcedCriminality"]),
            _victim("p5", ["ForcedMarriage"]),
            _victim("p6", []),
            witness,
        )
    )
    store.create(_case("c4", "2024-05-02", not_a_victim))
    store.create(_case("c5", "2023-05-01", _victim("p8", ["SexualExploitation"])))
    # p3 again, in a second case of the same organisation: one person, counted once
    store.create(_case("c6", "2024-07-01", _victim("p3", ["ForcedLabour"])))
    # the same external ID at another organisation is another record until linked
    store.create(
        case(
            "c7",
            organisation="police-north",
            opened_on="2024-08-01",
            participants=[_victim("p1", ["ForcedLabour"])],
            events=[],
            consents=[],
        )
    )

    assert exploitation_counts_from_store(engine, year=2024) == {
        "sexual": 1,
        "domestic": 1,
        "labour": 2,
        "criminality": 1,
        "other": 1,
    }
    assert exploitation_counts_from_store(engine, year=2023) == {
        "sexual": 1,
        "domestic": 0,
        "labour": 0,
        "criminality": 0,
        "other": 0,
    }
    everything = exploitation_counts_from_store(engine)
    assert everything["sexual"] == 2 and sum(everything.values()) == 7
    assert exploitation_counts_from_store(engine, year=2020) == dict.fromkeys(FORMS, 0)

    # the counts feed the estimate directly
    estimate = estimate_profits(np.full(200, 5_000.0), everything)
    assert set(estimate.by_form) == set(FORMS)

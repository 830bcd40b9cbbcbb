"""k-anonymous synthetic microdata and the coarsening before it.

Every check of the output counts combinations afresh here, with plain Python over the rows
(``_brute_counts``), never with the module's own counting.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from itertools import combinations, pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiphub.release.coarsening import (
    AGE_RULE,
    REGION_RULE,
    apply_coarsening,
    candidate_coarsenings,
    country_rule,
    information_kept,
    year_rule,
)
from tiphub.release.codebook import FIRST_YEAR
from tiphub.release.regions import REGIONS, SUB_REGIONS
from tiphub.release.synthesis import (
    k_anonymous_synthetic,
    synthetic_counts_are_k_anonymous,
)
from tiphub.release.table import ReleaseRefusedError, ReleaseTable, table_from_rows

Combo = tuple[tuple[str, str], ...]

# small-domain codebook columns; the first value is the common one, "" is not recorded
VALUES: dict[str, list[str]] = {
    "gender": ["Woman", "Woman", "Man", "Trans/Transgender/NonConforming", ""],
    "ageBroad": ["18--20", "18--20", "9--17", "21--23", "48+", ""],
    "traffickMonths": ["0--12 (0-1 yr)", "0--12 (0-1 yr)", "13--24 (1-2 yrs)", "25+ (2+ yrs)"],
    "yearOfRegistration": ["2020", "2020", "2019", "2016", "2008"],
    "isForcedLabour": ["1", ""],
    "isSexualExploit": ["1", "1", ""],
    "typeOfLabourAgriculture": ["", "", "1"],
    "meansThreats": ["1", ""],
}


def _brute_counts(rows: list[dict[str, str]], names: list[str], max_length: int) -> Counter[Combo]:
    counts: Counter[Combo] = Counter()
    for row in rows:
        items = [(name, row[name]) for name in names if row.get(name)]
        for length in range(1, max_length + 1):
            counts.update(combinations(items, length))
    return counts


def _rare_in(
    synthetic_rows: list[dict[str, str]],
    real_rows: list[dict[str, str]],
    names: list[str],
    k: int,
    max_length: int,
) -> list[Combo]:
    """Combinations of the synthetic rows held by fewer than k real rows."""
    real = _brute_counts(real_rows, names, max_length)
    synthetic = _brute_counts(synthetic_rows, names, max_length)
    return [combo for combo in synthetic if real[combo] < k]


def _brute_mae(
    synthetic_rows: list[dict[str, str]],
    real_rows: list[dict[str, str]],
    names: list[str],
    k: int,
    max_length: int,
) -> dict[int, float]:
    real = _brute_counts(real_rows, names, max_length)
    synthetic = _brute_counts(synthetic_rows, names, max_length)
    keys = {c for c, n in real.items() if n >= k} | set(synthetic)
    errors: dict[int, list[int]] = {}
    for combo in keys:
        errors.setdefault(len(combo), []).append(abs(real[combo] - synthetic[combo]))
    return {length: float(np.mean(values)) for length, values in errors.items()}


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[dict[str, str]], list[str]]:
    names = draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=3, max_size=5, unique=True))
    n_rows = draw(st.integers(30, 200))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    rows = [{name: rng.choice(VALUES[name]) for name in names} for _ in range(n_rows)]
    return rows, names


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(2, 11), st.integers(1, 3), st.integers(0, 2**16))
def test_every_combination_of_the_output_is_held_by_k_real_rows(
    table: tuple[list[dict[str, str]], list[str]], k: int, max_length: int, seed: int
) -> None:
    rows, names = table
    synthetic = k_anonymous_synthetic(
        table_from_rows(rows, names), k=k, max_length=max_length, seed=seed, coarsening={}
    )
    out = synthetic.table.rows()
    assert len(out) == len(rows)
    assert _rare_in(out, rows, names, k, max_length) == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(0, 2**16))
def test_a_chosen_coarsening_keeps_the_guarantee_against_its_own_table(
    table: tuple[list[dict[str, str]], list[str]], seed: int
) -> None:
    rows, names = table
    synthetic = k_anonymous_synthetic(table_from_rows(rows, names), seed=seed)
    source_rows = synthetic.source.rows()
    assert len(source_rows) == len(rows) == synthetic.table.n_rows
    for name in set(names) - set(synthetic.coarsening):
        assert [row[name] for row in source_rows] == [row[name] for row in rows]
    assert _rare_in(synthetic.table.rows(), source_rows, names, 11, 3) == []
    assert synthetic_counts_are_k_anonymous(synthetic)


def test_the_check_finds_rare_combinations_in_the_raw_rows() -> None:
    """The property above is not vacuous: the real rows themselves fail it."""
    rng = random.Random(5)
    names = ["gender", "ageBroad", "yearOfRegistration", "isSexualExploit"]
    rows = [{name: rng.choice(VALUES[name]) for name in names} for _ in range(120)]
    assert _rare_in(rows, rows, names, 11, 3) != []
    raw = table_from_rows(rows, names)
    synthetic = k_anonymous_synthetic(raw, coarsening={})
    assert _rare_in(synthetic.table.rows(), rows, names, 11, 3) == []


def _one_unique_row() -> tuple[list[dict[str, str]], list[str]]:
    names = ["gender", "ageBroad", "traffickMonths", "isForcedLabour"]
    rows = [
        {
            "gender": ["Woman", "Man"][i % 2],
            "ageBroad": ["18--20", "21--23"][i % 3 % 2],
            "traffickMonths": "0--12 (0-1 yr)",
            "isForcedLabour": "1" if i % 4 else "",
        }
        for i in range(80)
    ]
    rows.append(
        {
            "gender": "Trans/Transgender/NonConforming",
            "ageBroad": "18--20",
            "traffickMonths": "0--12 (0-1 yr)",
            "isForcedLabour": "1",
        }
    )
    return rows, names


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_value_only_one_person_has_never_appears(seed: int) -> None:
    rows, names = _one_unique_row()
    synthetic = k_anonymous_synthetic(table_from_rows(rows, names), seed=seed, coarsening={})
    genders = Counter(row["gender"] for row in synthetic.table.rows())
    assert "Trans/Transgender/NonConforming" not in genders
    assert synthetic.table.n_rows == len(rows)


def test_a_table_without_rare_combinations_is_kept_as_it_is() -> None:
    rows = [
        {"gender": g, "traffickMonths": t, "isForcedLabour": f}
        for g in ("Woman", "Man")
        for t in ("0--12 (0-1 yr)", "13--24 (1-2 yrs)")
        for f in ("1", "")
        for _ in range(12)
    ]
    names = ["gender", "traffickMonths", "isForcedLabour"]
    synthetic = k_anonymous_synthetic(table_from_rows(rows, names))
    assert synthetic.coarsening == {}

    def key(row: dict[str, str]) -> tuple[str, ...]:
        return tuple(row[name] for name in names)

    assert sorted(map(key, synthetic.table.rows())) == sorted(map(key, rows))
    assert synthetic.mean_absolute_error == {1: 0.0, 2: 0.0, 3: 0.0}


def test_the_reported_error_is_the_error_of_the_output() -> None:
    rng = random.Random(11)
    names = ["gender", "ageBroad", "yearOfRegistration", "isSexualExploit", "meansThreats"]
    rows = [{name: rng.choice(VALUES[name]) for name in names} for _ in range(400)]
    synthetic = k_anonymous_synthetic(table_from_rows(rows, names), k=5, coarsening={})
    expected = _brute_mae(synthetic.table.rows(), rows, names, 5, 3)
    assert synthetic.mean_absolute_error.keys() == expected.keys()
    for length, error in expected.items():
        assert synthetic.mean_absolute_error[length] == pytest.approx(error)
    parameters = json.loads(json.dumps(synthetic.parameters()))
    assert parameters["rows_added"] == 0
    assert parameters["synthetic_rows"] == parameters["real_rows"] == 400


def test_the_same_seed_gives_the_same_rows() -> None:
    rows, names = _one_unique_row()
    table = table_from_rows(rows, names)
    first = k_anonymous_synthetic(table, seed=4, coarsening={}).table.codes
    again = k_anonymous_synthetic(table, seed=4, coarsening={}).table.codes
    assert np.array_equal(first, again)


# --- refusals ----------------------------------------------------------------------------


def _small_table(n_rows: int) -> ReleaseTable:
    rows = [{"gender": "Woman", "isForcedLabour": "1"} for _ in range(n_rows)]
    return table_from_rows(rows, ["gender", "isForcedLabour"])


def test_k_below_two_is_refused() -> None:
    with pytest.raises(ReleaseRefusedError, match="k must be at least 2"):
        k_anonymous_synthetic(_small_table(30), k=1, max_length=2)


def test_a_table_smaller_than_k_is_refused() -> None:
    with pytest.raises(ReleaseRefusedError, match="fewer than k = 11"):
        k_anonymous_synthetic(_small_table(10), k=11, max_length=2)


def test_a_combination_longer_than_the_table_is_refused() -> None:
    with pytest.raises(ReleaseRefusedError, match="cannot exceed"):
        k_anonymous_synthetic(_small_table(30), max_length=3)


# --- coarsening --------------------------------------------------------------------------


def test_ages_map_to_broad_bands_in_a_declared_domain() -> None:
    ages = ["0--8", "9--17", "18--20", "27--29", "30--38", "39--47", "48+"]
    table = table_from_rows([{"ageBroad": age} for age in ages], ["ageBroad"])
    coarse = apply_coarsening(table, {"ageBroad": AGE_RULE})
    assert [row["ageBroad"] for row in coarse.rows()] == [
        "0--17",
        "0--17",
        "18--29",
        "18--29",
        "30--47",
        "30--47",
        "48+",
    ]
    assert coarse.columns[0].domain == ("0--17", "18--29", "30--47", "48+")


def test_years_map_to_periods_declared_from_the_codebook_not_the_data() -> None:
    table = table_from_rows(
        [{"yearOfRegistration": y} for y in ("2002", "2004", "2005", "2020")],
        ["yearOfRegistration"],
    )
    coarse = apply_coarsening(table, {"yearOfRegistration": year_rule(3)})
    assert [row["yearOfRegistration"] for row in coarse.rows()] == [
        "2002--2004",
        "2002--2004",
        "2005--2007",
        "2020--2022",
    ]
    domain = coarse.columns[0].domain
    this_year = dt.date.today().year
    assert domain[0] == f"{FIRST_YEAR}--{FIRST_YEAR + 2}"
    assert len(domain) == (this_year - FIRST_YEAR) // 3 + 1  # every period up to this year
    assert int(domain[-1][:4]) <= this_year <= int(domain[-1][-4:])


def test_rare_countries_fold_into_their_sub_region_or_region() -> None:
    rows = [{"citizenship": "ROU"}] * 30 + [{"citizenship": "MDA"}] * 2
    table = table_from_rows(rows, ["citizenship"])
    by_sub_region = apply_coarsening(table, {"citizenship": country_rule(10)})
    assert Counter(row["citizenship"] for row in by_sub_region.rows()) == {
        "ROU": 30,
        "Eastern Europe": 2,
    }
    domain = by_sub_region.columns[0].domain
    assert set(SUB_REGIONS) <= set(domain) and "MDA" in domain and "FRA" in domain
    by_region = apply_coarsening(table, {"citizenship": country_rule(10, "region")})
    assert Counter(row["citizenship"] for row in by_region.rows()) == {"ROU": 30, "Europe": 2}
    everything = apply_coarsening(table, {"citizenship": REGION_RULE})
    assert {row["citizenship"] for row in everything.rows()} == {"Europe"}
    assert everything.columns[0].domain == REGIONS


def test_a_rule_for_another_kind_of_column_is_refused() -> None:
    table = table_from_rows([{"gender": "Woman"}], ["gender"])
    with pytest.raises(ValueError, match="not a country column"):
        apply_coarsening(table, {"gender": country_rule(10)})
    with pytest.raises(ValueError, match="not a year column"):
        apply_coarsening(table, {"gender": year_rule(3)})


def test_the_ladder_starts_with_nothing_and_each_step_coarsens_more() -> None:
    rng = random.Random(3)
    names = ["yearOfRegistration", "ageBroad", "citizenship", "gender"]
    countries = ["ROU"] * 6 + ["NGA"] * 3 + ["MDA", "VNM", "FRA"]
    ages = ["18--20", "21--23", "9--17", "30--38", "48+"]
    years = [str(y) for y in range(2010, 2026)]
    rows = [
        {
            "yearOfRegistration": rng.choice(years),
            "ageBroad": rng.choice(ages),
            "citizenship": rng.choice(countries),
            "gender": rng.choice(["Woman", "Man"]),
        }
        for _ in range(3000)
    ]
    table = table_from_rows(rows, names)
    ladder = candidate_coarsenings(table, 11)
    assert ladder[0] == {}
    kept = [information_kept(table, rules) for rules in ladder]
    assert kept[0] == 1.0
    assert all(after <= before + 1e-9 for before, after in pairwise(kept))
    assert kept[-1] < kept[1] < 1.0

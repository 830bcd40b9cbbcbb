"""Differentially private release: refusals, the OpenDP accounting, the row cap's stability,
codebook domains, the noise, and the synthetic rows.

The noise is OpenDP's and cannot be seeded, so every statistical check below allows five
noise standard deviations (or a bound several times the expected count): a failure is
then a bug, not bad luck (odds under one in a million per check).
"""

from __future__ import annotations

import itertools
import json
import math
import random

import numpy as np
import pytest
from opendp.mod import OpenDPException

from tiphub.release.codebook import codebook
from tiphub.release.dp import (
    DESIGNS,
    MAX_LENGTH,
    CombinationLengthError,
    DpRefusedError,
    PrivacyBudgetError,
    TableTooSmallError,
    _cap_rows,
    _choose_cap,
    _consistent_tables,
    _count_query,
    _count_tables,
    _design_for,
    _Layout,
    _polish,
    _triple_targets,
    dp_aggregates,
    dp_synthetic,
    release_measurement,
)
from tiphub.release.table import ReleaseRefusedError, ReleaseTable, table_from_rows

COUNTRIES = ("ROU", "NGA", "PHL", "UKR", "VNM", "BGR")
FLAGS = ("isForcedLabour", "isSexualExploit", "meansThreats", "meansDebtBondageEarnings")


def demo_rows(n: int, seed: int) -> list[dict[str, str]]:
    """Rows with dependent values over a few CTDC columns (several empty cells)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        labour = rng.random() < 0.45
        row = {
            "yearOfRegistration": str(rng.choice(range(2015, 2022))),
            "gender": rng.choices(("Man", "Woman"), (0.6, 0.4) if labour else (0.1, 0.9))[0],
            "ageBroad": rng.choice(("18--20", "21--23", "24--26", "30--38")),
            "citizenship": rng.choice(COUNTRIES[:3] if labour else COUNTRIES[2:]),
            "CountryOfExploitation": rng.choice(COUNTRIES[3:] if labour else COUNTRIES[:4]),
            "isForcedLabour": "1" if labour else "",
            "isSexualExploit": "" if labour else "1",
            "meansThreats": "1" if rng.random() < 0.5 else "",
            "meansDebtBondageEarnings": "1" if rng.random() < (0.7 if labour else 0.2) else "",
        }
        if rng.random() < 0.1:
            row["ageBroad"] = ""
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def table() -> ReleaseTable:
    return table_from_rows(demo_rows(3000, seed=1))


def in_domain(table: ReleaseTable, position: int, code: int) -> bool:
    return 1 <= code <= len(table.columns[position].domain)


# -- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("epsilon", "delta", "max_length", "error", "words"),
    [
        (0.0, 1e-6, 3, PrivacyBudgetError, "ε must be"),
        (-1.0, 1e-6, 3, PrivacyBudgetError, "ε must be"),
        (math.nan, 1e-6, 3, PrivacyBudgetError, "ε must be"),
        (math.inf, 1e-6, 3, PrivacyBudgetError, "ε must be"),
        (1.0, 0.0, 3, PrivacyBudgetError, "needs δ > 0"),
        (1.0, -1e-9, 3, PrivacyBudgetError, "δ must be"),
        (1.0, 1.0, 3, PrivacyBudgetError, "δ must be"),
        (1.0, 2.0, 3, PrivacyBudgetError, "δ must be"),
        (1.0, 1e-6, 0, CombinationLengthError, "at least 1"),
        (1.0, 1e-6, -2, CombinationLengthError, "at least 1"),
        (1.0, 1e-6, MAX_LENGTH + 1, CombinationLengthError, f"at most {MAX_LENGTH}"),
    ],
)
def test_bad_parameters_are_refused(
    table: ReleaseTable,
    epsilon: float,
    delta: float,
    max_length: int,
    error: type[Exception],
    words: str,
) -> None:
    for release in (dp_aggregates, dp_synthetic):
        with pytest.raises(error, match=words) as refused:
            release(table, epsilon=epsilon, delta=delta, max_length=max_length, seed=0)
        assert isinstance(refused.value, ValueError)
        assert isinstance(refused.value, ReleaseRefusedError)


def test_an_unknown_design_is_refused(table: ReleaseTable) -> None:
    for release in (dp_aggregates, dp_synthetic):
        with pytest.raises(DpRefusedError, match="unknown measurement design"):
            release(table, epsilon=1.0, delta=1e-6, design="cubes")


def test_an_empty_table_is_too_small() -> None:
    empty = table_from_rows([])
    for release in (dp_aggregates, dp_synthetic):
        with pytest.raises(TableTooSmallError, match="too small to release anything"):
            release(empty, epsilon=1.0, delta=1e-6)


def test_a_combination_longer_than_the_table_is_refused() -> None:
    narrow = table_from_rows([{"gender": "Man", "ageBroad": "18--20"}] * 50, ["gender", "ageBroad"])
    with pytest.raises(DpRefusedError, match="cannot exceed the number of columns"):
        dp_aggregates(narrow, epsilon=1.0, delta=1e-6, max_length=3)
    assert dp_aggregates(narrow, epsilon=1.0, delta=1e-6, max_length=2).max_length == 2


# -- the privacy accounting -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("epsilon", "delta", "max_length"),
    [(4.0, 1e-6, 3), (1.0, 1e-6, 3), (0.3, 1e-8, 2), (8.0, 1e-5, 1)],
)
def test_the_opendp_privacy_map_stays_within_the_budget(
    epsilon: float, delta: float, max_length: int
) -> None:
    measurement = release_measurement(epsilon=epsilon, delta=delta, max_length=max_length)
    spent_epsilon, spent_delta = measurement.map(1)  # type: ignore[no-untyped-call]
    assert spent_epsilon <= epsilon
    assert spent_delta <= delta
    assert spent_epsilon >= 0.999 * epsilon  # the budget is spent, not wasted


def test_the_release_runs_the_measurement_it_states(table: ReleaseTable) -> None:
    released = dp_aggregates(table, epsilon=2.0, delta=1e-6, seed=0)
    stated = released.parameters["opendp"]["map"]
    assert stated["epsilon"] <= 2.0 and stated["delta"] <= 1e-6
    measurement = release_measurement(epsilon=2.0, delta=1e-6, max_length=3, n_columns=27)
    spent = measurement.map(1)  # type: ignore[no-untyped-call]
    assert spent == pytest.approx((stated["epsilon"], stated["delta"]))
    shares = [released.parameters[name]["share"] for name in ("total", "row_lengths")] + [
        released.parameters["lengths"][str(length)]["share"] for length in (1, 2)
    ]
    assert sum(shares) == pytest.approx(1.0)


def test_a_query_beyond_its_share_is_refused_by_opendp(table: ReleaseTable) -> None:
    measurement = release_measurement(epsilon=1.0, delta=1e-6)
    queryable = measurement(table)
    greedy, _scale = _count_query(lambda data: [data.n_rows], 1, 1.0, rho=1.0)
    with pytest.raises(OpenDPException, match="insufficient budget"):
        queryable(greedy)


# -- the row cap is a row-by-row map ----------------------------------------------------------
def test_capping_one_row_never_changes_another(table: ReleaseTable) -> None:
    codes = table.codes
    for k in (2, 4, 6):
        capped = _cap_rows(codes, k, np.uint64(7))
        assert ((capped > 0).sum(axis=1) <= k).all()
        assert ((capped == codes) | (capped == 0)).all()  # values kept or emptied, never moved
        rows_with_more = (codes > 0).sum(axis=1) > k
        assert (capped != codes).any(axis=1)[rows_with_more].all()
        # a neighbour (one row removed) caps every other row the same: stability 1
        without = np.delete(codes, 17, axis=0)
        assert np.array_equal(_cap_rows(without, k, np.uint64(7)), np.delete(capped, 17, axis=0))
        shuffled = codes[::-1].copy()
        assert np.array_equal(_cap_rows(shuffled, k, np.uint64(7)), capped[::-1])


# -- what is released -------------------------------------------------------------------------
@pytest.mark.parametrize("design", list(DESIGNS))
def test_released_combinations_are_codebook_values(table: ReleaseTable, design: str) -> None:
    released = dp_aggregates(table, epsilon=4.0, delta=1e-6, max_length=3, seed=0, design=design)
    assert released.parameters["design"]["name"] == design
    assert set(released.counts) >= {()}
    lengths = set()
    for combination, count in released.counts.items():
        assert isinstance(count, int) and count >= 0
        if not combination:
            continue
        assert count >= 1
        positions = [position for position, _code in combination]
        assert positions == sorted(set(positions))  # distinct columns, in column order
        assert all(in_domain(table, position, code) for position, code in combination)
        lengths.add(len(combination))
    assert lengths == {1, 2, 3}
    json.dumps(released.parameters)  # privacy.json material


@pytest.mark.parametrize("design", list(DESIGNS))
def test_longer_combinations_are_built_only_on_released_ones(
    table: ReleaseTable, design: str
) -> None:
    released = dp_aggregates(table, epsilon=4.0, delta=1e-6, max_length=3, seed=0, design=design)
    assert released.parameters["design"]["name"] == design
    counts = released.counts
    for combination in counts:
        if len(combination) >= 2:
            for drop in range(len(combination)):
                shorter = combination[:drop] + combination[drop + 1 :]
                assert shorter in counts


@pytest.mark.parametrize("design", list(DESIGNS))
def test_values_absent_from_the_data_are_rarely_released(design: str) -> None:
    # Two columns hold 3 + 2 values; every other value of the codebook domain is absent.
    rows = [{"gender": g, "ageBroad": a} for g in ("Man", "Woman") for a in ("18--20", "48+")]
    rows = rows * 500 + [{"gender": "Man", "ageBroad": "0--8"}] * 150
    # the tables design on 6 columns of narrow domains, the table it is meant for (its
    # noise grows with the number of column pairs and, for a column's counts, with the
    # width of the other columns: 27 columns or two of 250 countries would drown 150)
    names = [column.name for column in codebook()]
    flags = [column.name for column in codebook() if column.kind == "flag"][:3]
    sparse = table_from_rows(rows, names if design == "capped" else [*names[:3], *flags])
    present = {(1, sparse.code(1, "Man")), (1, sparse.code(1, "Woman"))}
    present |= {(2, sparse.code(2, age)) for age in ("18--20", "48+", "0--8")}
    fabricated = 0
    for _ in range(3):
        released = dp_aggregates(sparse, epsilon=1.0, delta=1e-6, max_length=2, design=design)
        singles = {combination[0] for combination in released.counts if len(combination) == 1}
        assert present <= singles  # 150+ rows each, far above the threshold
        fabricated += len(singles - present)
        pairs = [combination for combination in released.counts if len(combination) == 2]
        assert all(set(pair) <= singles for pair in pairs)
    # expected at most 0.5 a release by the threshold's rule: 1.5 in three
    assert fabricated <= 8


def test_noise_is_centred_on_the_count_with_the_stated_scale() -> None:
    flags = [column.name for column in codebook() if column.kind == "flag"]
    rows = [dict.fromkeys(flags, "1") | {"gender": "Woman"}] * 5000
    rows += [{"gender": "Man", "isForcedLabour": "1"}] * 3000
    big = table_from_rows(rows)
    released = dp_aggregates(big, epsilon=1.0, delta=1e-6, max_length=2, seed=0, design="capped")
    parameters = released.parameters
    singles = parameters["lengths"]["1"]
    pairs = parameters["lengths"]["2"]
    k = parameters["contribution_cap"]["values_per_row"]
    assert k == len(flags) + 1  # 5,000 rows hold every flag and a gender
    # the stated scales follow from the stated ρ and sensitivity (Gaussian: ρ = Δ² / 2σ²)
    for entry, contributions in ((singles, k), (pairs, math.comb(k, 2))):
        assert entry["contributions_per_row"] == contributions
        assert entry["noise_scale"] == pytest.approx(
            math.sqrt(contributions / (2 * entry["rho"])), rel=1e-6
        )
    gender = big.names.index("gender")
    assert (
        abs(released.counts[((gender, big.code(gender, "Man")),)] - 3000)
        <= 5 * singles["noise_scale"]
    )
    assert abs(released.counts[()] - 8000) <= 5 * parameters["total"]["noise_scale"]
    # 20 flags held by exactly 5,000 rows: 20 independent noisy counts of 5,000
    held_by_5000 = [(big.names.index(name), 1) for name in flags if name != "isForcedLabour"]
    errors = np.array([released.counts[(item,)] - 5000 for item in held_by_5000])
    scale = singles["noise_scale"]
    assert (np.abs(errors) <= 5 * scale).all()
    assert abs(errors.mean()) <= 5 * scale / math.sqrt(len(errors))
    assert 0.4 * scale <= errors.std() <= 1.8 * scale
    # and the pairs of them, with their own scale
    pair_errors = np.array(
        [released.counts[(a, b)] - 5000 for a, b in itertools.pairwise(held_by_5000)]
    )
    assert (np.abs(pair_errors) <= 5 * pairs["noise_scale"]).all()
    assert abs(pair_errors.mean()) <= 5 * pairs["noise_scale"] / math.sqrt(len(pair_errors))


# -- the two-way tables design ---------------------------------------------------------------
def test_a_row_is_one_cell_of_every_two_way_table(table: ReleaseTable) -> None:
    sizes = np.array([len(column.domain) + 1 for column in table.columns], dtype=np.int64)
    tables = list(itertools.combinations(range(len(sizes)), 2))
    counted = _count_tables(table.codes, sizes, tables)
    assert counted.sum() == table.n_rows * len(tables)
    # a neighbour (one row removed) differs in exactly one cell of each table, by 1: the
    # L2 sensitivity is the square root of the number of tables
    for row in (0, 17, table.n_rows - 1):
        without = _count_tables(np.delete(table.codes, row, axis=0), sizes, tables)
        difference = counted - without
        assert sorted(set(difference.tolist())) == [0, 1]
        assert int(difference.sum()) == len(tables)
    # a cell is the number of rows holding both values (0: empty)
    first, second = 3, 5
    start = sum(int(sizes[a] * sizes[b]) for a, b in tables[: tables.index((first, second))])
    cell = start + 2 * int(sizes[second]) + 1
    expected = int(((table.codes[:, first] == 2) & (table.codes[:, second] == 1)).sum())
    assert counted[cell] == expected


def least_squares_reference(
    noisy: list[np.ndarray],
    tables: list[tuple[int, int]],
    variance: float,
    total: tuple[float, float],
) -> tuple[float, list[np.ndarray]]:
    """The weighted least-squares fit under the tables' shared margins, solved directly:
    minimise Σ (x - y)² / variance + (N - t)² / s² over every cell x and N, subject to
    every table of a column having the same counts of that column and summing to N."""
    sizes = [t.size for t in noisy]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    n = int(starts[-1]) + 1  # the cells, then N
    measured = np.concatenate([t.ravel() for t in noisy] + [[total[0]]])
    weights = np.concatenate([np.full(n - 1, 1 / variance), [1 / total[1] ** 2]])
    constraints = []
    for index in range(len(noisy)):  # every table sums to N
        row = np.zeros(n)
        row[starts[index] : starts[index + 1]] = 1
        row[-1] = -1
        constraints.append(row)
    for column in {c for pair in tables for c in pair}:
        holding = [i for i, pair in enumerate(tables) if column in pair]
        for a, b in itertools.pairwise(holding):
            for value in range(noisy[a].shape[tables[a].index(column)]):
                row = np.zeros(n)
                for sign, index in ((1, a), (-1, b)):
                    mask = np.zeros(noisy[index].shape)
                    if tables[index].index(column) == 0:
                        mask[value, :] = 1
                    else:
                        mask[:, value] = 1
                    row[starts[index] : starts[index + 1]] += sign * mask.ravel()
                constraints.append(row)
    a = np.array(constraints)
    inverse = np.diag(1 / weights)
    # the closest point of {z: A z = 0} to the measurement in the weighted norm
    solution = measured - inverse @ a.T @ np.linalg.pinv(a @ inverse @ a.T) @ a @ measured
    fitted = [solution[starts[i] : starts[i + 1]].reshape(y.shape) for i, y in enumerate(noisy)]
    return float(solution[-1]), fitted


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_consistent_tables_are_the_least_squares_fit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = (3, 2, 4, 2)
    codes = np.stack([rng.integers(0, size, 500) for size in sizes], axis=1)
    tables = list(itertools.combinations(range(len(sizes)), 2))
    exact = np.split(
        _count_tables(codes, np.array(sizes), tables),
        np.cumsum([sizes[a] * sizes[b] for a, b in tables])[:-1],
    )
    exact = [cells.reshape(sizes[a], sizes[b]) for cells, (a, b) in zip(exact, tables, strict=True)]
    # exact tables are already consistent: nothing moves
    rows, margins, _variances, fitted = _consistent_tables(
        [t.astype(float) for t in exact], tables, 100.0, (500.0, 10.0)
    )
    assert rows == pytest.approx(500.0)
    assert all(np.allclose(f, t) for f, t in zip(fitted, exact, strict=True))
    assert np.allclose(margins[0], np.bincount(codes[:, 0], minlength=3))
    # noisy tables: the fit is the weighted least-squares one, found here by brute force
    noisy = [t + rng.normal(0, 10, t.shape) for t in exact]
    total = (500.0 + rng.normal(0, 30), 30.0)
    rows, margins, variances, fitted = _consistent_tables(noisy, tables, 100.0, total)
    expected_rows, expected = least_squares_reference(noisy, tables, 100.0, total)
    assert rows == pytest.approx(expected_rows, abs=1e-6)
    for f, e in zip(fitted, expected, strict=True):
        assert np.allclose(f, e, atol=1e-6)
    for (a, b), f in zip(tables, fitted, strict=True):
        assert np.allclose(f.sum(1), margins[a]) and np.allclose(f.sum(0), margins[b])
    # a column's counts combine its tables: less noise than any one table's row sums
    assert (variances < 100.0 * 2).all()


def test_the_design_with_less_noise_is_chosen() -> None:
    rhos = {"total": 0.01, "row_lengths": 0.01, "length_1": 0.4, "length_2": 0.58}
    demo_13 = [26, 4, 10, 251, 251, 4] + [2] * 7  # the 13-column CTDC table, empty included
    # 78 tables on ρ₁ + ρ₂ against 55 pairs on ρ₂, and every column's counts from 12 tables
    assert _design_for(demo_13, 11, rhos) == "tables"
    # 27 columns, 14 values: 351 tables against 91 pairs
    assert _design_for(demo_13 + [2] * 14, 14, rhos) == "capped"
    assert _design_for(demo_13, 9, rhos) == "capped"  # 36 pairs on ρ₂ is less than 78 on ρ
    # pairs would gain, but wide columns leave the single values noisier: 15 tables, yet
    # a country's counts come from 5 tables whose other columns are wide too
    wide = [251, 251, 251, 251, 26, 10]
    assert _design_for(wide, 6, rhos) == "capped"
    # nothing but single values measured: no tables
    only_singles = {"total": 0.01, "row_lengths": 0.01, "length_1": 0.98}
    assert _design_for(demo_13, 11, only_singles) == "capped"


def test_noise_of_the_tables_design_is_centred_with_the_stated_scale() -> None:
    flags = [column.name for column in codebook() if column.kind == "flag"][:5]
    rows = [dict.fromkeys(flags, "1") | {"gender": "Woman"}] * 5000
    rows += [{"gender": "Man", flags[0]: "1"}] * 3000
    names = ["gender", *flags]
    big = table_from_rows(rows, names)
    released = dp_aggregates(big, epsilon=1.0, delta=1e-6, max_length=2, seed=0, design="tables")
    parameters = released.parameters
    assert parameters["design"]["name"] == "tables"
    tables = parameters["tables"]
    assert tables["tables"] == math.comb(len(names), 2)
    # two queries of every table; each scale follows from its ρ and √(tables), and the
    # two combine to one measurement on ρ₁ + ρ₂
    for query in tables["queries"]:
        assert query["l2_sensitivity"] == pytest.approx(math.sqrt(tables["tables"]))
        assert query["noise_scale"] == pytest.approx(
            math.sqrt(tables["tables"] / (2 * query["rho"])), rel=1e-6
        )
    rho = sum(query["rho"] for query in tables["queries"])
    assert tables["cell_noise_scale"] == pytest.approx(
        math.sqrt(tables["tables"] / (2 * rho)), rel=1e-6
    )
    shares = [parameters[name]["share"] for name in ("total", "row_lengths")]
    assert sum(shares) + sum(q["share"] for q in tables["queries"]) == pytest.approx(1.0)
    # the columns' counts: 5 tables hold each, so less noise than one cell
    by_column = parameters["lengths"]["1"]["noise_scale_by_column"]
    assert all(scale < tables["cell_noise_scale"] for scale in by_column.values())
    held_by_5000 = [(big.names.index(name), 1) for name in flags[1:]]
    errors = np.array([released.counts[(item,)] - 5000 for item in held_by_5000])
    assert (np.abs(errors) <= 5 * by_column[flags[1]]).all()
    man = released.counts[((0, big.code(0, "Man")),)]
    assert abs(man - 3000) <= 5 * by_column["gender"]
    assert abs(released.counts[()] - 8000) <= 5 * parameters["total"]["noise_scale"]
    largest = parameters["lengths"]["2"]["noise_scale"]["largest"]
    pair_errors = np.array(
        [released.counts[(a, b)] - 5000 for a, b in itertools.combinations(held_by_5000, 2)]
    )
    assert (np.abs(pair_errors) <= 5 * largest).all()
    assert abs(pair_errors.mean()) <= 5 * largest / math.sqrt(len(pair_errors))


# -- synthetic rows ---------------------------------------------------------------------------
@pytest.mark.parametrize("design", list(DESIGNS))
def test_synthetic_rows_number_about_the_real_rows(table: ReleaseTable, design: str) -> None:
    made = dp_synthetic(table, epsilon=2.0, delta=1e-6, max_length=3, seed=3, design=design)
    scale = made.parameters["total"]["noise_scale"]
    assert abs(made.n_rows - table.n_rows) <= 5 * scale + 1
    assert made.codes.shape == (made.n_rows, len(table.columns))
    assert made.codes.dtype == np.int16
    assert made.columns == table.columns
    json.dumps(made.parameters)
    assert made.parameters["synthesis"]["method"] == "latent-class-model"


def single_scale(parameters: dict, names: tuple[str, ...], position: int) -> float:
    """The stated noise standard deviation of a single value's count, in either design."""
    singles = parameters["lengths"]["1"]
    if parameters["design"]["name"] == "tables":
        return float(singles["noise_scale_by_column"][names[position]])
    return float(singles["noise_scale"])


@pytest.mark.parametrize("design", list(DESIGNS))
def test_synthetic_rows_hold_released_codebook_values(table: ReleaseTable, design: str) -> None:
    made = dp_synthetic(table, epsilon=2.0, delta=1e-6, max_length=3, seed=4, design=design)
    singles = {c[0] for c in made.aggregates.counts if len(c) == 1}
    held = {
        (position, int(code))
        for position in range(made.codes.shape[1])
        for code in np.unique(made.codes[:, position])
        if code
    }
    assert held <= singles
    assert all(in_domain(table, position, code) for position, code in held)
    # the rows follow the counts: the local search pulls each single value's synthetic
    # count towards its noisy one (noisy pairs can pull the other way, so not exactly)
    gaps = [
        abs(int((made.codes[:, position] == code).sum()) - count)
        / single_scale(made.parameters, table.names, position)
        for combination, count in made.aggregates.counts.items()
        if len(combination) == 1
        for position, code in combination
    ]
    assert np.mean(gaps) <= 2.5  # about 0.5 (the sampled rows alone: about 9)
    assert max(gaps) <= 20


@pytest.mark.parametrize("design", list(DESIGNS))
def test_synthetic_rows_of_a_table_without_values_are_empty(design: str) -> None:
    blank = table_from_rows([{}] * 400, [column.name for column in codebook()][:5])
    made = dp_synthetic(blank, epsilon=1.0, delta=1e-6, max_length=2, seed=0, design=design)
    # a value released from noise alone is possible but rare (under 0.5 a release)
    assert (made.codes > 0).sum() <= 0.5 * made.codes.size


def test_layout_numbers_every_codebook_value_once() -> None:
    columns = codebook()
    layout = _Layout.of(columns)
    assert layout.n_items == sum(len(column.domain) for column in columns)
    seen = {layout.pair(item) for item in range(layout.n_items)}
    assert len(seen) == layout.n_items
    assert all(1 <= code <= len(columns[position].domain) for position, code in seen)


def test_noise_in_the_empty_bins_of_long_rows_does_not_raise_the_cap() -> None:
    # 20,000 rows of 8 to 14 values over 27 columns; bins 15..27 are empty
    true = np.zeros(28)
    true[8:15] = [400, 1500, 3300, 4700, 4700, 3200, 2200]
    scale = 45.0  # the histogram's noise at ε = 1 (1% of the budget)
    exact = _choose_cap(true, scale, 2)
    rng = np.random.default_rng(2024)
    caps = [_choose_cap(true + rng.normal(0, scale, len(true)), scale, 2) for _ in range(3000)]
    assert max(caps) <= 15
    assert np.mean(np.array(caps) == exact) >= 0.9


def test_rows_that_really_are_long_still_raise_the_cap() -> None:
    true = np.zeros(28)
    true[10] = 15_000
    true[20] = 5_000
    assert _choose_cap(true, 45.0, 2) == 20


# -- triple targets of the synthesis ----------------------------------------------------------
def pairwise_distribution(rng: np.random.Generator) -> np.ndarray:
    """A distribution over three yes/no values with pair interactions and no three-way one:
    p(x) ∝ exp(Σ main effects + Σ pair interactions), enumerated by brute force."""
    main = rng.normal(0, 1, 3)
    pair = rng.normal(0, 1.5, 3)  # ab, ac, bc
    p = np.zeros((2, 2, 2))
    for a, b, c in itertools.product((0, 1), repeat=3):
        p[a, b, c] = math.exp(
            main @ (a, b, c) + pair[0] * a * b + pair[1] * a * c + pair[2] * b * c
        )
    return p / p.sum()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_triple_targets_recover_a_triple_without_three_way_interaction(seed: int) -> None:
    total = 10_000.0
    p = pairwise_distribution(np.random.default_rng(seed)) * total
    singles = np.array([p[1].sum(), p[:, 1].sum(), p[:, :, 1].sum()])
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    pair_counts = np.array([p[1, 1].sum(), p[1, :, 1].sum(), p[:, 1, 1].sum()])
    items, targets = _triple_targets(singles, pairs, pair_counts, np.array([0, 1, 2]), total)
    if p[1, 1, 1] < 11:  # under the floor: no target
        assert len(items) == 0
        return
    assert items.tolist() == [[0, 1, 2]]
    assert targets[0] == pytest.approx(p[1, 1, 1], rel=1e-3)


def test_triple_targets_of_independent_values_are_the_product() -> None:
    # 1,000 rows; a in half of them, b in 40%, c in 20%, all independent: 40 hold all three
    singles = np.array([500.0, 400.0, 200.0])
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    _items, targets = _triple_targets(
        singles, pairs, np.array([200.0, 100.0, 80.0]), np.array([0, 1, 2]), 1000.0
    )
    assert targets.tolist() == pytest.approx([40.0], rel=1e-4)


def test_triple_targets_need_three_columns_and_three_usable_pairs() -> None:
    singles = np.array([500.0, 400.0, 200.0, 300.0])
    # items 2 and 3 are values of one column; the pair (0, 3) is not usable
    pairs = np.array([[0, 1], [0, 2], [1, 2], [1, 3]])
    items, _ = _triple_targets(
        singles, pairs, np.array([200.0, 100.0, 80.0, 120.0]), np.array([0, 1, 2, 2]), 1000.0
    )
    assert items.tolist() == [[0, 1, 2]]


def test_the_search_brings_triples_to_their_targets() -> None:
    # three yes/no columns, 2,000 rows drawn independently; targets keep every single and
    # pair count where it is but ask for 150 more rows holding all three values, which the
    # rows can give without moving a single or pair count: {ab, ac, bc, ∅} → {abc, a, b, c}
    rng = np.random.default_rng(4)
    n = 2000
    rows = np.where(rng.random((n, 3)) < 0.5, np.arange(3), -1).astype(np.int16)

    def counts(of: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        held = of >= 0
        singles = held.sum(axis=0).astype(float)
        pair_counts = np.array(
            [(held[:, x] & held[:, y]).sum() for x, y in ((0, 1), (0, 2), (1, 2))], float
        )
        return singles, pair_counts, float(held.all(axis=1).sum())

    singles, pair_counts, before = counts(rows)
    feature = np.array([[0, 3, 4], [3, 1, 5], [4, 5, 2]], dtype=np.int64)
    triple = np.full((3, 3, 3), -1, dtype=np.int32)
    for order in itertools.permutations(range(3)):
        triple[order] = 6
    targets = np.concatenate([singles, pair_counts, [before + 150]])
    weights = np.array([3.0, 3.0, 3.0, 1.0, 1.0, 1.0, 1.0])
    feature_items = np.array(
        [[0, 0, -1], [1, 1, -1], [2, 2, -1], [0, 1, -1], [0, 2, -1], [1, 2, -1], [0, 1, 2]],
        dtype=np.int64,
    )
    _polish(
        rows,
        np.arange(3, dtype=np.int64),
        np.ones(3, dtype=np.int64),
        np.arange(3, dtype=np.int64),
        feature,
        triple,
        feature_items,
        targets,
        weights,
        200_000,
        1,
    )
    singles_after, pairs_after, after = counts(rows)
    assert abs(after - (before + 150)) <= 15
    assert np.abs(np.concatenate([singles_after - singles, pairs_after - pair_counts])).max() <= 15

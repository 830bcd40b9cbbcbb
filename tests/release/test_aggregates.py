"""Reportable aggregates: suppression below k, cell-key rounding, consistency."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiphub.release.aggregates import reportable_aggregates
from tiphub.release.table import ReleaseRefusedError, table_from_rows

COLUMNS = ["gender", "ageBroad", "citizenship", "isForcedLabour"]


def _rows(spec: list[tuple[int, dict[str, str]]]) -> list[dict[str, str]]:
    return [dict(values) for count, values in spec for _ in range(count)]


def _brute_force(rows: list[dict[str, str]], columns: list[str], length: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for row in rows:
        items = [f"{name}={row[name]}" for name in columns if row.get(name)]
        for size in range(1, length + 1):
            for chosen in itertools.combinations(items, size):
                counts[";".join(chosen)] += 1
    return counts


def test_small_cells_are_suppressed_and_the_rest_rounded_to_fives() -> None:
    # 23 women (21 Romanian, 2 Nigerian), 10 men: by hand, with k = 11 the men (10), the
    # Nigerian women (2) and Nigeria (2) are suppressed; women (23), Romania (21),
    # women of Romania (21) and the rows with a gender (33) are released, rounded.
    rows = _rows(
        [
            (21, {"gender": "Woman", "citizenship": "ROU"}),
            (2, {"gender": "Woman", "citizenship": "NGA"}),
            (10, {"gender": "Man"}),
        ]
    )
    table = table_from_rows(rows, ["gender", "citizenship"])
    made = reportable_aggregates(table, k=11, max_length=2)
    released = dict(made.rows())
    assert set(released) == {"gender=Woman", "citizenship=ROU", "gender=Woman;citizenship=ROU"}
    assert released["gender=Woman"] in (20, 25)
    assert released["citizenship=ROU"] in (20, 25)
    assert made.total in (30, 35)
    assert made.suppressed == {1: 2, 2: 1}


def test_rounding_is_unbiased_over_seeds() -> None:
    # 23 rows round to 20 with probability 2/5 and to 25 with 3/5: the mean is 23.
    rows = _rows([(23, {"gender": "Woman"})])
    table = table_from_rows(rows, ["gender"])
    released = [
        dict(reportable_aggregates(table, k=11, max_length=1, seed=s).rows())["gender=Woman"]
        for s in range(2000)
    ]
    assert set(released) == {20, 25}
    assert abs(np.mean(released) - 23) < 0.25  # the standard error is 0.055


def test_a_suppressed_cell_cannot_be_recovered_by_differencing() -> None:
    rows = _rows(
        [
            (21, {"gender": "Woman", "citizenship": "ROU"}),
            (2, {"gender": "Woman", "citizenship": "NGA"}),
        ]
    )
    table = table_from_rows(rows, ["gender", "citizenship"])
    for seed in range(200):
        released = dict(reportable_aggregates(table, k=11, max_length=2, seed=seed).rows())
        difference = released["gender=Woman"] - released["gender=Woman;citizenship=ROU"]
        assert difference % 5 == 0  # never the 2 Nigerian women


def test_the_same_cell_gets_the_same_figure_whatever_the_row_order() -> None:
    rng = np.random.default_rng(5)
    rows = [
        {
            "gender": str(rng.choice(["Woman", "Man"])),
            "ageBroad": str(rng.choice(["18--20", "21--23", "30--38"])),
            "citizenship": str(rng.choice(["ROU", "NGA", "VNM"])),
            "isForcedLabour": str(rng.choice(["1", ""])),
        }
        for _ in range(600)
    ]
    first = reportable_aggregates(table_from_rows(rows, COLUMNS), seed=3)
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    second = reportable_aggregates(table_from_rows(shuffled, COLUMNS), seed=3)
    assert first.rows() == second.rows()
    # One more record changes only the cells it falls in.
    extra = {"gender": "Man", "ageBroad": "30--38", "citizenship": "VNM", "isForcedLabour": ""}
    third = dict(reportable_aggregates(table_from_rows([*rows, extra], COLUMNS), seed=3).rows())
    untouched = {
        text: count
        for text, count in first.rows()
        if not all(part.split("=")[1] == extra[part.split("=")[0]] for part in text.split(";"))
    }
    assert all(third[text] == count for text, count in untouched.items())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Woman", "Man", ""]),
            st.sampled_from(["18--20", "21--23", ""]),
            st.sampled_from(["ROU", "NGA", "VNM", ""]),
            st.sampled_from(["1", ""]),
        ),
        min_size=12,
        max_size=150,
    ),
    st.integers(2, 15),
    st.integers(1, 3),
)
def test_no_released_combination_is_held_by_fewer_than_k_rows(
    cells: list[tuple[str, str, str, str]], k: int, length: int
) -> None:
    rows = [dict(zip(COLUMNS, values, strict=True)) for values in cells]
    real = _brute_force(rows, COLUMNS, length)
    try:
        made = reportable_aggregates(table_from_rows(rows, COLUMNS), k=k, max_length=length)
    except ReleaseRefusedError:
        assert all(count < k for count in real.values()) or len(rows) < k
        return
    for text, count in made.rows():
        assert real[text] >= k
        assert abs(count - real[text]) < 5 and count % 5 == 0
    assert {text for text, count in real.items() if count >= k} == {text for text, _ in made.rows()}


@pytest.mark.parametrize(
    ("k", "length", "reason"),
    [(1, 3, "k must be at least 2"), (11, 0, "at least 1"), (11, 9, "cannot exceed")],
)
def test_bad_parameters_are_refused(k: int, length: int, reason: str) -> None:
    table = table_from_rows(_rows([(30, {"gender": "Woman"})]), ["gender"])
    with pytest.raises(ReleaseRefusedError, match=reason):
        reportable_aggregates(table, k=k, max_length=length)


def test_too_little_data_is_refused() -> None:
    table = table_from_rows(_rows([(5, {"gender": "Woman"})]), ["gender", "ageBroad"])
    with pytest.raises(ReleaseRefusedError, match="fewer than k = 11"):
        reportable_aggregates(table, k=11, max_length=2)

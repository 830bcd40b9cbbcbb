"""Release metrics against figures worked out by hand, and a brute-force count."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiphub.release.metrics import (
    combination_counts,
    release_metrics,
    singling_out_attack,
    synthetic_metrics,
)

COLUMNS = ("a", "b", "c")

# Six rows, three columns; "" is not recorded.
ROWS = [
    {"a": "x", "b": "p", "c": "1"},  # row 1
    {"a": "x", "b": "p", "c": ""},  # row 2
    {"a": "x", "b": "q", "c": "1"},  # row 3
    {"a": "y", "b": "p", "c": "1"},  # row 4
    {"a": "y", "b": "", "c": ""},  # row 5
    {"a": "x", "b": "p", "c": "1"},  # row 6
]

# Counted by hand from ROWS.
REAL = {
    # length 1 (5 combinations)
    "a=x": 4,  # rows 1 2 3 6
    "a=y": 2,  # rows 4 5
    "b=p": 4,  # rows 1 2 4 6
    "b=q": 1,  # row 3
    "c=1": 4,  # rows 1 3 4 6
    # length 2 (7 combinations)
    "a=x;b=p": 3,  # rows 1 2 6
    "a=x;b=q": 1,  # row 3
    "a=y;b=p": 1,  # row 4
    "a=x;c=1": 3,  # rows 1 3 6
    "a=y;c=1": 1,  # row 4
    "b=p;c=1": 3,  # rows 1 4 6
    "b=q;c=1": 1,  # row 3
    # length 3 (3 combinations)
    "a=x;b=p;c=1": 2,  # rows 1 6
    "a=x;b=q;c=1": 1,  # row 3
    "a=y;b=p;c=1": 1,  # row 4
}

K = 3
# Reportable (count >= 3): length 1: a=x b=p c=1 (3 of 5); length 2: a=x;b=p a=x;c=1
# b=p;c=1 (3 of 7); length 3: none (0 of 3).

RELEASED = {
    "": 7,  # the stated total (real: 6)
    # length 1: errors |5-4| = 1, |4-4| = 0, |3-4| = 1, a=z is fabricated: |2-0| = 2.
    # a=y and b=q are not released (suppressed).
    "a=x": 5,
    "b=p": 4,
    "c=1": 3,
    "a=z": 2,
    # length 2: written out of column order on purpose (it is a=x;b=p): |5-3| = 2;
    # a=y;c=1 is exact (|1-1| = 0) but held by only one real row;
    # a=x;c=1 released as 0 is not released at all (real 3, error 3).
    "b=p;a=x": 5,
    "a=y;c=1": 1,
    "a=x;c=1": 0,
}


def test_combination_counts_by_hand() -> None:
    assert combination_counts(ROWS, COLUMNS, 3) == Counter(REAL)
    assert combination_counts(ROWS, COLUMNS, 1) == Counter(
        {key: count for key, count in REAL.items() if ";" not in key}
    )


def test_combination_counts_follow_the_given_column_order_and_ignore_blanks() -> None:
    rows = [{"b": "p", "a": " x ", "c": "  "}]
    assert combination_counts(rows, ("b", "a", "c"), 2) == Counter(
        {"b=p": 1, "a=x": 1, "b=p;a=x": 1}
    )
    assert combination_counts(rows, ("a", "b"), 2) == Counter({"a=x": 1, "b=p": 1, "a=x;b=p": 1})


def test_release_metrics_by_hand() -> None:
    metrics = release_metrics(ROWS, RELEASED, columns=COLUMNS, k=K, max_length=3)
    assert metrics.real_rows == 6
    assert metrics.released_rows == 7
    assert metrics.total_error == 1

    one = metrics.length(1)
    assert (one.real, one.reportable, one.released) == (5, 3, 4)
    # union of reportable {a=x, b=p, c=1} and released {a=x, b=p, c=1, a=z}: errors 1 0 1 2
    assert one.mae == pytest.approx(4 / 4)
    assert one.mae_released == pytest.approx(4 / 4)
    assert one.max_error == 2
    assert one.suppressed == pytest.approx(2 / 5)  # a=y, b=q
    assert one.suppressed_reportable == 0
    assert one.fabricated == pytest.approx(1 / 4)  # a=z
    assert (one.n_suppressed, one.n_suppressed_reportable, one.n_fabricated) == (2, 0, 1)

    two = metrics.length(2)
    assert (two.real, two.reportable, two.released) == (7, 3, 2)
    # union: a=x;b=p (2), a=x;c=1 (3), b=p;c=1 (3), a=y;c=1 (0) -> 8 / 4
    assert two.mae == pytest.approx(2.0)
    assert two.mae_released == pytest.approx((2 + 0) / 2)
    assert two.max_error == 3
    assert two.suppressed == pytest.approx(5 / 7)
    assert two.suppressed_reportable == pytest.approx(2 / 3)  # a=x;c=1 and b=p;c=1
    assert two.fabricated == 0

    three = metrics.length(3)
    assert (three.real, three.reportable, three.released) == (3, 0, 0)
    assert math.isnan(three.mae)  # nothing reportable and nothing released
    assert math.isnan(three.mae_released)
    assert three.max_error == 0
    assert three.suppressed == 1
    assert math.isnan(three.suppressed_reportable)
    assert math.isnan(three.fabricated)

    every = metrics.overall
    assert (every.real, every.reportable, every.released) == (15, 6, 6)
    assert every.mae == pytest.approx((4 + 8) / (4 + 4))
    assert every.mae_released == pytest.approx((4 + 2) / 6)
    assert every.suppressed == pytest.approx((2 + 5 + 3) / 15)
    assert every.fabricated == pytest.approx(1 / 6)
    assert every.max_error == 3


def test_to_dict_is_json_and_summary_shows_the_figures() -> None:
    metrics = release_metrics(ROWS, RELEASED, columns=COLUMNS, k=K, max_length=3)
    figures = metrics.to_dict()
    json.dumps(figures, allow_nan=False)
    assert figures["by_length"][1]["mae"] == pytest.approx(2.0)
    assert figures["by_length"][2]["mae"] is None
    assert figures["released_rows"] == 7
    text = metrics.summary()
    assert "40.0%" in text  # suppressed at length 1
    assert "25.0%" in text  # fabricated at length 1
    assert "71.4%" in text  # suppressed at length 2
    assert "n/a" in text
    assert "real rows: 6" in text


def test_an_exact_release_has_no_error() -> None:
    metrics = release_metrics(ROWS, {**REAL, "": 6}, columns=COLUMNS, k=K, max_length=3)
    for figures in (*metrics.by_length, metrics.overall):
        assert figures.mae == 0
        assert figures.max_error == 0
        assert figures.suppressed == 0
        assert figures.fabricated == 0
    assert metrics.total_error == 0


def test_release_without_a_total() -> None:
    metrics = release_metrics(ROWS, {"a=x": 4}, columns=COLUMNS, k=K, max_length=1)
    assert metrics.released_rows is None
    assert metrics.total_error is None
    assert len(metrics.by_length) == 1


def test_synthetic_metrics_by_hand() -> None:
    # Two synthetic rows: one copies row 1, one is made up.
    synthetic = [{"a": "x", "b": "p", "c": "1"}, {"a": "y", "b": "q", "c": ""}]
    metrics = synthetic_metrics(ROWS, synthetic, columns=COLUMNS, k=K, max_length=2)
    assert metrics.released_rows == 2
    one = metrics.length(1)
    # released a=x 1 (real 4), b=p 1 (4), c=1 1 (4), a=y 1 (2), b=q 1 (1)
    assert one.released == 5
    assert one.fabricated == 0
    assert one.mae == pytest.approx((3 + 3 + 3 + 1 + 0) / 5)
    two = metrics.length(2)
    # released a=x;b=p 1 (3), a=x;c=1 1 (3), b=p;c=1 1 (3), a=y;b=q 1 (0: fabricated)
    assert two.released == 4
    assert two.fabricated == pytest.approx(1 / 4)
    assert two.mae == pytest.approx((2 + 2 + 2 + 1) / 4)
    assert two.suppressed == pytest.approx(4 / 7)


def test_release_keys_must_name_the_columns() -> None:
    with pytest.raises(ValueError, match="column=value"):
        release_metrics(ROWS, {"d=1": 3}, columns=COLUMNS, k=K, max_length=2)
    with pytest.raises(ValueError, match="twice"):
        release_metrics(ROWS, {"a=x;a=y": 3}, columns=COLUMNS, k=K, max_length=2)
    with pytest.raises(ValueError, match="twice"):
        release_metrics(ROWS, {"a=x;b=p": 3, "b=p;a=x": 3}, columns=COLUMNS, k=K, max_length=2)


def test_the_attack_fails_a_release_of_a_combination_held_by_one_person() -> None:
    attack = singling_out_attack(
        ROWS, RELEASED, columns=COLUMNS, k=K, max_length=3, targets=len(ROWS), seed=1
    )
    # examined: a=x b=p c=1 a=z a=x;b=p a=y;c=1 (a=x;c=1 is released as 0)
    assert attack.released == 6
    assert attack.fabricated == 1  # a=z
    assert attack.below_k == 1  # a=y;c=1, held by row 4 only
    assert attack.smallest_support == 1
    assert attack.largest_chance == 1.0
    assert not attack.passes
    # Every row has at most 3 values, so the attacker knows all of a target's values and
    # each of the six rows is a target once: rows 1, 2, 6 -> 1/3 (a=x;b=p), row 3 -> 1/4
    # (a=x or c=1), row 4 -> 1 (a=y;c=1), row 5 -> 0 (a=y is not released).
    assert attack.targets == 6
    assert attack.mean_success == pytest.approx((3 * (1 / 3) + 1 / 4 + 1 + 0) / 6)
    assert attack.max_success == 1.0
    figures = attack.to_dict()
    assert figures["passes"] is False
    json.dumps(figures, allow_nan=False)
    assert "FAILS" in attack.summary()


def test_the_attack_passes_a_release_of_well_supported_combinations() -> None:
    released = {"": 6, "a=x": 4, "b=p": 4, "c=1": 4, "a=x;b=p": 3, "a=z;c=1": 5}
    attack = singling_out_attack(ROWS, released, columns=COLUMNS, k=K, max_length=3, targets=50)
    assert attack.released == 5
    assert attack.fabricated == 1  # a=z;c=1 singles out nobody
    assert attack.below_k == 0
    assert attack.smallest_support == 3
    assert attack.largest_chance == pytest.approx(1 / 3)
    assert attack.passes
    assert attack.max_success <= 1 / 3 + 1e-12
    assert attack.targets == 50
    assert "PASSES" in attack.summary()
    # One more than k wants: the same release fails with k = 4.
    assert not singling_out_attack(ROWS, released, columns=COLUMNS, k=4, max_length=3).passes


def test_the_attacker_knows_only_l_values() -> None:
    # With L = 1, a=y;c=1 (one person) is beyond the attacker's knowledge.
    attack = singling_out_attack(ROWS, RELEASED, columns=COLUMNS, k=K, max_length=1)
    assert attack.released == 4
    assert attack.smallest_support == 4
    assert attack.passes


def test_the_simulated_attacker_uses_at_most_l_of_the_targets_values() -> None:
    # One person holds x;p;1, everyone else holds one value. A release of the single triple
    # identifies them, but an attacker who knows only two of their values never finds it.
    rows = [{"a": "x", "b": "p", "c": "1"}] + [{"a": "x", "b": "", "c": ""}] * 5
    released = {"a=x;b=p;c=1": 1}
    two = singling_out_attack(rows, released, columns=COLUMNS, k=2, max_length=2, targets=20)
    assert two.released == 0 and two.passes and two.max_success == 0
    three = singling_out_attack(rows, released, columns=COLUMNS, k=2, max_length=3, targets=6)
    assert not three.passes
    assert three.mean_success == pytest.approx(1 / 6)


# ---------------------------------------------------------------------- property


VALUES = ("", "u", "v", "w")


@st.composite
def tables(draw: st.DrawFn) -> tuple[tuple[str, ...], list[dict[str, str]], int]:
    n_columns = draw(st.integers(1, 4))
    columns = tuple(f"col{i}" for i in range(n_columns))
    rows = draw(
        st.lists(
            st.fixed_dictionaries({column: st.sampled_from(VALUES) for column in columns}),
            max_size=12,
        )
    )
    return columns, rows, draw(st.integers(1, n_columns))


def brute_force(
    columns: tuple[str, ...], rows: list[dict[str, str]], max_length: int
) -> Counter[str]:
    """Every possible combination of the value alphabet, matched against every row."""
    counts: Counter[str] = Counter()
    for length in range(1, max_length + 1):
        for chosen in itertools.combinations(columns, length):
            for values in itertools.product([v for v in VALUES if v], repeat=length):
                held = sum(
                    1
                    for row in rows
                    if all(
                        row[column] == value for column, value in zip(chosen, values, strict=True)
                    )
                )
                if held:
                    counts[";".join(f"{c}={v}" for c, v in zip(chosen, values, strict=True))] = held
    return counts


@settings(max_examples=150, deadline=None)
@given(tables())
def test_combination_counts_equal_a_brute_force_count(
    table: tuple[tuple[str, ...], list[dict[str, str]], int],
) -> None:
    columns, rows, max_length = table
    assert combination_counts(rows, columns, max_length) == brute_force(columns, rows, max_length)


@settings(max_examples=60, deadline=None)
@given(tables())
def test_releasing_the_real_rows_is_exact_and_fails_singling_out_only_below_k(
    table: tuple[tuple[str, ...], list[dict[str, str]], int],
) -> None:
    columns, rows, max_length = table
    metrics = synthetic_metrics(rows, rows, columns=columns, k=2, max_length=max_length)
    assert all(figures.max_error == 0 for figures in metrics.by_length)
    assert all(
        figures.n_suppressed == 0 and figures.n_fabricated == 0 for figures in metrics.by_length
    )
    real = brute_force(columns, rows, max_length)
    attack = singling_out_attack(
        rows, dict(real), columns=columns, k=2, max_length=max_length, targets=5
    )
    assert attack.passes == all(count >= 2 for count in real.values())
    assert attack.below_k == sum(1 for count in real.values() if count < 2)


def test_the_simulated_attacker_knows_a_random_l_of_the_targets_values() -> None:
    # Only row 1 holds c=1. An attacker who knows one of its three values, chosen at random,
    # knows c about a third of the time; row 1 is a quarter of the targets: about 1/12.
    rows = [{"a": "x", "b": "p", "c": "1"}] + [{"a": "x", "b": "p", "c": ""}] * 3
    attack = singling_out_attack(
        rows, {"c=1": 1}, columns=COLUMNS, k=2, max_length=1, targets=2000, seed=3
    )
    assert attack.largest_chance == 1.0
    assert attack.max_success == 1.0
    assert 1 / 12 - 0.03 < attack.mean_success < 1 / 12 + 0.03

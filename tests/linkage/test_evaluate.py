"""Linkage evaluation: pair counts by combinatorics, cluster metrics, blocking recall, capture
histories and the MSE error a linkage causes; reading the CSV inputs and their errors.

These tests touch no database.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiphub.estimate import CaptureTable, estimate, read_capture_csv, read_capture_table
from tiphub.linkage.evaluate import (
    EvaluationError,
    LinkageEvaluation,
    capture_histories,
    capture_table,
    evaluate,
    read_candidate_pairs,
    read_clusters,
    read_truth,
    write_capture_histories,
)

# ---------------------------------------------------------------------- a hand-computed example
#
# Truth (records 1-8):  X = {1, 2, 3, 8}   Y = {4, 5}   Z = {6}   W = {7}
# Clusters (1-7, 9):    P = {1, 2}         Q = {3, 4, 5, 6}        R = {7, 9}
#
# Record 8 is only in the truth and record 9 only in the clusters, so the evaluation runs on
# records 1-7, where X = {1, 2, 3} and R = {7}.
#
# True pairs:       X: C(3,2) = 3 (12 13 23), Y: C(2,2) = 1 (45)                    -> 4
# Predicted pairs:  P: C(2,2) = 1 (12), Q: C(4,2) = 6 (34 35 36 45 46 56)           -> 7
# Contingency:      P∩X = 2 -> 1 pair (12); Q∩X = 1, Q∩Y = 2 -> 1 pair (45); Q∩Z = 1;
#                   R∩W = 1                                                           -> TP 2
# precision 2/7, recall 2/4, F1 = 2·TP/(pred + true) = 4/11, precision ÷ recall = 4/7.
# Clusters: R = {7} equals W exactly; P ≠ X and Q is mixed -> 1 correct of 3 predicted
# clusters and 4 true entities: cluster precision 1/3, recall 1/4, F1 = 2·1/(3+4) = 2/7.

HAND_CLUSTERS = pd.DataFrame(
    {
        "record_id": ["1", "2", "3", "4", "5", "6", "7", "9"],
        "cluster_id": ["P", "P", "Q", "Q", "Q", "Q", "R", "R"],
    }
)
HAND_TRUTH = pd.DataFrame(
    {
        "record_id": ["1", "2", "3", "4", "5", "6", "7", "8"],
        "true_person_id": ["X", "X", "X", "Y", "Y", "Z", "W", "X"],
    }
)


def test_hand_example_pairwise_and_cluster_metrics() -> None:
    result = evaluate(HAND_CLUSTERS, HAND_TRUTH)
    assert result.records_evaluated == 7
    assert result.records_only_in_clusters == 1
    assert result.records_only_in_truth == 1
    assert (result.true_pairs, result.predicted_pairs, result.true_positive_pairs) == (4, 7, 2)
    assert result.false_positive_pairs == 5
    assert result.false_negative_pairs == 2
    assert result.precision == pytest.approx(2 / 7)
    assert result.recall == pytest.approx(2 / 4)
    assert result.f1 == pytest.approx(4 / 11)
    assert result.precision_over_recall == pytest.approx(4 / 7)
    assert result.precision_over_recall == pytest.approx(result.precision / result.recall)
    assert (result.predicted_clusters, result.true_entities, result.correct_clusters) == (3, 4, 1)
    assert result.cluster_precision == pytest.approx(1 / 3)
    assert result.cluster_recall == pytest.approx(1 / 4)
    assert result.cluster_f1 == pytest.approx(2 / 7)
    assert result.blocking_recall is None
    assert any("1 records in the clusters are not in the truth" in w for w in result.warnings)
    assert any("1 records in the truth are not in the clusters" in w for w in result.warnings)


def test_hand_example_blocking_recall() -> None:
    # True pairs among evaluated records: 12 13 23 45.
    candidates = pd.DataFrame(
        {
            "record_id_l": ["1", "2", "3", "5", "6", "9", "8", "1", "4", None],
            "record_id_r": ["2", "1", "1", "4", "7", "7", "1", "1", "6", "2"],
        }
    )
    # 12 (twice, either order) and 13 and 54 (reversed) are true pairs -> 3 distinct of 4.
    # 67 is a false candidate; 9-7 and 8-1 involve records outside the evaluation; 1-1 is a
    # self pair; the missing id matches nothing.
    result = evaluate(HAND_CLUSTERS, HAND_TRUTH, candidate_pairs=candidates)
    assert result.candidate_pairs == 10
    assert result.true_pairs_in_candidates == 3
    assert result.blocking_recall == pytest.approx(3 / 4)


def test_perfect_and_empty_linkage() -> None:
    truth = HAND_TRUTH.rename(columns={"true_person_id": "entity_id"})
    same = pd.DataFrame({"record_id": truth["record_id"], "cluster_id": "c" + truth["entity_id"]})
    perfect = evaluate(same, truth)
    assert perfect.precision == perfect.recall == perfect.f1 == 1.0
    assert perfect.cluster_precision == perfect.cluster_recall == 1.0
    singletons = pd.DataFrame({"record_id": truth["record_id"], "cluster_id": truth["record_id"]})
    none = evaluate(singletons, truth)
    # X = {1,2,3,8} has 6 pairs and Y 1; no pair is predicted, so precision is undefined.
    assert none.true_pairs == 7
    assert none.predicted_pairs == 0
    assert np.isnan(none.precision)
    assert none.recall == 0.0
    assert none.f1 == 0.0
    assert np.isnan(none.precision_over_recall)
    assert none.to_dict()["precision"] is None
    # Z = {6} and W = {7} are singletons and predicted as such.
    assert none.correct_clusters == 2


def test_truth_column_preference_and_integer_ids() -> None:
    # true_id wins over cluster_id; ids are compared as text, so 1 and "1" are one record.
    truth = pd.DataFrame(
        {"record_id": [1, 2, 3], "cluster_id": ["a", "a", "a"], "true_id": [1, 1, 2]}
    )
    clusters = pd.DataFrame({"record_id": ["1", "2", "3"], "cluster_id": [7, 7, 8]})
    result = evaluate(clusters, truth)
    assert (result.true_pairs, result.predicted_pairs, result.true_positive_pairs) == (1, 1, 1)


# ---------------------------------------------------------------------- against brute force


def _brute_force(
    clusters: list[int], truth: list[int], candidates: list[tuple[int, int]]
) -> tuple[int, int, int, int, int]:
    records = range(len(clusters))
    predicted = {
        (i, j) for i, j in itertools.combinations(records, 2) if clusters[i] == clusters[j]
    }
    true = {(i, j) for i, j in itertools.combinations(records, 2) if truth[i] == truth[j]}
    cluster_sets = {frozenset(r for r in records if clusters[r] == c) for c in set(clusters)}
    entity_sets = {frozenset(r for r in records if truth[r] == t) for t in set(truth)}
    covered = {(min(i, j), max(i, j)) for i, j in candidates} & true
    return (
        len(true),
        len(predicted),
        len(true & predicted),
        len(cluster_sets & entity_sets),
        len(covered),
    )


def _check_against_brute_force(
    clusters: list[int], truth: list[int], candidates: list[tuple[int, int]]
) -> None:
    ids = [f"r{i}" for i in range(len(clusters))]
    result = evaluate(
        pd.DataFrame({"record_id": ids, "cluster_id": clusters}),
        pd.DataFrame({"record_id": ids, "true_id": truth}),
        candidate_pairs=pd.DataFrame(
            {
                "record_id_l": [ids[i] for i, _ in candidates],
                "record_id_r": [ids[j] for _, j in candidates],
            },
            dtype=object,
        ),
    )
    true, predicted, tp, correct, covered = _brute_force(clusters, truth, candidates)
    assert result.true_pairs == true
    assert result.predicted_pairs == predicted
    assert result.true_positive_pairs == tp
    assert result.correct_clusters == correct
    assert result.true_pairs_in_candidates == covered
    assert result.predicted_clusters == len(set(clusters))
    assert result.true_entities == len(set(truth))


@settings(max_examples=150, deadline=None)
@given(
    st.integers(min_value=1, max_value=25).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 6), min_size=n, max_size=n),
            st.lists(st.integers(0, 6), min_size=n, max_size=n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40),
        )
    )
)
def test_matches_brute_force_pair_enumeration(
    data: tuple[list[int], list[int], list[tuple[int, int]]],
) -> None:
    clusters, truth, candidates = data
    _check_against_brute_force(clusters, truth, candidates)


def test_matches_brute_force_on_seeded_clusterings() -> None:
    rng = np.random.default_rng(20240611)
    for _ in range(40):
        n = int(rng.integers(2, 120))
        truth = rng.integers(0, max(1, n // 3), n).tolist()
        # A noisy copy of the truth: most records keep their entity, some move.
        moved = rng.random(n) < 0.2
        clusters = np.where(moved, rng.integers(0, n, n), truth).tolist()
        candidates = [tuple(pair) for pair in rng.integers(0, n, (int(rng.integers(0, 300)), 2))]
        _check_against_brute_force(clusters, truth, [(int(i), int(j)) for i, j in candidates])


def test_a_million_records_in_large_clusters_without_enumerating_pairs() -> None:
    # 1,000 entities of 1,000 records: half a billion true pairs, far too many to list.
    n, entities = 1_000_000, 1_000
    rng = np.random.default_rng(7)
    truth = np.arange(n) % entities
    clusters = np.where(rng.random(n) < 0.05, rng.integers(0, entities, n), truth)
    ids = np.arange(n).astype(str).astype(object)
    started = time.perf_counter()
    result = evaluate(
        pd.DataFrame({"record_id": ids, "cluster_id": clusters}),
        pd.DataFrame({"record_id": ids, "true_id": truth}),
    )
    elapsed = time.perf_counter() - started
    assert result.true_pairs == entities * (1000 * 999 // 2)
    sizes = np.bincount(clusters)
    assert result.predicted_pairs == int((sizes * (sizes - 1) // 2).sum())
    assert 0.85 < result.precision < 1.0
    # A generous bound (the work takes about a second): it catches pair enumeration, which
    # would not finish at all, without making the test flaky on a busy machine.
    assert elapsed < 30


# ---------------------------------------------------------------------- capture histories


def test_capture_histories_hand_example() -> None:
    # e1 on A and B; e2 on A; e3 on C; e4 on A and B; e5 has no list and is not counted.
    lists = pd.Series(["A", "B", "A", "C", "A", "B", None])
    entities = pd.Series(["e1", "e1", "e2", "e3", "e4", "e4", "e5"])
    frame = capture_histories(lists, entities)
    assert list(frame.columns) == ["A", "B", "C", "count"]
    # Rows in bit-mask order, A the lowest bit: 100 (1), 110 (3), 001 (4).
    assert frame.values.tolist() == [[1, 0, 0, 1], [1, 1, 0, 2], [0, 0, 1, 1]]
    assert frame["count"].dtype == np.int64


def test_capture_histories_matches_capture_table_csv(tmp_path: Path) -> None:
    lists = pd.Series(["B", "A", "A", "C", "C", "B", "A"])
    entities = pd.Series([1, 1, 2, 2, 3, 4, 4])
    frame = capture_histories(lists, entities)
    # Histories: 1 = AB, 2 = AC, 3 = C, 4 = AB.
    table = capture_table(frame)
    assert table.lists == ("A", "B", "C")
    assert table.counts.tolist() == [0, 0, 0, 2, 1, 1, 0, 0]
    path = tmp_path / "histories.csv"
    write_capture_histories(frame, path)
    assert path.read_text() == table.to_csv()
    again = read_capture_table(path)
    assert again.counts.tolist() == table.counts.tolist()


def test_capture_histories_matched_by_position_not_index() -> None:
    lists = pd.Series(["A", "B"], index=[10, 20])
    entities = pd.Series(["x", "y"], index=[20, 10])
    frame = capture_histories(lists, entities)
    assert frame.values.tolist() == [[1, 0, 1], [0, 1, 1]]


def test_capture_histories_strata(tmp_path: Path) -> None:
    lists = pd.Series(["A", "B", "A", "C", "A", "B", "B", "A", "B", "A"])
    entities = pd.Series(["e1", "e1", "e2", "e3", "e4", "e4", "e4", "e5", "e5", "e6"])
    strata = pd.Series(
        ["south", "north", "north", None, "south", None, "north", "south", "south", ""],
        name="region",
    )
    # e1: one north, one south -> tie, sorted first: north.     history AB
    # e2: north.                                                history A
    # e3: no stratum -> missing, sorted last.                   history C
    # e4: south once, north once (None ignored) -> north.       history AB
    # e5: south twice -> south.                                 history AB
    # e6: only an empty value -> missing.                       history A
    frame = capture_histories(lists, entities, strata)
    assert list(frame.columns) == ["region", "A", "B", "C", "count"]
    assert frame.values.tolist() == [
        ["north", 1, 0, 0, 1],
        ["north", 1, 1, 0, 2],
        ["south", 1, 1, 0, 1],
        [None, 1, 0, 0, 1],
        [None, 0, 0, 1, 1],
    ]
    path = tmp_path / "strata.csv"
    write_capture_histories(frame, path)
    assert path.read_text().splitlines() == [
        "region,A,B,C,count",
        "north,1,0,0,1",
        "north,1,1,0,2",
        "south,1,1,0,1",
        ",1,0,0,1",
        ",0,0,1,1",
    ]
    tables = read_capture_csv(path, strata=["region"])
    assert sorted(tables) == [("",), ("north",), ("south",)]
    assert tables[("north",)].counts.tolist() == [0, 1, 0, 2, 0, 0, 0, 0]


def test_capture_histories_unnamed_stratum_and_most_frequent() -> None:
    frame = capture_histories(
        pd.Series(["A", "A", "A", "B"]),
        pd.Series([1, 1, 1, 2]),
        pd.Series(["y", "x", "y", "x"]),
    )
    assert frame.values.tolist() == [["x", 0, 1, 1], ["y", 1, 0, 1]]
    assert frame.columns[0] == "stratum"


def test_capture_histories_errors() -> None:
    with pytest.raises(EvaluationError, match="same length"):
        capture_histories(pd.Series(["A"]), pd.Series([1, 2]))
    with pytest.raises(EvaluationError, match="count"):
        capture_histories(pd.Series(["count", "A"]), pd.Series([1, 2]))
    with pytest.raises(EvaluationError, match="name of a list"):
        capture_histories(pd.Series(["A", "B"]), pd.Series([1, 2]), pd.Series(["x", "y"], name="A"))
    empty = capture_histories(pd.Series([None, None]), pd.Series([1, 2]))
    assert list(empty.columns) == ["count"]
    assert len(empty) == 0


# ---------------------------------------------------------------------- MSE error


def _three_list_records(seed: int = 11, people: int = 2000) -> pd.DataFrame:
    """One record per (person, list) the person is on; capture independent across lists."""
    rng = np.random.default_rng(seed)
    probabilities = {"A": 0.3, "B": 0.4, "C": 0.35}
    rows = [
        (f"{name}-{person}", name, f"p{person}")
        for person in range(people)
        for name, p in probabilities.items()
        if rng.random() < p
    ]
    return pd.DataFrame(rows, columns=["record_id", "list", "true_id"])


def test_mse_error_is_zero_when_clusters_equal_truth() -> None:
    records = _three_list_records()
    truth = records[["record_id", "true_id", "list"]]
    # Same partition, other labels: nothing the estimate sees changes.
    clusters = pd.DataFrame(
        {
            "record_id": records["record_id"],
            "cluster_id": "C-" + records["true_id"],
            "list": records["list"],
        }
    )
    result = evaluate(clusters, truth)
    assert result.mse_skipped is None
    assert result.mse_method == "stepwise"
    assert result.lists == ("A", "B", "C")
    assert result.observed_difference == 0
    assert result.estimate_error == 0.0
    assert result.estimate_abs_error == 0.0
    assert result.estimate_relative_error == 0.0
    # The truth's estimate is tiphub.estimate's on the truth's capture histories.
    table = capture_table(capture_histories(truth["list"], truth["true_id"]))
    assert result.population_true == pytest.approx(estimate(table, "stepwise").population)
    assert result.observed_true == records["true_id"].nunique()
    assert result.population_true is not None
    assert result.observed_true is not None
    assert result.population_true > result.observed_true


def test_mse_error_when_two_lists_records_are_wrongly_merged() -> None:
    records = _three_list_records()
    lists_of = records.groupby("true_id")["list"].agg(lambda values: "".join(sorted(values)))
    only_a = lists_of[lists_of == "A"].index[:150]
    only_b = lists_of[lists_of == "B"].index[:150]
    merged = dict(zip(only_b, only_a, strict=True))
    clusters = pd.DataFrame(
        {
            "record_id": records["record_id"],
            "cluster_id": records["true_id"].replace(merged),
        }
    )
    # Lists come from the truth here (the clusters have no list column).
    result = evaluate(clusters, records, mse_options={"profile": False})
    assert result.mse_skipped is None
    # 150 people seen only on A and 150 only on B became 150 people on both: 150 fewer seen,
    # and a larger A∩B overlap, so a smaller estimate.
    assert result.observed_difference == -150
    assert result.estimate_error is not None
    assert result.population_true is not None
    assert result.estimate_error < -100
    assert result.estimate_relative_error == pytest.approx(
        result.estimate_error / result.population_true
    )
    assert result.estimate_abs_error == pytest.approx(-result.estimate_error)
    assert result.false_positive_pairs == 150
    assert result.recall == 1.0


def test_mse_other_method_lists_series_and_skips() -> None:
    records = _three_list_records(seed=3, people=800)
    clusters = records[["record_id", "true_id"]].rename(columns={"true_id": "cluster_id"})
    truth = records[["record_id", "true_id"]]
    assert evaluate(clusters, truth).mse_skipped == "list membership is unknown (no list column)"
    lists = pd.Series(records["list"].to_numpy(), index=records["record_id"])
    result = evaluate(clusters, truth, lists=lists, mse_method="main")
    assert result.mse_method == "main"
    assert result.mse_true is not None
    assert result.mse_true.method == "main"
    assert result.estimate_error == 0.0
    assert evaluate(clusters, truth, lists=lists, mse=False).mse_skipped == "not requested"
    one_list = pd.Series("A", index=records["record_id"])
    skipped = evaluate(clusters, truth, lists=one_list)
    assert skipped.mse_skipped is not None
    assert "at least 2 lists" in skipped.mse_skipped
    assert skipped.population_true is None
    assert "not computed" in skipped.summary()
    with pytest.raises(EvaluationError, match="unknown MSE method"):
        evaluate(clusters, truth, mse_method="magic")


def test_lists_from_clusters_fall_back_to_truth_and_disagreements_warn() -> None:
    clusters = pd.DataFrame(
        {
            "record_id": ["1", "2", "3", "4"],
            "cluster_id": ["a", "a", "b", "c"],
            "list": ["A", None, "B", "A"],
        }
    )
    truth = pd.DataFrame(
        {
            "record_id": ["1", "2", "3", "4"],
            "true_id": ["a", "a", "b", "c"],
            "list": ["A", "B", "A", "A"],
        }
    )
    result = evaluate(clusters, truth, mse_method="main")
    # Record 2 takes B from the truth; record 3 is B in the clusters but A in the truth.
    assert any("1 records are on different lists" in warning for warning in result.warnings)
    # a = {A, B}, b = {B}, c = {A}: three people seen either way.
    assert result.observed_predicted == result.observed_true == 3


# ---------------------------------------------------------------------- results object


def test_to_dict_is_json_ready_and_summary_reads() -> None:
    records = _three_list_records(seed=5, people=600)
    candidates = pd.DataFrame({"record_id_l": ["A-1"], "record_id_r": ["B-1"]})
    result = evaluate(
        records.rename(columns={"true_id": "cluster_id"}), records, candidate_pairs=candidates
    )
    assert isinstance(result, LinkageEvaluation)
    data = result.to_dict()
    json.dumps(data)
    assert list(data) == [
        "records_clusters", "records_truth", "records_evaluated", "records_only_in_clusters",
        "records_only_in_truth", "true_pairs", "predicted_pairs", "true_positive_pairs",
        "false_positive_pairs", "false_negative_pairs", "precision", "recall", "f1",
        "precision_over_recall", "predicted_clusters", "true_entities", "correct_clusters",
        "cluster_precision", "cluster_recall", "cluster_f1", "candidate_pairs",
        "true_pairs_in_candidates", "blocking_recall", "lists", "mse_method",
        "observed_predicted", "observed_true", "observed_difference", "population_predicted",
        "population_true", "population_predicted_interval_95", "population_true_interval_95",
        "estimate_error", "estimate_abs_error", "estimate_relative_error", "mse_skipped",
        "warnings", "seconds",
    ]  # fmt: skip
    assert data["precision"] == 1.0
    assert data["lists"] == ["A", "B", "C"]
    assert data["estimate_error"] == 0.0
    assert len(data["population_true_interval_95"]) == 2
    text = result.summary()
    assert "Precision ÷ recall:" in text
    assert "Blocking recall:" in text
    assert f"{result.observed_true:,}" in text


# ---------------------------------------------------------------------- reading CSV


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_clusters_and_truth_with_extra_columns(tmp_path: Path) -> None:
    clusters = _write(
        tmp_path / "clusters.csv",
        "\ufeffnote, record_id ,cluster_id,list,note\n"
        "x, r1 ,C1,A,y\n"
        "\n"
        "x,r2, C1 ,B,y\n"
        "x,r3,C2,A,y\n",
    )
    frame = read_clusters(clusters)
    assert list(frame.columns) == ["record_id", "cluster_id", "list"]
    assert frame.values.tolist() == [["r1", "C1", "A"], ["r2", "C1", "B"], ["r3", "C2", "A"]]
    truth = _write(
        tmp_path / "truth.csv",
        "record_id,given_name,true_person_id,entity_id\nr1,Ann,P1,E9\nr2,Ann,P1,E9\nr3,Bo,P2,E9\n",
    )
    read = read_truth(truth)
    assert list(read.columns) == ["record_id", "true_id"]
    assert read["true_id"].tolist() == ["P1", "P1", "P2"]
    pairs = _write(tmp_path / "pairs.csv", "record_id_l,record_id_r,match_probability\nr1,r2,0.9\n")
    result = evaluate(frame, read, candidate_pairs=read_candidate_pairs(pairs), mse_method="main")
    assert result.precision == result.recall == 1.0
    assert result.blocking_recall == 1.0


SECRET = "Maria Secretname"


@pytest.mark.parametrize(
    ("reader", "text", "row", "column", "reason"),
    [
        (read_clusters, "record_id,list\nr1,A\n", None, "cluster_id", "required column is missing"),
        (read_truth, "id,true_id\nr1,P\n", None, "record_id", "required column is missing"),
        (
            read_clusters,
            f"record_id,cluster_id,name\nr1,C1,{SECRET}\n\nr2,,{SECRET}\n",
            4,
            "cluster_id",
            "the value is empty",
        ),
        (
            read_clusters,
            f"record_id,cluster_id,list\n{SECRET},C1,A\n ,C2,B\n",
            3,
            "record_id",
            "the value is empty",
        ),
        (
            read_truth,
            f"record_id,true_id\n{SECRET},P1\nr2,P2\n\n {SECRET} ,P3\n",
            5,
            "record_id",
            "record_id is not unique (first seen on row 2)",
        ),
        (read_truth, "record_id,true_id,list\nr1,P1,\n", 2, "list", "the value is empty"),
        (
            read_candidate_pairs,
            f"record_id_l,record_id_r\n{SECRET},r2\nr3,\n",
            3,
            "record_id_r",
            "the value is empty",
        ),
    ],
)
def test_read_errors_name_file_row_and_column_never_values(
    tmp_path: Path,
    reader: object,
    text: str,
    row: int | None,
    column: str,
    reason: str,
) -> None:
    path = _write(tmp_path / "input.csv", text)
    with pytest.raises(EvaluationError) as caught:
        reader(path)  # type: ignore[operator]
    error = caught.value
    assert error.source == str(path)
    assert error.row == row
    assert error.column == column
    assert reason in str(error)
    assert str(path) in str(error)
    assert SECRET not in str(error)
    if row is not None:
        assert f"row {row}" in str(error)
    assert f"column '{column}'" in str(error)


def test_read_errors_without_a_column(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="file not found"):
        read_clusters(tmp_path / "missing.csv")
    with pytest.raises(EvaluationError, match="the file is empty"):
        read_clusters(_write(tmp_path / "empty.csv", ""))
    with pytest.raises(EvaluationError, match="no true entity column"):
        read_truth(_write(tmp_path / "truth.csv", "record_id,person\nr1,P1\n"))
    too_many = _write(tmp_path / "wide.csv", f"record_id,cluster_id\nr1,C1\nr2,C2,{SECRET}\n")
    with pytest.raises(EvaluationError, match="row 3: the row has more cells") as caught:
        read_clusters(too_many)
    assert SECRET not in str(caught.value)
    twice = _write(tmp_path / "twice.csv", "record_id,cluster_id,record_id\nr1,C1,r1\n")
    with pytest.raises(EvaluationError, match="appears twice"):
        read_clusters(twice)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("record_id,cluster_id\nr1,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(EvaluationError, match="not UTF-8"):
        read_clusters(latin)


def test_evaluate_checks_frames() -> None:
    truth = HAND_TRUTH
    with pytest.raises(EvaluationError, match="column 'cluster_id': the required column"):
        evaluate(HAND_CLUSTERS.drop(columns="cluster_id"), truth)
    with pytest.raises(EvaluationError, match="no true entity column"):
        evaluate(HAND_CLUSTERS, truth.rename(columns={"true_person_id": "person"}))
    duplicated = pd.DataFrame({"record_id": ["1", "2", "1"], "cluster_id": ["a", "b", "c"]})
    with pytest.raises(
        EvaluationError, match=r"clusters, row 3, column 'record_id'.*first seen on row 1"
    ):
        evaluate(duplicated, truth)
    empty = pd.DataFrame({"record_id": ["1", None], "cluster_id": ["a", "b"]})
    with pytest.raises(EvaluationError, match="truth, row 3, column 'true_id': the value is empty"):
        evaluate(
            HAND_CLUSTERS, pd.DataFrame({"record_id": ["1", "2", "3"], "true_id": ["a", "b", ""]})
        )
    with pytest.raises(
        EvaluationError, match="clusters, row 2, column 'record_id': the value is empty"
    ):
        evaluate(empty, truth)
    with pytest.raises(EvaluationError, match="candidate pairs, column 'record_id_r'"):
        evaluate(HAND_CLUSTERS, truth, candidate_pairs=pd.DataFrame({"record_id_l": ["1"]}))


def test_capture_table_rejects_too_many_lists() -> None:
    frame = pd.DataFrame({**{f"L{i}": [1] for i in range(17)}, "count": [1]})
    with pytest.raises(EvaluationError, match="at most 16 lists"):
        capture_table(frame)
    stratified = capture_histories(
        pd.Series(["A", "B"]), pd.Series([1, 2]), pd.Series(["x", "y"], name="region")
    )
    with pytest.raises(EvaluationError, match="0 or 1"):
        capture_table(stratified)
    assert isinstance(capture_table(frame.drop(columns="L16")), CaptureTable)

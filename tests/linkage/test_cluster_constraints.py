"""Reviewers' cannot-link decisions hold against bridges through third records (issue 17).

Before the fix a cannot-link only set its own pair's probability to 0: a third record linked
strongly to both still put the two into one cluster, and nothing said so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from tiphub.linkage import linker
from tiphub.linkage.api import cannot_link_conflicts_frame
from tiphub.linkage.cluster import (
    STRONG_PROBABILITY,
    CannotLinkConflict,
    choose_threshold,
    cluster,
    list_masks,
)
from tiphub.linkage.linker import ScoredPairs, link_records
from tiphub.linkage.records import IDENTITY_COLUMNS, RecordSet
from tiphub.linkage.report import render_report

A, B, C = 0, 1, 2
# a-b and b-c are strong; a-c was never scored (the model saw no likeness), so only the
# bridge through b can join a and c.
TRIANGLE_LEFT = np.array([A, B])
TRIANGLE_RIGHT = np.array([B, C])
TRIANGLE_PROBABILITY = np.array([0.97, 0.93])
THREE_LISTS = np.array([0, 1, 2])


def test_a_bridge_through_a_third_record_joins_a_and_c_without_constraints() -> None:
    # The situation of the issue: this is what a cannot-link on a-c used to leave as it was.
    plain = cluster(3, TRIANGLE_LEFT, TRIANGLE_RIGHT, TRIANGLE_PROBABILITY, THREE_LISTS, 0.5)
    assert plain.cluster[A] == plain.cluster[C]
    assert plain.conflicts == ()


def test_a_cannot_link_is_not_bridged_and_the_refused_link_is_reported() -> None:
    result = cluster(
        3,
        TRIANGLE_LEFT,
        TRIANGLE_RIGHT,
        TRIANGLE_PROBABILITY,
        THREE_LISTS,
        0.5,
        cannot_link=[(C, A)],
    )
    assert result.cluster[A] != result.cluster[C]
    # The stronger edge is taken; the weaker one would bridge and is refused.
    assert result.cluster[A] == result.cluster[B]
    assert result.used_edges.tolist() == [True, False]
    assert result.conflicts == (CannotLinkConflict(1, B, C, A, C),)


def test_a_cannot_link_holds_against_strong_edges_and_without_the_one_to_one_rule() -> None:
    for strong, one_to_one in ((np.array([True, True]), True), (None, False)):
        result = cluster(
            3,
            TRIANGLE_LEFT,
            TRIANGLE_RIGHT,
            np.array([1.0, 1.0]),
            np.array([0, 0, 0]),
            0.5,
            strong=strong,
            one_to_one=one_to_one,
            cannot_link=[(A, C)],
        )
        assert result.cluster[A] != result.cluster[C]
        assert len(result.conflicts) == 1


def test_an_edge_the_one_to_one_rule_refuses_anyway_is_no_conflict() -> None:
    # c is in a's list: the one-to-one rule alone keeps b-c out, the cannot-link changes nothing.
    result = cluster(
        3,
        TRIANGLE_LEFT,
        TRIANGLE_RIGHT,
        TRIANGLE_PROBABILITY,
        np.array([0, 1, 0]),
        0.5,
        cannot_link=[(A, C)],
    )
    assert result.cluster[A] != result.cluster[C]
    assert result.conflicts == ()


def test_an_edge_below_the_threshold_is_no_conflict() -> None:
    result = cluster(
        3,
        TRIANGLE_LEFT,
        TRIANGLE_RIGHT,
        TRIANGLE_PROBABILITY,
        THREE_LISTS,
        0.95,
        cannot_link=[(A, C)],
    )
    assert result.conflicts == ()


def test_choose_threshold_honours_cannot_links_at_every_threshold() -> None:
    choice = choose_threshold(
        3,
        TRIANGLE_LEFT,
        TRIANGLE_RIGHT,
        TRIANGLE_PROBABILITY,
        THREE_LISTS,
        cannot_link=[(A, C)],
        grid=np.array([0.1, 0.5, 0.9]),
    )
    assert choice.clustering.cluster[A] != choice.clustering.cluster[C]
    assert choice.clustering.conflicts == (CannotLinkConflict(1, B, C, A, C),)
    # Two of the three pairs at most can be linked at any threshold.
    assert all(entry["implied_pairs"] <= 1 for entry in choice.curve)


@pytest.mark.parametrize(
    "constraints", [[(0, 3)], [(1, 1)], [(-1, 2)]], ids=["outside", "itself", "negative"]
)
def test_impossible_constraints_are_refused(constraints: list[tuple[int, int]]) -> None:
    with pytest.raises(ValueError, match="cannot-link"):
        cluster(
            3,
            TRIANGLE_LEFT,
            TRIANGLE_RIGHT,
            TRIANGLE_PROBABILITY,
            THREE_LISTS,
            0.5,
            cannot_link=constraints,
        )


# -- against a plain reference on random graphs ---------------------------------------------


def _root(parent: list[int], node: int) -> int:
    while parent[node] != node:
        node = parent[node]
    return node


def reference_cluster(
    n_records: int,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    list_codes: np.ndarray,
    threshold: float,
    strong: np.ndarray,
    cannot_link: Sequence[tuple[int, int]],
) -> tuple[list[int], list[bool], list[int], list[set[tuple[int, int]]]]:
    """Greedy clustering written plainly: roots, used edges, refused edges, and for each
    refused edge every cannot-linked pair it would have joined."""
    parent = list(range(n_records))
    lists = [{int(code)} for code in list_codes]
    used = [False] * len(left)
    refused: list[int] = []
    joined_pairs: list[set[tuple[int, int]]] = []
    for edge in np.lexsort((right, left, -probability)).tolist():
        if probability[edge] < threshold:
            continue
        a, b = _root(parent, int(left[edge])), _root(parent, int(right[edge]))
        if a == b:
            used[edge] = True
            continue
        is_strong = bool(strong[edge]) or probability[edge] >= STRONG_PROBABILITY
        if lists[a] & lists[b] and not is_strong:
            continue
        joined = {
            (min(x, y), max(x, y))
            for x, y in cannot_link
            if {_root(parent, x), _root(parent, y)} == {a, b}
        }
        if joined:
            refused.append(edge)
            joined_pairs.append(joined)
            continue
        root, child = min(a, b), max(a, b)
        parent[child] = root
        lists[root] |= lists[child]
        used[edge] = True
    return [_root(parent, node) for node in range(n_records)], used, refused, joined_pairs


def random_graph(
    seed: int, n_records: int = 300, n_edges: int = 900, n_constraints: int = 40
) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    # Few people, many records each: large clusters, so that constraints get bridged.
    people = rng.integers(0, n_records // 6, n_records)

    def same_person(records: np.ndarray) -> np.ndarray:
        return np.array([rng.choice(np.flatnonzero(people == people[x])) for x in records])

    # Half the candidate pairs are of one person, as blocking finds them.
    left = rng.integers(0, n_records, n_edges)
    right = np.where(
        np.arange(n_edges) % 2 == 0, same_person(left), rng.integers(0, n_records, n_edges)
    )
    keep = left != right
    left, right = np.minimum(left, right)[keep], np.maximum(left, right)[keep]
    same = people[left] == people[right]
    probability = np.where(same, rng.uniform(0.6, 1.0, len(left)), rng.uniform(0, 0.7, len(left)))
    strong = rng.random(len(left)) < 0.05
    list_codes = rng.integers(0, 4, n_records)
    # Half the constraints split one simulated person (a reviewer correcting the model), half
    # join random records (mostly of different people, cut anyway).
    first = rng.integers(0, n_records, n_constraints)
    second = np.where(
        np.arange(n_constraints) % 2 == 0,
        same_person(first),
        rng.integers(0, n_records, n_constraints),
    )
    pairs = np.stack([first, second], axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return left, right, probability, strong, list_codes, pairs


@pytest.mark.parametrize("seed", range(12))
def test_clusters_agree_with_a_plain_reference_on_random_graphs(seed: int) -> None:
    left, right, probability, strong, list_codes, pairs = random_graph(seed)
    constraints = [(int(x), int(y)) for x, y in pairs]
    for threshold in (0.3, 0.6, 0.9):
        result = cluster(
            300,
            left,
            right,
            probability,
            list_codes,
            threshold,
            strong=strong,
            cannot_link=constraints,
        )
        roots, used, refused, joined = reference_cluster(
            300, left, right, probability, list_codes, threshold, strong, constraints
        )
        assert result.cluster.tolist() == roots
        assert result.used_edges.tolist() == used
        assert [conflict.edge for conflict in result.conflicts] == refused
        for conflict, pairs_joined in zip(result.conflicts, joined, strict=True):
            assert (conflict.left, conflict.right) == (left[conflict.edge], right[conflict.edge])
            assert (conflict.cannot_left, conflict.cannot_right) in pairs_joined
        for x, y in constraints:
            assert result.cluster[x] != result.cluster[y]


def test_random_graphs_do_bridge_cannot_links() -> None:
    # Otherwise the comparison above would pass with constraints that never matter.
    conflicts = 0
    for seed in range(12):
        left, right, probability, strong, list_codes, pairs = random_graph(seed)
        result = cluster(300, left, right, probability, list_codes, 0.6, strong=strong)
        conflicts += sum(result.cluster[x] == result.cluster[y] for x, y in pairs)
    assert conflicts >= 24


@pytest.mark.parametrize("seed", range(12))
def test_without_constraints_the_clusters_are_those_of_before(seed: int) -> None:
    left, right, probability, strong, list_codes, _ = random_graph(seed)
    for threshold in (0.3, 0.6, 0.9):
        without = cluster(300, left, right, probability, list_codes, threshold, strong=strong)
        empty = cluster(
            300, left, right, probability, list_codes, threshold, strong=strong, cannot_link=[]
        )
        roots, used, refused, _ = reference_cluster(
            300, left, right, probability, list_codes, threshold, strong, []
        )
        assert without.cluster.tolist() == empty.cluster.tolist() == roots
        assert without.used_edges.tolist() == empty.used_edges.tolist() == used
        assert without.conflicts == empty.conflicts == () and refused == []


def test_list_masks_are_one_bit_per_list() -> None:
    # The reference keeps sets of lists; the kernel bits. They agree while lists are < 63.
    masks = list_masks(np.arange(5))
    assert [int(mask).bit_count() for mask in masks] == [1] * 5
    assert len(set(masks.tolist())) == 5


# -- through link_records --------------------------------------------------------------------


def triangle_records() -> RecordSet:
    """Three synthetic records, one per list; their values matter to nothing here."""
    frame = pd.DataFrame(
        {
            "record_id": ["a", "b", "c"],
            "list": ["ngo", "police", "shelter"],
            **{name: [None, None, None] for name in IDENTITY_COLUMNS},
        }
    )
    frame["given_name"] = ["Ana", "Ana", "Anna"]
    frame["family_name"] = ["Popescu", "Popescu", "Popesco"]
    frame["date_of_birth"] = ["1990-01-02", "1990", "1990-01-02"]
    return RecordSet(frame.astype(object), ("test",))


def stub_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Score the triangle as given, without training a model: a-b and b-c strong, a-c not a
    candidate. The refit is the identity, so the probabilities stay as written."""

    def score_records(records: RecordSet, **_: object) -> tuple[pd.DataFrame, ScoredPairs]:
        probability = TRIANGLE_PROBABILITY
        frame = pd.DataFrame(
            {
                "unique_id_l": TRIANGLE_LEFT,
                "unique_id_r": TRIANGLE_RIGHT,
                "match_probability": probability,
                "match_weight": np.log2(probability / (1 - probability)),
            }
        )
        model = {"probability_two_random_records_match": 0.01, "comparisons": []}
        return records.frame.copy(), ScoredPairs(frame, [], model)

    def refit_probabilities(scored: ScoredPairs, list_codes: np.ndarray) -> None:
        scored.frame["within_probability"] = scored.frame["match_probability"]

    monkeypatch.setattr(linker, "score_records", score_records)
    monkeypatch.setattr(linker, "refit_probabilities", refit_probabilities)


def test_link_records_keeps_cannot_linked_records_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    stub_scoring(monkeypatch)
    # A given threshold: the chosen one could move above b-c, where there is nothing to refuse.
    before = link_records(triangle_records(), threshold=0.5)
    assert before.clustering.cluster[A] == before.clustering.cluster[C]
    assert before.cannot_link_conflicts == ()

    result = link_records(triangle_records(), threshold=0.5, cannot_link=[(A, C)])
    clusters = result.clusters_frame().set_index("record_id")["cluster_id"]
    assert clusters["a"] != clusters["c"]
    [conflict] = result.cannot_link_conflicts
    assert (conflict.left, conflict.right) == (B, C)
    assert (conflict.cannot_left, conflict.cannot_right) == (A, C)
    assert result.pairs.loc[conflict.edge, ["unique_id_l", "unique_id_r"]].tolist() == [B, C]


def test_the_report_lists_refused_links_by_record_id(monkeypatch: pytest.MonkeyPatch) -> None:
    stub_scoring(monkeypatch)
    result = link_records(triangle_records(), threshold=0.5, cannot_link=[(A, C)])
    conflicts = cannot_link_conflicts_frame(result)
    assert conflicts.drop(columns="match_probability").values.tolist() == [["b", "c", "a", "c"]]
    empty = pd.DataFrame(columns=["record_id_l", "record_id_r", "match_probability"])

    def page(conflicts: pd.DataFrame | None) -> str:
        return render_report(
            summary={"cannot_link_conflicts": 0 if conflicts is None else len(conflicts)},
            choice=None,
            pairs=empty,
            links=empty,
            comparisons=[],
            model=None,
            conflicts=conflicts,
        )

    shown = page(conflicts)
    assert "cannot-link decisions" in shown
    assert "<td>b</td><td>c</td><td class=n>0.930</td><td>a</td><td>c</td>" in shown
    # Record IDs only: no name of the records reaches the report.
    assert "Ana" not in shown and "Popesc" not in shown
    assert "cannot-link decisions" not in page(None)
    assert "cannot-link decisions" not in page(conflicts.iloc[:0])

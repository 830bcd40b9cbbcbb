"""Clusters from scored pairs: greedy connected components with a one-to-one rule per list.

Edges are taken strongest first. An edge joins two clusters only when they hold no record of
the same list: an agency rarely records one person twice, so a second record of the same
list in a cluster is more often a wrong merge than a real duplicate. The rule is lifted for
*strong* edges (equal agency identifiers, a reviewer's decision, or overwhelming evidence).

The operating threshold is chosen so that estimated precision ÷ recall is 1: with two lists
a Multiple Systems Estimate scales with precision ÷ recall of the linkage, so that ratio, not
F1, keeps a prevalence estimate unbiased. Without labels, the model's match probabilities
give the expected number of true matching pairs, ``M = Σ p``; the clusters at threshold t
imply ``L(t)`` pairs, of which about ``Σ p`` over those pairs are true. Then
``precision = TP/L`` and ``recall = TP/M`` and precision ÷ recall ``= M / L(t)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from tiphub.unionfind import find_root

# Probability at which a same-list pair counts as very strong evidence.
STRONG_PROBABILITY = 0.999999


@njit(cache=True)
def _greedy_components(
    n_records: int,
    left: np.ndarray,
    right: np.ndarray,
    accepted: np.ndarray,
    strong: np.ndarray,
    list_mask: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    parent = np.arange(n_records)
    masks = list_mask.copy()
    used = np.zeros(len(left), dtype=np.bool_)
    for edge in range(len(left)):
        if not accepted[edge]:
            continue
        a = find_root(parent, left[edge])
        b = find_root(parent, right[edge])
        if a == b:
            used[edge] = True
            continue
        if (masks[a] & masks[b]) != 0 and not strong[edge]:
            continue
        if a < b:
            parent[b] = a
            masks[a] |= masks[b]
        else:
            parent[a] = b
            masks[b] |= masks[a]
        used[edge] = True
    roots = np.empty(n_records, dtype=np.int64)
    for node in range(n_records):
        roots[node] = find_root(parent, node)
    return roots, used


@dataclass(frozen=True)
class Clustering:
    """Cluster of every record (the smallest record index of the cluster) and its edges."""

    cluster: np.ndarray
    used_edges: np.ndarray
    threshold: float

    @property
    def n_clusters(self) -> int:
        return len(np.unique(self.cluster))

    def labels(self) -> list[str]:
        """Readable cluster IDs (C000001…), numbered in order of each cluster's first record."""
        _, first_index, inverse = np.unique(self.cluster, return_index=True, return_inverse=True)
        rank = np.empty(len(first_index), dtype=np.int64)
        rank[np.argsort(first_index)] = np.arange(len(first_index))
        width = max(len(str(len(first_index))), 6)
        return [f"C{number:0{width}d}" for number in (rank[inverse] + 1)]

    def implied_pairs(self) -> int:
        _, sizes = np.unique(self.cluster, return_counts=True)
        return int((sizes * (sizes - 1) // 2).sum())


def list_masks(list_codes: np.ndarray) -> np.ndarray:
    """A bit per list; lists beyond 63 share bits, which only weakens the one-to-one rule."""
    return np.left_shift(np.int64(1), (list_codes % 63).astype(np.int64))


def cluster(
    n_records: int,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    list_codes: np.ndarray,
    threshold: float,
    *,
    strong: np.ndarray | None = None,
    one_to_one: bool = True,
) -> Clustering:
    """Greedy clustering of the pairs at or above ``threshold``, strongest first."""
    order = np.lexsort((right, left, -probability))
    accepted = probability[order] >= threshold
    strong_sorted = (
        np.zeros(len(order), dtype=np.bool_) if strong is None else strong[order].astype(bool)
    )
    strong_sorted |= probability[order] >= STRONG_PROBABILITY
    if not one_to_one:
        strong_sorted[:] = True
    roots, used_sorted = _greedy_components(
        n_records,
        left[order].astype(np.int64),
        right[order].astype(np.int64),
        accepted,
        strong_sorted,
        list_masks(list_codes),
    )
    used = np.zeros(len(order), dtype=bool)
    used[order] = used_sorted
    return Clustering(roots, used, threshold)


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    expected_matches: float
    implied_pairs: int
    expected_true_links: float
    estimated_precision: float
    estimated_recall: float
    curve: list[dict[str, float]]
    clustering: Clustering = field(repr=False)

    @property
    def precision_over_recall(self) -> float:
        return self.estimated_precision / self.estimated_recall if self.estimated_recall else 0.0


def estimate_quality(
    clustering: Clustering,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
) -> tuple[float, float, int, float]:
    """(precision, recall, implied pairs, expected true links) estimated from probabilities.

    Pairs that a cluster implies but that were never scored (joined only through others)
    are counted as true with the probability of the weakest edge on their path, which is
    approximated here by the mean probability of the used edges of their cluster.
    """
    expected_matches = float(probability.sum())
    same = clustering.cluster[left] == clustering.cluster[right]
    scored_in = float(probability[same].sum())
    scored_count = int(same.sum())
    implied = clustering.implied_pairs()
    unscored = implied - scored_count
    used_probability = probability[clustering.used_edges]
    mean_used = float(used_probability.mean()) if len(used_probability) else 0.0
    true_links = scored_in + max(unscored, 0) * mean_used
    precision = true_links / implied if implied else 1.0
    recall = true_links / expected_matches if expected_matches else 1.0
    return precision, min(recall, 1.0), implied, true_links


def choose_threshold(
    n_records: int,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    list_codes: np.ndarray,
    *,
    strong: np.ndarray | None = None,
    one_to_one: bool = True,
    fixed: float | None = None,
    grid: np.ndarray | None = None,
) -> ThresholdChoice:
    """The threshold whose clusters have estimated precision ÷ recall closest to 1.

    Ties (a flat stretch of the curve) go to the highest such threshold: fewer links for the
    same balance.
    """
    if grid is None:
        grid = np.unique(
            np.concatenate([np.linspace(0.05, 0.95, 19), [0.5, 0.8, 0.9, 0.97, 0.99, 0.995]])
        )
    if fixed is not None:
        grid = np.unique(np.concatenate([grid, [fixed]]))
    expected_matches = float(probability.sum())
    curve: list[dict[str, float]] = []
    best: tuple[float, float] | None = None
    best_entry: dict[str, float] = {}
    best_clustering: Clustering | None = None
    for threshold in grid:
        clustering = cluster(
            n_records,
            left,
            right,
            probability,
            list_codes,
            float(threshold),
            strong=strong,
            one_to_one=one_to_one,
        )
        precision, recall, implied, true_links = estimate_quality(
            clustering, left, right, probability
        )
        ratio = precision / recall if recall else float("inf")
        entry = {
            "threshold": float(threshold),
            "estimated_precision": precision,
            "estimated_recall": recall,
            "precision_over_recall": ratio,
            "implied_pairs": float(implied),
            "expected_true_links": true_links,
        }
        curve.append(entry)
        distance = abs(np.log(ratio)) if 0 < ratio < float("inf") else float("inf")
        if fixed is not None:
            distance = 0.0 if threshold == fixed else float("inf")
        if best is None or distance <= best[0] + 1e-12:
            best = (distance, float(threshold))
            best_entry = entry
            best_clustering = clustering
    assert best is not None and best_clustering is not None
    return ThresholdChoice(
        threshold=best[1],
        expected_matches=expected_matches,
        implied_pairs=int(best_entry["implied_pairs"]),
        expected_true_links=best_entry["expected_true_links"],
        estimated_precision=best_entry["estimated_precision"],
        estimated_recall=best_entry["estimated_recall"],
        curve=curve,
        clustering=best_clustering,
    )

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

A reviewer's cannot-link decision holds against every path, not only the direct pair: an
edge that would put two cannot-linked records into one cluster is refused, even a strong
one, and recorded as a conflict for a reviewer to settle, so that a third record bridging
the pair can never override the decision silently.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numba import njit

from tiphub.unionfind import find_root

# Probability at which a same-list pair counts as very strong evidence.
STRONG_PROBABILITY = 0.999999


@njit(cache=True)
def _adjacency(
    n_nodes: int, left: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undirected edges as CSR: ``offsets`` per node, each slot's neighbour and its edge."""
    offsets = np.zeros(n_nodes + 1, dtype=np.int64)
    for edge in range(len(left)):
        offsets[left[edge] + 1] += 1
        offsets[right[edge] + 1] += 1
    for node in range(n_nodes):
        offsets[node + 1] += offsets[node]
    neighbour = np.empty(2 * len(left), dtype=np.int64)
    edge_of_slot = np.empty(2 * len(left), dtype=np.int64)
    filled = offsets[:-1].copy()
    for edge in range(len(left)):
        a, b = left[edge], right[edge]
        neighbour[filled[a]] = b
        edge_of_slot[filled[a]] = edge
        filled[a] += 1
        neighbour[filled[b]] = a
        edge_of_slot[filled[b]] = edge
        filled[b] += 1
    return offsets, neighbour, edge_of_slot


@njit(cache=True)
def _cannot_link_index(
    n_records: int, cannot_left: np.ndarray, cannot_right: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each record's cannot-link partners (CSR) and, per root, a chain of its constrained
    records; empty arrays without constraints, so that an unconstrained run allocates
    nothing per record."""
    size = n_records if len(cannot_left) else 0
    offsets, partners, _ = _adjacency(size, cannot_left, cannot_right)
    chain_head = np.full(size, -1, dtype=np.int64)
    chain_tail = np.full(size, -1, dtype=np.int64)
    chain_next = np.full(size, -1, dtype=np.int64)
    chain_count = np.zeros(size, dtype=np.int64)
    for pair in range(len(cannot_left)):
        for node in (cannot_left[pair], cannot_right[pair]):
            chain_head[node] = node
            chain_tail[node] = node
            chain_count[node] = 1
    return offsets, partners, chain_head, chain_tail, chain_next, chain_count


@njit(cache=True)
def _forbidden_pair(
    parent: np.ndarray,
    root: int,
    other: int,
    offsets: np.ndarray,
    partners: np.ndarray,
    chain_head: np.ndarray,
    chain_next: np.ndarray,
) -> tuple[int, int]:
    """A cannot-linked pair split between the clusters ``root`` and ``other``, or (-1, -1).

    Walks the constrained records of ``root`` only (the caller passes the shorter chain):
    constraints are few, so this stays cheap even when one cluster grows large.
    """
    member = chain_head[root]
    while member >= 0:
        for slot in range(offsets[member], offsets[member + 1]):
            partner = partners[slot]
            if find_root(parent, partner) == other:
                return member, partner
        member = chain_next[member]
    return -1, -1


@njit(cache=True)
def _greedy_components(
    n_records: int,
    left: np.ndarray,
    right: np.ndarray,
    accepted: np.ndarray,
    strong: np.ndarray,
    list_mask: np.ndarray,
    cannot_left: np.ndarray,
    cannot_right: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roots, used edges, and conflicts as rows (edge, cannot-linked record, its partner)."""
    parent = np.arange(n_records)
    masks = list_mask.copy()
    used = np.zeros(len(left), dtype=np.bool_)
    constrained = len(cannot_left) > 0
    offsets, partners, chain_head, chain_tail, chain_next, chain_count = _cannot_link_index(
        n_records, cannot_left, cannot_right
    )
    conflicts = np.empty((16 if constrained else 0, 3), dtype=np.int64)
    n_conflicts = 0
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
        if constrained and chain_count[a] > 0 and chain_count[b] > 0:
            shorter, longer = (a, b) if chain_count[a] <= chain_count[b] else (b, a)
            member, partner = _forbidden_pair(
                parent, shorter, longer, offsets, partners, chain_head, chain_next
            )
            if member >= 0:
                if n_conflicts == len(conflicts):
                    grown = np.empty((2 * len(conflicts), 3), dtype=np.int64)
                    grown[:n_conflicts] = conflicts
                    conflicts = grown
                conflicts[n_conflicts, 0] = edge
                conflicts[n_conflicts, 1] = member
                conflicts[n_conflicts, 2] = partner
                n_conflicts += 1
                continue
        if a < b:
            root, child = a, b
        else:
            root, child = b, a
        parent[child] = root
        masks[root] |= masks[child]
        if constrained and chain_count[child] > 0:
            if chain_count[root] > 0:
                chain_next[chain_tail[root]] = chain_head[child]
            else:
                chain_head[root] = chain_head[child]
            chain_tail[root] = chain_tail[child]
            chain_count[root] += chain_count[child]
        used[edge] = True
    roots = np.empty(n_records, dtype=np.int64)
    for node in range(n_records):
        roots[node] = find_root(parent, node)
    return roots, used, conflicts[:n_conflicts].copy()


class CannotLinkConflict(NamedTuple):
    """An edge accepted by the threshold (and the one-to-one rule) that was refused only
    because it would have joined a reviewer's cannot-linked pair into one cluster.

    ``edge`` indexes the pairs given to :func:`cluster`; the others are record positions.
    """

    edge: int
    left: int
    right: int
    cannot_left: int
    cannot_right: int


@dataclass(frozen=True)
class Clustering:
    """Cluster of every record (the smallest record index of the cluster) and its edges."""

    cluster: np.ndarray
    used_edges: np.ndarray
    threshold: float
    # Strongest refused edge first; empty without cannot-links.
    conflicts: tuple[CannotLinkConflict, ...] = ()

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


def cannot_link_array(
    n_records: int, cannot_link: Sequence[tuple[int, int]] | np.ndarray | None
) -> np.ndarray:
    """Cannot-linked pairs as an (n, 2) array of record positions, checked."""
    pairs = np.asarray([] if cannot_link is None else cannot_link, dtype=np.int64)
    pairs = pairs.reshape(-1, 2)
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= n_records):
        raise ValueError(f"a cannot-link names a record position outside 0..{n_records - 1}")
    if np.any(pairs[:, 0] == pairs[:, 1]):
        raise ValueError("a cannot-link pairs a record with itself")
    return pairs


def strongest_first(left: np.ndarray, right: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """Edge positions by falling probability, ties by record positions (deterministic)."""
    return np.lexsort((right, left, -probability))


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
    cannot_link: Sequence[tuple[int, int]] | np.ndarray | None = None,
    within_probability: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> Clustering:
    """Greedy clustering of the pairs at or above ``threshold``, strongest first.

    ``order``: the edges strongest first, as :func:`strongest_first` gives them, when the
    caller clusters the same edges at several thresholds.

    ``within_probability``: each pair's probability under the within-list prior (see
    :mod:`tiphub.linkage.calibrate`). Given, an edge may join two clusters that share a list
    when that probability clears the threshold too: the one-to-one rule becomes the
    estimated rate at which a list records one person twice, not a wall.

    ``cannot_link``: pairs of record positions that must end in different clusters; an edge
    that would join one is refused and reported in ``Clustering.conflicts``.
    """
    forbidden = cannot_link_array(n_records, cannot_link)
    if order is None:
        order = strongest_first(left, right, probability)
    accepted = probability[order] >= threshold
    strong_sorted = (
        np.zeros(len(order), dtype=np.bool_) if strong is None else strong[order].astype(bool)
    )
    if within_probability is None:
        strong_sorted |= probability[order] >= STRONG_PROBABILITY
    else:
        strong_sorted |= within_probability[order] >= threshold
    if not one_to_one:
        strong_sorted[:] = True
    left_sorted = left[order].astype(np.int64)
    right_sorted = right[order].astype(np.int64)
    roots, used_sorted, refused = _greedy_components(
        n_records,
        left_sorted,
        right_sorted,
        accepted,
        strong_sorted,
        list_masks(list_codes),
        np.ascontiguousarray(forbidden[:, 0]),
        np.ascontiguousarray(forbidden[:, 1]),
    )
    used = np.zeros(len(order), dtype=bool)
    used[order] = used_sorted
    conflicts = tuple(
        CannotLinkConflict(
            edge=int(order[sorted_edge]),
            left=int(left_sorted[sorted_edge]),
            right=int(right_sorted[sorted_edge]),
            cannot_left=int(min(member, partner)),
            cannot_right=int(max(member, partner)),
        )
        for sorted_edge, member, partner in refused.tolist()
    )
    return Clustering(roots, used, threshold, conflicts)


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


# Clusters above this size count only their scored pairs: summing paths over every pair
# costs the square of the size, and no person has this many records.
_PATH_CLUSTER_LIMIT = 200


@njit(cache=True)
def _path_true_pairs(
    n_records: int,
    roots: np.ndarray,
    tree_left: np.ndarray,
    tree_right: np.ndarray,
    tree_probability: np.ndarray,
) -> float:
    """Expected true pairs inside the clusters: each pair counts the product of the edge
    probabilities on its path through the cluster's maximum spanning tree."""
    degree, neighbour, edge_of_slot = _adjacency(n_records, tree_left, tree_right)
    weight = tree_probability[edge_of_slot]
    size = np.zeros(n_records, dtype=np.int64)
    for node in range(n_records):
        size[roots[node]] += 1
    total = 0.0
    stack_node = np.empty(n_records, dtype=np.int64)
    stack_from = np.empty(n_records, dtype=np.int64)
    stack_product = np.empty(n_records, dtype=np.float64)
    for start in range(n_records):
        if size[roots[start]] < 2 or size[roots[start]] > _PATH_CLUSTER_LIMIT:
            continue
        top = 0
        stack_node[0], stack_from[0], stack_product[0] = start, -1, 1.0
        top = 1
        while top > 0:
            top -= 1
            node, came_from, product = stack_node[top], stack_from[top], stack_product[top]
            if node > start:
                total += product
            for slot in range(degree[node], degree[node + 1]):
                nxt = neighbour[slot]
                if nxt != came_from:
                    stack_node[top] = nxt
                    stack_from[top] = node
                    stack_product[top] = product * weight[slot]
                    top += 1
    return total


def expected_true_pairs(
    clustering: Clustering, left: np.ndarray, right: np.ndarray, probability: np.ndarray
) -> float:
    """Expected true pairs among those the clusters imply, by paths through each cluster.

    A pair's own comparison may be poor (its names written differently) while both its
    records match a third one closely; what makes it a link is the chain. Each implied
    pair counts the product of the probabilities along its path in the cluster's maximum
    spanning tree, whether or not the pair itself was scored.
    """
    roots = clustering.cluster
    inside = np.flatnonzero(roots[left] == roots[right])
    order = inside[np.lexsort((right[inside], left[inside], -probability[inside]))]
    n_records = len(roots)
    parent = np.arange(n_records)
    in_tree = _spanning_edges(parent, left[order].astype(np.int64), right[order].astype(np.int64))
    tree = order[in_tree]
    total = _path_true_pairs(
        n_records,
        roots.astype(np.int64),
        left[tree].astype(np.int64),
        right[tree].astype(np.int64),
        probability[tree].astype(np.float64),
    )
    cluster_ids, sizes = np.unique(roots, return_counts=True)
    large = sizes > _PATH_CLUSTER_LIMIT
    if large.any():
        # A cluster this large is nearly always a chain of wrong merges: only its scored
        # pairs count, at their own probability, and its other implied pairs as false.
        in_large = np.isin(roots[left[inside]], cluster_ids[large])
        total += float(probability[inside][in_large].sum())
    return float(total)


@njit(cache=True)
def _spanning_edges(parent: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Kruskal over edges already sorted strongest first: which of them form the forest."""
    chosen = np.zeros(len(left), dtype=np.bool_)
    for edge in range(len(left)):
        a = find_root(parent, left[edge])
        b = find_root(parent, right[edge])
        if a != b:
            parent[b] = a
            chosen[edge] = True
    return chosen


def expected_missed_pairs(
    clustering: Clustering, left: np.ndarray, right: np.ndarray, probability: np.ndarray
) -> float:
    """Expected true pairs the clusters keep apart, counted cluster pair by cluster pair.

    Two clusters that are one person miss every pair between them, scored or not
    (``size_a × size_b``); the chance of that is the strongest scored pair between them,
    discounted by the share of their pairs that were scored at all.
    """
    roots = clustering.cluster
    apart = np.flatnonzero(roots[left] != roots[right])
    if not len(apart):
        return 0.0
    first = np.minimum(roots[left[apart]], roots[right[apart]]).astype(np.int64)
    second = np.maximum(roots[left[apart]], roots[right[apart]]).astype(np.int64)
    order = np.lexsort((second, first))
    first, second, strongest = first[order], second[order], probability[apart][order]
    starts = np.flatnonzero(np.r_[True, (first[1:] != first[:-1]) | (second[1:] != second[:-1])])
    sizes = np.bincount(roots.astype(np.int64), minlength=len(roots)).astype(np.float64)
    between = sizes[first[starts]] * sizes[second[starts]]
    # Records of one person mostly look alike pair by pair: the strongest pair counts as
    # far as the share of the pairs between the clusters that blocking found alike at all.
    scored = np.diff(np.r_[starts, len(first)]).astype(np.float64)
    chance = np.maximum.reduceat(strongest, starts) * np.sqrt(np.minimum(scored / between, 1.0))
    return float((between * chance).sum())


def estimate_quality(
    clustering: Clustering,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
) -> tuple[float, float, int, float]:
    """(precision, recall, implied pairs, expected true links) estimated from probabilities.

    True links inside the clusters are counted along paths (:func:`expected_true_pairs`);
    the true matches the clusters miss are the probabilities of the scored pairs they keep
    apart. So ``precision = TP / implied`` and ``recall = TP / (TP + missed)``.
    """
    implied = clustering.implied_pairs()
    true_links = expected_true_pairs(clustering, left, right, probability)
    missed = expected_missed_pairs(clustering, left, right, probability)
    precision = true_links / implied if implied else 1.0
    matches = true_links + missed
    recall = true_links / matches if matches else 1.0
    return min(precision, 1.0), min(recall, 1.0), implied, true_links


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
    cannot_link: Sequence[tuple[int, int]] | np.ndarray | None = None,
    within_probability: np.ndarray | None = None,
) -> ThresholdChoice:
    """The threshold whose clusters have estimated precision ÷ recall closest to 1.

    Ties (a flat stretch of the curve) go to the highest such threshold: fewer links for the
    same balance. ``cannot_link`` holds at every threshold (see :func:`cluster`).
    """
    forbidden = cannot_link_array(n_records, cannot_link)
    if grid is None:
        # Coarse, then refined where the curve crosses 1 (below): each point clusters every
        # edge, which on a million records takes seconds.
        grid = np.array([0.01, 0.03, 0.1, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 0.9, 0.97, 0.99])
    if fixed is not None:
        grid = np.unique(np.concatenate([grid, [fixed]]))
    expected_matches = float(probability.sum())
    order = strongest_first(left, right, probability)
    curve: list[dict[str, float]] = []
    best: tuple[float, float] | None = None
    best_entry: dict[str, float] = {}
    best_clustering: Clustering | None = None

    def evaluate(threshold: float) -> None:
        nonlocal best, best_entry, best_clustering
        clustering = cluster(
            n_records,
            left,
            right,
            probability,
            list_codes,
            threshold,
            strong=strong,
            one_to_one=one_to_one,
            cannot_link=forbidden,
            within_probability=within_probability,
            order=order,
        )
        precision, recall, implied, true_links = estimate_quality(
            clustering, left, right, probability
        )
        ratio = precision / recall if recall else float("inf")
        entry = {
            "threshold": threshold,
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
        better = best is None or distance < best[0] - 1e-12
        # Ties (a flat stretch) go to the higher threshold: fewer links, same balance.
        tied = best is not None and abs(distance - best[0]) <= 1e-12 and threshold > best[1]
        if better or tied:
            best = (distance, threshold)
            best_entry = entry
            best_clustering = clustering

    for threshold in grid:
        evaluate(float(threshold))
    if fixed is None:
        # Where the curve crosses 1 between two grid points, look closer: merges of large
        # clusters make it steep there.
        ordered = sorted(curve, key=lambda entry: entry["threshold"])
        for below, above in itertools.pairwise(ordered):
            if (below["precision_over_recall"] - 1) * (above["precision_over_recall"] - 1) < 0:
                for step in np.linspace(below["threshold"], above["threshold"], 6)[1:-1]:
                    evaluate(float(step))
        curve.sort(key=lambda entry: entry["threshold"])
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

"""Linkage error in the interval: resample the uncertain links inside the bootstrap.

A capture-history table written by ``tiphub link`` counts clusters of records. Where the
linker was unsure whether two records are one person, the table could have held one person
on two lists (a link) or two people on one list each (no link). The sidecar of the table
(see :mod:`tiphub.estimate.sidecar`) carries those doubts without identities:

* ``groups``: the parts of clusters that certain links (probability ≥ the band's top) hold
  together, each given only by the lists it is on;
* ``links``: the uncertain links between two groups, with the match probability and
  whether the linker took the link.

Each bootstrap replicate first draws every uncertain link with its probability (independently,
strongest first, and, as the linker does, refusing a link that would put two records of one
list in one cluster unless the sidecar marks it as strong evidence), which merges or splits
the affected clusters and so changes the table's cells; the replicate then resamples that
table and re-estimates. The same bootstrap without the link draws, at the same seed, gives
the interval without linkage error; the difference in width is the share from linkage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from tiphub.estimate.table import CaptureTable, CaptureTableError
from tiphub.unionfind import find_root

# The link draws use their own random stream, derived from the bootstrap's seed: the
# multinomial draws then match those of the bootstrap without link draws.
_LINK_STREAM = 0x4C494E4B


@njit(cache=True)
def _cluster_masks(
    masks: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    taken: np.ndarray,
    strong: np.ndarray,
    one_to_one: bool,
) -> np.ndarray:
    """The history (bit mask) of every cluster formed by the ``taken`` links, in order.

    A link joining two clusters that share a list is refused unless it is strong or
    ``one_to_one`` is off, as :func:`tiphub.linkage.cluster.cluster` does.
    """
    n = len(masks)
    parent = np.arange(n)
    union = masks.copy()
    for edge in range(len(left)):
        if not taken[edge]:
            continue
        a = find_root(parent, left[edge])
        b = find_root(parent, right[edge])
        if a == b:
            continue
        if one_to_one and (union[a] & union[b]) != 0 and not strong[edge]:
            continue
        if a < b:
            parent[b] = a
            union[a] |= union[b]
        else:
            parent[a] = b
            union[b] |= union[a]
    count = 0
    for node in range(n):
        if find_root(parent, node) == node:
            count += 1
    out = np.empty(count, dtype=np.int64)
    position = 0
    for node in range(n):
        if parent[node] == node:
            out[position] = union[node]
            position += 1
    return out


@dataclass(frozen=True)
class UncertainLinks:
    """The uncertain links of one linkage, as the sidecar carries them (no identities).

    ``groups`` holds each group's lists by name; ``left``/``right`` index ``groups``.
    """

    groups: tuple[tuple[str, ...], ...]
    left: np.ndarray
    right: np.ndarray
    probability: np.ndarray
    linked: np.ndarray
    strong: np.ndarray
    one_to_one: bool = True
    band: tuple[float, float] = (0.01, 0.99)

    @property
    def n_links(self) -> int:
        return len(self.left)

    def to_json(self) -> dict[str, Any]:
        links: list[dict[str, Any]] = []
        for a, b, p, taken, strong in zip(
            self.left.tolist(),
            self.right.tolist(),
            self.probability.tolist(),
            self.linked.tolist(),
            self.strong.tolist(),
            strict=True,
        ):
            link: dict[str, Any] = {"groups": [a, b], "probability": round(p, 6), "linked": taken}
            if strong:
                link["strong"] = True
            links.append(link)
        return {
            "band": list(self.band),
            "one_to_one": self.one_to_one,
            "groups": [list(group) for group in self.groups],
            "links": links,
        }

    @classmethod
    def from_json(cls, data: Any, source: str) -> UncertainLinks:
        """Read the sidecar's ``uncertain_links``; a malformed entry is refused by name."""

        def refuse(what: str) -> CaptureTableError:
            return CaptureTableError(
                f"the uncertain links are malformed ({what}); re-run 'tiphub link "
                "--capture-histories' to write the table and its sidecar again, or delete "
                "the sidecar to estimate without linkage error",
                source=source,
            )

        if not isinstance(data, Mapping):
            raise refuse("not an object")
        groups_data, links_data = data.get("groups"), data.get("links")
        if not isinstance(groups_data, list) or not isinstance(links_data, list):
            raise refuse("'groups' and 'links' must be lists")
        groups: list[tuple[str, ...]] = []
        for group in groups_data:
            if not isinstance(group, list) or not all(isinstance(name, str) for name in group):
                raise refuse("a group must be a list of list names")
            groups.append(tuple(group))
        left, right, probability, linked, strong = [], [], [], [], []
        for link in links_data:
            if not isinstance(link, Mapping):
                raise refuse("a link must be an object")
            pair, p, taken = link.get("groups"), link.get("probability"), link.get("linked")
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(g, int) and 0 <= g < len(groups) for g in pair)
                or pair[0] == pair[1]
            ):
                raise refuse("a link must name two different groups by their position")
            if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
                raise refuse("a link's probability must be a number from 0 to 1")
            if not isinstance(taken, bool):
                raise refuse("a link's 'linked' must be true or false")
            left.append(pair[0])
            right.append(pair[1])
            probability.append(float(p))
            linked.append(taken)
            strong.append(bool(link.get("strong", False)))
        band = data.get("band", [0.01, 0.99])
        return cls(
            groups=tuple(groups),
            left=np.asarray(left, dtype=np.int64),
            right=np.asarray(right, dtype=np.int64),
            probability=np.asarray(probability, dtype=float),
            linked=np.asarray(linked, dtype=bool),
            strong=np.asarray(strong, dtype=bool),
            one_to_one=bool(data.get("one_to_one", True)),
            band=(float(band[0]), float(band[1])),
        )


@dataclass
class LinkResampler:
    """Tables with the uncertain links redrawn: ``draw()`` gives one replicate's table.

    ``table`` is the table the links belong to, as ``tiphub link`` wrote it; ``after``
    turns a redrawn table into the one estimated (the user's ``--merge``/``--omit``).
    """

    table: CaptureTable
    links: UncertainLinks
    seed: int
    after: Callable[[CaptureTable], CaptureTable] | None = None
    observed: list[int] = field(default_factory=list)
    _masks: np.ndarray = field(init=False, repr=False)
    _fixed: np.ndarray = field(init=False, repr=False)
    _order: np.ndarray = field(init=False, repr=False)
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._masks = group_masks(self.links.groups, self.table)
        base = _cluster_masks(
            self._masks,
            self.links.left,
            self.links.right,
            self.links.linked,
            np.ones(self.links.n_links, dtype=np.bool_),
            False,
        )
        fixed = self.table.counts - _histogram(base, self.table.n_lists)
        if (fixed < 0).any():
            raise CaptureTableError(
                "the sidecar's uncertain links hold histories the table does not: the sidecar "
                "was written for another table. Re-run 'tiphub link --capture-histories', or "
                "delete the sidecar to estimate without linkage error",
                source=self.table.source,
            )
        self._fixed = fixed
        # Strongest first, as the linker takes them; ties in the sidecar's order.
        self._order = np.argsort(-self.links.probability, kind="stable")
        self._rng = np.random.default_rng(
            np.random.SeedSequence(self.seed, spawn_key=(_LINK_STREAM,))
        )

    def draw_counts(self) -> np.ndarray:
        """Cell counts of the linked table after one draw of every uncertain link."""
        order = self._order
        taken = self._rng.random(len(order)) < self.links.probability[order]
        clusters = _cluster_masks(
            self._masks,
            self.links.left[order],
            self.links.right[order],
            taken,
            self.links.strong[order],
            self.links.one_to_one,
        )
        counts: np.ndarray = self._fixed + _histogram(clusters, self.table.n_lists)
        return counts

    def draw(self) -> CaptureTable:
        redrawn = self.table.with_counts(self.draw_counts())
        self.observed.append(redrawn.observed)
        return self.after(redrawn) if self.after is not None else redrawn


def group_masks(groups: Sequence[Sequence[str]], table: CaptureTable) -> np.ndarray:
    """Each group's history as a bit mask over ``table``'s lists (0: on none of them)."""
    position = {name: index for index, name in enumerate(table.lists)}
    masks = np.zeros(len(groups), dtype=np.int64)
    for index, group in enumerate(groups):
        for name in group:
            if name not in position:
                raise CaptureTableError(
                    "the sidecar's uncertain links name a list the table does not have: the "
                    "sidecar was written for another table. Re-run 'tiphub link "
                    "--capture-histories', or delete the sidecar to estimate without "
                    "linkage error",
                    source=table.source,
                )
            masks[index] |= np.int64(1) << position[name]
    return masks


def _histogram(masks: np.ndarray, n_lists: int) -> np.ndarray:
    counts = np.bincount(masks, minlength=1 << n_lists).astype(np.int64)
    counts[0] = 0  # a cluster on no list is not in the table
    return counts


def linkage_share(width_without: float, width_with: float) -> float:
    """Share of the interval's width due to linkage: ``(with − without) / with``, in [0, 1].

    Monte-Carlo noise can make the interval with linkage error a little narrower when the
    links are nearly certain; that is read as no share, not a negative one.
    """
    if not (math.isfinite(width_with) and math.isfinite(width_without)) or width_with <= 0:
        return math.nan
    return min(max((width_with - width_without) / width_with, 0.0), 1.0)


@dataclass
class LinkageError:
    """A table's linkage error, as ``tiphub estimate`` hands it to :func:`estimate`.

    ``table`` is the table as ``tiphub link`` wrote it, ``after`` the list changes that turn
    it into the table estimated, ``figures`` the linkage's estimated precision and recall.
    """

    table: CaptureTable
    links: UncertainLinks
    figures: dict[str, Any] = field(default_factory=dict)
    after: Callable[[CaptureTable], CaptureTable] | None = None

    def resampler(self, seed: int) -> LinkResampler:
        return LinkResampler(self.table, self.links, seed, self.after)

    def described(self) -> dict[str, Any]:
        figures = {k: v for k, v in self.figures.items() if k != "uncertain_link_count"}
        return {
            **figures,
            "uncertain_links": self.links.n_links,
            "clusters_affected": len(self.links.groups),
            "uncertain_band": list(self.links.band),
        }


Estimator = Callable[[CaptureTable], float]
Progress = Callable[[int, int], None]


def add_linkage_error(
    result: Any,
    table: CaptureTable,
    linkage: LinkageError,
    estimator: Estimator | None,
    *,
    replicates: int,
    seed: int,
    progress: Progress | None = None,
) -> None:
    """Widen ``result``'s BCa interval by the linkage error, or say why it was not.

    ``result`` is an :class:`~tiphub.estimate.results.MSEResult` whose ``bca`` interval was
    bootstrapped with ``estimator`` at ``seed``; the bootstrap is repeated with the uncertain
    links redrawn in every replicate, and its interval becomes the headline one. The former
    stays as ``bca_without_linkage_error``; ``result.linkage`` says how much wider it got.
    """
    from tiphub.estimate.intervals import bootstrap

    report = linkage.described()
    plain = result.intervals.get("bca")
    if not linkage.links.n_links:
        report.update(propagated=False, reason="every link was certain")
        result.linkage = report
        return
    if estimator is None or plain is None or not replicates:
        report["propagated"] = False
        result.linkage = report
        if estimator is None:
            report["reason"] = "this method has no bootstrap to carry it"
        else:
            report["reason"] = "no bootstrap was run"
        from tiphub.estimate.limits import BOOTSTRAP_MAX_LISTS
        from tiphub.estimate.table import MAX_LISTS

        # Advice to add --bootstrap must not lead to a refusal: say what the limit needs.
        most = BOOTSTRAP_MAX_LISTS.get(str(result.method), MAX_LISTS)
        reason = "no-method" if estimator is None else "no-bootstrap"
        if estimator is not None and table.n_lists > most:
            reason = "too-many-lists"
        # The words (and the advice for each reason) are in tiphub.estimate.advice_texts.
        result.warn(
            "linkage-error-not-in-interval",
            values={
                "links": int(linkage.links.n_links),
                "reason": reason,
                "method": str(result.method),
                "most": most,
                "lists": table.n_lists,
            },
        )
        return
    resampler = linkage.resampler(seed)

    def second_half(done: int, total: int) -> None:
        if progress is not None:
            progress(total + done, 2 * total)

    boot = bootstrap(
        table,
        estimator,
        replicates=replicates,
        seed=seed,
        estimate=result.population,
        progress=second_half,
        replicate_source=resampler.draw,
    )
    linked = {f"{round(level * 100)}": boot.interval(level) for level in (0.95, 0.8)}
    result.intervals["bca_without_linkage_error"] = plain
    result.intervals["bca"] = linked
    finite = boot.replicates[np.isfinite(boot.replicates)]
    result.population_draws = finite
    if finite.size:
        result.diagnostics["bootstrap_replicates"] = int(finite.size)
        result.diagnostics["bootstrap_median"] = float(np.median(finite))
    result.diagnostics["bca_acceleration"] = boot.acceleration
    result.diagnostics["bca_bias_z0"] = boot.bias_z0
    width_without = _width(plain["95"])
    width_with = _width(linked["95"])
    observed = np.asarray(resampler.observed, dtype=float)
    report.update(
        {
            "propagated": True,
            "replicates": replicates,
            "seed": seed,
            "interval_95_without_linkage_error": [_round(v) for v in plain["95"]],
            "interval_95": [_round(v) for v in linked["95"]],
            "width_95_without_linkage_error": _round(width_without),
            "width_95": _round(width_with),
            "share_of_width_from_linkage": _round(linkage_share(width_without, width_with), 4),
            "observed_in_redrawn_tables": {
                "mean": _round(float(observed.mean())) if observed.size else None,
                "min": int(observed.min()) if observed.size else None,
                "max": int(observed.max()) if observed.size else None,
            },
        }
    )
    result.linkage = report


def _width(pair: tuple[float | None, float | None]) -> float:
    low, high = pair
    if low is None or high is None:
        return math.inf
    return float(high) - float(low)


def _round(value: float | None, digits: int = 1) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)

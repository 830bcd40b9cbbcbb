"""The sidecar ``tiphub link`` writes beside a capture-history table (``OUT.csv.json``).

It states the population the table counts (roles, organisations or files, period, strata,
numbers of records and clusters) and the linkage's estimated precision and recall, and it
carries the uncertain links so that ``tiphub estimate`` can put linkage error into the
interval (:mod:`tiphub.estimate.linkage_error`). It holds no names, record IDs or dates of
birth: groups of records appear only as the lists they are on, in an order of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tiphub.estimate.linkage_error import UncertainLinks
from tiphub.estimate.sidecar import TableSidecar
from tiphub.estimate.table import COUNT_COLUMN
from tiphub.exchange.spreadsheet import neutralise
from tiphub.linkage.linker import LinkResult

# Links with a probability strictly inside this band are uncertain: drawn in every replicate.
UNCERTAIN_BAND = (0.01, 0.99)


def uncertain_links(
    result: LinkResult, band: tuple[float, float] = UNCERTAIN_BAND
) -> UncertainLinks:
    """The uncertain links of a linkage between the groups that its certain links form.

    A group is what the links taken at probability ≥ ``band[1]`` hold together. A link is
    uncertain when it joins two groups and either lies inside the band or was taken (a
    threshold given below the band); its groups are kept as the lists they are on, names
    written as the capture-history table writes them. Links at or above the band's top that
    the one-to-one rule refused stay refused.
    """
    from tiphub.linkage.linker import _strong_evidence

    low, high = band
    frame = result.records.frame
    pairs = result.pairs
    n = len(frame)
    left = pairs["unique_id_l"].to_numpy(np.int64)
    right = pairs["unique_id_r"].to_numpy(np.int64)
    probability = pairs["match_probability"].to_numpy(float)
    used = result.clustering.used_edges
    certain = used & (probability >= high)
    graph = coo_matrix((np.ones(int(certain.sum())), (left[certain], right[certain])), shape=(n, n))
    _, group_of = connected_components(graph, directed=False)
    doubtful = (
        (group_of[left] != group_of[right])
        & (probability < high)
        & (((probability > low) & (probability < high)) | used)
    )
    ends = np.concatenate([group_of[left[doubtful]], group_of[right[doubtful]]])
    involved = np.unique(ends)
    lists, names = _list_codes(frame["list"])
    masks = np.zeros(int(group_of.max()) + 1 if n else 0, dtype=np.int64)
    known = lists >= 0
    np.bitwise_or.at(masks, group_of[known], np.left_shift(np.int64(1), lists[known]))
    # Groups in the order of their history, not of the records: the order says nothing.
    order = np.lexsort((involved, masks[involved]))
    involved = involved[order]
    position = np.full(len(masks), -1, dtype=np.int64)
    position[involved] = np.arange(len(involved))
    groups = tuple(
        tuple(names[bit] for bit in range(len(names)) if int(mask) >> bit & 1)
        for mask in masks[involved]
    )
    a = position[group_of[left[doubtful]]]
    b = position[group_of[right[doubtful]]]
    a, b = np.minimum(a, b), np.maximum(a, b)
    p = probability[doubtful]
    linked = used[doubtful]
    strong = _strong_evidence(pairs)[doubtful]
    link_order = np.lexsort((-p, b, a))
    return UncertainLinks(
        groups=groups,
        left=a[link_order],
        right=b[link_order],
        probability=np.round(p[link_order], 6),
        linked=linked[link_order],
        strong=strong[link_order],
        one_to_one=result.one_to_one,
        band=band,
    )


def _list_codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """List codes in the capture-history table's column order, names as it writes them."""
    from tiphub.linkage.evaluate import _text_codes

    codes, names = _text_codes(values)
    return codes, [neutralise(name) for name in names]


def histories_sidecar(
    run: dict[str, Any],
    histories: pd.DataFrame,
    *,
    strata: str | None,
    paths: Sequence[Path] | None,
    store_population: dict[str, Any] | None,
) -> TableSidecar:
    """The sidecar of the ``histories`` a ``tiphub link`` run is about to write."""
    summary: dict[str, Any] = run["summary"]
    lists = [
        neutralise(str(name)) for name in histories.columns if name not in (COUNT_COLUMN, strata)
    ]
    clusters = int(histories[COUNT_COLUMN].sum())
    records = int(run["clusters"]["list"].notna().sum())
    population: dict[str, Any]
    if store_population is not None:
        population = dict(store_population)
    else:
        population = {
            "source": "encoded files" if run.get("encoded") is not None else "files",
            "files": [path.name for path in paths or []],
            "roles": None,
            "roles_note": "not known: the input files carry no roles, so the table counts "
            "everyone in them; make sure they hold only the people to be estimated",
            "period": None,
        }
    population.update(
        {
            "lists": lists,
            "strata": strata,
            "records": records,
            "clusters": clusters,
        }
    )
    linkage: dict[str, Any] = {
        "threshold": summary.get("threshold"),
        "threshold_chosen_by": summary.get("threshold_chosen_by"),
        "estimated_precision": summary.get("estimated_precision"),
        "estimated_recall": summary.get("estimated_recall"),
        "links": summary.get("links"),
    }
    if summary.get("model_trained_on"):
        linkage["model_trained_on"] = summary["model_trained_on"]
    links = None
    link_run = run.get("run")
    if run.get("encoded") is not None:
        linkage["method"] = "encoded (Bloom-filter Dice similarity)"
        linkage["uncertain_links_note"] = (
            "not available: encoded linkage scores Dice similarities, not match probabilities"
        )
    elif link_run is not None:
        linkage["method"] = "probabilistic (Fellegi-Sunter, Splink)"
        if strata is None:
            links = uncertain_links(link_run.result)
            linkage["uncertain_link_count"] = links.n_links
        else:
            linkage["uncertain_links_note"] = (
                "not carried for stratified histories: a merged cluster's stratum depends on "
                "all its records; estimate without --strata to include linkage error"
            )
    return TableSidecar(population=population, linkage=linkage, uncertain_links=links)

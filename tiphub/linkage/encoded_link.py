"""``tiphub link --encoded``: link Bloom-filter encodings without seeing a name.

Only the encodings are compared (Dice similarity). There is no model to give match
probabilities, so the threshold, unless given, is read from the data: the Dice scores of
random pairs (nearly all strangers) are sampled, a normal tail is fitted to them, and the
threshold is the lowest at which the expected number of strangers scoring above it, over
all pairs compared, is under 1% of the pairs that do. The normal tail is an approximation;
the report states the threshold so that it can be overridden.
Clustering is the same greedy one-to-one-per-list procedure as for plain text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from tiphub.linkage.cluster import cluster
from tiphub.linkage.encoding import (
    EncodedRecords,
    EncodingError,
    dice_of_pairs,
    dice_pairs_lsh,
    dice_pairs_within,
    read_encoded,
)

# Candidate pairs below this Dice are never links; diffused encodings of strangers score
# about 0.5-0.6, so nothing useful lies below.
CANDIDATE_FLOOR = 0.6
# Above this many records the exact all-pairs search gives way to the LSH index.
EXACT_LIMIT = 60_000
# Pairs above the candidate floor kept at most: true matches number about as many as the
# records, strangers score below the floor; millions more mean one encoding repeated.
MAX_CANDIDATE_PAIRS = 20_000_000
# Random pairs needed to fit the strangers' Dice distribution when no threshold is given.
MIN_RECORDS_FOR_THRESHOLD = 50


@dataclass
class EncodedLinkOutcome:
    records: pd.DataFrame
    clusters: pd.DataFrame
    links: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    # Dice of every candidate pair (at or above the floor), for the report's histogram.
    candidate_dice: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _noop(_: str) -> None:
    return None


def read_all(paths: Sequence[Path]) -> EncodedRecords:
    """Read every encoded file; all must share one scheme (same key and settings)."""
    parts = [read_encoded(path) for path in paths]
    first = parts[0]
    for path, part in zip(paths, parts, strict=True):
        if part.scheme != first.scheme:
            raise EncodingError(
                f"encoded with a different scheme or secret than {paths[0]}",
                source=str(path),
            )
    seen: dict[str, str] = {}
    for path, part in zip(paths, parts, strict=True):
        for position, record_id in enumerate(part.record_ids):
            if record_id in seen:
                raise EncodingError(
                    f"record_id is not unique: the same ID is in {seen[record_id]}",
                    source=str(path),
                    row=position + 2,
                    column="record_id",
                )
            seen[record_id] = str(path)
    return EncodedRecords(
        record_ids=[rid for part in parts for rid in part.record_ids],
        lists=[name for part in parts for name in part.lists],
        bits=np.concatenate([part.bits for part in parts]),
        config=first.config,
    )


_RANDOM_PAIRS = 200_000
_FALSE_SHARE = 0.01


def stranger_threshold(
    bits: np.ndarray, dice: np.ndarray, pairs_compared: float, *, seed: int = 20261123
) -> float:
    """Lowest threshold where expected stranger pairs above it are < 1% of the pairs above."""
    n = len(bits)
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=_RANDOM_PAIRS)
    right = rng.integers(0, n, size=_RANDOM_PAIRS)
    keep = left != right
    sample = np.asarray(dice_of_pairs(bits, bits, left[keep], right[keep]), dtype=float)
    mean, spread = float(sample.mean()), float(sample.std()) or 1e-6
    ordered = np.sort(dice)
    for threshold in np.arange(CANDIDATE_FLOOR, 1.0, 0.005):
        expected_false = pairs_compared * float(scipy_stats.norm.sf((threshold - mean) / spread))
        above = len(ordered) - int(np.searchsorted(ordered, threshold))
        if above and expected_false < _FALSE_SHARE * above:
            return float(threshold)
    return 0.95


def link_encoded_files(
    paths: Sequence[Path], *, threshold: float | None = None, stage: Callable[[str], None] = _noop
) -> EncodedLinkOutcome:
    stage("reading encodings")
    encoded = read_all(paths)
    n = len(encoded.record_ids)
    if n == 0:
        raise EncodingError("the encoded files hold no records", source=str(paths[0]))
    if threshold is None and n < MIN_RECORDS_FOR_THRESHOLD:
        raise EncodingError(
            f"too few records to choose a threshold from the data: {n} given, at least "
            f"{MIN_RECORDS_FOR_THRESHOLD} needed; give --threshold"
        )
    floor = min(CANDIDATE_FLOOR, threshold) if threshold is not None else CANDIDATE_FLOOR
    stage(f"comparing {n:,} encodings")
    if n <= EXACT_LIMIT:
        left, right, dice = dice_pairs_within(encoded.bits, floor, max_pairs=MAX_CANDIDATE_PAIRS)
    else:
        left, right, dice = dice_pairs_lsh(encoded.bits, None, floor)
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    dice = np.asarray(dice, dtype=float)
    list_codes = pd.factorize(pd.Series(encoded.lists))[0].astype(np.int64)
    one_to_one = len(set(list_codes.tolist())) > 1
    chosen_by = "given"
    if threshold is None:
        chosen_by = "expected strangers above it < 1% (normal tail of random pairs)"
        threshold = stranger_threshold(encoded.bits, dice, n * (n - 1) / 2)
    stage(f"clustering at Dice {threshold:.3f}")
    clustering = cluster(n, left, right, dice, list_codes, threshold, one_to_one=one_to_one)
    records = pd.DataFrame({"record_id": encoded.record_ids, "list": encoded.lists})
    clusters = pd.DataFrame(
        {
            "record_id": encoded.record_ids,
            "cluster_id": clustering.labels(),
            "list": encoded.lists,
        }
    )
    ids = np.asarray(encoded.record_ids, dtype=object)
    used = clustering.used_edges
    links = pd.DataFrame(
        {
            "record_id_l": ids[left[used]],
            "record_id_r": ids[right[used]],
            "dice": np.round(dice[used], 4),
        }
    )
    summary: dict[str, Any] = {
        "records": n,
        "lists": len(set(encoded.lists)),
        "encoded": True,
        "scheme": encoded.scheme,
        "candidate_pairs": len(dice),
        "links": int(used.sum()),
        "clusters": clustering.n_clusters,
        "threshold": round(threshold, 4),
        "threshold_chosen_by": chosen_by,
        "one_to_one_within_list": one_to_one,
    }
    return EncodedLinkOutcome(records, clusters, links, summary, dice)

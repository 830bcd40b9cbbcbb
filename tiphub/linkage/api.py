"""One linkage run end to end, as ``tiphub link`` performs it, independent of the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from tiphub.linkage.explain import explain_pair, explanation_columns
from tiphub.linkage.linker import Backend, LinkResult, Stage, link_records
from tiphub.linkage.records import IDENTITY_COLUMNS, RecordSet, impossible_dates

if TYPE_CHECKING:
    from tiphub.linkage.review import ReviewCandidate

# Pairs whose probability lies in this band are sent to clerical review, most uncertain first.
REVIEW_BAND = (0.1, 0.9)
REVIEW_LIMIT = 1000


def _noop(_: str) -> None:
    return None


@dataclass
class LinkRun:
    result: LinkResult
    clusters: pd.DataFrame
    links: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def candidate_pairs(self) -> pd.DataFrame:
        ids = self.result.records.frame["record_id"].to_numpy()
        pairs = self.result.pairs
        return pd.DataFrame(
            {
                "record_id_l": ids[pairs["unique_id_l"].to_numpy(np.int64)],
                "record_id_r": ids[pairs["unique_id_r"].to_numpy(np.int64)],
            }
        )

    @property
    def conflicts(self) -> pd.DataFrame:
        """Links refused because they would bridge a reviewer's cannot-link decision: the
        refused pair, the cannot-linked pair it would have joined, and the pair's probability
        (record IDs only)."""
        return cannot_link_conflicts_frame(self.result)


def cannot_link_conflicts_frame(result: LinkResult) -> pd.DataFrame:
    ids = result.records.frame["record_id"].to_numpy()
    conflicts = result.cannot_link_conflicts
    probability = result.pairs["match_probability"].to_numpy(float)

    def column(values: list[int]) -> np.ndarray:
        return np.asarray(ids[np.asarray(values, dtype=np.int64)])

    return pd.DataFrame(
        {
            "record_id_l": column([conflict.left for conflict in conflicts]),
            "record_id_r": column([conflict.right for conflict in conflicts]),
            "cannot_link_record_id_l": column([conflict.cannot_left for conflict in conflicts]),
            "cannot_link_record_id_r": column([conflict.cannot_right for conflict in conflicts]),
            "match_probability": probability[[conflict.edge for conflict in conflicts]],
        }
    )


def scored_pairs_with_ids(result: LinkResult) -> pd.DataFrame:
    """Every scored pair with record IDs, lists, probability and its explanation columns."""
    pairs = result.pairs
    frame = result.records.frame
    ids = frame["record_id"].to_numpy()
    lists = frame["list"].to_numpy()
    left = pairs["unique_id_l"].to_numpy(np.int64)
    right = pairs["unique_id_r"].to_numpy(np.int64)
    out = pd.DataFrame(
        {
            "record_id_l": ids[left],
            "record_id_r": ids[right],
            "list_l": lists[left],
            "list_r": lists[right],
            "match_probability": pairs["match_probability"].astype(float).round(6).to_numpy(),
            "match_weight": pairs["match_weight"].astype(float).round(3).to_numpy(),
        }
    )
    explanation = explanation_columns(pairs, result.scored.comparisons, result.scored.model_json)
    return pd.concat([out, explanation.reset_index(drop=True)], axis=1)


def run_link(
    records: RecordSet,
    *,
    backend: Backend = "duckdb",
    threshold: float | None = None,
    engine: Engine | None = None,
    inputs: str = "",
    stage: Stage = _noop,
    training: RecordSet | None = None,
) -> LinkRun:
    """Link, and when a database is given use its review decisions and queue new doubts.

    ``training``: a superset of ``records`` to learn the model from (see
    :func:`tiphub.linkage.linker.score_records`).
    """
    must_link: list[tuple[int, int]] = []
    cannot_link: list[tuple[int, int]] = []
    if engine is not None:
        must_link, cannot_link = _decided_pairs(engine, records)
    result = link_records(
        records,
        backend=backend,
        threshold=threshold,
        must_link=must_link,
        cannot_link=cannot_link,
        stage=stage,
        training=training,
    )
    clusters = result.clusters_frame()
    scored = scored_pairs_with_ids(result)
    links = scored[result.clustering.used_edges].reset_index(drop=True)
    choice = result.threshold
    summary: dict[str, Any] = {
        "records": len(records.frame),
        "lists": len(records.lists),
        "backend": backend,
        "candidate_pairs": len(result.pairs),
        "links": len(links),
        "clusters": clusters["cluster_id"].nunique(),
        "threshold": choice.threshold,
        "threshold_chosen_by": "given" if threshold is not None else "precision ÷ recall = 1",
        "expected_matching_pairs": round(choice.expected_matches, 1),
        "estimated_precision": round(choice.estimated_precision, 4),
        "estimated_recall": round(choice.estimated_recall, 4),
        "estimated_precision_over_recall": round(choice.precision_over_recall, 4),
        "one_to_one_within_list": result.one_to_one,
        "reviewed_pairs_used": len(must_link) + len(cannot_link),
        # Links refused because they would join records a reviewer decided apart.
        "cannot_link_conflicts": len(result.cannot_link_conflicts),
        "training_notes": list(result.scored.training_notes),
        "impossible_birth_dates": impossible_dates(records.frame),
    }
    if training is not None:
        summary["model_trained_on"] = f"{len(training.frame):,} records"
    if engine is not None:
        summary.update(_queue_for_review(engine, result, scored, inputs))
    return LinkRun(result, clusters, links, summary)


def _decided_pairs(
    engine: Engine, records: RecordSet
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    from tiphub.linkage.review import labels

    position = {key: index for index, key in enumerate(records.frame["record_id"].tolist())}
    must: list[tuple[int, int]] = []
    cannot: list[tuple[int, int]] = []
    for label in labels(engine):
        a = position.get(label.left_key)
        b = position.get(label.right_key)
        if a is None or b is None:
            continue
        (must if label.is_match else cannot).append((a, b))
    return must, cannot


def _identity_values(frame: pd.DataFrame, index: int) -> dict[str, str]:
    row = frame.iloc[index]
    return {
        name: str(row[name])
        for name in IDENTITY_COLUMNS
        if name in frame.columns and row[name] is not None and row[name] == row[name]
    }


def _review_candidate(
    result: LinkResult, scored: pd.DataFrame, position: int, reason: str | None = None
) -> ReviewCandidate:
    from tiphub.linkage.review import ReviewCandidate

    row = scored.iloc[position]
    pairs = result.pairs
    left = int(pairs["unique_id_l"].iloc[position])
    right = int(pairs["unique_id_r"].iloc[position])
    frame = result.records.frame
    return ReviewCandidate(
        left_key=str(row["record_id_l"]),
        right_key=str(row["record_id_r"]),
        left_list=str(row["list_l"]),
        right_list=str(row["list_r"]),
        match_probability=float(row["match_probability"]),
        match_weight=float(row["match_weight"]),
        explanation=explain_pair(row.to_dict(), result.scored.comparisons),
        left_values=_identity_values(frame, left),
        right_values=_identity_values(frame, right),
        reason=reason,
    )


def _queue_for_review(
    engine: Engine, result: LinkResult, scored: pd.DataFrame, inputs: str
) -> dict[str, Any]:
    from tiphub.linkage.review import BRIDGES_CANNOT_LINK, enqueue, finish_run, start_run

    low, high = REVIEW_BAND
    probability = scored["match_probability"].to_numpy(float)
    uncertain = np.flatnonzero((probability >= low) & (probability <= high))
    uncertain = uncertain[np.argsort(np.abs(probability[uncertain] - 0.5), kind="stable")]
    uncertain = uncertain[:REVIEW_LIMIT]
    frame = result.records.frame
    pairs = result.pairs
    run_id = start_run(
        engine,
        inputs=inputs,
        settings={"backend": result.backend, "threshold": result.threshold.threshold},
    )
    # Queued first, in a batch of their own: a refused link that is also uncertain keeps the
    # reason, and however sure the model is of it, a reviewer must settle the contradiction.
    conflicting = [
        _review_candidate(result, scored, conflict.edge, BRIDGES_CANNOT_LINK)
        for conflict in result.cannot_link_conflicts[:REVIEW_LIMIT]
    ]
    conflicts_outcome = enqueue(engine, run_id, conflicting)
    candidates = [_review_candidate(result, scored, position) for position in uncertain.tolist()]
    outcome = enqueue(engine, run_id, candidates)
    finish_run(
        engine,
        run_id,
        counts={
            "records": len(frame),
            "candidate_pairs": len(pairs),
            "links": int(result.clustering.used_edges.sum()),
            "clusters": result.clustering.n_clusters,
        },
        estimated_precision=result.threshold.estimated_precision,
        estimated_recall=result.threshold.estimated_recall,
    )
    return {
        "review_run": run_id,
        "review_queued": outcome.added + conflicts_outcome.added,
        "review_already_pending": outcome.already_pending + conflicts_outcome.already_pending,
        "review_cannot_link_conflicts_queued": conflicts_outcome.added,
    }

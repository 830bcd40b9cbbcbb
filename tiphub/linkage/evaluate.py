"""How good is a linkage? Pairwise, cluster-level and blocking metrics against known truth,
and the error the linkage would cause in a Multiple Systems Estimate.

Inputs (``tiphub linkage evaluate CLUSTERS --truth TRUTH``):

* clusters: a CSV with ``record_id`` and ``cluster_id`` (``tiphub link`` also writes ``list``);
* truth: a CSV with ``record_id`` and the true entity in the first present of ``true_id``,
  ``true_person_id``, ``cluster_id`` or ``entity_id``, optionally ``list``;
* candidate pairs (optional): ``record_id_l, record_id_r``, the pairs blocking let through.

Metrics are computed on the records present in both the clusters and the truth; records in
only one of them are counted and reported. Pair counts come from the contingency table of
(predicted cluster, true entity) as sums of C(n, 2), never by listing pairs, so a million
records in a few large clusters cost no more than a groupby.

Error messages name the file, the row (1 = header) and the column, never a cell value:
the files may sit next to names of trafficking survivors, and error text ends up in logs.
"""

from __future__ import annotations

import csv
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tiphub.estimate.api import METHODS, estimate
from tiphub.estimate.results import MSEResult
from tiphub.estimate.table import COUNT_COLUMN, CaptureTable

RECORD_ID = "record_id"
CLUSTER_ID = "cluster_id"
LIST = "list"
TRUE_ID = "true_id"
# Accepted names of the truth's entity column, in order of preference.
TRUTH_ID_COLUMNS: tuple[str, ...] = ("true_id", "true_person_id", "cluster_id", "entity_id")
CANDIDATE_COLUMNS: tuple[str, str] = ("record_id_l", "record_id_r")
STRATUM = "stratum"
# Capture histories are held as int64 bit masks.
_MAX_MASK_LISTS = 62


class EvaluationError(ValueError):
    """Bad evaluation input, located by source (file), row (1 = header) and column."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.source = source
        self.row = row
        self.column = column
        self.reason = message
        where = [part for part in (source, f"row {row}" if row is not None else None) if part]
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


# ---------------------------------------------------------------------- reading


def _read_header(path: Path, source: str) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except FileNotFoundError:
        raise EvaluationError("file not found", source=source) from None
    except UnicodeDecodeError:
        raise EvaluationError("the file is not UTF-8 text", source=source) from None
    except OSError as error:
        raise EvaluationError(f"cannot read the file ({error.strerror})", source=source) from None
    except csv.Error:
        raise EvaluationError("not a readable CSV file", source=source, row=1) from None
    if header is None or not any(cell.strip() for cell in header):
        raise EvaluationError("the file is empty; expected a header row", source=source)
    return [cell.strip() for cell in header]


def _read_columns(
    path: Path, source: str, header: list[str], wanted: Sequence[str]
) -> pd.DataFrame:
    """Read ``wanted`` columns as stripped text; empty cells become missing.

    The frame's index is the CSV row number (header = 1). Blank lines are kept while parsing
    so that row numbers stay the file's line numbers, then dropped.
    """
    for name in wanted:
        if header.count(name) > 1:
            raise EvaluationError(
                "the column name appears twice in the header", source=source, row=1, column=name
            )
    # Unused columns may repeat or be blank; give them unique placeholder names.
    names = [name if name in wanted else f"\x00unused{i}" for i, name in enumerate(header)]
    try:
        frame = pd.read_csv(
            path,
            header=0,
            names=names,
            usecols=list(wanted),
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
            engine="c",
        )
    except UnicodeDecodeError:
        raise EvaluationError("the file is not UTF-8 text", source=source) from None
    except pd.errors.ParserError as error:
        # pandas' message holds the line number only, but rebuild it rather than pass it on.
        match = re.search(r"line (\d+)", str(error))
        row = int(match.group(1)) if match else None
        raise EvaluationError(
            "the row has more cells than the header", source=source, row=row
        ) from None
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    frame = frame.apply(lambda column: column.str.strip())
    blank = (frame == "").all(axis=1)
    frame = frame.loc[~blank.to_numpy()]
    return frame.mask(frame == "")


def _first_row(mask: pd.Series) -> int | None:
    hits = np.flatnonzero(mask.to_numpy())
    return int(mask.index[hits[0]]) if len(hits) else None


def _check_ids(frame: pd.DataFrame, source: str, required: Sequence[str]) -> None:
    """Empty ids and duplicate record ids, reported by row number (the frame's index)."""
    for name in required:
        row = _first_row(frame[name].isna())
        if row is not None:
            raise EvaluationError("the value is empty", source=source, row=row, column=name)
    duplicated = frame[RECORD_ID].duplicated(keep="first")
    row = _first_row(duplicated)
    if row is not None:
        position = int(np.flatnonzero(duplicated.to_numpy())[0])
        value = frame[RECORD_ID].iloc[position]
        first = _first_row(frame[RECORD_ID] == value)
        raise EvaluationError(
            f"record_id is not unique (first seen on row {first})",
            source=source,
            row=row,
            column=RECORD_ID,
        )


def _require(header: Sequence[str], names: Sequence[str], source: str) -> None:
    for name in names:
        if name not in header:
            raise EvaluationError("the required column is missing", source=source, column=name)


def read_clusters(path: str | Path) -> pd.DataFrame:
    """Read predicted clusters: ``record_id, cluster_id`` and ``list`` when present.

    Values are text with surrounding spaces removed; other columns are ignored.
    """
    path = Path(path)
    source = str(path)
    header = _read_header(path, source)
    _require(header, (RECORD_ID, CLUSTER_ID), source)
    wanted = [RECORD_ID, CLUSTER_ID, *([LIST] if LIST in header else [])]
    frame = _read_columns(path, source, header, wanted)
    _check_ids(frame, source, wanted)
    return frame[wanted].reset_index(drop=True)


def truth_column(columns: Sequence[str]) -> str | None:
    """The truth's entity column: the first of :data:`TRUTH_ID_COLUMNS` present."""
    return next((name for name in TRUTH_ID_COLUMNS if name in columns), None)


def read_truth(path: str | Path) -> pd.DataFrame:
    """Read the true entities as ``record_id, true_id`` (and ``list`` when present).

    The entity column may be named any of :data:`TRUTH_ID_COLUMNS`; the first present wins
    and is renamed ``true_id``.
    """
    path = Path(path)
    source = str(path)
    header = _read_header(path, source)
    _require(header, (RECORD_ID,), source)
    entity = truth_column(header)
    if entity is None:
        raise EvaluationError(
            "no true entity column: name it one of " + ", ".join(TRUTH_ID_COLUMNS),
            source=source,
        )
    wanted = [RECORD_ID, entity, *([LIST] if LIST in header else [])]
    frame = _read_columns(path, source, header, wanted)
    _check_ids(frame, source, wanted)
    return frame[wanted].rename(columns={entity: TRUE_ID}).reset_index(drop=True)


def read_candidate_pairs(path: str | Path) -> pd.DataFrame:
    """Read candidate pairs (``record_id_l, record_id_r``); repeats and either order are fine."""
    path = Path(path)
    source = str(path)
    header = _read_header(path, source)
    _require(header, CANDIDATE_COLUMNS, source)
    frame = _read_columns(path, source, header, CANDIDATE_COLUMNS)
    for name in CANDIDATE_COLUMNS:
        row = _first_row(frame[name].isna())
        if row is not None:
            raise EvaluationError("the value is empty", source=source, row=row, column=name)
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------------- capture histories


def _as_text(values: pd.Series) -> np.ndarray:
    """Non-missing values as ``str``, missing as ``None`` (object array)."""
    array = values.to_numpy(dtype=object)
    missing = pd.isna(array)
    out: np.ndarray
    if pd.api.types.infer_dtype(array, skipna=True) in ("string", "empty"):
        out = array.copy()
    else:
        out = array.astype(str).astype(object)
    out[missing] = None
    return out


def _entity_strata(entity_codes: np.ndarray, strata: np.ndarray, n_entities: int) -> np.ndarray:
    """Each entity's most frequent stratum, ties to the smallest in sorted order; else None."""
    known = ~pd.isna(strata)
    result = np.full(n_entities, None, dtype=object)
    if not known.any():
        return result
    votes = pd.DataFrame({"entity": entity_codes[known], "stratum": strata[known]})
    tally = votes.groupby(["entity", "stratum"], sort=False).size().reset_index(name="n")
    tally = tally.sort_values(["entity", "n", "stratum"], ascending=[True, False, True])
    winners = tally.drop_duplicates("entity", keep="first")
    result[winners["entity"].to_numpy(np.int64)] = winners["stratum"].to_numpy(dtype=object)
    return result


def capture_histories(
    record_lists: pd.Series, entity_ids: pd.Series, strata: pd.Series | None = None
) -> pd.DataFrame:
    """Capture histories of entities, in the capture-history CSV format ``tiphub estimate`` reads.

    ``record_lists``, ``entity_ids`` and ``strata`` hold one value per record and are matched
    by position, not by index. An entity is on a list when any of its records is. The result
    has one 0/1 column per list (named by the list, in sorted order) and ``count``, with rows
    only for histories someone has, in the order of their bit mask (first list = lowest bit),
    as :meth:`CaptureTable.to_csv` writes them.

    With ``strata``, a stratum column (named after the Series, else ``stratum``) comes first
    and rows are sorted by it, then by history. An entity's stratum is the most frequent
    non-missing value among its records, ties going to the first in sorted (text) order; an
    entity with no stratum value has a missing stratum, sorted last (an empty cell in CSV).

    Records with a missing list or entity are ignored; so is an entity none of whose records
    has a list, since a history on no list cannot be observed.
    """
    if len(record_lists) != len(entity_ids) or (
        strata is not None and len(strata) != len(entity_ids)
    ):
        raise EvaluationError("record_lists, entity_ids and strata must have the same length")
    entities = entity_ids.to_numpy(dtype=object)
    has_entity = ~pd.isna(entities)
    lists = _as_text(record_lists)[has_entity]
    entity_codes, entity_values = pd.factorize(entities[has_entity])
    list_known = ~pd.isna(lists)
    list_codes, list_names_index = pd.factorize(lists[list_known], sort=True)
    list_names = [str(name) for name in list_names_index]
    if len(list_names) > _MAX_MASK_LISTS:
        raise EvaluationError(
            f"at most {_MAX_MASK_LISTS} lists are supported, found {len(list_names)}"
        )
    if COUNT_COLUMN in list_names:
        raise EvaluationError(f"a list may not be named {COUNT_COLUMN!r}: it is the count column")
    masks = np.zeros(len(entity_values), dtype=np.int64)
    np.bitwise_or.at(
        masks, entity_codes[list_known], np.left_shift(np.int64(1), list_codes.astype(np.int64))
    )
    seen = masks > 0
    columns: dict[str, Any] = {}
    stratum_name: str | None = None
    if strata is not None:
        stratum_name = str(strata.name) if strata.name is not None else STRATUM
        if stratum_name in list_names or stratum_name == COUNT_COLUMN:
            raise EvaluationError(
                f"the stratum column {stratum_name!r} has the name of a list or of the count"
            )
        per_entity = _entity_strata(entity_codes, _as_text(strata)[has_entity], len(entity_values))
        columns[stratum_name] = per_entity[seen]
    columns["mask"] = masks[seen]
    keys = list(columns)
    if not seen.any():
        grouped = pd.DataFrame(
            {
                **{k: pd.Series(dtype=object) for k in keys[:-1]},
                "mask": pd.Series(dtype=np.int64),
                COUNT_COLUMN: pd.Series(dtype=np.int64),
            }
        )
    else:
        grouped = (
            pd.DataFrame(columns)
            .groupby(keys, dropna=False, sort=False)
            .size()
            .reset_index(name=COUNT_COLUMN)
            .sort_values(keys, na_position="last", kind="stable")
            .reset_index(drop=True)
        )
    out = pd.DataFrame(index=grouped.index)
    if stratum_name is not None:
        out[stratum_name] = grouped[stratum_name].astype(object)
    mask_values = grouped["mask"].to_numpy(np.int64)
    for bit, name in enumerate(list_names):
        out[name] = ((mask_values >> bit) & 1).astype(np.int64)
    out[COUNT_COLUMN] = grouped[COUNT_COLUMN].to_numpy(np.int64)
    return out


def write_capture_histories(frame: pd.DataFrame, path: str | Path) -> None:
    """Write :func:`capture_histories` output as CSV (a missing stratum is an empty cell)."""
    if COUNT_COLUMN not in frame.columns:
        raise EvaluationError(f"capture histories need a {COUNT_COLUMN!r} column")
    frame.to_csv(Path(path), index=False, lineterminator="\n")


def capture_table(histories: pd.DataFrame, source: str | None = None) -> CaptureTable:
    """An unstratified :func:`capture_histories` frame as a :class:`CaptureTable`."""
    lists = [name for name in histories.columns if name != COUNT_COLUMN]
    bits = histories[lists].to_numpy(np.int64)
    masks = (bits << np.arange(len(lists), dtype=np.int64)).sum(axis=1)
    counts = np.bincount(
        masks, weights=histories[COUNT_COLUMN].to_numpy(np.int64), minlength=1 << len(lists)
    )
    return CaptureTable(tuple(lists), counts.astype(np.int64), source)


# ---------------------------------------------------------------------- results


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def _f1(precision: float, recall: float) -> float:
    if math.isnan(precision) or math.isnan(recall) or precision + recall == 0:
        return math.nan if math.isnan(precision) or math.isnan(recall) else 0.0
    return 2 * precision * recall / (precision + recall)


def _json_number(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


@dataclass
class LinkageEvaluation:
    """Quality of a clustering against the truth, on the records present in both.

    Pairwise: a pair of records is *predicted* when both are in one cluster and *true* when
    both belong to one entity. ``precision_over_recall`` equals true ÷ predicted pairs: with
    two lists, a Multiple Systems Estimate scales with it, so 1 means no bias from linkage.
    It is defined whenever there are predicted pairs, even when no pair is right.

    Cluster level: a predicted cluster is correct when its records are exactly one entity's
    (both restricted to the evaluated records).

    Undefined ratios (nothing to divide by) are NaN here and ``None`` in :meth:`to_dict`.
    The ``mse_*``/``population_*`` fields are ``None`` unless list membership was known and
    both estimates succeeded (``mse_skipped`` says why not).
    """

    records_clusters: int
    records_truth: int
    records_evaluated: int
    records_only_in_clusters: int
    records_only_in_truth: int
    predicted_clusters: int
    true_entities: int
    correct_clusters: int
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    candidate_pairs: int | None = None
    true_pairs_in_candidates: int | None = None
    lists: tuple[str, ...] = ()
    mse_method: str | None = None
    observed_predicted: int | None = None
    observed_true: int | None = None
    population_predicted: float | None = None
    population_true: float | None = None
    mse_skipped: str | None = None
    mse_predicted: MSEResult | None = field(default=None, repr=False)
    mse_true: MSEResult | None = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    # ------------------------------------------------------------------ pairwise

    @property
    def precision(self) -> float:
        return _ratio(self.true_positive_pairs, self.predicted_pairs)

    @property
    def recall(self) -> float:
        return _ratio(self.true_positive_pairs, self.true_pairs)

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)

    @property
    def precision_over_recall(self) -> float:
        return _ratio(self.true_pairs, self.predicted_pairs)

    @property
    def false_positive_pairs(self) -> int:
        return self.predicted_pairs - self.true_positive_pairs

    @property
    def false_negative_pairs(self) -> int:
        return self.true_pairs - self.true_positive_pairs

    # ------------------------------------------------------------------ clusters

    @property
    def cluster_precision(self) -> float:
        return _ratio(self.correct_clusters, self.predicted_clusters)

    @property
    def cluster_recall(self) -> float:
        return _ratio(self.correct_clusters, self.true_entities)

    @property
    def cluster_f1(self) -> float:
        return _f1(self.cluster_precision, self.cluster_recall)

    # ------------------------------------------------------------------ blocking

    @property
    def blocking_recall(self) -> float | None:
        if self.true_pairs_in_candidates is None:
            return None
        return _ratio(self.true_pairs_in_candidates, self.true_pairs)

    # ------------------------------------------------------------------ MSE

    @property
    def observed_difference(self) -> int | None:
        """People seen according to the clusters minus according to the truth."""
        if self.observed_predicted is None or self.observed_true is None:
            return None
        return self.observed_predicted - self.observed_true

    @property
    def estimate_error(self) -> float | None:
        """Estimate from the clusters minus estimate from the truth (signed, in people)."""
        if self.population_predicted is None or self.population_true is None:
            return None
        return self.population_predicted - self.population_true

    @property
    def estimate_abs_error(self) -> float | None:
        error = self.estimate_error
        return None if error is None else abs(error)

    @property
    def estimate_relative_error(self) -> float | None:
        """Signed error as a share of the estimate from the truth."""
        error = self.estimate_error
        if error is None or not self.population_true:
            return None
        return error / self.population_true

    # ------------------------------------------------------------------ output

    def _interval(self, result: MSEResult | None) -> list[float | None] | None:
        if result is None:
            return None
        return [_json_number(value, 1) for value in result.interval_95]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers; undefined ratios are ``None``."""
        return {
            "records_clusters": self.records_clusters,
            "records_truth": self.records_truth,
            "records_evaluated": self.records_evaluated,
            "records_only_in_clusters": self.records_only_in_clusters,
            "records_only_in_truth": self.records_only_in_truth,
            "true_pairs": self.true_pairs,
            "predicted_pairs": self.predicted_pairs,
            "true_positive_pairs": self.true_positive_pairs,
            "false_positive_pairs": self.false_positive_pairs,
            "false_negative_pairs": self.false_negative_pairs,
            "precision": _json_number(self.precision),
            "recall": _json_number(self.recall),
            "f1": _json_number(self.f1),
            "precision_over_recall": _json_number(self.precision_over_recall),
            "predicted_clusters": self.predicted_clusters,
            "true_entities": self.true_entities,
            "correct_clusters": self.correct_clusters,
            "cluster_precision": _json_number(self.cluster_precision),
            "cluster_recall": _json_number(self.cluster_recall),
            "cluster_f1": _json_number(self.cluster_f1),
            "candidate_pairs": self.candidate_pairs,
            "true_pairs_in_candidates": self.true_pairs_in_candidates,
            "blocking_recall": _json_number(self.blocking_recall),
            "lists": list(self.lists),
            "mse_method": self.mse_method,
            "observed_predicted": self.observed_predicted,
            "observed_true": self.observed_true,
            "observed_difference": self.observed_difference,
            "population_predicted": _json_number(self.population_predicted, 1),
            "population_true": _json_number(self.population_true, 1),
            "population_predicted_interval_95": self._interval(self.mse_predicted),
            "population_true_interval_95": self._interval(self.mse_true),
            "estimate_error": _json_number(self.estimate_error, 1),
            "estimate_abs_error": _json_number(self.estimate_abs_error, 1),
            "estimate_relative_error": _json_number(self.estimate_relative_error),
            "mse_skipped": self.mse_skipped,
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 4),
        }

    def summary(self) -> str:
        """A plain-text summary in the spirit of statsmodels' ``summary()``."""

        def share(value: float | None) -> str:
            return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"

        def people(value: float | None) -> str:
            return "n/a" if value is None else f"{value:,.1f}"

        width = 78
        lines = [
            "=" * width,
            "Record linkage evaluation".center(width),
            "=" * width,
            f"{'Records evaluated:':<30}{self.records_evaluated:,}",
            f"{'Only in clusters:':<30}{self.records_only_in_clusters:,}",
            f"{'Only in truth:':<30}{self.records_only_in_truth:,}",
            "-" * width,
            f"{'True pairs:':<30}{self.true_pairs:,}",
            f"{'Predicted pairs:':<30}{self.predicted_pairs:,}",
            f"{'True-positive pairs:':<30}{self.true_positive_pairs:,}",
            f"{'Precision:':<30}{share(self.precision)}",
            f"{'Recall:':<30}{share(self.recall)}",
            f"{'F1:':<30}{share(self.f1)}",
            f"{'Precision ÷ recall:':<30}{share(self.precision_over_recall)}",
            "-" * width,
            f"{'Predicted clusters:':<30}{self.predicted_clusters:,}",
            f"{'True entities:':<30}{self.true_entities:,}",
            f"{'Exactly right clusters:':<30}{self.correct_clusters:,}",
            f"{'Cluster precision:':<30}{share(self.cluster_precision)}",
            f"{'Cluster recall:':<30}{share(self.cluster_recall)}",
            f"{'Cluster F1:':<30}{share(self.cluster_f1)}",
        ]
        if self.candidate_pairs is not None:
            lines += [
                "-" * width,
                f"{'Candidate pairs:':<30}{self.candidate_pairs:,}",
                f"{'True pairs among candidates:':<30}{self.true_pairs_in_candidates or 0:,}",
                f"{'Blocking recall:':<30}{share(self.blocking_recall)}",
            ]
        lines.append("-" * width)
        if self.mse_skipped is not None:
            lines.append(f"{'MSE error:':<30}not computed — {self.mse_skipped}")
        else:
            relative = self.estimate_relative_error
            lines += [
                f"{'MSE method:':<30}{self.mse_method} over {', '.join(self.lists)}",
                f"{'':<30}{'clusters':>14}{'truth':>14}{'difference':>14}",
                f"{'Observed people:':<30}{self.observed_predicted or 0:>14,}"
                f"{self.observed_true or 0:>14,}{self.observed_difference or 0:>+14,}",
                f"{'Estimated population:':<30}{people(self.population_predicted):>14}"
                f"{people(self.population_true):>14}{people(self.estimate_error):>14}",
                f"{'Relative error:':<30}" + ("n/a" if relative is None else f"{relative:+.2%}"),
            ]
        if self.warnings:
            lines.append("-" * width)
            lines.extend(f"Warning: {warning}" for warning in self.warnings)
        lines.append("=" * width)
        return "\n".join(lines)


# ---------------------------------------------------------------------- evaluation


def _frame_ids(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """A frame's id column as text; rows are reported 1-based (data rows of the frame)."""
    values = frame[column]
    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        raise EvaluationError(
            "the value is empty", source=source, row=int(missing[0]) + 1, column=column
        )
    ids: np.ndarray = values.astype(str).to_numpy(dtype=object)
    return ids


def _unique_ids(ids: np.ndarray, source: str) -> pd.Index:
    index = pd.Index(ids)
    if not index.is_unique:
        position = int(np.flatnonzero(index.duplicated(keep="first"))[0])
        raise EvaluationError(
            "record_id is not unique", source=source, row=position + 1, column=RECORD_ID
        )
    return index


def _pairs(sizes: np.ndarray) -> int:
    sizes = sizes.astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def _record_lists(
    evaluated: pd.Index,
    clusters: pd.DataFrame,
    cluster_rows: np.ndarray,
    truth: pd.DataFrame,
    truth_rows: np.ndarray,
    lists: pd.Series | None,
    warnings: list[str],
) -> np.ndarray | None:
    """Each evaluated record's list: ``lists`` first, then the clusters', then the truth's."""
    if lists is not None:
        mapping = pd.Series(lists.to_numpy(dtype=object), index=lists.index.astype(str))
        if not mapping.index.is_unique:
            raise EvaluationError("the lists Series has a record_id more than once")
        found = _as_text(mapping.reindex(evaluated))
        unknown = int(pd.isna(found).sum())
        if unknown:
            warnings.append(f"{unknown:,} evaluated records have no list and were left out of MSE")
        return found
    from_clusters: np.ndarray | None = (
        _as_text(clusters[LIST])[cluster_rows] if LIST in clusters else None
    )
    from_truth: np.ndarray | None = _as_text(truth[LIST])[truth_rows] if LIST in truth else None
    if from_clusters is None:
        return from_truth
    if from_truth is not None:
        both = ~pd.isna(from_clusters) & ~pd.isna(from_truth)
        disagree = int((from_clusters[both] != from_truth[both]).sum()) if both.any() else 0
        if disagree:
            warnings.append(
                f"{disagree:,} records are on different lists in the clusters and the truth; "
                "the clusters' lists were used"
            )
        gaps = pd.isna(from_clusters)
        from_clusters = from_clusters.copy()
        from_clusters[gaps] = from_truth[gaps]
    return from_clusters


def _blocking(
    candidate_pairs: pd.DataFrame, evaluated: pd.Index, entity_codes: np.ndarray
) -> tuple[int, int]:
    """(candidate pairs, distinct true pairs among them), counted without listing true pairs.

    A candidate is a covered true pair when both records are evaluated, distinct and of one
    entity; unordered duplicates are counted once.
    """
    for name in CANDIDATE_COLUMNS:
        if name not in candidate_pairs.columns:
            raise EvaluationError(
                "the required column is missing", source="candidate pairs", column=name
            )
    positions = []
    for name in CANDIDATE_COLUMNS:
        values = candidate_pairs[name]
        text = values.astype(str).to_numpy(dtype=object)
        found = evaluated.get_indexer(text)
        found[values.isna().to_numpy()] = -1
        positions.append(found)
    left, right = positions
    usable = (left >= 0) & (right >= 0) & (left != right)
    left, right = left[usable], right[usable]
    same = entity_codes[left] == entity_codes[right]
    low = np.minimum(left[same], right[same]).astype(np.int64)
    high = np.maximum(left[same], right[same]).astype(np.int64)
    covered = int(np.unique(low * len(evaluated) + high).size)
    return len(candidate_pairs), covered


def _mse(
    record_lists: np.ndarray,
    cluster_codes: np.ndarray,
    entity_codes: np.ndarray,
    method: str,
    options: Mapping[str, Any],
) -> tuple[MSEResult, MSEResult, tuple[str, ...]]:
    lists = pd.Series(record_lists, dtype=object)
    predicted = capture_table(capture_histories(lists, pd.Series(cluster_codes)), "clusters")
    true = capture_table(capture_histories(lists, pd.Series(entity_codes)), "truth")
    return (
        estimate(predicted, method, **options),
        estimate(true, method, **options),
        predicted.lists,
    )


def evaluate(
    clusters: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    candidate_pairs: pd.DataFrame | None = None,
    lists: pd.Series | None = None,
    mse: bool = True,
    mse_method: str = "stepwise",
    mse_options: Mapping[str, Any] | None = None,
) -> LinkageEvaluation:
    """Evaluate predicted clusters against the truth.

    ``clusters`` has ``record_id, cluster_id``; ``truth`` has ``record_id`` and an entity
    column named as :data:`TRUTH_ID_COLUMNS` allows (as :func:`read_clusters` and
    :func:`read_truth` return them). Ids are compared as text, exactly. Only records in
    both frames are evaluated.

    ``candidate_pairs`` (``record_id_l, record_id_r``) adds blocking recall: the share of
    true pairs found among the candidates in either order.

    List membership for the MSE comparison comes from ``lists`` (a Series of list names
    indexed by record_id), else the clusters' ``list`` column, else the truth's. With it,
    and unless ``mse`` is false, the population is estimated twice with
    :func:`tiphub.estimate.estimate` — from the predicted clusters' capture histories and
    from the true entities' — using ``mse_method`` and keyword ``mse_options`` (e.g.
    ``{"profile": False}``). A failed estimate is reported in ``mse_skipped``, not raised.
    """
    started = time.perf_counter()
    if mse_method not in METHODS:
        raise EvaluationError(
            f"unknown MSE method {mse_method!r}; choose one of {', '.join(METHODS)}"
        )
    for name in (RECORD_ID, CLUSTER_ID):
        if name not in clusters.columns:
            raise EvaluationError("the required column is missing", source="clusters", column=name)
    if RECORD_ID not in truth.columns:
        raise EvaluationError("the required column is missing", source="truth", column=RECORD_ID)
    entity_column = truth_column(list(truth.columns))
    if entity_column is None:
        raise EvaluationError(
            "no true entity column: name it one of " + ", ".join(TRUTH_ID_COLUMNS), source="truth"
        )
    cluster_ids = _frame_ids(clusters, CLUSTER_ID, "clusters")
    entity_ids = _frame_ids(truth, entity_column, "truth")
    cluster_index = _unique_ids(_frame_ids(clusters, RECORD_ID, "clusters"), "clusters")
    truth_index = _unique_ids(_frame_ids(truth, RECORD_ID, "truth"), "truth")
    warnings: list[str] = []

    # Evaluate on the intersection, in the clusters' record order.
    truth_of_cluster_row = truth_index.get_indexer(cluster_index)
    in_both = truth_of_cluster_row >= 0
    cluster_rows = np.flatnonzero(in_both)
    truth_rows = truth_of_cluster_row[in_both]
    evaluated = cluster_index[cluster_rows]
    n_evaluated = len(cluster_rows)
    only_clusters = len(cluster_index) - n_evaluated
    only_truth = len(truth_index) - n_evaluated
    if only_clusters:
        warnings.append(f"{only_clusters:,} records in the clusters are not in the truth")
    if only_truth:
        warnings.append(f"{only_truth:,} records in the truth are not in the clusters")

    cluster_codes, cluster_values = pd.factorize(cluster_ids[cluster_rows])
    entity_codes, entity_values = pd.factorize(entity_ids[truth_rows])
    n_clusters, n_entities = len(cluster_values), len(entity_values)
    cluster_sizes = np.bincount(cluster_codes, minlength=n_clusters)
    entity_sizes = np.bincount(entity_codes, minlength=n_entities)
    cell_keys, cell_sizes = np.unique(
        cluster_codes.astype(np.int64) * max(n_entities, 1) + entity_codes, return_counts=True
    )
    cell_cluster = cell_keys // max(n_entities, 1)
    cell_entity = cell_keys % max(n_entities, 1)
    # A cluster equals an entity exactly when their overlap is the whole of both.
    exact = (cell_sizes == cluster_sizes[cell_cluster]) & (cell_sizes == entity_sizes[cell_entity])

    result = LinkageEvaluation(
        records_clusters=len(cluster_index),
        records_truth=len(truth_index),
        records_evaluated=n_evaluated,
        records_only_in_clusters=only_clusters,
        records_only_in_truth=only_truth,
        predicted_clusters=n_clusters,
        true_entities=n_entities,
        correct_clusters=int(exact.sum()),
        true_pairs=_pairs(entity_sizes),
        predicted_pairs=_pairs(cluster_sizes),
        true_positive_pairs=_pairs(cell_sizes),
        warnings=warnings,
    )
    if candidate_pairs is not None:
        result.candidate_pairs, result.true_pairs_in_candidates = _blocking(
            candidate_pairs, evaluated, entity_codes
        )

    record_lists = _record_lists(
        evaluated, clusters, cluster_rows, truth, truth_rows, lists, warnings
    )
    if not mse:
        result.mse_skipped = "not requested"
    elif record_lists is None:
        result.mse_skipped = "list membership is unknown (no list column)"
    else:
        result.mse_method = mse_method
        try:
            predicted, true, names = _mse(
                record_lists, cluster_codes, entity_codes, mse_method, mse_options or {}
            )
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
            result.mse_skipped = f"the population could not be estimated: {error}"
        else:
            result.lists = names
            result.mse_predicted, result.mse_true = predicted, true
            result.observed_predicted, result.observed_true = predicted.observed, true.observed
            result.population_predicted = predicted.population
            result.population_true = true.population
    result.seconds = time.perf_counter() - started
    return result

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
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tiphub.errors import LocatedError
from tiphub.estimate.api import METHODS, estimate
from tiphub.estimate.results import MSEResult
from tiphub.estimate.table import COUNT_COLUMN, MAX_LISTS, CaptureTable
from tiphub.exchange.spreadsheet import neutralise
from tiphub.linkage.inputs import csv_cell_limit, csv_problem, not_utf8, open_binary, open_text
from tiphub.linkage.outputs import write_frame_csv

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


class EvaluationError(LocatedError):
    """Bad evaluation input, located by source, row and column; never quoting a value.

    For a file, ``source`` is its path and row 1 its header; for a data frame passed to
    :func:`evaluate`, ``source`` is ``clusters``, ``truth``, ``candidate pairs`` or ``lists``
    and row n its n-th data row.
    """


# ---------------------------------------------------------------------- reading


def _read_header(path: Path, source: str) -> list[str]:
    try:
        with open_text(path, EvaluationError, source) as handle, csv_cell_limit():
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError:
        raise not_utf8(path, EvaluationError, source) from None
    except OSError as error:
        raise EvaluationError(f"cannot read the file ({error.strerror})", source=source) from None
    except csv.Error as error:
        raise EvaluationError(csv_problem(error), source=source, row=1) from None
    if header is None or not any(cell.strip() for cell in header):
        raise EvaluationError("the file is empty; expected a header row", source=source)
    return [cell.strip() for cell in header]


def _read_columns(
    path: Path, source: str, header: list[str], wanted: Sequence[str]
) -> pd.DataFrame:
    """Read ``wanted`` columns as text without surrounding spaces; empty cells are ``None``.

    Blank lines are skipped, so data row ``i`` of the frame is not always file row ``i + 2``;
    :func:`_file_row` recovers the file row when an error needs it.
    """
    for name in wanted:
        if header.count(name) > 1:
            raise EvaluationError(
                "the column name appears twice in the header", source=source, row=1, column=name
            )
    # Unused columns may repeat or be blank; give them unique placeholder names. They are
    # still parsed (no usecols): only then does pandas refuse a row with too many cells,
    # which would otherwise shift later cells silently into the wrong columns.
    names = [name if name in wanted else f"\x00unused{i}" for i, name in enumerate(header)]
    try:
        with open_binary(path, EvaluationError, source) as handle, warnings.catch_warnings():
            # Without index_col=False pandas takes a first row with one extra cell as an
            # index and shifts every value; with it, it warns and drops the cell: an error.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                handle,
                header=0,
                names=names,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                engine="c",
                index_col=False,
            )
    except pd.errors.ParserWarning:
        raise EvaluationError(
            "the row has more cells than the header",
            source=source,
            row=_first_long_row(path, len(header)),
        ) from None
    except UnicodeDecodeError:
        raise not_utf8(path, EvaluationError, source) from None
    except pd.errors.ParserError as error:
        # pandas' message holds a line number only, but rebuild it rather than pass it on.
        match = re.search(r"line (\d+)", str(error))
        row = int(match.group(1)) if match else None
        reason = (
            "the row has more cells than the header"
            if "Expected" in str(error)
            else "not a readable CSV file (a quote that is never closed?)"
        )
        raise EvaluationError(reason, source=source, row=row) from None
    columns: dict[str, np.ndarray] = {}
    for name in wanted:
        # Arrow trims in C++; Series.str.strip calls Python per cell, seconds per million.
        text = pc.utf8_trim_whitespace(
            pa.array(frame[name].to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        )
        empty = pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False)
        values = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
        values[empty] = None
        columns[name] = values
    return pd.DataFrame(columns, columns=list(wanted))


_ANY_LENGTH = 2**31 - 1


def _first_long_row(path: Path, width: int) -> int | None:
    # pandas has read the file already; here rows are only counted, whatever their length.
    with open_text(path, EvaluationError) as handle, csv_cell_limit(_ANY_LENGTH):
        for number, row in enumerate(csv.reader(handle), start=1):
            if len(row) > width:
                return number
    return None


def _file_row(path: Path, position: int) -> int:
    """The file row (header = 1, blank lines counted) of the frame's data row ``position``."""
    # pandas has read the file already; here rows are only counted, whatever their length.
    with open_text(path, EvaluationError) as handle, csv_cell_limit(_ANY_LENGTH):
        reader = csv.reader(handle)
        next(reader, None)
        data_rows = -1
        for number, row in enumerate(reader, start=2):
            # pandas skips empty and whitespace-only lines (but not ",,").
            if len(row) > 1 or (row and row[0].strip()):
                data_rows += 1
                if data_rows == position:
                    return number
    return position + 2


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _check_values(
    frame: pd.DataFrame, path: Path, required: Sequence[str], unique: str | None
) -> None:
    """No empty cell in ``required``; ``unique`` (the record id) once per file."""
    source = str(path)
    for name in required:
        position = _first(frame[name].isna().to_numpy())
        if position is not None:
            raise EvaluationError(
                "the value is empty", source=source, row=_file_row(path, position), column=name
            )
    if unique is None:
        return
    position = _first(frame[unique].duplicated(keep="first").to_numpy())
    if position is not None:
        first = _first((frame[unique] == frame[unique].iloc[position]).to_numpy())
        raise EvaluationError(
            f"record_id is not unique (first seen on row {_file_row(path, first or 0)})",
            source=source,
            row=_file_row(path, position),
            column=unique,
        )


def _require(header: Sequence[str], names: Sequence[str], source: str) -> None:
    for name in names:
        if name not in header:
            raise EvaluationError("the required column is missing", source=source, column=name)


def read_clusters(path: str | Path) -> pd.DataFrame:
    """Read predicted clusters: ``record_id, cluster_id`` and ``list`` when present.

    Values are text without surrounding spaces; other columns are ignored. Every listed
    column must be filled in; record ids must be unique.
    """
    path = Path(path)
    source = str(path)
    header = _read_header(path, source)
    _require(header, (RECORD_ID, CLUSTER_ID), source)
    wanted = [RECORD_ID, CLUSTER_ID, *([LIST] if LIST in header else [])]
    frame = _read_columns(path, source, header, wanted)
    _check_values(frame, path, wanted, RECORD_ID)
    return frame


def truth_column(columns: Sequence[str]) -> str | None:
    """The truth's entity column: the first of :data:`TRUTH_ID_COLUMNS` present."""
    return next((name for name in TRUTH_ID_COLUMNS if name in columns), None)


def read_truth(path: str | Path) -> pd.DataFrame:
    """Read the true entities as ``record_id, true_id`` (and ``list`` when present).

    The entity column may be named any of :data:`TRUTH_ID_COLUMNS`; the first present wins
    and is renamed ``true_id``. Checks as :func:`read_clusters`.
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
    _check_values(frame, path, wanted, RECORD_ID)
    return frame.rename(columns={entity: TRUE_ID})


def read_candidate_pairs(path: str | Path) -> pd.DataFrame:
    """Read candidate pairs (``record_id_l, record_id_r``); repeats and either order are fine."""
    path = Path(path)
    source = str(path)
    header = _read_header(path, source)
    _require(header, CANDIDATE_COLUMNS, source)
    frame = _read_columns(path, source, header, CANDIDATE_COLUMNS)
    _check_values(frame, path, CANDIDATE_COLUMNS, None)
    return frame


# ---------------------------------------------------------------------- capture histories


def _text_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes into the sorted distinct texts of ``values``; -1 where missing or empty.

    Only the distinct values are turned into text, so a million records cost one hash pass.
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    if len(uniques) == 0:
        return np.full(len(codes), -1, dtype=np.int64), []
    texts = np.array([str(value).strip() for value in uniques], dtype=object)
    names, inverse = np.unique(texts, return_inverse=True)
    inverse = inverse.astype(np.int64)
    if names[0] == "":
        # An empty name would become a nameless column; treat it as missing.
        inverse -= 1
        names = names[1:]
    mapped = np.where(codes >= 0, inverse[np.maximum(codes, 0)], -1)
    return mapped.astype(np.int64), [str(name) for name in names]


def _history_masks(list_codes: np.ndarray, entity_codes: np.ndarray, n_entities: int) -> np.ndarray:
    """Each entity's capture history as a bit mask (bit i = on list i); 0 = on no list."""
    known = (list_codes >= 0) & (entity_codes >= 0)
    masks = np.zeros(n_entities, dtype=np.int64)
    np.bitwise_or.at(masks, entity_codes[known], np.left_shift(np.int64(1), list_codes[known]))
    return masks


def _entity_strata(
    entity_codes: np.ndarray, stratum_codes: np.ndarray, n_entities: int
) -> np.ndarray:
    """Each entity's most frequent stratum code, ties to the smallest; -1 when it has none.

    Codes follow sorted text order (see :func:`_text_codes`), so the smallest code is the
    first stratum in sorted order.
    """
    result = np.full(n_entities, -1, dtype=np.int64)
    known = (stratum_codes >= 0) & (entity_codes >= 0)
    if not known.any():
        return result
    n_strata = int(stratum_codes.max()) + 1
    keys, votes = np.unique(
        entity_codes[known] * n_strata + stratum_codes[known], return_counts=True
    )
    entity, stratum = keys // n_strata, keys % n_strata
    order = np.lexsort((stratum, -votes, entity))
    entity, stratum = entity[order], stratum[order]
    first = np.ones(len(entity), dtype=bool)
    first[1:] = entity[1:] != entity[:-1]
    result[entity[first]] = stratum[first]
    return result


def _histories_frame(
    masks: np.ndarray,
    list_names: Sequence[str],
    entity_strata: np.ndarray | None = None,
    stratum_names: Sequence[str] = (),
    stratum_column: str = STRATUM,
) -> pd.DataFrame:
    seen = masks > 0
    masks = masks[seen]
    distinct, mask_codes = np.unique(masks, return_inverse=True)
    if entity_strata is None:
        keys, counts = np.unique(mask_codes, return_counts=True)
        strata_of_row = None
        row_masks = distinct[keys]
    else:
        # Missing strata (-1) become the largest code so that they sort last.
        strata = entity_strata[seen].copy()
        strata[strata < 0] = len(stratum_names)
        keys, counts = np.unique(strata * len(distinct) + mask_codes, return_counts=True)
        strata_of_row = keys // max(len(distinct), 1)
        row_masks = distinct[keys % max(len(distinct), 1)]
    out = pd.DataFrame(index=pd.RangeIndex(len(keys)))
    if strata_of_row is not None:
        labels = np.array([*stratum_names, None], dtype=object)
        out[stratum_column] = labels[strata_of_row]
    for bit, name in enumerate(list_names):
        out[name] = ((row_masks >> bit) & 1).astype(np.int64)
    out[COUNT_COLUMN] = counts.astype(np.int64)
    return out


def _check_list_names(list_names: Sequence[str]) -> None:
    if len(list_names) > _MAX_MASK_LISTS:
        raise EvaluationError(
            f"at most {_MAX_MASK_LISTS} lists are supported, found {len(list_names)}"
        )
    if COUNT_COLUMN in list_names:
        raise EvaluationError(f"a list may not be named {COUNT_COLUMN!r}: it is the count column")


def capture_histories(
    record_lists: pd.Series, entity_ids: pd.Series, strata: pd.Series | None = None
) -> pd.DataFrame:
    """Capture histories of entities, in the capture-history CSV format ``tiphub estimate`` reads.

    ``record_lists``, ``entity_ids`` and ``strata`` hold one value per record and are matched
    by position, not by index. An entity is on a list when any of its records is. The result
    has one 0/1 column per list (named by the list as text, in sorted order) and ``count``,
    with rows only for histories someone has, in the order of their bit mask (first list =
    lowest bit), as :meth:`CaptureTable.to_csv` writes them.

    With ``strata``, a stratum column (named after the Series, else ``stratum``) comes first
    and rows are sorted by it (as text), then by history. An entity's stratum is the most
    frequent non-missing value among all its records, ties going to the first in sorted text
    order; an entity with no stratum value has a missing stratum (``None``), sorted last and
    written as an empty cell.

    Records with a missing (or empty) list or a missing entity are ignored; so is an entity
    none of whose records has a list, since a history on no list cannot be observed.
    """
    if len(record_lists) != len(entity_ids) or (
        strata is not None and len(strata) != len(entity_ids)
    ):
        raise EvaluationError("record_lists, entity_ids and strata must have the same length")
    list_codes, list_names = _text_codes(record_lists)
    _check_list_names(list_names)
    entity_codes, entity_values = pd.factorize(entity_ids.to_numpy())
    masks = _history_masks(list_codes, entity_codes, len(entity_values))
    if strata is None:
        return _histories_frame(masks, list_names)
    column = str(strata.name) if strata.name is not None else STRATUM
    if column in list_names or column == COUNT_COLUMN:
        raise EvaluationError(
            f"the stratum column {column!r} has the name of a list or of the count"
        )
    stratum_codes, stratum_names = _text_codes(strata)
    per_entity = _entity_strata(entity_codes, stratum_codes, len(entity_values))
    return _histories_frame(masks, list_names, per_entity, stratum_names, column)


def write_capture_histories(frame: pd.DataFrame, path: str | Path) -> None:
    """Write :func:`capture_histories` output as CSV (a missing stratum is an empty cell).

    The file is 0600 and staged. Stratum values and list names come from the input, so any
    that a spreadsheet would run as a formula get a leading apostrophe.
    """
    if COUNT_COLUMN not in frame.columns:
        raise EvaluationError(f"capture histories need a {COUNT_COLUMN!r} column")
    safe = frame.rename(columns=lambda name: neutralise(name) if isinstance(name, str) else name)
    for column in safe.columns:
        if safe[column].dtype == object:
            safe[column] = safe[column].map(
                lambda value: neutralise(value) if isinstance(value, str) else value
            )
    write_frame_csv(Path(path), safe)


def capture_table(histories: pd.DataFrame, source: str | None = None) -> CaptureTable:
    """An unstratified :func:`capture_histories` frame as a :class:`CaptureTable`."""
    lists = [str(name) for name in histories.columns if name != COUNT_COLUMN]
    if len(lists) > MAX_LISTS:
        raise EvaluationError(f"at most {MAX_LISTS} lists are supported, found {len(lists)}")
    bits = histories[lists].to_numpy()
    if bits.size and not np.isin(bits, (0, 1)).all():
        raise EvaluationError("list columns must hold 0 or 1 (is there a stratum column?)")
    bits = bits.astype(np.int64)
    masks = (bits << np.arange(len(lists), dtype=np.int64)).sum(axis=1)
    counts = np.bincount(
        masks, weights=histories[COUNT_COLUMN].to_numpy(np.int64), minlength=1 << len(lists)
    )
    return CaptureTable(tuple(lists), counts.astype(np.int64), source)


# ---------------------------------------------------------------------- results


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def _f1(hits: int, predicted: int, true: int) -> float:
    """The harmonic mean of precision and recall, ``2·hits / (predicted + true)``.

    Written this way it stays defined (0) when nothing is predicted but something is true.
    """
    return _ratio(2 * hits, predicted + true)


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

    F1 is ``2·hits / (predicted + true)``, the harmonic mean of precision and recall, and 0
    (not undefined) when nothing is predicted. Undefined ratios (nothing to divide by) are
    NaN here and ``None`` in :meth:`to_dict`.

    MSE: ``observed_*``, ``population_*`` and the full results ``mse_predicted`` (from the
    clusters) and ``mse_true`` (from the truth) are ``None`` unless list membership was
    known and both estimates succeeded; ``mse_skipped`` then says why. ``mse_method`` and
    ``lists`` are set whenever an estimate was attempted.
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
        return _f1(self.true_positive_pairs, self.predicted_pairs, self.true_pairs)

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
        return _f1(self.correct_clusters, self.predicted_clusters, self.true_entities)

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

        def people(value: float | None, sign: str = "") -> str:
            return "n/a" if value is None else f"{value:{sign},.1f}"

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
                f"{people(self.population_true):>14}{people(self.estimate_error, '+'):>14}",
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
    ids: np.ndarray = values.astype(str).to_numpy(dtype=object)
    missing = np.flatnonzero(values.isna().to_numpy() | (ids == ""))
    if len(missing):
        raise EvaluationError(
            "the value is empty", source=source, row=int(missing[0]) + 1, column=column
        )
    return ids


def _check_unique(codes: np.ndarray, source: str) -> None:
    if len(codes) and np.bincount(codes).max() > 1:
        position = int(np.flatnonzero(pd.Series(codes).duplicated(keep="first").to_numpy())[0])
        first = int(np.flatnonzero(codes == codes[position])[0])
        raise EvaluationError(
            f"record_id is not unique (first seen on row {first + 1})",
            source=source,
            row=position + 1,
            column=RECORD_ID,
        )


def _pairs(sizes: np.ndarray) -> int:
    sizes = sizes.astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def _compact(codes: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Drop names no record uses (a list nobody is on would stop the estimate)."""
    used = np.unique(codes[codes >= 0])
    remap = np.full(len(names) + 1, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return remap[codes], [names[i] for i in used]


def _list_codes(
    evaluated: np.ndarray,
    clusters: pd.DataFrame,
    cluster_rows: np.ndarray,
    truth: pd.DataFrame,
    truth_rows: np.ndarray,
    lists: pd.Series | None,
    warnings: list[str],
) -> tuple[np.ndarray, list[str]] | None:
    """Each evaluated record's list code: from ``lists``, else the clusters', else the truth's."""
    if lists is not None:
        mapping = pd.Series(lists.to_numpy(dtype=object), index=lists.index.astype(str))
        if not mapping.index.is_unique:
            raise EvaluationError("the lists Series has a record_id more than once", source="lists")
        codes, names = _text_codes(mapping.reindex(evaluated).to_numpy(dtype=object))
        unknown = int((codes < 0).sum())
        if unknown:
            warnings.append(f"{unknown:,} evaluated records have no list and are left out of MSE")
        return codes, names
    sources = [
        _text_codes(frame[LIST].to_numpy(dtype=object)[rows])
        for frame, rows in ((clusters, cluster_rows), (truth, truth_rows))
        if LIST in frame.columns
    ]
    if not sources:
        return None
    if len(sources) == 1:
        return sources[0]
    (from_clusters, cluster_names), (from_truth, truth_names) = sources
    names = sorted({*cluster_names, *truth_names})
    position = {name: i for i, name in enumerate(names)}
    # The trailing -1 makes code -1 (missing) map to -1.
    a = np.array([*(position[n] for n in cluster_names), -1], dtype=np.int64)[from_clusters]
    b = np.array([*(position[n] for n in truth_names), -1], dtype=np.int64)[from_truth]
    disagree = int(((a >= 0) & (b >= 0) & (a != b)).sum())
    if disagree:
        warnings.append(
            f"{disagree:,} records are on different lists in the clusters and the truth; "
            "the clusters' lists were used"
        )
    return _compact(np.where(a >= 0, a, b), names)


def _blocking(
    candidate_pairs: pd.DataFrame,
    record_values: np.ndarray,
    evaluated_position: np.ndarray,
    entity_codes: np.ndarray,
) -> tuple[int, int]:
    """(candidate pairs, distinct true pairs among them), counted without listing true pairs.

    A candidate covers a true pair when both records are evaluated, distinct and of one
    entity; repeats and the reverse order are counted once. ``record_values`` are the
    distinct record ids and ``evaluated_position`` maps each to its evaluated position or -1.
    """
    for name in CANDIDATE_COLUMNS:
        if name not in candidate_pairs.columns:
            raise EvaluationError(
                "the required column is missing", source="candidate pairs", column=name
            )
    left_ids = candidate_pairs[CANDIDATE_COLUMNS[0]]
    right_ids = candidate_pairs[CANDIDATE_COLUMNS[1]]
    n_records, n_pairs = len(record_values), len(candidate_pairs)
    if n_records == 0 or n_pairs == 0:
        return n_pairs, 0
    # Factorising the distinct record ids first gives them codes 0..n-1, so a candidate id
    # with a larger code is unknown; one hash pass beats Index.get_indexer by far here.
    codes, _ = pd.factorize(
        np.concatenate(
            [
                record_values,
                left_ids.astype(str).to_numpy(dtype=object),
                right_ids.astype(str).to_numpy(dtype=object),
            ]
        )
    )
    positions = []
    for part, ids in enumerate((left_ids, right_ids)):
        code = codes[n_records + part * n_pairs : n_records + (part + 1) * n_pairs]
        found = np.where(code < n_records, evaluated_position[np.minimum(code, n_records - 1)], -1)
        found[ids.isna().to_numpy()] = -1
        positions.append(found)
    left, right = positions
    usable = (left >= 0) & (right >= 0) & (left != right)
    left, right = left[usable], right[usable]
    same = entity_codes[left] == entity_codes[right]
    low = np.minimum(left[same], right[same]).astype(np.int64)
    high = np.maximum(left[same], right[same]).astype(np.int64)
    covered = int(np.unique(low * len(entity_codes) + high).size)
    return n_pairs, covered


def _mse(
    list_codes: np.ndarray,
    list_names: Sequence[str],
    groupings: Sequence[tuple[np.ndarray, int, str]],
    method: str,
    options: Mapping[str, Any],
) -> list[MSEResult]:
    """One estimate per grouping of the records (codes, number of groups, name)."""
    if len(list_names) > MAX_LISTS:
        raise EvaluationError(f"at most {MAX_LISTS} lists are supported, found {len(list_names)}")
    results = []
    for codes, n_groups, name in groupings:
        masks = _history_masks(list_codes, codes, n_groups)
        table = capture_table(_histories_frame(masks, list_names), name)
        # One estimate per grouping, compared with each other: no alternative methods.
        results.append(estimate(table, method, alternatives=False, **options))
    return results


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
    indexed by record_id), else the clusters' ``list`` column, else the truth's (records
    without a list in the clusters take the truth's). With it, and unless ``mse`` is false,
    the population is estimated twice with :func:`tiphub.estimate.estimate` — from the
    predicted clusters' capture histories and from the true entities' — with ``mse_method``
    and the keyword arguments ``mse_options`` (e.g. ``{"profile": False}``). An estimate
    that cannot be made is reported in ``mse_skipped``, not raised.
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
    cluster_records = _frame_ids(clusters, RECORD_ID, "clusters")
    cluster_ids = _frame_ids(clusters, CLUSTER_ID, "clusters")
    truth_records = _frame_ids(truth, RECORD_ID, "truth")
    entity_ids = _frame_ids(truth, entity_column, "truth")
    warnings: list[str] = []

    # One hash pass over both id columns gives uniqueness checks and the intersection.
    record_codes, record_values = pd.factorize(np.concatenate([cluster_records, truth_records]))
    cluster_codes_all = record_codes[: len(cluster_records)]
    truth_codes_all = record_codes[len(cluster_records) :]
    _check_unique(cluster_codes_all, "clusters")
    _check_unique(truth_codes_all, "truth")
    truth_row_of_record = np.full(len(record_values), -1, dtype=np.int64)
    truth_row_of_record[truth_codes_all] = np.arange(len(truth_codes_all))
    truth_row_of_cluster_row = truth_row_of_record[cluster_codes_all]
    # Evaluated records, in the clusters' order.
    cluster_rows = np.flatnonzero(truth_row_of_cluster_row >= 0)
    truth_rows = truth_row_of_cluster_row[cluster_rows]
    n_evaluated = len(cluster_rows)
    only_clusters = len(cluster_records) - n_evaluated
    only_truth = len(truth_records) - n_evaluated
    if only_clusters:
        warnings.append(f"{only_clusters:,} records in the clusters are not in the truth")
    if only_truth:
        warnings.append(f"{only_truth:,} records in the truth are not in the clusters")

    cluster_codes, cluster_values = pd.factorize(cluster_ids[cluster_rows])
    entity_codes, entity_values = pd.factorize(entity_ids[truth_rows])
    n_clusters, n_entities = len(cluster_values), len(entity_values)
    cluster_sizes = np.bincount(cluster_codes, minlength=n_clusters)
    entity_sizes = np.bincount(entity_codes, minlength=n_entities)
    width = max(n_entities, 1)
    cell_keys, cell_sizes = np.unique(
        cluster_codes.astype(np.int64) * width + entity_codes, return_counts=True
    )
    cell_cluster, cell_entity = cell_keys // width, cell_keys % width
    # A cluster equals an entity exactly when their overlap is the whole of both.
    exact = (cell_sizes == cluster_sizes[cell_cluster]) & (cell_sizes == entity_sizes[cell_entity])

    result = LinkageEvaluation(
        records_clusters=len(cluster_records),
        records_truth=len(truth_records),
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
        evaluated_position = np.full(len(record_values), -1, dtype=np.int64)
        evaluated_position[cluster_codes_all[cluster_rows]] = np.arange(n_evaluated)
        result.candidate_pairs, result.true_pairs_in_candidates = _blocking(
            candidate_pairs,
            np.asarray(record_values, dtype=object),
            evaluated_position,
            entity_codes,
        )

    found_lists = _list_codes(
        cluster_records[cluster_rows], clusters, cluster_rows, truth, truth_rows, lists, warnings
    )
    if not mse:
        result.mse_skipped = "not requested"
    elif found_lists is None:
        result.mse_skipped = "list membership is unknown (no list column)"
    else:
        result.mse_method = mse_method
        list_codes, list_names = found_lists
        result.lists = tuple(list_names)
        groupings = [(cluster_codes, n_clusters, "clusters"), (entity_codes, n_entities, "truth")]
        try:
            predicted, true = _mse(list_codes, list_names, groupings, mse_method, mse_options or {})
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
            result.mse_skipped = f"the population could not be estimated: {error}"
        else:
            result.mse_predicted, result.mse_true = predicted, true
            result.observed_predicted, result.observed_true = predicted.observed, true.observed
            result.population_predicted = predicted.population
            result.population_true = true.population
    result.seconds = time.perf_counter() - started
    return result

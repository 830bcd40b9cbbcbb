"""How far the linker is from what its candidate pairs allow: a supervised bound.

A gradient-boosted classifier is trained on the scored pairs *with the truth*, three-fold
cross-validated, on more than the model sees: every comparison level, the names' term
frequencies, how many records share each name part, the distance between the dates, whether
the pair is within one list, and string similarities of the names. Its best pairwise F1
over all thresholds, on the same candidate pairs, is an estimate of what any pairwise
classifier could reach on these records without new information: a target above it needs
more recall from blocking or more evidence in the records, not a better-weighted model.

Edge level: the pairs the classifier puts above its threshold, not clusters. The linker's
clustering adds about 0.01 over its own edges (transitivity recovers a few missed pairs),
so compare the linker's edge F1 (also printed) with the bound, and its cluster F1 with the
bound plus that margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from rapidfuzz.distance import JaroWinkler, Levenshtein
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import KFold, cross_val_predict

_SEED = 20261201
_NAME_COLUMNS = ("name_sk", "given_sk", "family_sk", "name_tokens")


@dataclass(frozen=True)
class Bound:
    f1: float
    precision: float
    recall: float
    linker_edge_f1: float
    pairs: int


def best_f1(
    scores: npt.NDArray[np.float64], truth: npt.NDArray[np.bool_], true_pairs: int
) -> tuple[float, float, float]:
    """(F1, precision, recall) at the best threshold on ``scores``; pairs not scored count
    as missed."""
    order = np.argsort(-scores, kind="stable")
    found = np.cumsum(truth[order])
    taken = np.arange(1, len(order) + 1)
    precision = found / taken
    recall = found / max(true_pairs, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    best = int(np.argmax(f1))
    return float(f1[best]), float(precision[best]), float(recall[best])


def _pair_features(prepared: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    left = pairs["unique_id_l"].to_numpy(np.int64)
    right = pairs["unique_id_r"].to_numpy(np.int64)
    gammas = [name for name in pairs.columns if name.startswith("gamma_")]
    features = pairs[gammas].fillna(-1).reset_index(drop=True)
    if "mw_tf_adj_name" in pairs.columns:
        features["tf_name"] = pairs["mw_tf_adj_name"].fillna(0).to_numpy()
    for column in _NAME_COLUMNS:
        values = prepared[column]
        shared = values.map(values.value_counts()).fillna(0).to_numpy(float)
        features[f"{column}_fewer"] = np.log1p(np.minimum(shared[left], shared[right]))
        features[f"{column}_more"] = np.log1p(np.maximum(shared[left], shared[right]))
    for column in ("dob_year", "dob_month", "dob_day"):
        value = prepared[column].to_numpy(dtype=float, na_value=np.nan)
        features[f"{column}_apart"] = np.abs(value[left] - value[right])
    year = prepared["dob_year"].to_numpy(dtype=float, na_value=np.nan)
    features["dates_missing"] = np.isnan(year[left]).astype(int) + np.isnan(year[right])
    lists = pd.factorize(prepared["list"])[0]
    features["same_list"] = (lists[left] == lists[right]).astype(int)
    tokens = prepared["name_tokens"].fillna("").to_numpy(object)
    given = prepared["given_std"].fillna("").to_numpy(object)
    family = prepared["family_std"].fillna("").to_numpy(object)
    features["tokens_distance"] = [
        Levenshtein.normalized_distance(a, b)
        for a, b in zip(tokens[left], tokens[right], strict=True)
    ]
    features["given_similarity"] = [
        JaroWinkler.similarity(a, b) for a, b in zip(given[left], given[right], strict=True)
    ]
    features["family_similarity"] = [
        JaroWinkler.similarity(a, b) for a, b in zip(family[left], family[right], strict=True)
    ]
    return features


def supervised_bound(
    prepared: pd.DataFrame, pairs: pd.DataFrame, true_codes: npt.NDArray[np.int64]
) -> Bound:
    """The bound on ``pairs`` (the linker's scored pairs) of ``prepared`` records whose true
    person is ``true_codes`` (one integer per record, by ``unique_id``)."""
    left = pairs["unique_id_l"].to_numpy(np.int64)
    right = pairs["unique_id_r"].to_numpy(np.int64)
    truth = true_codes[left] == true_codes[right]
    people = np.bincount(true_codes)
    true_pairs = int((people * (people - 1) // 2).sum())
    features = _pair_features(prepared, pairs)
    folds = KFold(n_splits=3, shuffle=True, random_state=_SEED)
    scores = cross_val_predict(
        HistGradientBoostingClassifier(max_iter=300, random_state=_SEED),
        features,
        truth,
        cv=folds,
        method="predict_proba",
    )[:, 1]
    f1, precision, recall = best_f1(scores, truth, true_pairs)
    linker_f1, _, _ = best_f1(pairs["match_probability"].to_numpy(float), truth, true_pairs)
    return Bound(f1, precision, recall, linker_f1, len(pairs))

"""Scam-ad classifier benchmark on the shipped EMSCAD sample, split by near-duplicate group.

    .venv/bin/python bench/online_classifier_bench.py [--seeds 5] [--skip-char]

Prints: how many near-duplicate groups cross the published train/test split; F1 on that split
(TF-IDF + logistic regression, the published 0.92 baseline, and the shipped model); then, with
train and test pooled and split 75/25 by near-duplicate group over several seeds (tuning only
by grouped cross-validation inside the training part), mean ± sd of balanced-sample F1 for
each model tried; and for the shipped model (tiphub.online.classifier.AdClassifier)
precision, recall, F1, Brier score and expected calibration error at 5% prevalence, measured
both by reweighting negatives and by subsampling positives. Target (issue 16): grouped F1 ≥ 0.95.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.sparse import hstack
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, GroupKFold, GroupShuffleSplit
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from tiphub.online.classifier import (
    REAL_PREVALENCE,
    AdClassifier,
    load_sample,
    near_duplicate_groups,
    preprocess,
    prevalence_metrics,
)

SUBSAMPLES = 300


def _words() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)


def _chars() -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, max_features=300_000
    )


def _tuned(
    estimator: Any, grid: dict[str, list[Any]], features: Any, labels: Any, groups: Any
) -> Any:
    search = GridSearchCV(estimator, grid, scoring="f1", cv=GroupKFold(n_splits=5))
    search.fit(features, labels, groups=groups)
    return search.best_estimator_


def _given_split() -> None:
    train_texts, train_labels = load_sample("train")
    test_texts, test_labels = load_sample("test")
    texts = train_texts + test_texts
    groups = np.asarray(near_duplicate_groups(texts))
    side = np.r_[np.zeros(len(train_texts)), np.ones(len(test_texts))]
    crossing = sum(len(set(side[groups == group])) > 1 for group in np.unique(groups))
    sizes = np.bincount(groups)
    exact = len(texts) - len(set(texts))
    print(
        f"near-duplicate groups (cosine >= 0.9): {len(sizes):,} over {len(texts):,} ads, "
        f"{int((sizes > 1).sum())} with more than one ad (largest {sizes.max()}), "
        f"{crossing} crossing the given train/test split; {exact} exact duplicate texts",
        flush=True,
    )
    vectorizer = TfidfVectorizer(sublinear_tf=True)
    baseline = LogisticRegression(max_iter=3000).fit(
        vectorizer.fit_transform(train_texts), train_labels
    )
    baseline_f1 = f1_score(test_labels, baseline.predict(vectorizer.transform(test_texts)))
    model = AdClassifier().fit(train_texts, train_labels)
    margins = model.decision_scores(test_texts)
    print(
        f"given split F1 (balanced test file): TF-IDF + LR (scikit-learn defaults) {baseline_f1:.3f}, "
        f"shipped model {f1_score(test_labels, margins > 0):.3f} (published baseline 0.92)",
        flush=True,
    )


def _model_scores(
    train: list[str], y_train: np.ndarray, test: list[str], groups: np.ndarray, use_char: bool
) -> dict[str, np.ndarray]:
    """Predicted labels on ``test`` for each model tried, tuned on ``train`` only."""
    words = _words()
    word_train, word_test = words.fit_transform(train), words.transform(test)
    predicted: dict[str, np.ndarray] = {}
    chosen: dict[str, Any] = {}
    chosen["word LR"] = _tuned(
        LogisticRegression(max_iter=3000), {"C": [3, 10, 30, 100]}, word_train, y_train, groups
    )
    chosen["word SVM"] = _tuned(LinearSVC(), {"C": [0.3, 1, 3]}, word_train, y_train, groups)
    chosen["word SGD"] = _tuned(
        SGDClassifier(loss="modified_huber", random_state=0),
        {"alpha": [1e-5, 3e-5, 1e-4]},
        word_train,
        y_train,
        groups,
    )
    chosen["word CNB"] = _tuned(
        ComplementNB(), {"alpha": [0.1, 0.3, 1.0]}, word_train, y_train, groups
    )
    feature_sets = {name: (word_train, word_test) for name in chosen}
    if use_char:
        chars = _chars()
        both_train = hstack([word_train, chars.fit_transform(train)]).tocsr()
        both_test = hstack([word_test, chars.transform(test)]).tocsr()
        # C fixed (1 did best on the first grouped splits): a grid over 300,000 char features
        # would take most of the run
        chosen["word+char SVM"] = LinearSVC(C=1.0)
        feature_sets["word+char SVM"] = (both_train, both_test)
    probabilities = []
    folds = list(GroupKFold(n_splits=5).split(word_train, y_train, groups))
    for name, estimator in chosen.items():
        fitted_train, fitted_test = feature_sets[name]
        predicted[name] = estimator.fit(fitted_train, y_train).predict(fitted_test)
        calibrated = CalibratedClassifierCV(estimator, method="sigmoid", cv=folds)
        probabilities.append(calibrated.fit(fitted_train, y_train).predict_proba(fitted_test)[:, 1])
    predicted["ensemble (mean calibrated prob.)"] = np.mean(probabilities, axis=0) >= 0.5
    return predicted


def _subsampled(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, seeds: int
) -> tuple[float, float, float]:
    """Precision, recall and F1 pooled over subsamples keeping every negative and enough
    positives (drawn without replacement) for 5% prevalence."""
    rng = np.random.default_rng(0)
    positives = np.flatnonzero(labels == 1)
    negatives = np.flatnonzero(labels == 0)
    keep = max(1, round(len(negatives) * REAL_PREVALENCE / (1 - REAL_PREVALENCE)))
    true_positive = flagged = actual = 0
    for _ in range(seeds):
        chosen = np.r_[negatives, rng.choice(positives, keep, replace=False)]
        flags = probabilities[chosen] >= threshold
        true_positive += int((flags & (labels[chosen] == 1)).sum())
        flagged += int(flags.sum())
        actual += keep
    precision = true_positive / flagged if flagged else 0.0
    recall = true_positive / actual
    return precision, recall, 2 * precision * recall / (precision + recall)


def _summary(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f} (min {np.min(values):.3f})"


def _grouped(seeds: int, use_char: bool) -> None:
    train_texts, train_labels = load_sample("train")
    test_texts, test_labels = load_sample("test")
    raw = train_texts + test_texts
    cleaned = np.array([preprocess(text) for text in raw], dtype=object)
    labels = np.r_[train_labels, test_labels]
    groups = np.asarray(near_duplicate_groups(raw))
    f1s: dict[str, list[float]] = {}
    at_rate: dict[str, list[float]] = {}
    for seed in range(seeds):
        started = time.perf_counter()
        splitter = GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=seed)
        train, test = next(splitter.split(cleaned, labels, groups))
        predicted = _model_scores(
            list(cleaned[train]), labels[train], list(cleaned[test]), groups[train], use_char
        )
        model = AdClassifier(random_state=seed).fit(
            list(cleaned[train]), labels[train], groups[train]
        )
        predicted["shipped: word SVM C=1 (margin 0)"] = model.decision_scores(cleaned[test]) > 0
        for name, flags in predicted.items():
            f1s.setdefault(name, []).append(float(f1_score(labels[test], flags)))
        probabilities = model.predict_proba(list(cleaned[test]))
        weighted = prevalence_metrics(labels[test], probabilities, model.threshold)
        sampled = _subsampled(labels[test], probabilities, model.threshold, SUBSAMPLES)
        balanced = model.predict_proba(list(cleaned[test]), prevalence=float(labels[train].mean()))
        for key, value in (
            ("precision (reweighted)", weighted.precision),
            ("precision (subsampled)", sampled[0]),
            ("recall (reweighted)", weighted.recall),
            ("recall (subsampled)", sampled[1]),
            ("F1 (reweighted)", weighted.f1),
            ("F1 (subsampled)", sampled[2]),
            ("Brier", weighted.brier),
            ("ECE (10 bins)", weighted.calibration_error),
            ("mean predicted probability", weighted.mean_probability),
            ("threshold", model.threshold),
            (
                "balanced-sample F1 at the 5% threshold",
                float(f1_score(labels[test], probabilities >= model.threshold)),
            ),
            (
                "balanced-sample Brier (prob. at training rate)",
                float(np.mean((balanced - labels[test]) ** 2)),
            ),
        ):
            at_rate.setdefault(key, []).append(value)
        print(f"  seed {seed}: {time.perf_counter() - started:.1f} s", flush=True)
    print(f"grouped 75/25 splits, {seeds} seeds, balanced test part: F1 mean ± sd", flush=True)
    for name, values in sorted(f1s.items(), key=lambda item: -np.mean(item[1])):
        print(f"  {name:<36} {_summary(values)}")
    print("shipped model at 5% prevalence (negatives reweighted / positives subsampled):")
    for key, values in at_rate.items():
        print(f"  {key:<46} {_summary(values)}")


def _default_timing() -> None:
    from tiphub.online.classifier import default_classifier

    started, cpu = time.perf_counter(), time.process_time()
    model = default_classifier()
    print(
        f"default_classifier(): trained in {time.perf_counter() - started:.1f} s wall, "
        f"{time.process_time() - cpu:.1f} s CPU; {model.describe()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--skip-char", action="store_true", help="skip word+char features")
    arguments = parser.parse_args()
    steps: list[Callable[[], None]] = [
        _default_timing,
        _given_split,
        lambda: _grouped(arguments.seeds, not arguments.skip_char),
    ]
    for step in steps:
        step()


if __name__ == "__main__":
    main()

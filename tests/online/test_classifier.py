"""The scam-ad classifier: preprocessing, near-duplicate groups, the prior shift, and the
shipped model's grouped accuracy and calibration at 5% prevalence."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import GroupShuffleSplit

from tiphub.online.classifier import (
    AdClassifier,
    default_classifier,
    load_sample,
    near_duplicate_groups,
    preprocess,
    prevalence_metrics,
    prevalence_weights,
    prior_shift,
)

# Measured on grouped 75/25 splits (bench/online_classifier_bench.py): F1 0.921 ± 0.029 over
# five seeds; the floor sits below that mean, and this test uses one fixed split.
GROUPED_F1_FLOOR = 0.88


def test_preprocess_cleans_like_the_emscad_text() -> None:
    raw = "<p>We are HIRING now!</p><br>Earn $500/day &amp; work from home, don't wait."
    assert preprocess(raw) == "hiring earn 500 day amp work home wait"


def test_preprocess_masks_contacts_and_keeps_words_emscad_kept() -> None:
    text = "Mail Jo.B@example.org, see https://example.org/jobs, call [phone] phone_3fa9c0de12"
    expected = "mail email_masked see url_masked call phone_masked phone_masked"
    assert preprocess(text) == expected
    # NLTK's list, not scikit-learn's: "one", "us" and "well" stay, as in the sample
    assert preprocess("one of us as well") == "one us well"


def test_preprocess_is_idempotent_on_the_sample() -> None:
    texts, _ = load_sample("test")
    for text in texts[:50]:
        once = preprocess(text)
        assert preprocess(once) == once


def test_near_duplicate_groups_join_a_planted_copy_only() -> None:
    original = (
        "Data entry clerk wanted to work from home, earn 3000 weekly, no experience needed, "
        "training provided, apply today with your bank details and a copy of your passport"
    )
    reposted = original.replace("3000", "3500").replace("today", "now")
    unrelated = [
        "Senior Java developer for a payments team in Lisbon, five years experience required",
        "Registered nurse, night shifts, hospital in Leeds, NMC registration essential",
        "Warehouse operative, forklift licence, permanent contract with overtime pay",
    ]
    groups = near_duplicate_groups([unrelated[0], original, unrelated[1], reposted, unrelated[2]])
    assert groups[1] == groups[3]
    assert len({groups[0], groups[1], groups[2], groups[4]}) == 4
    assert groups[0] == 0  # numbered in order of first appearance


def test_near_duplicate_groups_handle_empty_and_identical_texts() -> None:
    assert near_duplicate_groups([]) == []
    groups = near_duplicate_groups(["", "", "a", "The Job!", "job"])
    assert groups[0] == groups[1]  # equal after preprocessing
    assert groups[3] == groups[4]
    assert groups[2] != groups[3]


def test_prior_shift_matches_a_hand_computation() -> None:
    # p = 0.8 at prevalence 0.5 has odds 4; the prior odds fall from 1 to 0.05 / 0.95 = 1/19,
    # so the odds become 4/19 and the probability 4/23.
    assert float(prior_shift(0.8, 0.5, 0.05)) == pytest.approx(4 / 23)
    shifted = prior_shift(np.array([0.1, 0.5, 0.9]), 0.46, 0.05)
    back = prior_shift(shifted, 0.05, 0.46)
    assert np.allclose(back, [0.1, 0.5, 0.9])
    assert float(prior_shift(0.46, 0.46, 0.05)) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="to_prevalence"):
        prior_shift(0.5, 0.5, 1.0)


def test_prevalence_weights_make_positives_the_given_share() -> None:
    labels = np.array([1, 1, 0, 0, 0])
    weights = prevalence_weights(labels, 0.05)
    assert weights[labels == 1].sum() / weights.sum() == pytest.approx(0.05)


def test_prevalence_metrics_on_a_hand_example() -> None:
    labels = np.array([1, 1, 0, 0])
    probabilities = np.array([0.9, 0.2, 0.8, 0.1])
    # weights: positives 1, negatives 2 * 0.5 / (0.5 * 2) = 1, so nothing is reweighted
    metrics = prevalence_metrics(labels, probabilities, 0.5, prevalence=0.5)
    assert metrics.precision == pytest.approx(0.5)
    assert metrics.recall == pytest.approx(0.5)
    assert metrics.brier == pytest.approx((0.01 + 0.64 + 0.64 + 0.01) / 4)


@pytest.fixture(scope="module")
def grouped_split() -> tuple[AdClassifier, list[str], np.ndarray]:
    """A classifier trained on three quarters of the pooled sample, split by near-duplicate
    group, with the held-out quarter."""
    train_texts, train_labels = load_sample("train")
    test_texts, test_labels = load_sample("test")
    texts = train_texts + test_texts
    labels = np.concatenate([train_labels, test_labels])
    groups = np.asarray(near_duplicate_groups(texts))
    splitter = GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=0)
    train, test = next(splitter.split(texts, labels, groups))
    model = AdClassifier().fit([texts[i] for i in train], labels[train], groups[train])
    return model, [texts[i] for i in test], labels[test]


def test_grouped_f1_beats_the_floor(
    grouped_split: tuple[AdClassifier, list[str], np.ndarray],
) -> None:
    model, texts, labels = grouped_split
    flagged = model.decision_scores(texts) > 0
    true_positive = int((flagged & (labels == 1)).sum())
    f1 = 2 * true_positive / (int(flagged.sum()) + int(labels.sum()))
    assert f1 >= GROUPED_F1_FLOOR


def test_probabilities_are_calibrated_at_five_percent(
    grouped_split: tuple[AdClassifier, list[str], np.ndarray],
) -> None:
    model, texts, labels = grouped_split
    probabilities = model.predict_proba(texts)
    metrics = prevalence_metrics(labels, probabilities, model.threshold, prevalence=0.05)
    assert metrics.mean_probability == pytest.approx(0.05, abs=0.02)
    assert metrics.calibration_error < 0.05
    # the same ads scored for a balanced population average near that population's rate
    balanced = model.predict_proba(texts, prevalence=model.training_prevalence)
    assert float(balanced.mean()) == pytest.approx(float(labels.mean()), abs=0.06)
    assert 0.0 < model.threshold < 1.0
    assert metrics.recall > 0.5


def test_default_classifier_scores_and_explains_a_scam() -> None:
    model = default_classifier()
    assert default_classifier() is model  # trained once per process
    assert model.prevalence == 0.05
    scam = "Data entry from home! Earn $3000 weekly, no experience, pay the training fee first."
    legitimate = (
        "Our engineering team in Berlin is looking for a backend developer with experience in "
        "distributed systems, code review and mentoring; competitive salary and pension."
    )
    scam_probability, legitimate_probability = model.predict_proba([scam, legitimate])
    assert scam_probability > legitimate_probability
    assert 0.0 <= legitimate_probability < scam_probability <= 1.0
    words = model.explain(scam, top=5)
    assert 0 < len(words) <= 5
    cleaned = preprocess(scam)
    for term in words:
        assert f" {term} " in f" {cleaned} "
    assert model.predict_proba([]).shape == (0,)


def test_fit_rejects_a_single_class() -> None:
    with pytest.raises(ValueError, match="both 0 and 1"):
        AdClassifier().fit(["a job", "another job"], [0, 0])
    with pytest.raises(RuntimeError, match="fit"):
        AdClassifier().predict_proba(["a job"])

"""The linkage bench's supervised bound: its threshold arithmetic and that it learns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.bench_modules import load_bench_module
from tests.linkage.test_linker import _record_set
from tiphub.linkage.linker import link_records
from tiphub.linkage.population import generate_population
from tiphub.linkage.records import prepare

bound = load_bench_module("linkage_bound")


def test_best_f1_on_a_hand_counted_ranking() -> None:
    # Ranked: true, true, false, true; 5 true pairs in all (one never scored).
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    truth = np.array([True, True, False, True])
    f1, precision, recall = bound.best_f1(scores, truth, 5)
    # Top 2: P 1, R 0.4, F1 0.571; top 4: P 0.75, R 0.6, F1 0.667 (the best).
    assert (precision, recall) == (0.75, 0.6)
    assert abs(f1 - 2 * 0.75 * 0.6 / 1.35) < 1e-12


def test_the_bound_reaches_at_least_the_linker_on_a_generated_population() -> None:
    frame, truth = generate_population(3_000, seed=17)
    records = _record_set(frame)
    result = link_records(records)
    true_id = truth.set_index("record_id")["true_id"].reindex(frame["record_id"]).to_numpy()
    codes = pd.factorize(true_id)[0]
    found = bound.supervised_bound(prepare(records.frame), result.pairs, codes)
    assert found.pairs == len(result.pairs)
    # Trained on the truth with more evidence than the model, it ranks at least as well,
    # short of cross-validation noise, and it cannot find pairs that were never scored.
    assert found.f1 >= found.linker_edge_f1 - 0.01
    left = result.pairs["unique_id_l"].to_numpy()
    right = result.pairs["unique_id_r"].to_numpy()
    people = np.bincount(codes)
    scored_share = (codes[left] == codes[right]).sum() / (people * (people - 1) // 2).sum()
    assert found.recall <= scored_share + 1e-12
    assert 0.5 < found.f1 <= 1

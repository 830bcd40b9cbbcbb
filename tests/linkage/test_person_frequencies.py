"""Term frequencies among other people: a name only one person has is rare evidence of a
namesake, however often that person was recorded."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.linkage.test_linker import _record_set
from tiphub.linkage.linker import _LONE_VALUE_PEOPLE, person_frequencies, score_records
from tiphub.linkage.population import generate_population
from tiphub.linkage.records import prepare


def test_people_are_counted_by_birth_date_and_the_pair_s_own_person_left_out() -> None:
    one_person = [("ana pop", "1990-01-02"), ("ana pop", "1990-01-02"), ("ana pop", None)]
    # Three people, one of them also recorded without a date.
    three_people = [("ion rusu", f"198{k}-05-05") for k in range(3)] + [("ion rusu", None)]
    # Only undated records: one person as far as anyone can tell.
    undated = [("lan vu", None), ("lan vu", None)]
    prepared = pd.DataFrame(one_person + three_people + undated, columns=["name_sk", "dob"])
    table = person_frequencies(prepared, "name_sk").set_index("name_sk")["tf_name_sk"]
    people = 1 + 3 + 1
    assert table["ana pop"] == pytest.approx(_LONE_VALUE_PEOPLE / people)
    assert table["ion rusu"] == pytest.approx(2 / people)
    assert table["lan vu"] == pytest.approx(_LONE_VALUE_PEOPLE / people)


def test_splink_scores_with_the_people_frequencies() -> None:
    records, _ = generate_population(1_500, seed=5)
    record_set = _record_set(records)
    prepared, scored = score_records(record_set)
    pairs = scored.frame
    exact = pairs[pairs["gamma_name"] == pairs["gamma_name"].max()]
    assert len(exact) > 50
    table = person_frequencies(prepare(record_set.frame), "name_sk").set_index("name_sk")
    name_of = prepared["name_sk"].to_numpy()
    levels = next(
        item["comparison_levels"]
        for item in scored.model_json["comparisons"]
        if item["output_column_name"] == "name"
    )
    u_exact = next(level for level in levels if level.get("tf_adjustment_column") == "name_sk")[
        "u_probability"
    ]
    tf = table["tf_name_sk"].reindex(name_of[exact["unique_id_l"].to_numpy()]).to_numpy()
    expected = np.log2(u_exact / tf)
    assert np.allclose(exact["mw_tf_adj_name"].to_numpy(float), expected, atol=1e-6)
    # Records' own frequencies would have given a different adjustment.
    records_tf = prepared["name_sk"].map(prepared["name_sk"].value_counts(normalize=True))
    by_records = np.log2(u_exact / records_tf.to_numpy()[exact["unique_id_l"].to_numpy()])
    assert not np.allclose(by_records, expected, atol=0.1)
    assert math.isfinite(float(expected.max()))

"""The same model on Spark (local mode) gives the same pairs, probabilities and clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tiphub.linkage import datasets
from tiphub.linkage.linker import link_records
from tiphub.linkage.records import IDENTITY_COLUMNS, RecordSet


def test_spark_gives_the_same_links_as_duckdb() -> None:
    frame, _ = datasets.demo_person_records(1500, seed=3)
    for name in IDENTITY_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    records = RecordSet(frame.astype(object).where(frame.notna(), None), ("test",))
    duckdb = link_records(records, backend="duckdb")
    spark = link_records(records, backend="spark")
    keys = ["unique_id_l", "unique_id_r"]
    merged = duckdb.pairs[[*keys, "match_probability"]].merge(
        spark.pairs[[*keys, "match_probability"]], on=keys, how="outer", indicator=True
    )
    assert (merged["_merge"] == "both").all()
    assert len(merged) > 100
    assert np.allclose(merged["match_probability_x"], merged["match_probability_y"], atol=1e-9)
    assert duckdb.threshold.threshold == spark.threshold.threshold
    pd.testing.assert_frame_equal(duckdb.clusters_frame(), spark.clusters_frame())

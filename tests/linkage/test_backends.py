"""The same model on Spark (local mode) gives the same pairs, probabilities and clusters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tiphub.files import run_temp_dir
from tiphub.linkage import datasets
from tiphub.linkage.linker import link_records
from tiphub.linkage.records import IDENTITY_COLUMNS, RecordSet

# Where Spark used to leave normalised names and birth dates: the working folder and /tmp.
_SPARK_LEFTOVERS = ("spark-warehouse", "metastore_db", "derby.log")
_SYSTEM_TEMP = Path("/tmp")


def _spark_entries() -> set[str]:
    return {
        entry.name
        for entry in _SYSTEM_TEMP.iterdir()
        if entry.name.startswith(("tiphub-spark", "spark-", "blockmgr-"))
    }


def test_spark_gives_the_same_links_as_duckdb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = _spark_entries()
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
    # Nothing of the run is left in the working folder or the shared temporary folder, and
    # the private folder's Spark files are gone as soon as the scoring is done.
    assert not [name for name in _SPARK_LEFTOVERS if (tmp_path / name).exists()]
    assert _spark_entries() <= before
    assert not (run_temp_dir() / "spark").exists()

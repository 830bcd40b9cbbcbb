"""The same model on Spark (local mode) gives the same pairs, probabilities and clusters."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
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


# A new process (so a new JVM, whose working folder is the temporary one) that starts the
# hub's Spark session, writes a managed table and a database, which Spark keeps in its
# warehouse (./spark-warehouse unless told otherwise), then stops it as the linker does.
_SPARK_PROBE = textwrap.dedent(
    """
    from pathlib import Path

    from tiphub.files import run_temp_dir
    from tiphub.linkage.linker import _finish_spark, _spark_session

    spark, created = _spark_session()
    assert created
    spark.sql("CREATE DATABASE probe_db")
    spark.sql("CREATE TABLE probe_db.probe (x INT) USING parquet")
    spark.sql("INSERT INTO probe_db.probe VALUES (1), (2)")
    count = spark.sql("SELECT count(*) FROM probe_db.probe").collect()[0][0]
    warehouse = spark.conf.get("spark.sql.warehouse.dir").removeprefix("file:")
    assert Path(warehouse).resolve().is_relative_to(run_temp_dir().resolve()), warehouse
    _finish_spark(spark, created)
    print(count)
    """
)


def test_spark_writes_nothing_into_the_working_folder(tmp_path: Path) -> None:
    working = tmp_path / "working"
    temporary = tmp_path / "temporary"
    working.mkdir()
    temporary.mkdir()
    environment = {**os.environ, "TMPDIR": str(temporary)}
    completed = subprocess.run(
        [sys.executable, "-c", _SPARK_PROBE],
        cwd=working,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split()[-1] == "2"
    # No spark-warehouse, metastore_db or derby.log, nor anything else, in the working folder.
    assert sorted(entry.name for entry in working.iterdir()) == []
    # The run's private folder (the table's files) went when the process ended; only the
    # per-user base folder is left in the temporary folder.
    leftovers = [
        path.relative_to(temporary).as_posix()
        for path in temporary.rglob("*")
        if path.name != f"tiphub-{os.getuid()}"
    ]
    assert leftovers == []

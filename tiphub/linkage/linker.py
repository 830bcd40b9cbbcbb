"""Link person records: train the model without labels, score candidate pairs, cluster.

``link_records`` is the one entry point; the backend (DuckDB or Spark) only changes where
pairs are generated and scored.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd
from splink import DuckDBAPI, Linker, block_on

from tiphub.linkage.cluster import Clustering, ThresholdChoice, choose_threshold
from tiphub.linkage.model import ModelSpec, build_settings
from tiphub.linkage.records import RecordSet, prepare

Backend = Literal["duckdb", "spark"]
Stage = Callable[[str], None]

# Pairs scored below this probability are dropped at prediction; they matter for nothing
# but the expected-recall estimate, whose tail they barely move.
_PREDICT_FLOOR = 0.001
# EM and u-sampling sizes: enough for stable parameters at any input size.
_EM_MAX_PAIRS = 2_000_000
_U_MAX_PAIRS = 3_000_000
_SEED = 20261123


@dataclass
class ScoredPairs:
    """Candidate pairs with their match probability and per-field explanation columns."""

    frame: pd.DataFrame
    comparisons: list[str]
    model_json: dict[str, Any] = field(repr=False)


def _quiet_splink() -> None:
    logging.getLogger("splink").setLevel(logging.ERROR)


@lru_cache(maxsize=1)
def _spill_directory() -> str:
    """A private (0700) folder for DuckDB's spill files, removed when the process ends.

    DuckDB spills to ``./.tmp`` by default, which would leave identities in the user's
    working folder (and once nearly put them into this repository's history).
    """
    path = tempfile.mkdtemp(prefix="tiphub-duckdb-")
    atexit.register(shutil.rmtree, path, True)
    return path


def _duckdb_api() -> Any:
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET preserve_insertion_order = false")
    connection.execute(f"SET temp_directory = '{_spill_directory()}'")
    return DuckDBAPI(connection=connection)


def _spark_api() -> Any:
    try:
        from pyspark.sql import SparkSession
        from splink import SparkAPI
        from splink.backends.spark import similarity_jar_location
    except ImportError as error:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the Spark backend needs PySpark: pip install 'tiphub[spark]'"
        ) from error
    spark = (
        SparkSession.builder.master("local[*]")
        .appName("tiphub-linkage")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        .config("spark.jars", similarity_jar_location())
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir("/tmp/tiphub-spark-checkpoints")
    return SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]


def train_model(prepared: pd.DataFrame, spec: ModelSpec, stage: Stage) -> dict[str, Any]:
    """Unsupervised training on DuckDB; returns the trained Splink model as a dictionary."""
    db_api = _duckdb_api()
    linker = Linker(db_api.register(prepared), spec.settings, log_level=None)
    _quiet_splink()
    stage("estimating the prior match rate")
    deterministic: list[Any] = [
        block_on("name_sk", "dob"),
        block_on("given_sk", "family_sk", "dob_year"),
    ]
    # The deterministic rules are assumed to find most matches; on small or clean data they
    # can find more than that assumption allows, so the assumed recall is raised until
    # Splink accepts it.
    for recall in (0.8, 0.9, 0.95, 0.99, 1.0):
        try:
            linker.training.estimate_probability_two_random_records_match(
                deterministic, recall=recall
            )
            break
        except ValueError:
            continue
    stage("estimating u (random pairs)")
    linker.training.estimate_u_using_random_sampling(max_pairs=_U_MAX_PAIRS, seed=_SEED)
    stage("EM on pairs sharing a date of birth")
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("dob"), max_pairs=_EM_MAX_PAIRS, estimate_without_term_frequencies=True
    )
    second_rule = _second_training_rule(prepared)
    stage(f"EM on pairs sharing {second_rule[0]}")
    linker.training.estimate_parameters_using_expectation_maximisation(
        second_rule[1], max_pairs=_EM_MAX_PAIRS, estimate_without_term_frequencies=True
    )
    model: dict[str, Any] = linker.misc.save_model_to_json()
    return neutralise_agreement(floor_m_probabilities(model), ("sex", "nationality"))


# Pairs sharing an identifier are nearly all true matches, so EM on them learns how names and
# dates disagree within a person. Pairs sharing a name are not, where namesakes are common:
# EM then mistakes "same name" for "same person" and learns that dates do not matter.
_MIN_IDENTIFIER_PAIRS = 50


def _second_training_rule(prepared: pd.DataFrame) -> tuple[str, Any]:
    if "identifier" in prepared.columns:
        counts = prepared["identifier"].value_counts()
        if int((counts * (counts - 1) // 2).sum()) >= _MIN_IDENTIFIER_PAIRS:
            return "an identifier", block_on("identifier")
    return "a name", block_on("given_ph", "family_ph")


# No field is perfectly recorded: every level keeps at least this m probability, so that one
# slip (a sex typed wrongly) cannot veto a link that everything else supports.
_M_FLOOR = 0.005


def neutralise_agreement(model: dict[str, Any], comparisons: Sequence[str]) -> dict[str, Any]:
    """Agreement on sex or nationality adds no weight; disagreement still counts against.

    Names already carry sex and nationality (name pools are national and gendered), so
    counting their agreement again would treat namesakes of one country as the same person:
    on the demo data that doubled the false links.
    """
    for comparison in model["comparisons"]:
        if comparison.get("output_column_name") not in comparisons:
            continue
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level") or level.get("u_probability") is None:
                continue
            if "Exact match" in str(level.get("label_for_charts", "")):
                level["m_probability"] = level["u_probability"]
    return model


def floor_m_probabilities(model: dict[str, Any]) -> dict[str, Any]:
    for comparison in model["comparisons"]:
        levels = [
            level
            for level in comparison["comparison_levels"]
            if not level.get("is_null_level") and level.get("m_probability") is not None
        ]
        if not levels:
            continue
        raised = [max(float(level["m_probability"]), _M_FLOOR) for level in levels]
        total = sum(raised)
        for level, m in zip(levels, raised, strict=True):
            level["m_probability"] = m / total
    return model


def score_pairs(
    prepared: pd.DataFrame,
    model: Mapping[str, Any],
    *,
    backend: Backend = "duckdb",
    floor: float = _PREDICT_FLOOR,
) -> pd.DataFrame:
    """Generate candidate pairs by the blocking rules and score them with a trained model."""
    db_api = _duckdb_api() if backend == "duckdb" else _spark_api()
    table = db_api.register(prepared)
    if backend == "duckdb":
        settings: dict[str, Any] = dict(model)
    else:
        # The trained model's SQL is DuckDB's; rebuild it in the backend's dialect and carry
        # the trained parameters over level by level.
        blank = Linker(table, build_settings(prepared).settings, log_level=None)
        settings = transplant_parameters(model, blank.misc.save_model_to_json())
    linker = Linker(table, settings, log_level=None)
    _quiet_splink()
    predictions = linker.inference.predict(threshold_match_probability=floor)
    frame: pd.DataFrame = predictions.as_pandas_dataframe()  # type: ignore[no-untyped-call]
    frame = frame.sort_values(["unique_id_l", "unique_id_r"], kind="stable").reset_index(drop=True)
    return frame


def transplant_parameters(trained: Mapping[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """Copy the prior and every level's m and u from ``trained`` into ``target``."""
    target["probability_two_random_records_match"] = trained["probability_two_random_records_match"]
    for source, destination in zip(trained["comparisons"], target["comparisons"], strict=True):
        for level_from, level_to in zip(
            source["comparison_levels"], destination["comparison_levels"], strict=True
        ):
            for key in ("m_probability", "u_probability"):
                if key in level_from:
                    level_to[key] = level_from[key]
    return target


def _noop(_: str) -> None:
    return None


def score_records(
    records: RecordSet,
    *,
    backend: Backend = "duckdb",
    stage: Stage = _noop,
) -> tuple[pd.DataFrame, ScoredPairs]:
    stage("preparing names, dates and blocking keys")
    prepared = prepare(records.frame)
    spec = build_settings(prepared)
    model = train_model(prepared, spec, stage)
    stage(f"scoring candidate pairs on {backend}")
    frame = score_pairs(prepared, model, backend=backend)
    return prepared, ScoredPairs(frame, spec.comparisons, model)


@dataclass
class LinkResult:
    """Everything one linkage run produced: clusters, scored pairs, the threshold chosen."""

    records: RecordSet
    prepared: pd.DataFrame
    scored: ScoredPairs
    clustering: Clustering
    threshold: ThresholdChoice
    one_to_one: bool
    backend: Backend

    @property
    def pairs(self) -> pd.DataFrame:
        return self.scored.frame

    def clusters_frame(self) -> pd.DataFrame:
        """``record_id, cluster_id, list`` for every input record, in input order."""
        frame = self.records.frame
        return pd.DataFrame(
            {
                "record_id": frame["record_id"].to_numpy(),
                "cluster_id": self.clustering.labels(),
                "list": frame["list"].to_numpy(),
            }
        )


def link_records(
    records: RecordSet,
    *,
    backend: Backend = "duckdb",
    threshold: float | None = None,
    must_link: Sequence[tuple[int, int]] = (),
    cannot_link: Sequence[tuple[int, int]] = (),
    stage: Stage = _noop,
) -> LinkResult:
    """Train, score, choose the threshold (unless given) and cluster.

    ``must_link`` / ``cannot_link`` are pairs of record positions decided by reviewers; they
    override the model's probability (1 or 0) and must-links count as strong evidence.
    """
    prepared, scored = score_records(records, backend=backend, stage=stage)
    pairs = _apply_decisions(scored.frame, must_link, cannot_link)
    scored.frame = pairs
    left = pairs["unique_id_l"].to_numpy(np.int64)
    right = pairs["unique_id_r"].to_numpy(np.int64)
    probability = pairs["match_probability"].to_numpy(float)
    strong = _strong_evidence(pairs)
    list_codes = pd.factorize(records.frame["list"])[0].astype(np.int64)
    # With a single list the task is deduplication, where within-list merges are the point.
    one_to_one = len(set(list_codes.tolist())) > 1
    n_records = len(records.frame)
    stage("clustering at the threshold where precision ÷ recall is 1")
    choice = choose_threshold(
        n_records,
        left,
        right,
        probability,
        list_codes,
        strong=strong,
        one_to_one=one_to_one,
        fixed=threshold,
    )
    clustering = choice.clustering
    return LinkResult(records, prepared, scored, clustering, choice, one_to_one, backend)


def _strong_evidence(pairs: pd.DataFrame) -> np.ndarray:
    strong = np.zeros(len(pairs), dtype=bool)
    if "identifier_l" in pairs.columns:
        same = (pairs["identifier_l"] == pairs["identifier_r"]) & pairs["identifier_l"].notna()
        strong |= same.to_numpy(bool)
    if "reviewed" in pairs.columns:
        strong |= (pairs["reviewed"] == "match").to_numpy(bool)
    return strong


def _apply_decisions(
    pairs: pd.DataFrame,
    must_link: Sequence[tuple[int, int]],
    cannot_link: Sequence[tuple[int, int]],
) -> pd.DataFrame:
    if not must_link and not cannot_link:
        return pairs
    pairs = pairs.copy()
    pairs["reviewed"] = None
    key = pairs["unique_id_l"].astype(np.int64) * (1 << 32) + pairs["unique_id_r"].astype(np.int64)
    index_of = dict(zip(key.tolist(), range(len(pairs)), strict=True))
    extra: list[dict[str, Any]] = []
    for decided, probability, label in ((must_link, 1.0, "match"), (cannot_link, 0.0, "non_match")):
        for a, b in decided:
            low, high = min(a, b), max(a, b)
            position = index_of.get(low * (1 << 32) + high)
            if position is None:
                extra.append(
                    {
                        "unique_id_l": low,
                        "unique_id_r": high,
                        "match_probability": probability,
                        "match_weight": 60.0 if probability else -60.0,
                        "reviewed": label,
                    }
                )
            else:
                pairs.loc[position, "match_probability"] = probability
                pairs.loc[position, "match_weight"] = 60.0 if probability else -60.0
                pairs.loc[position, "reviewed"] = label
    if extra:
        pairs = pd.concat([pairs, pd.DataFrame(extra)], ignore_index=True)
    return pairs

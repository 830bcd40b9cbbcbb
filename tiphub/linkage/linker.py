"""Link person records: train the model without labels, score candidate pairs, cluster.

``link_records`` is the one entry point; the backend (DuckDB or Spark) only changes where
pairs are generated and scored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from splink import DuckDBAPI, Linker, block_on
from splink.internals.exceptions import SplinkException

from tiphub.files import private_subdir
from tiphub.linkage.calibrate import FittedPriors, fit_priors
from tiphub.linkage.cluster import (
    CannotLinkConflict,
    Clustering,
    ThresholdChoice,
    choose_threshold,
)
from tiphub.linkage.conditional import (
    CONDITIONED,
    MIN_PAIRS,
    ConditionalFit,
    fit_conditional,
    level_count,
    model_probabilities,
    scored_levels,
    with_conditional,
)
from tiphub.linkage.model import ModelSpec, build_settings, prediction_rule_columns
from tiphub.linkage.records import (
    MAX_CANDIDATE_PAIRS,
    NAME_PARTS_COMPARED,
    LinkageDataError,
    RecordSet,
    check_linkable,
    prepare,
)

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
    # What training fell back on and why (EM that failed, comparisons given prior m).
    training_notes: list[str] = field(default_factory=list)
    # The match rates refitted to the scored pairs (see tiphub.linkage.calibrate).
    priors: FittedPriors | None = None


def refit_probabilities(scored: ScoredPairs, list_codes: np.ndarray) -> FittedPriors:
    """Refit the prior across and within lists and rewrite the pairs' probabilities with it.

    The frame gains ``within_probability`` (see :func:`tiphub.linkage.calibrate.fit_priors`).
    """
    frame = scored.frame
    fitted = fit_priors(
        frame["match_weight"].to_numpy(float),
        float(scored.model_json["probability_two_random_records_match"]),
        frame["unique_id_l"].to_numpy(np.int64),
        frame["unique_id_r"].to_numpy(np.int64),
        list_codes,
    )
    frame["match_probability"] = fitted.probability
    frame["within_probability"] = fitted.probability_within
    frame["match_weight"] = np.log2(fitted.probability / np.maximum(1 - fitted.probability, 1e-300))
    return fitted


def _quiet_splink() -> None:
    logging.getLogger("splink").setLevel(logging.ERROR)


def _spill_directory() -> str:
    """A private (0700) folder for DuckDB's spill files, removed when the process ends.

    DuckDB spills to ``./.tmp`` by default, which would leave identities in the user's
    working folder (and once nearly put them into this repository's history).
    """
    return str(private_subdir("duckdb"))


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _duckdb_api() -> Any:
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET preserve_insertion_order = false")
    # Its progress bar would go to standard output, into the JSON of 'tiphub link --json'.
    connection.execute("SET enable_progress_bar = false")
    connection.execute(f"SET temp_directory = {_sql_text(_spill_directory())}")
    # DuckDB takes 80% of the machine by default; the scored pairs are then copied into
    # pandas, so both together would pass it. Beyond this it spills to the private folder.
    connection.execute(f"SET memory_limit = {_sql_text(_duckdb_memory_limit())}")
    return DuckDBAPI(connection=connection)


def _duckdb_memory_limit() -> str:
    """``TIPHUB_DUCKDB_MEMORY`` (DuckDB's syntax, e.g. ``6GB``), else a sixth of the memory.

    A million records peaked at 9.1 GB with DuckDB unbounded and at 6.7 GB with 3 GB.
    """
    configured = os.environ.get("TIPHUB_DUCKDB_MEMORY")
    if configured:
        return configured
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(total // 6 // 2**20, 512)}MB"


@contextlib.contextmanager
def _private_umask() -> Iterator[None]:
    # The JVM that Spark starts inherits the umask: everything it writes (checkpoints,
    # shuffle and spill files) is then readable by its owner alone.
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


class BackendUnavailableError(RuntimeError):
    """The chosen backend cannot run here (not installed, or Spark's JVM did not start)."""


def _spark_session() -> tuple[Any, bool]:
    """Spark in local mode with every file it writes in this run's private folder.

    Returns the session and whether this call created it (and so should stop it).
    """
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError as error:  # pragma: no cover - depends on the install
        raise BackendUnavailableError(
            "the Spark backend needs PySpark: pip install 'tiphub[spark]'"
        ) from error
    existing = SparkSession.getActiveSession()
    if existing is not None:
        return existing, False
    folder = private_subdir("spark")
    local = Path(folder, "local")
    warehouse = Path(folder, "warehouse")
    # Quoted, as Spark splits these options like a shell would (TMPDIR may hold spaces).
    java_options = " ".join(
        f'"-D{name}={value}"'
        for name, value in (
            ("java.io.tmpdir", local),
            ("derby.system.home", folder / "derby"),
            ("derby.stream.error.file", folder / "derby" / "derby.log"),
        )
    )
    for path in (local, warehouse, folder / "derby"):
        path.mkdir(mode=0o700, exist_ok=True)
    with _private_umask():
        builder = (
            SparkSession.builder.master("local[*]")
            .appName("tiphub-linkage")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", "4g")
            .config("spark.jars", similarity_jar_location())
            # Without these Spark writes ./spark-warehouse, ./metastore_db and ./derby.log
            # into the working folder and its scratch files into /tmp, readable by all.
            .config("spark.local.dir", str(local))
            .config("spark.sql.warehouse.dir", str(warehouse))
            .config("spark.driver.extraJavaOptions", java_options)
        )
        try:
            spark = builder.getOrCreate()
        except Exception as error:  # pragma: no cover - depends on the machine
            # PySpark's own message is a JVM log excerpt; say what to check instead.
            raise BackendUnavailableError(
                "Spark could not start (it needs Java 17 or later on the PATH); "
                "use --backend duckdb"
            ) from error
    spark.sparkContext.setLogLevel("ERROR")
    checkpoints = folder / "checkpoints"
    checkpoints.mkdir(mode=0o700, exist_ok=True)
    spark.sparkContext.setCheckpointDir(str(checkpoints))
    return spark, True


def _finish_spark(spark: Any, created: bool) -> None:
    """Stop a session this run started and delete its files now, not only at exit.

    Its checkpoints hold the normalised names and birth dates of every record.
    """
    if not created:
        return
    spark.stop()
    shutil.rmtree(private_subdir("spark"), ignore_errors=True)


# The deterministic rules are assumed to find this share of true matches; on small or clean
# data they find more than the assumption allows, and the assumed share is raised.
_ASSUMED_RECALLS = (0.8, 0.9, 0.95, 0.99, 1.0)


@dataclass(frozen=True)
class _TrainingRule:
    description: str
    columns: tuple[str, ...]


# EM cannot estimate a comparison from pairs blocked on that comparison's own columns, so
# training takes two steps: one on pairs that share a date of birth (or, failing that, an
# identifier), which learns how names agree, and one on pairs that share an identifier or a
# name, which learns how dates agree. The later candidates of each step are fall-backs for
# data where the first gives too few pairs or EM does not converge.
_NAME_STEP = (
    _TrainingRule("a date of birth", ("dob",)),
    _TrainingRule("an identifier", ("identifier",)),
)
_IDENTIFIER_RULE = _TrainingRule("an identifier", ("identifier",))
# Pairs sharing an identifier are nearly all true matches, so EM on them learns how names and
# dates disagree within a person. Pairs sharing a name are not, where namesakes are common:
# EM then mistakes "same name" for "same person" and learns that dates do not matter.
_MIN_IDENTIFIER_PAIRS = 50
_DATE_STEP = (
    _TrainingRule("a name", ("given_ph", "family_ph")),
    _TrainingRule("a family name", ("family_sk",)),
    _IDENTIFIER_RULE,
)


def pairs_sharing(prepared: pd.DataFrame, columns: Sequence[str]) -> int:
    """Pairs of records equal (and not missing) on every one of ``columns``."""
    if not all(name in prepared.columns for name in columns):
        return 0
    present = prepared[list(columns)].dropna()
    if present.empty:
        return 0
    sizes = present.groupby(list(columns), sort=False).size().to_numpy(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def prior_match_probability(prepared: pd.DataFrame) -> float:
    """The prior that two random records match, as Splink's
    ``estimate_probability_two_random_records_match`` gives it for the deterministic rules
    (same names and date of birth; same names and birth year), computed here so that an
    estimate of 0 (no pair agrees) gets a floor and one of 1 (every pair agrees) is refused:
    either makes every match weight infinite.
    """
    n = len(prepared)
    total = n * (n - 1) // 2
    # Pairs agreeing on the full name and date of birth are a subset of those agreeing on
    # the names and birth year, so the union of both rules is the second rule.
    observed = pairs_sharing(prepared, ("given_sk", "family_sk", "dob_year"))
    if total == 0:
        raise LinkageDataError("there are no pairs of records to compare")
    if observed == total:
        # The prior would be 1 (every pair a match) and every match weight infinite.
        raise LinkageDataError(
            f"the records are too alike to train on: all {total:,} pairs of records agree on "
            "both names and the birth year, while training without labels needs pairs of "
            "different people. Is one person's record repeated?"
        )
    # With no pair agreeing, one expected match keeps the prior above zero.
    observed = max(observed, 1)
    recall = next(value for value in _ASSUMED_RECALLS if observed <= total * value)
    expected = observed / recall
    return float(expected / total)


def subset_prior(prior: float, trained_records: int, scored_records: int) -> float:
    """The prior match probability of a subset of the records a model was trained on.

    Assumes each record has as many true matches in the subset as in the whole: the
    expected number of matching pairs scales with the records, the number of pairs with
    their square, so the prior scales by ``(n_trained − 1) / (n_scored − 1)``.
    """
    if scored_records < 2 or trained_records <= scored_records:
        return prior
    return min(prior * (trained_records - 1) / (scored_records - 1), 0.5)


def train_model(
    prepared: pd.DataFrame,
    spec: ModelSpec,
    stage: Stage,
    notes: list[str] | None = None,
    labelled_matches: Sequence[tuple[int, int]] = (),
) -> dict[str, Any]:
    """Unsupervised training on DuckDB; returns the trained Splink model as a dictionary.

    ``labelled_matches``: pairs of record positions that reviewers decided are one person;
    from :data:`MIN_LABELLED_MATCHES` of them on, they re-estimate the m probabilities
    (Splink's ``estimate_m_from_pairwise_labels``), weighted against EM's by their number.

    EM that fails or finds no pairs for a comparison falls back to prior m probabilities
    for it, and says so in ``notes``. Raises ``LinkageDataError`` only when no training step
    could run at all: then nothing in the model comes from the records.
    """
    notes = notes if notes is not None else []
    stage("estimating the prior match rate")
    prior = prior_match_probability(prepared)
    settings = dataclasses.replace(spec.settings, probability_two_random_records_match=prior)
    db_api = _duckdb_api()
    table = db_api.register(prepared)
    linker = Linker(table, settings, log_level=None)
    _quiet_splink()
    stage("estimating u (random pairs)")
    linker.training.estimate_u_using_random_sampling(max_pairs=_U_MAX_PAIRS, seed=_SEED)
    linker = _sanitised(linker, table)
    date_step: tuple[_TrainingRule, ...] = _DATE_STEP
    if pairs_sharing(prepared, ("identifier",)) >= _MIN_IDENTIFIER_PAIRS:
        date_step = (_IDENTIFIER_RULE, *_DATE_STEP)
    untrained: list[str] = []
    used: set[tuple[str, ...]] = set()
    for step, learns in ((_NAME_STEP, "name"), (date_step, "date_of_birth")):
        useful = [rule for rule in step if _estimable(rule, spec.comparisons)]
        linker, rule = _train_step(linker, table, prepared, useful, used, stage, notes)
        if rule is None:
            untrained.append(learns)
        else:
            used.add(rule.columns)
    missing = [name for name in untrained if name in spec.comparisons]
    if not used:
        raise LinkageDataError(_untrainable_message(prepared, missing or untrained))
    model: dict[str, Any] = linker.misc.save_model_to_json()
    if len(labelled_matches) >= MIN_LABELLED_MATCHES:
        stage(f"re-estimating m from {len(labelled_matches):,} pairs reviewers linked")
        model, relearned = _with_labelled_m(linker, model, labelled_matches, notes)
        # A comparison the labels trained no longer needs the prior.
        missing = [name for name in missing if name not in relearned]
    for name in missing:
        notes.append(
            f"the {name.replace('_', ' ')} comparison could not be trained on these records "
            f"({_LEARNS[name][1]} shared by too few pairs, or EM did not converge): it uses "
            "tiphub's prior m probabilities instead"
        )
        model = with_prior_m(model, name)
    # Training's database is done with: its memory goes back before the next step's.
    db_api._con.close()
    conditional = _conditional_step(prepared, model, spec, stage)
    if conditional is None:
        return neutralise_agreement(floor_m_probabilities(model), ("sex", "nationality"))
    return floor_m_probabilities(with_conditional(model, conditional))


# Pairs sharing the sound of both names: the pairs on which dates, sex and nationality are
# re-weighed with the name's weight held fixed (see tiphub.linkage.conditional).
_ALIKE_NAMES = ("given_ph", "family_ph")
# EM there estimates a dozen probabilities: half a million pairs fix them to the third decimal.
_CONDITIONAL_MAX_PAIRS = 500_000


def _records_of_rarer_names(
    prepared: pd.DataFrame, columns: Sequence[str], max_pairs: int
) -> pd.DataFrame:
    """The records whose value of ``columns`` is shared by so few records that the pairs
    sharing it stay within ``max_pairs``: the rarest names first, whole.

    Among a million records the pairs sharing the sound of both names are 99% namesakes, and
    a random share of records keeps that mix: EM then reads the few namesakes whose weight
    is overstated as matches, and their different birth dates as evidence for a match
    ("dates wholly different" weighed 1/9 where 1/300 is true). Rare names keep far more
    matches among their pairs. Which name a person has says nothing of how their birth date
    was recorded, so the dates' m learned on rare names holds for all.
    """
    present = prepared.dropna(subset=list(columns))
    grouped = present.groupby(list(columns), sort=False)
    sizes = grouped[columns[0]].transform("size").to_numpy()
    block = grouped.ngroup().to_numpy()
    by_size = np.bincount(sizes)
    # Pairs in blocks of each size s: (records in blocks of size s) * (s - 1) / 2.
    pairs_of_size = by_size * np.maximum(np.arange(len(by_size)) - 1, 0) // 2
    pairs_up_to = np.cumsum(pairs_of_size)
    # Blocks up to `whole` records all fit; of the next size, as many blocks as still fit,
    # chosen at random (seeded), so that the budget is filled and never passed.
    whole = int(np.searchsorted(pairs_up_to, max_pairs, side="right")) - 1
    keep = (sizes >= 2) & (sizes <= whole)
    boundary = whole + 1
    if boundary < len(by_size) and boundary >= 2:
        room = max_pairs - int(pairs_up_to[whole])
        candidates = np.unique(block[sizes == boundary])
        taken = room // (boundary * (boundary - 1) // 2)
        chosen = np.random.default_rng(_SEED).permutation(candidates)[:taken]
        keep |= np.isin(block, chosen)
    return present[keep]


def _conditional_step(
    prepared: pd.DataFrame, model: dict[str, Any], spec: ModelSpec, stage: Stage
) -> ConditionalFit | None:
    """Dates, sex and nationality re-weighed among pairs with alike names, or None when
    there are too few such pairs (the model then neutralises sex and nationality)."""
    conditioned = [name for name in CONDITIONED if name in spec.comparisons]
    if "name" not in spec.comparisons or not conditioned:
        return None
    sample = _records_of_rarer_names(prepared, _ALIKE_NAMES, _CONDITIONAL_MAX_PAIRS)
    if pairs_sharing(sample, _ALIKE_NAMES) < MIN_PAIRS:
        return None
    stage("weighing dates, sex and nationality among alike names")
    settings = dict(model)
    rule = " AND ".join(f'l."{column}" = r."{column}"' for column in _ALIKE_NAMES)
    settings["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": rule, "sql_dialect": "duckdb"}
    ]
    db_api = _duckdb_api()
    try:
        linker = Linker(db_api.register(sample), settings, log_level=None)
        _quiet_splink()
        # A name's frequency among other people is the population's, not the sample's:
        # counted in a share f of the records, a name one other person has would look
        # 1/f times rarer than it is.
        register_person_frequencies(linker, db_api, prepared, settings)
        predictions = linker.inference.predict()
        names = {column.unquote().name for column in predictions.columns}
        wanted = [f"gamma_{name}" for name in conditioned] + ["mw_name"]
        if "mw_tf_adj_name" in names:
            wanted.append("mw_tf_adj_name")
        sql = f"SELECT {', '.join(wanted)} FROM {predictions.physical_name}"
        frame: pd.DataFrame = linker.misc.query_sql(sql, output_type="pandas")  # type: ignore[no-untyped-call]
    finally:
        # Its memory is returned now, before scoring needs it, not whenever Splink's
        # objects are collected.
        db_api._con.close()
    if len(frame) < MIN_PAIRS:
        return None
    log2_factor = frame["mw_name"].to_numpy(float)
    if "mw_tf_adj_name" in frame.columns:
        log2_factor = log2_factor + frame["mw_tf_adj_name"].fillna(0).to_numpy(float)
    # The whole file's prior: the pairs are chosen by their names, whose rarity the anchor
    # already weighs through the names' frequencies among other people. (subset_prior is
    # for a subset chosen by who is in it; applied to a random share of a million records
    # it raised the prior ninefold, and EM then read namesakes born years apart as
    # matches: "dates wholly different" weighed 0.8 instead of 1/170.)
    prior = float(model["probability_two_random_records_match"])
    return fit_conditional(
        np.log(prior / (1 - prior)) + log2_factor * np.log(2),
        {name: frame[f"gamma_{name}"].to_numpy(np.int64) for name in conditioned},
        {name: level_count(model, name) for name in conditioned},
        {name: _start_m(model, name) for name in conditioned},
        # Names say nothing of when two different people were born: the date's u among
        # namesakes is its u among random pairs. Estimating it here let EM hide true matches
        # among the "namesakes" (u of an exact date 15 times too high).
        {name: model_probabilities(model, name, "u_probability") for name in conditioned},
        fixed_u=("date_of_birth",),
    )


def _start_m(model: Mapping[str, Any], comparison: str) -> list[float]:
    """Where EM starts: tiphub's prior for dates (the date step's own m may be the
    namesake solution this step exists to leave), the trained m otherwise."""
    prior = PRIOR_M.get(comparison)
    if prior is not None and len(prior) == level_count(model, comparison):
        return list(reversed(prior))
    return model_probabilities(model, comparison, "m_probability")


# Reviewers' links re-estimate m from this many on; each counts as much as one of this
# many pairs of EM's estimate, so a few dozen labels adjust the model and hundreds lead it.
MIN_LABELLED_MATCHES = 20
_EM_WEIGHT_IN_LABELS = 200


def _with_labelled_m(
    linker: Any,
    model: dict[str, Any],
    labelled_matches: Sequence[tuple[int, int]],
    notes: list[str],
) -> tuple[dict[str, Any], list[str]]:
    """The model with m blended towards the labelled pairs' m, and the comparisons changed."""
    labels = pd.DataFrame(
        [(min(a, b), max(a, b)) for a, b in labelled_matches],
        columns=["unique_id_l", "unique_id_r"],
    ).drop_duplicates()
    linker.table_management.register_table(labels, "__tiphub_labels", overwrite=True)
    try:
        linker.training.estimate_m_from_pairwise_labels("__tiphub_labels")
    except (SplinkException, ArithmeticError, ValueError, KeyError) as error:
        notes.append(f"re-estimating m from reviewers' links failed ({type(error).__name__})")
        return model, []
    learned = linker.misc.save_model_to_json()
    weight = len(labels) / (len(labels) + _EM_WEIGHT_IN_LABELS)
    trained: list[str] = []
    for ours, theirs in zip(model["comparisons"], learned["comparisons"], strict=True):
        changed = False
        for level, label_level in zip(
            ours["comparison_levels"], theirs["comparison_levels"], strict=True
        ):
            before, after = level.get("m_probability"), label_level.get("m_probability")
            if isinstance(after, int | float):
                if isinstance(before, int | float):
                    level["m_probability"] = (1 - weight) * before + weight * after
                else:
                    level["m_probability"] = after
                changed = True
        if changed:
            trained.append(str(ours.get("output_column_name")))
    notes.append(
        f"m re-estimated from {len(labels):,} pairs reviewers linked (weight {weight:.2f}) "
        f"for: {', '.join(trained) or 'none'}"
    )
    return clip_probabilities(model), trained


# m probabilities used where EM cannot estimate a comparison, level by level (null level
# excluded, in the order of model.py). Set by hand, in round numbers, to the shape EM gives
# on FEBRL and on the multi-origin generator: a fallback that is roughly right, not a fit.
PRIOR_M: dict[str, tuple[float, ...]] = {
    "name": (0.48, 0.02, 0.02, 0.06, 0.05, 0.04, 0.06, 0.05, 0.06, 0.05, 0.04, 0.07),
    "date_of_birth": (0.78, 0.06, 0.02, 0.05, 0.04, 0.03, 0.02),
}


def with_prior_m(model: dict[str, Any], comparison_name: str) -> dict[str, Any]:
    """``model`` with the prior m probabilities of one comparison (levels matched in order)."""
    prior = PRIOR_M.get(comparison_name)
    levels = scored_levels(model, comparison_name)
    if prior is None or not levels:
        return model
    values = prior if len(prior) == len(levels) else (1.0 / len(levels),) * len(levels)
    for level, m in zip(levels, values, strict=True):
        level["m_probability"] = m
    return model


# Probabilities below this are clipped after every training step: EM can drive a level's
# m or u towards 1e-322, which Splink then refuses to load ("below the minimum allowed").
_PROBABILITY_FLOOR = 1e-9


def clip_probabilities(model: dict[str, Any]) -> dict[str, Any]:
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            for key in ("m_probability", "u_probability"):
                value = level.get(key)
                if isinstance(value, int | float) and not value >= _PROBABILITY_FLOOR:
                    level[key] = _PROBABILITY_FLOOR
    prior = model.get("probability_two_random_records_match")
    if isinstance(prior, int | float):
        model["probability_two_random_records_match"] = min(max(prior, 1e-9), 0.5)
    return model


def _sanitised(linker: Any, table: Any) -> Any:
    """The linker rebuilt from its own model with every probability clipped."""
    model = clip_probabilities(linker.misc.save_model_to_json())
    rebuilt = Linker(table, model, log_level=None)
    _quiet_splink()
    return rebuilt


# The prepared columns each comparison reads (the others read the column they are named
# after): EM on a rule blocking on any of them cannot estimate that comparison.
_COMPARISON_COLUMNS: dict[str, frozenset[str]] = {
    "name": frozenset(
        (
            "given_sk",
            "family_sk",
            "name_sk",
            "given_std",
            "family_std",
            "given_ph",
            "family_ph",
            "name_tokens",
            *(f"name_part_{position}" for position in range(1, NAME_PARTS_COMPARED + 1)),
        )
    ),
    "date_of_birth": frozenset(("dob", "dob_year", "dob_month", "dob_day")),
}


def _estimable(rule: _TrainingRule, comparisons: Sequence[str]) -> bool:
    """Whether EM on ``rule`` has any comparison left to estimate (else Splink fails)."""
    blocked = set(rule.columns)
    return any(
        not blocked & _COMPARISON_COLUMNS.get(name, frozenset((name,))) for name in comparisons
    )


def _train_step(
    linker: Any,
    table: Any,
    prepared: pd.DataFrame,
    candidates: Sequence[_TrainingRule],
    used: set[tuple[str, ...]],
    stage: Stage,
    notes: list[str],
) -> tuple[Any, _TrainingRule | None]:
    """Run EM on the first candidate rule that has pairs and on which EM converges."""
    for rule in candidates:
        if rule.columns in used or not pairs_sharing(prepared, rule.columns):
            continue
        stage(f"EM on pairs sharing {rule.description}")
        snapshot = linker.misc.save_model_to_json()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*rule.columns),
                max_pairs=_EM_MAX_PAIRS,
                estimate_without_term_frequencies=True,
            )
            return _sanitised(linker, table), rule
        except (SplinkException, ArithmeticError, ValueError, TypeError, KeyError) as error:
            # EM collapsed (every pair taken for a match, or none, or a probability that
            # underflowed): Splink has already altered the model, so the next candidate
            # starts again from the snapshot.
            notes.append(
                f"EM on pairs sharing {rule.description} failed ({type(error).__name__}); "
                "the next training rule was tried"
            )
            linker = Linker(table, snapshot, log_level=None)
            _quiet_splink()
    return linker, None


_LEARNS = {
    "name": ("how far agreeing names count", "a date of birth or an identifier"),
    "date_of_birth": ("how far agreeing birth dates count", "a name or an identifier"),
}


def _untrainable_message(prepared: pd.DataFrame, missing: Sequence[str]) -> str:
    what = " nor ".join(_LEARNS[name][0] for name in missing)
    # Splink advises hundreds of pairs for EM; a handful may converge, or may not.
    needs = "; ".join(
        f"to learn {_LEARNS[name][0]} it needs pairs of records sharing {_LEARNS[name][1]} "
        "(hundreds are best)"
        for name in missing
    )
    counts = ", ".join(
        f"{description}: {pairs_sharing(prepared, columns):,}"
        for description, columns in (
            ("a date of birth", ("dob",)),
            ("a name", ("given_ph", "family_ph")),
            ("an identifier", ("identifier",)),
        )
    )
    return (
        f"the linkage model cannot learn {what} from these records without labels: {needs} "
        f"(pairs sharing {counts}), or training on them did not converge. Link more "
        "records at once (all lists together), and give dates of birth and names where known."
    )


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
        # Splink writes "level not observed…" for a level EM never saw; only numbers count.
        levels = [
            level
            for level in comparison["comparison_levels"]
            if not level.get("is_null_level")
            and isinstance(level.get("m_probability"), int | float)
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
    if backend == "duckdb":
        return _predict(_duckdb_api(), prepared, dict(model), floor)
    from splink import SparkAPI

    spark, created = _spark_session()
    try:
        db_api = SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]
        return _predict(db_api, prepared, model, floor, rebuild=True)
    finally:
        _finish_spark(spark, created)


# A value no other person has is not impossible in a namesake: it counts as this many.
_LONE_VALUE_PEOPLE = 0.5


def person_frequencies(prepared: pd.DataFrame, column: str) -> pd.DataFrame:
    """Each value's term frequency among *other* people, for Splink's term-frequency lookup.

    Splink counts records, the pair's own included: a name that only one person has,
    recorded twice, looks as common as a name two people share, and two records sharing it
    look far less alike than they are (pairs scored 0.2–0.4 were 0.7–0.8 true). Here a
    value's people are counted by its distinct birth dates (records without one add no
    person where a dated record has the value), and the frequency is that of the others:
    one person fewer, at least :data:`_LONE_VALUE_PEOPLE`.
    """
    values = prepared[column]
    present = values.notna().to_numpy()
    if "dob" in prepared.columns:
        dates = prepared["dob"].to_numpy(dtype=object)[present]
    else:
        dates = np.full(int(present.sum()), np.nan)
    people = pd.DataFrame({column: values.to_numpy()[present], "date": dates})
    dated = people.dropna(subset=["date"]).drop_duplicates()[column].value_counts()
    counts = pd.Series(1, index=pd.unique(people[column]), dtype=np.float64)
    counts.loc[dated.index] = dated.to_numpy()
    others = np.maximum(counts.to_numpy() - 1.0, _LONE_VALUE_PEOPLE)
    return pd.DataFrame({column: counts.index.to_numpy(), f"tf_{column}": others / counts.sum()})


def _frequency_columns(settings: Mapping[str, Any]) -> list[str]:
    columns = {
        level["tf_adjustment_column"]
        for comparison in settings["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    return sorted(columns)


def register_person_frequencies(
    linker: Any, db_api: Any, prepared: pd.DataFrame, settings: Mapping[str, Any]
) -> None:
    """Give Splink :func:`person_frequencies` for every term-frequency column."""
    for column in _frequency_columns(settings):
        if column in prepared.columns:
            table = db_api.register(person_frequencies(prepared, column))
            linker.table_management.register_term_frequency_lookup(table, column)


def _predict(
    db_api: Any,
    prepared: pd.DataFrame,
    model: Mapping[str, Any],
    floor: float,
    *,
    rebuild: bool = False,
) -> pd.DataFrame:
    table = db_api.register(prepared)
    settings = dict(model)
    if rebuild:
        # The trained model's SQL is DuckDB's; rebuild it in the backend's dialect and carry
        # the trained parameters over level by level.
        blank = Linker(table, build_settings(prepared).settings, log_level=None)
        settings = transplant_parameters(model, blank.misc.save_model_to_json())
    linker = Linker(table, settings, log_level=None)
    _quiet_splink()
    register_person_frequencies(linker, db_api, prepared, settings)
    predictions = linker.inference.predict(threshold_match_probability=floor)
    names = [column.unquote().name for column in predictions.columns]
    kept = [name for name in names if name in _KEPT or name.startswith(_KEPT_PREFIXES)]
    # Only what later steps read leaves the database: the compared values themselves
    # (normalised names, dates, addresses) were most of a run's memory on large blocks,
    # and nothing downstream may show them.
    # Unquoted: the names are plain identifiers, and quoting differs between dialects (a
    # double-quoted name is a string literal in Spark SQL).
    selected = list(kept)
    if "identifier_l" in names:
        selected.append("coalesce(identifier_l = identifier_r, false) AS same_identifier")
    sql = f"SELECT {', '.join(selected)} FROM {predictions.physical_name}"
    frame: pd.DataFrame = linker.misc.query_sql(sql, output_type="pandas")  # type: ignore[no-untyped-call]
    frame = frame.sort_values(["unique_id_l", "unique_id_r"], kind="stable").reset_index(drop=True)
    return frame


_KEPT = frozenset(("match_weight", "match_probability", "unique_id_l", "unique_id_r", "match_key"))
# A comparison's level (gamma_) and its weight with any term-frequency adjustment (mw_).
_KEPT_PREFIXES = ("gamma_", "mw_")


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


def check_block_sizes(prepared: pd.DataFrame, limit: int = MAX_CANDIDATE_PAIRS) -> None:
    """Refuse input whose blocking rules would generate more than ``limit`` pairs."""
    counted = [
        (pairs_sharing(prepared, columns), description, columns)
        for description, columns in prediction_rule_columns(prepared)
    ]
    total = sum(count for count, _, _ in counted)
    if total <= limit:
        return
    count, description, columns = max(counted)
    sizes = prepared[list(columns)].dropna().groupby(list(columns), sort=False).size()
    raise LinkageDataError(
        f"blocking would compare about {total:,} pairs of records, more than the limit of "
        f"{limit:,}: {int(sizes.max()):,} records share {description} ({count:,} pairs from "
        "that rule alone). A value repeated in many records (a placeholder name or date, or "
        "one record copied many times) does this; correct those records or link fewer at once."
    )


def score_records(
    records: RecordSet,
    *,
    backend: Backend = "duckdb",
    stage: Stage = _noop,
    training: RecordSet | None = None,
    labelled_matches: Sequence[tuple[int, int]] = (),
) -> tuple[pd.DataFrame, ScoredPairs]:
    """Train the model (on ``training`` when given, a superset of ``records``) and score.

    ``training`` serves a subset too small or too sparse to learn from alone, such as the
    perpetrators of a case store, whose records rarely hold dates of birth: the model learns
    how names and dates agree from every record, and only ``records`` are scored.
    """
    check_linkable(records)
    stage("preparing names, dates and blocking keys")
    prepared = prepare(records.frame)
    check_block_sizes(prepared)
    spec = build_settings(prepared)
    notes: list[str] = []
    if training is None:
        model = train_model(prepared, spec, stage, notes, labelled_matches)
    else:
        learned_from = prepare(training.frame)
        spec = build_settings(learned_from)
        model = train_model(learned_from, spec, stage, notes)
        model["probability_two_random_records_match"] = subset_prior(
            float(model["probability_two_random_records_match"]),
            len(learned_from),
            len(prepared),
        )
    stage(f"scoring candidate pairs on {backend}")
    frame = score_pairs(prepared, model, backend=backend)
    return prepared, ScoredPairs(frame, spec.comparisons, model, notes)


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

    @property
    def cannot_link_conflicts(self) -> tuple[CannotLinkConflict, ...]:
        """Links refused because they would bridge a reviewer's cannot-link decision."""
        return self.clustering.conflicts

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
    training: RecordSet | None = None,
) -> LinkResult:
    """Train, score, choose the threshold (unless given) and cluster.

    ``must_link`` / ``cannot_link`` are pairs of record positions decided by reviewers; they
    override the model's probability (1 or 0) and must-links count as strong evidence.
    A cannot-link also holds against links through third records: those are refused and
    listed in ``LinkResult.cannot_link_conflicts``.
    ``training``: see :func:`score_records`.
    """
    prepared, scored = score_records(
        records, backend=backend, stage=stage, training=training, labelled_matches=must_link
    )
    list_codes = pd.factorize(records.frame["list"])[0].astype(np.int64)
    stage("fitting the match rates across and within lists")
    scored.priors = refit_probabilities(scored, list_codes)
    pairs = _apply_decisions(scored.frame, must_link, cannot_link)
    # A decided pair is as certain within a list as across lists (pairs the decisions added
    # have no within-list probability of their own).
    if "reviewed" in pairs.columns:
        decided = pairs["reviewed"].notna()
        pairs.loc[decided, "within_probability"] = pairs.loc[decided, "match_probability"]
    scored.frame = pairs
    left = pairs["unique_id_l"].to_numpy(np.int64)
    right = pairs["unique_id_r"].to_numpy(np.int64)
    probability = pairs["match_probability"].to_numpy(float)
    strong = _strong_evidence(pairs)
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
        within_probability=pairs["within_probability"].to_numpy(float),
        cannot_link=cannot_link,
    )
    clustering = choice.clustering
    return LinkResult(records, prepared, scored, clustering, choice, one_to_one, backend)


def _strong_evidence(pairs: pd.DataFrame) -> np.ndarray:
    strong = np.zeros(len(pairs), dtype=bool)
    if "same_identifier" in pairs.columns:
        # Pairs added by reviewers' decisions have no value here (NaN): not equal.
        strong |= pairs["same_identifier"].eq(True).to_numpy(bool)
    elif "identifier_l" in pairs.columns:
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

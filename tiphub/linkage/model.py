"""The probabilistic linkage model: Splink 5 comparisons, blocking and unsupervised training.

One model definition serves both backends. Comparisons are written with Splink's level
library (which Splink translates to each SQL dialect), so DuckDB and Spark score pairs with
the same SQL; training runs once on DuckDB over a deterministic sample and the trained model
is then applied on whichever backend predicts, so both give the same links.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

from tiphub.linkage.records import LSH_BANDS, NAME_PARTS_COMPARED

# Fuzzy-agreement cut-offs on Jaro-Winkler similarity of romanised names.
_JW_CLOSE = 0.92
_JW_SIMILAR = 0.80


def _null_either(*columns: str) -> Any:
    """Null level: every given column is missing on one side or the other."""
    left = " AND ".join(f"{name}_l IS NULL" for name in columns)
    right = " AND ".join(f"{name}_r IS NULL" for name in columns)
    return cll.CustomLevel(f"({left}) OR ({right})", "missing").configure(is_null_level=True)


def _shared_parts_sql(at_least: int) -> str:
    """Whether two records share ``at_least`` of their rarest name parts (a record's parts
    are distinct, so each left part equals at most one right part). Equality inside CASE,
    where a missing part counts 0: the same SQL in DuckDB and Spark."""
    parts = range(1, NAME_PARTS_COMPARED + 1)
    terms = [
        f"CASE WHEN name_part_{left}_l = name_part_{right}_r THEN 1 ELSE 0 END"
        for left in parts
        for right in parts
    ]
    return f"({' + '.join(terms)}) >= {at_least}"


def shared_parts_level_sql() -> str:
    """Two rarest parts shared, unless the given names agree whole: "Maria Julia Rodrigues"
    and "Maria Julia Santos" are two people with a double first name as often as not (in a
    register they chained namesakes together), and "given agrees only" weighs them."""
    return f"{_shared_parts_sql(2)} AND NOT COALESCE(given_sk_l = given_sk_r, FALSE)"


def name_comparison() -> Any:
    """Given and family name together, so that swapped and one-sided names are levels."""
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="given and family name (romanised, spelling skeleton)",
        comparison_levels=[
            _null_either("given_sk", "family_sk"),
            cll.ExactMatchLevel("name_sk")
            .configure(tf_adjustment_column="name_sk")
            .configure(label_for_charts="both names agree"),
            cll.CustomLevel(
                "given_sk_l = family_sk_r AND family_sk_l = given_sk_r",
                "names swapped",
            ),
            cll.ExactMatchLevel("name_tokens").configure(
                label_for_charts="same name parts, other fields or order"
            ),
            # Levenshtein, not Jaro-Winkler: Spark's and DuckDB's Jaro-Winkler differ on
            # strings with spaces, and both backends must give the same links.
            cll.LevenshteinLevel("name_tokens", 2).configure(
                label_for_charts="name parts close, any fields or order"
            ),
            cll.And(
                cll.ExactMatchLevel("family_sk"), cll.JaroWinklerLevel("given_std", _JW_CLOSE)
            ).configure(label_for_charts="family agrees, given close"),
            cll.And(
                cll.ExactMatchLevel("given_sk"), cll.JaroWinklerLevel("family_std", _JW_CLOSE)
            ).configure(label_for_charts="given agrees, family close"),
            cll.Or(
                cll.And(
                    cll.JaroWinklerLevel("given_std", _JW_CLOSE),
                    cll.JaroWinklerLevel("family_std", _JW_CLOSE),
                ),
                cll.And(cll.ExactMatchLevel("given_ph"), cll.ExactMatchLevel("family_ph")),
            ).configure(label_for_charts="both close or sound alike"),
            cll.CustomLevel(shared_parts_level_sql(), "two name parts shared").configure(
                label_for_charts="two name parts shared, others missing or different"
            ),
            cll.ExactMatchLevel("family_sk")
            .configure(tf_adjustment_column="family_sk")
            .configure(label_for_charts="family agrees only"),
            cll.ExactMatchLevel("given_sk")
            .configure(tf_adjustment_column="given_sk")
            .configure(label_for_charts="given agrees only"),
            cll.And(
                cll.JaroWinklerLevel("given_std", _JW_SIMILAR),
                cll.JaroWinklerLevel("family_std", _JW_SIMILAR),
            ).configure(label_for_charts="both similar"),
            cll.ElseLevel(),
        ],
    )


def date_of_birth_comparison() -> Any:
    """Partial dates agree with full ones; swapped day and month and one-digit slips count."""
    return cl.CustomComparison(
        output_column_name="date_of_birth",
        comparison_description="date of birth, possibly partial",
        comparison_levels=[
            _null_either("dob_year"),
            cll.CustomLevel("dob_l = dob_r", "exact"),
            cll.CustomLevel(
                "dob_year_l = dob_year_r AND (dob_month_l IS NULL OR dob_month_r IS NULL "
                "OR (dob_month_l = dob_month_r AND (dob_day_l IS NULL OR dob_day_r IS NULL)))",
                "agrees as far as given",
            ),
            cll.CustomLevel(
                "dob_year_l = dob_year_r AND dob_month_l = dob_day_r AND dob_day_l = dob_month_r",
                "day and month swapped",
            ),
            cll.LevenshteinLevel("dob", 1).configure(label_for_charts="one digit differs"),
            cll.CustomLevel("dob_year_l = dob_year_r", "same year"),
            cll.CustomLevel("ABS(dob_year_l - dob_year_r) <= 2", "within two years"),
            cll.ElseLevel(),
        ],
    )


def _field(column: str, label: str, *, tf: bool = False, jw: float | None = None) -> Any:
    """Missing / exact (optionally TF-adjusted) / Jaro-Winkler ≥ ``jw`` if given / else."""
    exact: Any = cll.ExactMatchLevel(column)
    if tf:
        exact = exact.configure(tf_adjustment_column=column)
    fuzzy = [cll.JaroWinklerLevel(column, jw)] if jw is not None else []
    return cl.CustomComparison(
        output_column_name=column,
        comparison_description=label,
        comparison_levels=[cll.NullLevel(column), exact, *fuzzy, cll.ElseLevel()],
    )


def identifier_comparison() -> Any:
    return cl.CustomComparison(
        output_column_name="identifier",
        comparison_description="document or agency identifier",
        comparison_levels=[
            cll.NullLevel("identifier"),
            cll.ExactMatchLevel("identifier"),
            cll.DamerauLevenshteinLevel("identifier", 1),
            cll.ElseLevel(),
        ],
    )


_OPTIONAL_COMPARISONS: dict[str, Callable[[], Any]] = {
    "sex": lambda: _field("sex", "sex"),
    "nationality": lambda: _field("nationality", "nationality"),
    "place_sk": lambda: _field("place_sk", "place of birth", tf=True, jw=0.9),
    "identifier": identifier_comparison,
    "address": lambda: _field("address", "address", jw=0.9),
    "postcode": lambda: _field("postcode", "postcode", jw=0.9),
    "city": lambda: _field("city", "city", tf=True, jw=0.92),
}


# Broad rules are added only when the pairs they generate stay within this budget: on
# small or medium files they recover pairs that agree on little but a date or a surname,
# on a million records they would cost quadratic time.
BROAD_RULE_BUDGET = 2_000_000
_BROAD_RULES: tuple[tuple[str, ...], ...] = (
    ("dob",),
    ("family_sk",),
    ("given_sk", "city"),
)

# What records of one block share, in words for messages (never the value itself).
RULE_DESCRIPTIONS: dict[tuple[str, ...], str] = {
    ("given_ph", "family_ph"): "the sound of both names",
    ("family_sk", "dob_year"): "a family name and birth year",
    ("initials_year",): "initials and birth year",
    ("block_names_sound",): "the sound of both names",
    ("block_family_year",): "a family name and birth year",
    ("block_initials_year",): "initials and birth year",
    ("given_sk", "dob"): "a given name and date of birth",
    ("block_identifier",): "an identifier",
    ("block_dob_nationality",): "a date of birth and nationality",
    ("block_postcode",): "a postcode",
    ("block_address",): "an address",
    ("block_city_year",): "a city and birth year",
    ("dob",): "a date of birth",
    ("family_sk",): "a family name",
    ("given_sk", "city"): "a given name and city",
    **{(f"lsh_{band}",): "a band of the name index" for band in range(LSH_BANDS)},
}


def _broad_rule_columns(
    prepared: pd.DataFrame, budget: int = BROAD_RULE_BUDGET
) -> list[tuple[str, ...]]:
    chosen = []
    for columns in _BROAD_RULES:
        if not all(name in prepared.columns for name in columns):
            continue
        sizes = prepared.dropna(subset=list(columns)).groupby(list(columns)).size()
        if len(sizes) and int((sizes * (sizes - 1) // 2).sum()) <= budget:
            chosen.append(columns)
    return chosen


def broad_rules(prepared: pd.DataFrame, budget: int = BROAD_RULE_BUDGET) -> list[Any]:
    return [block_on(*columns) for columns in _broad_rule_columns(prepared, budget)]


def _prediction_columns(present: Sequence[str]) -> list[tuple[str, ...]]:
    # The name rules are keyed by block numbers whose oversized blocks are split (see
    # records.NAME_BLOCKS), so that a million records stay within memory.
    columns: list[tuple[str, ...]] = [
        ("block_names_sound",),
        ("block_family_year",),
        ("block_initials_year",),
        ("given_sk", "dob"),
    ]
    # Evidence blocks are keyed by a column without oversized blocks (see records.prepare).
    if "identifier" in present:
        columns.append(("block_identifier",))
    if "nationality" in present:
        columns.append(("block_dob_nationality",))
    if "postcode" in present:
        columns.append(("block_postcode",))
    if "address" in present:
        columns.append(("block_address",))
    if "city" in present:
        columns.append(("block_city_year",))
    columns.extend((f"lsh_{band}",) for band in range(LSH_BANDS))
    return columns


def prediction_blocking_rules(present: Sequence[str]) -> list[Any]:
    """Several keys combined so that a pair missed by one is caught by another.

    Phonetic names, skeleton family name with birth year, initials with birth year, full
    birth date with nationality, identifiers, and every band of the MinHash name index.
    """
    return [block_on(*columns) for columns in _prediction_columns(present)]


def prediction_rule_columns(prepared: pd.DataFrame) -> list[tuple[str, tuple[str, ...]]]:
    """(description, columns) of every rule that generates candidate pairs for ``prepared``."""
    columns = [
        *_prediction_columns(present_columns(prepared)),
        *_broad_rule_columns(prepared),
    ]
    return [(RULE_DESCRIPTIONS.get(rule, "a blocking key"), rule) for rule in columns]


@dataclass(frozen=True)
class ModelSpec:
    """What the model compares, chosen from the columns that hold any values."""

    comparisons: list[str]
    settings: SettingsCreator = field(repr=False)


def present_columns(prepared: pd.DataFrame) -> list[str]:
    return [name for name in prepared.columns if prepared[name].notna().any()]


def build_settings(prepared: pd.DataFrame) -> ModelSpec:
    present = present_columns(prepared)
    comparisons: list[Any] = []
    names: list[str] = []
    if "given_sk" in present or "family_sk" in present:
        comparisons.append(name_comparison())
        names.append("name")
    if "dob_year" in present:
        comparisons.append(date_of_birth_comparison())
        names.append("date_of_birth")
    for column, factory in _OPTIONAL_COMPARISONS.items():
        if column in present:
            comparisons.append(factory())
            names.append(column)
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[
            *prediction_blocking_rules(present),
            *broad_rules(prepared),
        ],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
        probability_two_random_records_match=1e-4,
        em_convergence=0.001,
        max_iterations=25,
    )
    return ModelSpec(names, settings)

"""Why two records were linked: each field's comparison level and its weight (log2 Bayes
factor), read from the trained Splink model and the scored pair."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def level_labels(model: Mapping[str, Any]) -> dict[str, dict[int, str]]:
    """Comparison name -> {comparison vector value: level label}.

    Splink numbers a comparison's non-null levels from the top down (first level highest)
    and gives the null level -1.
    """
    labels: dict[str, dict[int, str]] = {}
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        non_null = [level for level in levels if not level.get("is_null_level")]
        mapping: dict[int, str] = {-1: "missing"}
        for position, level in enumerate(non_null):
            mapping[len(non_null) - 1 - position] = str(
                level.get("label_for_charts") or level.get("sql_condition")
            )
        labels[str(comparison["output_column_name"])] = mapping
    return labels


def explanation_columns(
    pairs: pd.DataFrame, comparisons: Sequence[str], model: Mapping[str, Any]
) -> pd.DataFrame:
    """One ``level_<field>`` and ``weight_<field>`` column per compared field."""
    labels = level_labels(model)
    out = pd.DataFrame(index=pairs.index)
    for name in comparisons:
        gamma = f"gamma_{name}"
        if gamma not in pairs.columns:
            continue
        mapping = labels.get(name, {})
        # Pairs added by a reviewer's decision were never scored by the model.
        out[f"level_{name}"] = pairs[gamma].map(
            lambda value, m=mapping: m.get(int(value), "") if value == value else "reviewed"
        )
        weight = pairs[f"mw_{name}"].astype(float)
        tf_column = f"mw_tf_adj_{name}"
        if tf_column in pairs.columns:
            weight = weight + pairs[tf_column].astype(float).fillna(0.0)
        out[f"weight_{name}"] = weight.round(2)
    return out


def explain_pair(row: Mapping[str, Any], comparisons: Sequence[str]) -> list[dict[str, Any]]:
    """The explanation of one pair as ``[{"field", "level", "weight"}]``, strongest first."""
    items = []
    for name in comparisons:
        level = row.get(f"level_{name}")
        weight = row.get(f"weight_{name}")
        if level is None or weight is None or (isinstance(weight, float) and np.isnan(weight)):
            continue
        items.append({"field": name, "level": str(level), "weight": float(weight)})
    return sorted(items, key=lambda item: -abs(item["weight"]))

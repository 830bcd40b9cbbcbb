"""A self-contained HTML report of a linkage run: numbers, charts, explanations, routes.

Record IDs appear; names, dates and identifiers never do, so the report can be shared with
people who may not see identities.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import pandas as pd

from tiphub.linkage.cluster import ThresholdChoice
from tiphub.linkage.outputs import write_text

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}td.n{text-align:right}h2{margin-top:2em}.note{color:#555}
"""


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def threshold_chart(choice: ThresholdChoice) -> str:
    curve = pd.DataFrame(choice.curve)
    figure, axis = plt.subplots(figsize=(7, 3.6))
    axis.plot(curve["threshold"], curve["estimated_precision"], label="estimated precision")
    axis.plot(curve["threshold"], curve["estimated_recall"], label="estimated recall")
    axis.plot(curve["threshold"], curve["precision_over_recall"], label="precision ÷ recall")
    axis.axvline(choice.threshold, color="grey", linestyle="--", label="chosen threshold")
    axis.axhline(1.0, color="black", linewidth=0.5)
    axis.set_xlabel("match probability threshold")
    axis.set_ylim(0, max(1.3, min(2.0, float(curve["precision_over_recall"].max()) * 1.05)))
    axis.legend(fontsize=8)
    axis.set_title("Estimated without labels, from the model's match probabilities")
    return _svg(figure)


def weight_histogram(pairs: pd.DataFrame, threshold: float) -> str:
    figure, axis = plt.subplots(figsize=(7, 3.2))
    weights = pairs["match_weight"].astype(float).clip(-30, 40)
    axis.hist(weights, bins=60, color="#4a7ab5")
    axis.set_yscale("log")
    if 0 < threshold < 1:
        axis.axvline(_log2(threshold / (1 - threshold)), color="grey", linestyle="--")
    axis.set_xlabel("match weight (log2 Bayes factor incl. prior)")
    axis.set_ylabel("candidate pairs")
    return _svg(figure)


def _number(value: object) -> float | None:
    # Splink writes "level not observed in training dataset" where a level had no pairs.
    return float(value) if isinstance(value, int | float) else None


def _model_table(model: Mapping[str, Any]) -> str:
    rows = []
    for comparison in model["comparisons"]:
        name = str(comparison["output_column_name"])
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m = _number(level.get("m_probability"))
            u = _number(level.get("u_probability"))
            weight = "" if not m or not u else f"{_log2(m / u):+.1f}"
            rows.append(
                f"<tr><td>{html.escape(name)}</td>"
                f"<td>{html.escape(str(level.get('label_for_charts', '')))}</td>"
                f"<td class=n>{'' if m is None else f'{m:.4f}'}</td>"
                f"<td class=n>{'' if u is None else f'{u:.6f}'}</td>"
                f"<td class=n>{weight}</td></tr>"
            )
    return (
        "<table><tr><th>field</th><th>level</th><th>m</th><th>u</th>"
        "<th>weight (log2 m/u)</th></tr>" + "".join(rows) + "</table>"
    )


def _log2(value: float) -> float:
    return math.log2(value) if value > 0 else float("-inf")


def _explanations_table(links: pd.DataFrame, comparisons: Sequence[str], limit: int = 25) -> str:
    if links.empty:
        return "<p>No links.</p>"
    near = links.assign(distance=(links["match_probability"] - 0.5).abs()).nsmallest(
        limit, "distance"
    )
    header = "".join(f"<th>{html.escape(name)}</th>" for name in comparisons)
    rows = []
    for _, row in near.iterrows():
        cells = "".join(
            f"<td>{html.escape(str(row.get(f'level_{name}', '')))}"
            f" ({row.get(f'weight_{name}', 0.0):+.1f})</td>"
            for name in comparisons
        )
        rows.append(
            f"<tr><td>{html.escape(str(row['record_id_l']))}</td>"
            f"<td>{html.escape(str(row['record_id_r']))}</td>"
            f"<td class=n>{row['match_probability']:.3f}</td>{cells}</tr>"
        )
    return (
        "<table><tr><th>record</th><th>record</th><th>p</th>"
        + header
        + "</tr>"
        + "".join(rows)
        + "</table>"
    )


def _conflicts_section(conflicts: pd.DataFrame, limit: int = 50) -> list[str]:
    """Links the clustering refused because they would join records a reviewer decided apart."""
    if conflicts.empty:
        return []
    rows = "".join(
        f"<tr><td>{html.escape(str(row.record_id_l))}</td>"
        f"<td>{html.escape(str(row.record_id_r))}</td>"
        f"<td class=n>{float(row.match_probability):.3f}</td>"
        f"<td>{html.escape(str(row.cannot_link_record_id_l))}</td>"
        f"<td>{html.escape(str(row.cannot_link_record_id_r))}</td></tr>"
        for row in conflicts.head(limit).itertuples(index=False)
    )
    shown = f" The first {limit} are listed." if len(conflicts) > limit else ""
    return [
        "<h2>Links refused by reviewers' cannot-link decisions</h2>",
        f"<p class=note>{len(conflicts):,} link(s) cleared the threshold but would have put "
        "two records that a reviewer decided are different people into one cluster, through "
        "a third record. They were not made and are queued for review: either the refused "
        f"link or the earlier decision is wrong.{shown}</p>",
        "<table><tr><th>record</th><th>record</th><th>p</th>"
        "<th>cannot-linked record</th><th>cannot-linked record</th></tr>"
        f"{rows}</table>",
    ]


def _page(summary: Mapping[str, Any], body: Sequence[str]) -> str:
    items = "".join(
        f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(str(value))}</td></tr>"
        for key, value in summary.items()
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>tiphub linkage report</title>",
        f"<style>{_STYLE}</style></head><body><h1>Record linkage report</h1>",
        f"<table>{items}</table>",
        *body,
        "</body></html>",
    ]
    return "\n".join(parts)


def render_report(
    *,
    summary: Mapping[str, Any],
    choice: ThresholdChoice | None,
    pairs: pd.DataFrame,
    links: pd.DataFrame,
    comparisons: Sequence[str],
    model: Mapping[str, Any] | None,
    extra_sections: Sequence[str] = (),
    conflicts: pd.DataFrame | None = None,
) -> str:
    """The report as HTML; ``extra_sections`` are HTML fragments (e.g. the route map).

    ``conflicts``: links refused by cannot-link decisions (see ``LinkRun.conflicts``).
    """
    parts: list[str] = []
    if conflicts is not None:
        parts += _conflicts_section(conflicts)
    if choice is not None:
        parts += [
            "<h2>Operating threshold</h2>",
            "<p class=note>With two lists a capture-recapture estimate scales with precision ÷ "
            "recall of the linkage, so the threshold is the one where the estimated ratio is "
            "closest to 1. The estimates come from the model's match probabilities; they "
            "cannot see true matches that no blocking rule proposed.</p>",
            threshold_chart(choice),
        ]
    if not pairs.empty and "match_weight" in pairs.columns:
        parts += [
            "<h2>Candidate pairs by match weight</h2>",
            weight_histogram(pairs, choice.threshold if choice else 0.5),
        ]
    if model is not None:
        parts += ["<h2>Trained model</h2>", _model_table(model)]
    parts += [
        "<h2>Links nearest the decision boundary, explained</h2>",
        "<p class=note>Each field's comparison level and its weight in bits.</p>",
        _explanations_table(links, comparisons),
    ]
    parts += list(extra_sections)
    return _page(summary, parts)


def write_report(
    path: Path,
    *,
    summary: Mapping[str, Any],
    choice: ThresholdChoice | None,
    pairs: pd.DataFrame,
    links: pd.DataFrame,
    comparisons: Sequence[str],
    model: Mapping[str, Any] | None,
    extra_sections: Sequence[str] = (),
    conflicts: pd.DataFrame | None = None,
) -> None:
    """Write :func:`render_report` to ``path`` (0600, staged)."""
    text = render_report(
        summary=summary,
        choice=choice,
        pairs=pairs,
        links=links,
        comparisons=comparisons,
        model=model,
        extra_sections=extra_sections,
        conflicts=conflicts,
    )
    write_text(path, text)


def dice_histogram(scores: npt.NDArray[np.float64], threshold: float) -> str:
    figure, axis = plt.subplots(figsize=(7, 3.2))
    axis.hist(scores, bins=60, range=(0.0, 1.0), color="#4a7ab5")
    axis.set_yscale("log")
    axis.axvline(threshold, color="grey", linestyle="--")
    axis.set_xlabel("Dice similarity of the encodings")
    axis.set_ylabel("candidate pairs")
    return _svg(figure)


def _dice_links_table(links: pd.DataFrame, threshold: float, limit: int = 25) -> str:
    if links.empty:
        return "<p>No links.</p>"
    near = links.assign(distance=(links["dice"] - threshold).abs()).nsmallest(limit, "distance")
    rows = "".join(
        f"<tr><td>{html.escape(str(row.record_id_l))}</td>"
        f"<td>{html.escape(str(row.record_id_r))}</td>"
        f"<td class=n>{float(row.dice):.3f}</td></tr>"
        for row in near.itertuples(index=False)
    )
    return f"<table><tr><th>record</th><th>record</th><th>Dice</th></tr>{rows}</table>"


def render_encoded_report(
    *,
    summary: Mapping[str, Any],
    links: pd.DataFrame,
    scores: npt.NDArray[np.float64],
    threshold: float,
) -> str:
    """The report of a run on Bloom-filter encodings: there is no model, only Dice scores."""
    parts = [
        "<h2>Candidate pairs by Dice similarity</h2>",
        "<p class=note>Pairs below the candidate floor are not shown; the dashed line is "
        "the threshold at which pairs link.</p>",
    ]
    if len(scores):
        parts.append(dice_histogram(np.asarray(scores, dtype=float), threshold))
    else:
        parts.append("<p>No candidate pairs.</p>")
    parts += ["<h2>Links nearest the threshold</h2>", _dice_links_table(links, threshold)]
    return _page(summary, parts)

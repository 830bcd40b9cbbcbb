"""The weekly flag statistics as a chart people can take in at a glance."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TOP_VALUES = 6
DIMENSIONS = (
    ("indicator", "Flags by indicator"),
    ("sector", "Flags by sector"),
    ("destination", "Flags by destination country"),
)


def draw_weekly(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """One panel per dimension: flags per ISO week, one line per value (the most frequent
    values only). PNG or SVG by the file's suffix; written privately and whole."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tiphub.files import staged_file

    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"{path}: the chart is written as .png or .svg")
    weeks = sorted({str(row["week"]) for row in rows})
    figure, axes = plt.subplots(len(DIMENSIONS), 1, figsize=(9, 3.2 * len(DIMENSIONS)))
    for axis, (dimension, title) in zip(axes, DIMENSIONS, strict=True):
        series: dict[str, dict[str, int]] = defaultdict(dict)
        for row in rows:
            if row["dimension"] == dimension:
                series[str(row["value"])][str(row["week"])] = int(row["flags"])
        ranked = sorted(series, key=lambda value: -sum(series[value].values()))[:TOP_VALUES]
        for value in ranked:
            axis.plot(
                range(len(weeks)),
                [series[value].get(week, 0) for week in weeks],
                marker="o",
                label=value,
            )
        axis.set_title(title)
        axis.set_ylabel("flagged ads")
        axis.set_xticks(range(len(weeks)), weeks, rotation=45, ha="right", fontsize=8)
        if ranked:
            axis.legend(fontsize=8, loc="upper left")
        else:
            axis.text(0.5, 0.5, "no flags", ha="center", va="center", transform=axis.transAxes)
    figure.tight_layout()
    with staged_file(path) as temporary:
        figure.savefig(temporary, format=suffix[1:])
    plt.close(figure)

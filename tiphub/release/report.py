"""``report.html``: what a release did to the data, for the people who approve it.

One self-contained page (inline CSS, charts as inline SVG drawn with matplotlib's Agg
backend, no network assets, no URLs at all): the method and its parameters in plain words,
the utility figures of :mod:`tiphub.release.metrics` by combination length with a reading
of each, a chart of real against released counts, a chart of the error by combination
length, and the singling-out attack. Every piece of text is HTML-escaped.

The page shows *real* counts next to released ones, so it is a working document for the
approvers, never something to publish with the release.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from tiphub.release.metrics import AttackResult, LengthMetrics, ReleaseMetrics

# Above this many points the scatter is drawn as an embedded bitmap inside the SVG, so a
# release of 100,000 combinations still makes a page of a few hundred kilobytes.
RASTER_POINTS = 2_000

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2733;
  margin: 0; background: #fff; line-height: 1.45; }
main { max-width: 980px; margin: 0 auto; padding: 1.5rem 1.2rem 3rem; }
h1 { font-size: 1.6rem; margin: .2rem 0 .4rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #d5dbe1;
  padding-bottom: .3rem; }
p.meta { color: #5b6875; margin-top: 0; }
.headline { font-size: 1.05rem; background: #f3f6f9; border-left: 4px solid #1f3b57;
  padding: .8rem 1rem; margin: 1rem 0; }
.pass { border-left-color: #2e7d32; background: #eef7ef; }
.fail { border-left-color: #c0392b; background: #fbf1ef; }
.warn { background: #fff8e6; border-left: 4px solid #e0a800; padding: .5rem 1rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .92rem; }
th, td { text-align: left; padding: .3rem .7rem; border-bottom: 1px solid #e3e7eb;
  vertical-align: top; }
th { background: #f3f6f9; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 2px solid #1d2733; }
figure { margin: 1rem 0; }
figcaption { color: #5b6875; font-size: .88rem; }
ul.reading li { margin: .3rem 0; }
small, .muted { color: #5b6875; }
footer { margin-top: 3rem; color: #5b6875; font-size: .85rem; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _share(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.1f}%"


def _error(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.2f}"


def _value(value: object) -> str:
    """A parameter as text: mappings and lists as compact JSON, dates in ISO form."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _table(header: Sequence[tuple[str, bool]], rows: Sequence[Sequence[tuple[str, str]]]) -> str:
    """``header``: (text, numeric); each cell: (already-escaped HTML, CSS class)."""
    head = "".join(f'<th class="num">{_e(t)}</th>' if n else f"<th>{_e(t)}</th>" for t, n in header)
    body = []
    for row in rows:
        cells = "".join(f'<td class="{c}">{h}</td>' if c else f"<td>{h}</td>" for h, c in row)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# ---------------------------------------------------------------------- charts


def _figure(width: float, height: float) -> Any:
    # Imported here: matplotlib is slow to import. The Agg canvas needs no display and
    # leaves pyplot's global state alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


_TAG = re.compile(r"<[^>]+>")
_ID = re.compile(r'\bid="([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
_HREF = re.compile(r'href="#([^"]+)"')
_NAMESPACE = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')


def _svg(figure: Any, description: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML5, without any URL in it."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "tiphub-release"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drops the XML prologue and its DTD address
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    # Inline SVG in HTML5 needs no namespace declarations, and they are the only addresses
    # left in matplotlib's output.
    opening_end = text.index(">")
    text = _NAMESPACE.sub("", text[:opening_end]) + text[opening_end:]
    # Two charts on one page must not share clip-path or marker ids.
    prefix = "r" + hashlib.sha1(text.encode()).hexdigest()[:8]

    def fix(match: re.Match[str]) -> str:
        tag = match.group(0)
        tag = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', tag)
        tag = _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", tag)
        return _HREF.sub(lambda m: f'href="#{prefix}-{m.group(1)}"', tag)

    text = _TAG.sub(fix, text)
    label = html.escape(description, quote=True)
    return text.replace(
        "<svg ",
        f'<svg role="img" aria-label="{label}" style="max-width:100%;height:auto" ',
        1,
    )


def _length_of(text: str) -> int:
    return text.count(";") + 1 if text else 0


def real_vs_released_svg(points: Sequence[tuple[str, int, int]]) -> str:
    """Scatter of released against real counts (symmetric log axes), coloured by length."""
    figure = _figure(6.4, 5.2)
    axes = figure.add_subplot()
    by_length: dict[int, tuple[list[int], list[int]]] = {}
    for text, real, released in points:
        xs, ys = by_length.setdefault(_length_of(text), ([], []))
        xs.append(real)
        ys.append(released)
    rasterized = len(points) > RASTER_POINTS
    palette = ("#1f3b57", "#c0392b", "#2e7d32", "#e0a800", "#6a3d9a", "#8c564b")
    # Longest combinations first, so the few short ones are drawn on top of the many long.
    for index, length in reversed(list(enumerate(sorted(by_length)))):
        xs, ys = by_length[length]
        axes.scatter(
            xs,
            ys,
            s=9,
            alpha=0.45,
            linewidths=0,
            color=palette[index % len(palette)],
            label="total" if length == 0 else f"length {length} ({len(xs):,})",
            rasterized=rasterized,
        )
    largest = max((max(real, released) for _text, real, released in points), default=1)
    top = max(largest, 1) * 1.3
    axes.plot(
        [0, top], [0, top], color="#5b6875", linewidth=1, linestyle="--", label="released = real"
    )
    axes.set_xscale("symlog", linthresh=1)
    axes.set_yscale("symlog", linthresh=1)
    axes.set_xlim(0, top)
    axes.set_ylim(min(0, min((p[2] for p in points), default=0)), top)
    axes.set_xlabel("real count")
    axes.set_ylabel("released count")
    axes.set_title("Real vs released counts")
    axes.grid(True, color="#e3e7eb", linewidth=0.6)
    if points:
        handles, labels = axes.get_legend_handles_labels()
        order = sorted(range(len(labels)), key=lambda i: labels[i])  # "length 1" first
        axes.legend(
            [handles[i] for i in order],
            [labels[i] for i in order],
            loc="upper left",
            fontsize=8,
            frameon=False,
        )
    return _svg(figure, "Scatter chart of released against real counts, one point a combination")


def error_by_length_svg(metrics: ReleaseMetrics) -> str:
    """Bars of the mean absolute error (and its value over released combinations) by length."""
    import numpy as np

    figure = _figure(6.4, 3.9)
    axes = figure.add_subplot()
    lengths = [figures.length for figures in metrics.by_length]
    positions = np.arange(len(lengths))
    mae = [0.0 if math.isnan(f.mae) else f.mae for f in metrics.by_length]
    released = [0.0 if math.isnan(f.mae_released) else f.mae_released for f in metrics.by_length]
    width = 0.38
    left = axes.bar(
        positions - width / 2, mae, width, color="#1f3b57", label="MAE (reportable ∪ released)"
    )
    right = axes.bar(
        positions + width / 2, released, width, color="#7f9bb5", label="MAE (released only)"
    )
    for bars in (left, right):
        axes.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    axes.set_xticks(positions, [f"{length} value{'s' if length > 1 else ''}" for length in lengths])
    axes.set_ylabel("mean absolute error")
    axes.set_title("Error by combination length")
    axes.margins(y=0.12)
    axes.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    return _svg(figure, "Bar chart of the mean absolute error by combination length")


# ---------------------------------------------------------------------- sections


def _method_section(privacy: Mapping[str, Any], metrics: ReleaseMetrics) -> str:
    method = privacy.get("method")
    k = privacy.get("k")
    epsilon = privacy.get("epsilon")
    delta = privacy.get("delta")
    length = privacy.get("max_length", metrics.max_length)
    sentences = []
    if method:
        sentences.append(f"Method: <strong>{_e(method)}</strong>.")
    if epsilon is not None:
        guarantee = f"ε = {_value(epsilon)}" + (
            f" and δ = {_value(delta)}" if delta is not None else ""
        )
        sentences.append(
            f"Differential privacy with {_e(guarantee)}: the published figures would be "
            "almost as likely whether or not any one person were in the data. A smaller ε "
            "protects more and adds more noise."
        )
    if k is not None:
        sentences.append(
            f"k-anonymity with k = {_e(_value(k))}: no published combination of values is held "
            f"by fewer than {_e(_value(k))} people in the data."
        )
    sentences.append(
        f"Combinations of up to L = {_e(_value(length))} values (for example gender, age band "
        "and citizenship together) are published; an empty cell is never part of one."
    )
    suppression = privacy.get("suppression")
    sentences.append(
        "Suppression: "
        + (_e(_value(suppression)) if suppression not in (None, "") else "not stated")
        + "."
    )
    date = privacy.get("date")
    approved = privacy.get("approved_by")
    parts = [f"<p>{sentence}</p>" for sentence in sentences]
    parts.append(
        "<p>Made on <strong>"
        + (_e(_value(date)) if date not in (None, "") else "an unstated date")
        + "</strong>; approved by <strong>"
        + (_e(_value(approved)) if approved not in (None, "") else "nobody yet")
        + "</strong>.</p>"
    )
    if approved in (None, ""):
        parts.append('<p class="warn">Nobody has approved this release yet.</p>')
    rows = [
        [(_e(key), ""), (_e(_value(value)), "")]
        for key, value in sorted(privacy.items(), key=lambda item: str(item[0]))
    ]
    if rows:
        parts.append("<details><summary>All parameters</summary>")
        parts.append(_table([("parameter", False), ("value", False)], rows))
        parts.append("</details>")
    return '<section id="method"><h2>Method and parameters</h2>' + "".join(parts) + "</section>"


def _reading(figures: LengthMetrics, k: int) -> str:
    noun = f"{figures.length} value{'s' if figures.length > 1 else ''}"
    if figures.real == 0 and figures.released == 0:
        return f"Combinations of {noun}: none in the data and none released."
    parts = []
    if math.isnan(figures.mae):
        parts.append("nothing reportable and nothing released, so no error to measure")
    else:
        parts.append(
            f"a published count is off by {_error(figures.mae)} on average "
            f"(at most {figures.max_error:,})"
        )
    parts.append(
        f"{_share(figures.suppressed)} of the {figures.real:,} combinations in the data were not "
        f"published ({_share(figures.suppressed_reportable)} of the {figures.reportable:,} held "
        f"by at least {k} people)"
    )
    if figures.released:
        parts.append(
            f"{_share(figures.fabricated)} of the {figures.released:,} published combinations "
            "do not occur in the data at all"
        )
    else:
        parts.append("none was published")
    return f"Combinations of {_e(noun)}: " + "; ".join(_e(part) for part in parts) + "."


def _utility_section(metrics: ReleaseMetrics) -> str:
    k = metrics.k
    header = [
        ("length", False),
        ("in the data", True),
        (f"held by ≥ {k}", True),
        ("released", True),
        ("MAE", True),
        ("MAE (released only)", True),
        ("largest error", True),
        ("suppressed", True),
        (f"suppressed, ≥ {k}", True),
        ("fabricated", True),
    ]
    rows = []
    for figures in (*metrics.by_length, metrics.overall):
        rows.append(
            [
                (_e(figures.length if figures.length else "all"), ""),
                (f"{figures.real:,}", "num"),
                (f"{figures.reportable:,}", "num"),
                (f"{figures.released:,}", "num"),
                (_e(_error(figures.mae)), "num"),
                (_e(_error(figures.mae_released)), "num"),
                (f"{figures.max_error:,}", "num"),
                (_e(_share(figures.suppressed)), "num"),
                (_e(_share(figures.suppressed_reportable)), "num"),
                (_e(_share(figures.fabricated)), "num"),
            ]
        )
    table = _table(header, rows).replace("<tr><td>all</td>", '<tr class="total"><td>all</td>')
    total = f"{metrics.real_rows:,} rows in the data; the release states " + (
        "no total."
        if metrics.released_rows is None
        else f"a total of {metrics.released_rows:,} (off by {metrics.total_error:,})."
    )
    readings = "".join(f"<li>{_reading(figures, k)}</li>" for figures in metrics.by_length)
    return (
        '<section id="utility"><h2>Utility by combination length</h2>'
        f'<p class="meta">{_e(total)}</p>'
        + table
        + f'<ul class="reading">{readings}</ul>'
        + "<p><small>MAE: mean absolute difference between released and real counts, over "
        f"every combination held by at least {k} people and every released one (a combination "
        "missing from either side counts 0). Suppressed: combinations in the data that were "
        "not released. Fabricated: released combinations that no one in the data holds."
        "</small></p></section>"
    )


def _charts_section(metrics: ReleaseMetrics, points: Sequence[tuple[str, int, int]]) -> str:
    return (
        '<section id="charts"><h2>Charts</h2>'
        f"<figure>{real_vs_released_svg(points)}<figcaption>"
        f"{len(points):,} combinations; points on the dashed line were released exactly. "
        "Both axes are logarithmic above 1.</figcaption></figure>"
        f"<figure>{error_by_length_svg(metrics)}<figcaption>Mean absolute error by "
        "combination length.</figcaption></figure></section>"
    )


def _attack_section(attack: AttackResult | None) -> str:
    if attack is None:
        return (
            '<section id="attack"><h2>Singling-out attack</h2>'
            "<p>No singling-out attack was run for this release.</p></section>"
        )
    verdict = (
        "Passes: nobody can be singled out with a chance above 1 in "
        f"{attack.k} using the released combinations."
        if attack.passes
        else f"Fails: {attack.below_k:,} released combination"
        f"{'s are' if attack.below_k != 1 else ' is'} held by fewer than {attack.k} people, "
        f"so someone can be singled out with a chance of up to {attack.largest_chance:.2%}."
    )
    rows = [
        ("released combinations examined", f"{attack.released:,}"),
        ("of which held by no one (single out nobody)", f"{attack.fabricated:,}"),
        (f"held by 1 to {attack.k - 1} people", f"{attack.below_k:,}"),
        (
            "fewest people behind a released combination",
            "none" if attack.smallest_support is None else f"{attack.smallest_support:,}",
        ),
        ("largest chance of singling someone out", f"{attack.largest_chance:.4f}"),
        ("threshold (1 / k)", f"{1 / attack.k:.4f}"),
        ("simulated targets", f"{attack.targets:,}"),
        ("mean success of the simulated attack", _error_4(attack.mean_success)),
        ("best success of the simulated attack", _error_4(attack.max_success)),
    ]
    table = _table(
        [("figure", False), ("value", True)],
        [[(_e(name), ""), (_e(value), "num")] for name, value in rows],
    )
    css = "pass" if attack.passes else "fail"
    return (
        '<section id="attack"><h2>Singling-out attack</h2>'
        f"<p>The attacker knows up to {attack.max_length} values of a person (for example "
        "from a news report) and looks for released combinations made of them; a combination "
        "held by n people singles the person out with a chance of 1 in n. The largest chance "
        "is checked over every released combination; the simulation draws targets from the "
        f"data and gives the attacker {attack.max_length} of their values at random.</p>"
        f'<p class="headline {css}">{_e(verdict)}</p>' + table + "</section>"
    )


def _error_4(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def render_report(
    *,
    title: str,
    privacy: Mapping[str, Any],
    metrics: ReleaseMetrics,
    attack: AttackResult | None,
    real_vs_released: Sequence[tuple[str, int, int]],
) -> str:
    """The whole page as a string.

    ``privacy`` holds the method and its parameters (read in plain words: ``method``, ``k``,
    ``epsilon``, ``delta``, ``max_length``, ``suppression``, ``date``, ``approved_by``; any
    other key is listed as it is). ``real_vs_released`` is ``(combination text, real count,
    released count)`` for the chart.
    """
    body = [
        f"<h1>{_e(title)}</h1>",
        '<p class="meta">Release report · combinations of up to '
        f"{metrics.max_length} values · {metrics.real_rows:,} rows in the data</p>",
        '<p class="warn">This page shows real counts next to released ones. It is for the '
        "people who approve the release: do not publish it with the release.</p>",
        _method_section(privacy, metrics),
        _utility_section(metrics),
        _charts_section(metrics, real_vs_released),
        _attack_section(attack),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n<footer>Produced by tiphub's release module. Utility and risk are measured "
        "independently of the code that made the release.</footer>\n</main>\n</body>\n</html>\n"
    )

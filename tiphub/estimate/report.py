"""Robustness checks and self-contained HTML reports for Multiple Systems Estimation.

MSE estimates rest on untestable assumptions about how lists depend on each other, and the
methods differ in the assumptions they make. A single number therefore says little on its
own; what a reader needs is whether reasonable methods agree, and whether the answer hinges
on one list. :func:`robustness` computes exactly that:

* every method side by side on the full table;
* every single-list omission and every pairwise merge, each re-estimated;
* plain-language sentences wherever the results contradict each other.

The reports are single HTML files with the charts embedded as inline SVG (matplotlib's Agg
backend, no pyplot state, no network assets), so they can be mailed or archived as they are.
Every value that can come from a user's file — list names, stratum names, error messages —
is HTML-escaped. Only aggregate counts and a file's *name* (never its folder) appear.
"""

from __future__ import annotations

import hashlib
import html
import io
import itertools
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tiphub.estimate.api import METHODS, StratifiedResult, estimate
from tiphub.estimate.limits import TimeGuard, TooLongError, check_robustness
from tiphub.estimate.recommend import DEFAULT_REPLICATES as DEFAULT_SIMULATION_REPLICATES
from tiphub.estimate.recommend import (
    DGA,
    MIN_COVERAGE,
    MODEL_AVERAGE,
    SUPPORT_BIC_GAP,
    TRUTH_METHODS,
    Recommendation,
    recommend,
    simulation_chart_svg,
)
from tiphub.estimate.results import METHOD_TITLES, IntervalPair, MSEResult
from tiphub.estimate.table import CaptureTable, ProgressCallback
from tiphub.files import open_private, staged_file

FULL_TABLE = "all lists"
DEFAULT_METHODS = ("main", "stepwise", "aic-stepwise", "bic", "lcmcr")
DEFAULT_VARIANT_METHODS = ("main", "stepwise", "aic-stepwise")
# The BIC search enumerates every hierarchical model: already ~16 s on 6 lists, and the
# count of models explodes beyond that, so it is left out on larger tables.
BIC_MAX_LISTS = 6
UPSET_TOP = 40
MAX_STRATUM_CHARTS = 30

INTERVAL_TITLES = {
    "lognormal": "log-normal (model-conditional)",
    "profile": "profile likelihood",
    "bca": "BCa bootstrap",
    "posterior": "posterior (LCMCR)",
}


# ---------------------------------------------------------------------- number formatting


def format_count(value: float | None) -> str:
    """A population figure as reports print it: whole people with thousands separators."""
    if value is None:
        return "unbounded"
    if not math.isfinite(value):
        return "∞" if value > 0 else "n/a"
    return f"{value:,.0f}"


def format_interval(pair: IntervalPair | None) -> str:
    """``9,884–13,027``; an upper limit of ``None`` (unbounded) reads ``9,884–unbounded``."""
    if pair is None:
        return "n/a"
    low, high = pair
    return f"{format_count(low) if low is not None else '?'}–{format_count(high)}"


def _rounded(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 1)


def _source_name(source: str | None) -> str | None:
    # Tables read from CSV carry the file name only, but a table built in code may carry a
    # full path (POSIX or Windows); reports must not reveal folders.
    if not source:
        return None
    return re.split(r"[\\/]", source)[-1] or None


# ---------------------------------------------------------------------- robustness


@dataclass(frozen=True)
class RobustnessRow:
    """One method on one version of the table (the full table, an omission or a merge).

    ``kind`` is ``"full"``, ``"omit"`` or ``"merge"``; ``changed`` names the list omitted or
    the two merged. ``population`` is ``None`` and ``error`` says why when the method gave
    no estimate.
    """

    variant: str
    kind: str
    lists: tuple[str, ...]
    observed: int
    method: str
    population: float | None
    interval_95: IntervalPair | None
    interval_80: IntervalPair | None
    interval_method: str | None
    model: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    changed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.population is not None and self.interval_95 is not None

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside this row's 95% interval (unbounded above if ``None``)."""
        if self.interval_95 is None:
            return False
        low, high = self.interval_95
        return (low is None or value >= low) and (high is None or value <= high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "kind": self.kind,
            "changed": list(self.changed),
            "lists": list(self.lists),
            "observed": self.observed,
            "method": self.method,
            "population": _rounded(self.population),
            "population_text": format_count(self.population) if self.ok else None,
            "interval_95": _pair_dict(self.interval_95),
            "interval_95_text": format_interval(self.interval_95) if self.ok else None,
            "interval_80": _pair_dict(self.interval_80),
            "interval_method": self.interval_method,
            "model": list(self.model),
            "warnings": list(self.warnings),
            "error": self.error,
            "seconds": round(self.seconds, 4),
        }


def _pair_dict(pair: IntervalPair | None) -> list[float | None] | None:
    return None if pair is None else [_rounded(pair[0]), _rounded(pair[1])]


def _overlap(first: IntervalPair, second: IntervalPair) -> bool:
    low_a, high_a = first
    low_b, high_b = second
    a_below_b = high_a is not None and low_b is not None and high_a < low_b
    b_below_a = high_b is not None and low_a is not None and high_b < low_a
    return not (a_below_b or b_below_a)


@dataclass
class RobustnessReport:
    """Estimates by every method and under every list omission and pairwise merge.

    ``rows`` holds the full-table rows first (variant ``"all lists"``), then the variants in
    the order omissions, merges. ``reference_method`` is the method the variants are judged
    by (stepwise when it was run on them).
    """

    lists: tuple[str, ...]
    observed: int
    source: str | None
    methods: tuple[str, ...]
    variant_methods: tuple[str, ...]
    reference_method: str | None
    rows: list[RobustnessRow]
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    list_totals: dict[str, int] = field(default_factory=dict)
    table: CaptureTable | None = field(default=None, repr=False)
    # Which figure to report, from the simulation check (None when it was not run or failed;
    # the notes say why).
    recommendation: Recommendation | None = None
    # Whom the table counts, from its sidecar (``tiphub link``); empty when not stated.
    population_described: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ access

    def full_rows(self) -> list[RobustnessRow]:
        return [row for row in self.rows if row.kind == "full"]

    def full(self, method: str) -> RobustnessRow | None:
        return next((row for row in self.full_rows() if row.method == method), None)

    def variant_rows(self, method: str | None = None) -> list[RobustnessRow]:
        return [
            row
            for row in self.rows
            if row.kind != "full" and (method is None or row.method == method)
        ]

    def variants(self) -> list[str]:
        """Variant labels in order, without repeats."""
        return list(dict.fromkeys(row.variant for row in self.variant_rows()))

    # ------------------------------------------------------------------ findings

    def method_disagreements(self) -> list[str]:
        """Sentences for each pair of methods whose full-table results contradict each other."""
        return [sentence for _, _, sentence in self._pair_findings()]

    def variant_shifts(self) -> list[str]:
        """Sentences for each omission or merge that moves the reference estimate outside
        its own full-table 95% interval."""
        method = self.reference_method
        reference = self.full(method) if method else None
        if method is None or reference is None or not reference.ok:
            return []
        sentences = []
        for row in self.variant_rows(method):
            if row.population is None or reference.contains(row.population):
                continue
            sentences.append(
                f"{_variant_phrase(row)} moves the {method} estimate to "
                f"{format_count(row.population)}, outside its full-table 95% interval "
                f"({format_interval(reference.interval_95)}; estimate "
                f"{format_count(reference.population)})."
            )
        return sentences

    def disagreements(self) -> list[str]:
        """Every contradiction found: between methods on the full table, then under variants."""
        return self.method_disagreements() + self.variant_shifts()

    def _pair_findings(self) -> list[tuple[str, str, str]]:
        estimated = [row for row in self.full_rows() if row.ok]
        findings = []
        for a, b in itertools.combinations(estimated, 2):
            assert a.population is not None and b.population is not None
            assert a.interval_95 is not None and b.interval_95 is not None
            a_out = not b.contains(a.population)
            b_out = not a.contains(b.population)
            if not _overlap(a.interval_95, b.interval_95):
                sentence = (
                    f"{a.method} ({format_count(a.population)}) and {b.method} "
                    f"({format_count(b.population)}) disagree: their 95% intervals "
                    f"({format_interval(a.interval_95)} and {format_interval(b.interval_95)}) "
                    "do not overlap."
                )
            elif a_out and b_out:
                sentence = (
                    f"{a.method} ({format_count(a.population)}) lies outside the 95% interval "
                    f"of {b.method} ({format_interval(b.interval_95)}), and {b.method} "
                    f"({format_count(b.population)}) outside that of {a.method} "
                    f"({format_interval(a.interval_95)})."
                )
            elif a_out:
                sentence = (
                    f"{a.method} ({format_count(a.population)}) lies outside the 95% interval "
                    f"of {b.method} ({format_interval(b.interval_95)})."
                )
            elif b_out:
                sentence = (
                    f"{b.method} ({format_count(b.population)}) lies outside the 95% interval "
                    f"of {a.method} ({format_interval(a.interval_95)})."
                )
            else:
                continue
            findings.append((a.method, b.method, sentence))
        return findings

    def headline(self) -> str:
        """One or two plain sentences: do the methods agree, and does any one list matter?"""
        estimated = [row for row in self.full_rows() if row.ok]
        parts: list[str] = []
        if len(estimated) < 2:
            if estimated:
                only = estimated[0]
                parts.append(
                    f"Only {only.method} gave an estimate ({format_count(only.population)}, "
                    f"95% {format_interval(only.interval_95)}), so there is nothing to compare "
                    "it with."
                )
            else:
                parts.append("No method gave an estimate on the full table.")
        else:
            findings = self._pair_findings()
            values = [(row.population or 0.0, row.method) for row in estimated]
            low, high = min(values), max(values)
            spread = (
                f"estimates run from {format_count(low[0])} ({low[1]}) to "
                f"{format_count(high[0])} ({high[1]})"
            )
            if not findings:
                parts.append(
                    f"The {len(estimated)} methods agree: {spread}, and each lies inside every "
                    "other method's 95% interval."
                )
            else:
                pairs = len(estimated) * (len(estimated) - 1) // 2
                sentence = (
                    f"The methods disagree: {spread}, and {len(findings)} of {pairs} pairs of "
                    "methods contradict each other"
                )
                odd = _odd_one_out([row.method for row in estimated], findings)
                if odd is not None:
                    sentence += f"; {odd} is the odd one out, the others agree among themselves"
                parts.append(sentence + ".")
        shifts = self.variant_shifts()
        method = self.reference_method
        reference = self.full(method) if method is not None else None
        count = len(self.variants())
        if count and reference is not None and reference.ok:
            if shifts:
                parts.append(
                    f"The {method} estimate leaves its 95% interval under {len(shifts)} of "
                    f"{count} single-list omissions and pairwise merges."
                )
            else:
                parts.append(
                    f"The {method} estimate stays inside its 95% interval under every "
                    "single-list omission and pairwise merge."
                )
        if self.recommendation is not None:
            parts.append(self.recommendation.sentence())
        return " ".join(parts)

    # ------------------------------------------------------------------ output

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the table, the findings, then one entry per row."""
        return {
            "table": {
                "source": _source_name(self.source),
                "lists": list(self.lists),
                "observed": self.observed,
                "list_totals": dict(self.list_totals),
            },
            "methods": list(self.methods),
            "variant_methods": list(self.variant_methods),
            "reference_method": self.reference_method,
            "headline": self.headline(),
            "disagreements": self.disagreements(),
            "notes": list(self.notes),
            "settings": dict(self.settings),
            "population_described": dict(self.population_described),
            "recommendation": (
                None if self.recommendation is None else self.recommendation.to_dict()
            ),
            "rows": [row.to_dict() for row in self.rows],
        }

    def to_html(self) -> str:
        return _robustness_html(self)

    def write_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as one self-contained HTML file, atomically."""
        return write_text_atomically(Path(path), self.to_html())


def _odd_one_out(methods: Sequence[str], findings: Sequence[tuple[str, str, str]]) -> str | None:
    """The one method every contradiction involves, when there are at least three methods.

    With a single contradiction both of its methods qualify, and neither is named.
    """
    if len(methods) < 3:
        return None
    involved = [m for m in methods if all(m in (a, b) for a, b, _ in findings)]
    return involved[0] if len(involved) == 1 else None


def _merged_name(table: CaptureTable, a: str, b: str) -> str:
    """``AB`` as ``--merge A+B`` names it, unless another list is already called that."""
    others = set(table.lists) - {a, b}
    name = a + b
    if name in others:
        name = f"{a}+{b}"
    while name in others:
        name += "'"
    return name


def _variant_phrase(row: RobustnessRow) -> str:
    if row.kind == "omit":
        return f"Omitting {' and '.join(row.changed)}"
    return f"Merging {' and '.join(row.changed)}"


def robustness(
    table: CaptureTable,
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    variant_methods: Sequence[str] = DEFAULT_VARIANT_METHODS,
    seed: int = 1234,
    lcmcr_burnin: int = 20_000,
    lcmcr_samples: int = 1_000,
    lcmcr_thinning: int = 20,
    progress: ProgressCallback | None = None,
    time_limit: float | None = None,
    simulation_replicates: int = DEFAULT_SIMULATION_REPLICATES,
) -> RobustnessReport:
    """Estimate ``table`` by every method, and under every list omission and pairwise merge.

    The full table is estimated with ``methods`` plus any of ``variant_methods`` not among
    them (so that every variant has a full-table result to be compared with); each variant
    with ``variant_methods``. A variant left with fewer than two lists is skipped, and BIC is
    skipped on tables of more than six lists; the report's ``notes`` say so. A method that
    fails on some version of the table is recorded with its error instead of stopping the
    run. ``progress(done, total)`` is called after each estimate.

    Variants carry their method's headline interval only: the profile-likelihood interval is
    computed on the full table alone (and for aic-stepwise, whose estimate comes from it).

    ``simulation_replicates`` > 0 (the default) adds the recommendation: which method's
    figure to report, from a simulation check on populations drawn from the models the
    methods chose (:func:`tiphub.estimate.recommend.recommend`, that many populations per
    model); its progress continues the count of the estimates. When the check fails or would
    overrun the time limit, ``recommendation`` is ``None`` and a note says why.

    With ``time_limit`` (seconds), tables of more than
    :data:`~tiphub.estimate.limits.ROBUSTNESS_MAX_LISTS` lists are refused with
    :class:`~tiphub.estimate.limits.TooLongError`, and each estimate obeys the limit too.
    """
    unknown = [m for m in (*methods, *variant_methods) if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    table.validate()
    if time_limit is not None:
        check_robustness(table, time_limit)
    full_methods = tuple(dict.fromkeys((*methods, *variant_methods)))
    variant_methods = tuple(dict.fromkeys(variant_methods))
    notes: list[str] = []

    # (kind, label, lists omitted or merged, table)
    variants: list[tuple[str, str, tuple[str, ...], CaptureTable]] = [
        ("full", FULL_TABLE, (), table)
    ]
    if table.n_lists - 1 < 2:
        if variant_methods:
            notes.append(
                "No omission or merge was tried: with two lists, either leaves only one list."
            )
    else:
        variants += [("omit", f"omit {name}", (name,), table.omit(name)) for name in table.lists]
        variants += [
            ("merge", f"merge {a}+{b}", (a, b), table.merge([a, b], _merged_name(table, a, b)))
            for a, b in itertools.combinations(table.lists, 2)
        ]

    jobs: list[tuple[str, str, tuple[str, ...], CaptureTable, str]] = []
    bic_skipped = False
    for kind, label, changed, version in variants:
        for method in full_methods if kind == "full" else variant_methods:
            if method == "bic" and version.n_lists > BIC_MAX_LISTS:
                bic_skipped = True
                continue
            jobs.append((kind, label, changed, version, method))
    if bic_skipped:
        notes.append(
            f"bic was skipped on tables with more than {BIC_MAX_LISTS} lists: the search over "
            "every hierarchical model takes too long there."
        )

    lcmcr_settings = {
        "lcmcr_burnin": lcmcr_burnin,
        "lcmcr_samples": lcmcr_samples,
        "lcmcr_thinning": lcmcr_thinning,
    }
    rows: list[RobustnessRow] = []
    full_results: dict[str, MSEResult] = {}
    truth_methods = [m for m in TRUTH_METHODS if m in full_methods]
    planned = simulation_replicates * len(truth_methods)
    steps = len(jobs) + planned
    started = time.perf_counter()
    for done, (kind, label, changed, version, method) in enumerate(jobs, start=1):
        rows.append(
            _estimate_row(
                kind,
                label,
                changed,
                version,
                method,
                seed,
                lcmcr_settings,
                time_limit,
                keep=full_results if kind == "full" else None,
            )
        )
        if progress is not None:
            progress(done, steps)

    recommendation = None
    if planned:
        recommendation = _recommend(
            table,
            rows,
            full_results,
            full_methods,
            replicates=simulation_replicates,
            seed=seed,
            notes=notes,
            progress=progress,
            offset=len(jobs),
            steps=steps,
            time_left=None if time_limit is None else time_limit - (time.perf_counter() - started),
        )

    reference = "stepwise" if "stepwise" in variant_methods else next(iter(variant_methods), None)
    failed = [row for row in rows if row.kind != "full" and row.error]
    if failed:
        notes.append(
            f"{len(failed)} of {sum(row.kind != 'full' for row in rows)} variant estimates "
            "failed; their errors are listed in the table."
        )
    return RobustnessReport(
        lists=table.lists,
        observed=table.observed,
        source=_source_name(table.source),
        methods=tuple(methods),
        variant_methods=variant_methods,
        reference_method=reference,
        rows=rows,
        notes=notes,
        settings={"seed": seed, **lcmcr_settings} if "lcmcr" in full_methods else {"seed": seed},
        list_totals=table.list_totals(),
        table=table,
        recommendation=recommendation,
    )


def _recommend(
    table: CaptureTable,
    rows: Sequence[RobustnessRow],
    full_results: Mapping[str, MSEResult],
    full_methods: Sequence[str],
    *,
    replicates: int,
    seed: int,
    notes: list[str],
    progress: ProgressCallback | None,
    offset: int,
    steps: int,
    time_left: float | None,
) -> Recommendation | None:
    """The simulation check on the full table, reusing the models the methods chose there.

    Its progress continues the robustness run's count. With a time limit it is stopped (and
    left out, with a note) as soon as its pace shows it would overrun the time left.
    """
    candidates = list(full_methods)
    if "bic" in full_results:
        candidates.append(MODEL_AVERAGE)
    # dga (R's decomposable-graph averaging) is quick enough to join the check whenever it
    # is installed, whether or not the report's method table shows it.
    candidates.append(DGA)
    selections = {
        method: result.selection
        for method, result in full_results.items()
        if result.selection is not None
    }
    figures = {
        row.method: (row.population, row.interval_95)
        for row in rows
        if row.kind == "full" and row.population is not None and row.interval_95 is not None
    }

    def report_progress(done: int, total: int) -> None:
        if progress is not None:
            planned = steps - offset
            progress(offset + round(done * planned / max(total, 1)), steps)

    inner: ProgressCallback = report_progress
    if time_left is not None:
        inner = TimeGuard(
            max(time_left, 1.0),
            "the simulation check that picks the figure to report",
            report_progress,
        )
    try:
        return recommend(
            table,
            methods=candidates,
            selections=selections,
            figures=figures,
            replicates=replicates,
            seed=seed,
            progress=inner,
        )
    except TooLongError as error:
        notes.append(f"No figure is recommended: {error}")
    except (ValueError, ArithmeticError) as error:
        notes.append(f"No figure is recommended: the simulation check failed ({error}).")
    return None


def _estimate_row(
    kind: str,
    label: str,
    changed: tuple[str, ...],
    version: CaptureTable,
    method: str,
    seed: int,
    lcmcr_settings: Mapping[str, int],
    time_limit: float | None = None,
    keep: dict[str, MSEResult] | None = None,
) -> RobustnessRow:
    """One estimate as a row; with ``keep``, the full result is stored there by method."""
    common: dict[str, Any] = {
        "variant": label,
        "kind": kind,
        "changed": changed,
        "lists": version.lists,
        "observed": version.observed,
        "method": method,
    }
    try:
        result = estimate(
            version,
            method,
            seed=seed,
            # Variants are judged by their headline interval alone; the profile-likelihood
            # one costs far more than the fit on large counts (aic-stepwise computes it anyway,
            # as its estimate comes from it).
            profile=kind == "full",
            lcmcr_burnin=lcmcr_settings["lcmcr_burnin"],
            lcmcr_samples=lcmcr_settings["lcmcr_samples"],
            lcmcr_thinning=lcmcr_settings["lcmcr_thinning"],
            time_limit=time_limit,
            # Robustness fits every method itself; each row needs no alternatives of its own.
            alternatives=False,
        )
    except (ValueError, ArithmeticError) as error:
        # EstimationError and CaptureTableError are ValueErrors; overflow in a degenerate
        # fit (e.g. two lists nobody is on together) is an ArithmeticError. Either way one
        # variant failing must not end the run.
        message = str(error) or type(error).__name__
        if isinstance(error, ArithmeticError):
            message = f"numerical failure ({message}); the data may not identify the model"
        return RobustnessRow(
            **common,
            population=None,
            interval_95=None,
            interval_80=None,
            interval_method=None,
            error=message,
        )
    if keep is not None:
        keep[method] = result
    return RobustnessRow(
        **common,
        population=result.population,
        interval_95=result.interval_95,
        interval_80=result.interval_80,
        interval_method=result.interval_method,
        model=tuple(result.model),
        warnings=tuple(result.warnings),
        seconds=result.seconds,
    )


# ---------------------------------------------------------------------- charts


@dataclass(frozen=True)
class ForestEntry:
    """One line of a forest plot. ``estimate`` ``None`` draws the ``note`` instead;
    ``emphasis`` sets the label in bold, ``flagged`` draws the line in red."""

    label: str
    estimate: float | None
    interval_95: IntervalPair | None = None
    interval_80: IntervalPair | None = None
    note: str = ""
    emphasis: bool = False
    flagged: bool = False


@dataclass(frozen=True)
class ChartWords:
    """The words and number format drawn inside the charts, so that a report in another
    language can draw them in its own (see :mod:`tiphub.estimate.explain`). The defaults
    are the English of every other report."""

    count: Callable[[float | None], str] = format_count
    observed: str = " observed {count}"
    no_estimate: str = "no estimate"
    legend: str = "dot: estimate; thick bar: 80% interval; thin bar: 95%; arrow: unbounded"
    shaded: str = "; shaded: {label}"
    upset_title: str = "Who is on which lists"
    upset_bars: str = "people with this history"
    upset_totals: str = "on list"
    upset_caption: str = "{people} people\n{histories} observed histories"
    upset_hidden: str = "\nshowing the {shown} largest;\n{hidden} more hold {people} people"

    def interval(self, pair: IntervalPair | None) -> str:
        if pair is None:
            return "n/a"
        low, high = pair
        return f"{self.count(low) if low is not None else '?'}–{self.count(high)}"


ENGLISH_CHART_WORDS = ChartWords()


def _plain(text: str) -> str:
    # matplotlib reads text between two "$" as mathtext; a list name is never mathematics,
    # and malformed mathtext would make drawing fail.
    return text.replace("$", r"\$")


def _figure(width: float, height: float) -> Any:
    # Imported here: matplotlib is slow to import and only the charts need it. The Agg
    # canvas needs no display and leaves pyplot's global state alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Constrained layout makes room for long list names and the right-hand labels.
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


_TAG = re.compile(r"<[^>]+>")
_ID = re.compile(r'\bid="([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
_HREF = re.compile(r'href="#([^"]+)"')


def _svg(figure: Any, description: str) -> str:
    """The figure as an ``<svg>`` element ready to inline in HTML."""
    import matplotlib

    buffer = io.StringIO()
    # Text stays text (smaller, selectable, and escaped by matplotlib's XML writer); the fixed
    # hash salt and absent date make the output reproducible.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "tiphub"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    # Several charts share one HTML document, and with a fixed salt their clip paths and
    # markers could share ids; a prefix derived from the content keeps them apart. Only tags
    # are rewritten, never text, so a list name that looks like an attribute is left alone.
    prefix = "c" + hashlib.sha1(text.encode()).hexdigest()[:8]

    def fix(match: re.Match[str]) -> str:
        tag = match.group(0)
        tag = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', tag)
        tag = _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", tag)
        return _HREF.sub(lambda m: f'href="#{prefix}-{m.group(1)}"', tag)

    text = _TAG.sub(fix, text)
    label = html.escape(description, quote=True)
    # Scale down on narrow screens but never beyond the drawn size.
    return text.replace(
        "<svg ",
        f'<svg role="img" aria-label="{label}" style="max-width:100%;height:auto" ',
        1,
    )


def forest_chart_svg(
    entries: Sequence[ForestEntry],
    *,
    title: str = "",
    observed: int | None = None,
    reference: ForestEntry | None = None,
    log_scale: bool = False,
    xlabel: str = "estimated population",
    words: ChartWords = ENGLISH_CHART_WORDS,
) -> str:
    """A forest plot: one line per entry, a dot at the estimate, a thin bar for the 95%
    interval, a thick one for the 80% interval; an unbounded upper limit is an arrow to the
    edge. ``observed`` draws the number seen as a floor; ``reference`` shades its 95% interval
    across the plot (e.g. the full-table estimate behind the variants)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    count = max(len(entries), 1)
    figure = _figure(9.0, 1.3 + 0.34 * count)
    axes = figure.add_subplot()
    ys = [count - 1 - i for i in range(len(entries))]

    finite: list[float] = []
    for entry in (*entries, *([reference] if reference else [])):
        if entry.estimate is not None and math.isfinite(entry.estimate):
            finite.append(entry.estimate)
        for pair in (entry.interval_95, entry.interval_80):
            if pair is not None:
                finite += [v for v in pair if v is not None and math.isfinite(v)]
    if observed is not None:
        finite.append(float(observed))
    if not finite:
        finite = [0.0, 1.0]
    low, high = min(finite), max(finite)
    unbounded = any(e.interval_95 is not None and e.interval_95[1] is None for e in entries)
    if log_scale:
        low = max(low, 1.0)
        left, right = low / 1.15, high * (1.6 if unbounded else 1.15)
        axes.set_xscale("log")
    else:
        pad = max(high - low, high * 0.02, 1.0) * 0.06
        left = max(0.0, low - pad)
        right = high + pad * (4 if unbounded else 1)
    axes.set_xlim(left, right)
    axes.set_ylim(-0.7, count - 0.3)

    if reference is not None and reference.interval_95 is not None:
        ref_low, ref_high = reference.interval_95
        axes.axvspan(
            ref_low if ref_low is not None else left,
            ref_high if ref_high is not None else right,
            color="#1f77b4",
            alpha=0.10,
            lw=0,
        )
        if reference.estimate is not None:
            axes.axvline(reference.estimate, color="#1f77b4", lw=1, ls="--", alpha=0.7)
    if observed is not None:
        axes.axvline(observed, color="0.45", lw=1, ls=":")
        axes.text(
            observed,
            count - 0.35,
            words.observed.format(count=words.count(observed)),
            fontsize=8,
            color="0.35",
            va="top",
        )

    right_labels = []
    for y, entry in zip(ys, entries, strict=True):
        colour = "#c0392b" if entry.flagged else "#1f3b57"
        if entry.estimate is None or entry.interval_95 is None:
            axes.text(
                left,
                y,
                "  " + _plain(entry.note or words.no_estimate),
                va="center",
                fontsize=8,
                color="0.4",
                style="italic",
                clip_on=True,
            )
            right_labels.append("")
            continue
        for pair, width in ((entry.interval_95, 1.6), (entry.interval_80, 5.0)):
            if pair is None:
                continue
            start = pair[0] if pair[0] is not None else left
            if pair[1] is None:
                axes.annotate(
                    "",
                    xy=(right, y),
                    xytext=(start, y),
                    arrowprops={
                        "arrowstyle": "-|>",
                        "color": colour,
                        "lw": width,
                        "shrinkA": 0,
                        "shrinkB": 0,
                    },
                )
            else:
                axes.hlines(y, start, pair[1], color=colour, lw=width, alpha=0.85)
        axes.plot([entry.estimate], [y], "o", color="white", mec=colour, mew=1.8, ms=7, zorder=3)
        right_labels.append(
            f"{words.count(entry.estimate)}  ({words.interval(entry.interval_95)})"
        )

    axes.set_yticks(ys, labels=[_plain(e.label) for e in entries])
    for tick, entry in zip(axes.get_yticklabels(), entries, strict=True):
        if entry.emphasis:
            tick.set_fontweight("bold")
    twin = axes.twinx()
    twin.set_ylim(axes.get_ylim())
    twin.set_yticks(ys, labels=right_labels)
    twin.tick_params(axis="y", length=0, labelsize=8)
    axes.tick_params(axis="y", length=0)
    for spine in ("top", "right", "left"):
        axes.spines[spine].set_visible(False)
        twin.spines[spine].set_visible(False)
    axes.grid(axis="x", alpha=0.25)
    thousands = FuncFormatter(lambda value, _: words.count(value))
    axes.xaxis.set_major_formatter(thousands)
    if log_scale:
        # Decades alone leave most plots with one or two labelled ticks.
        axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axes.xaxis.set_major_formatter(thousands)
        axes.xaxis.set_minor_formatter(NullFormatter())
    legend = words.legend
    if reference is not None:
        legend += words.shaded.format(label=reference.label)
    axes.set_xlabel(_plain(f"{xlabel} — {legend}"), fontsize=8)
    if title:
        axes.set_title(_plain(title), loc="left", fontsize=11)
    return _svg(figure, title or "forest plot of estimates")


def upset_chart_svg(
    table: CaptureTable,
    *,
    top: int = UPSET_TOP,
    title: str = "",
    words: ChartWords = ENGLISH_CHART_WORDS,
) -> str:
    """An UpSet-style overlap chart: people per observed capture history (largest first, the
    ``top`` largest), the lists making up each history as a dot matrix beneath, and each
    list's total on the left."""
    from matplotlib.ticker import FuncFormatter

    cells = table.observed_cells()
    counts = table.counts[cells]
    # Largest first; ties in mask order so the chart does not change between runs.
    order = np.lexsort((cells, -counts))[:top]
    shown_cells, shown_counts = cells[order], counts[order]
    n_lists, n_cols = table.n_lists, max(len(shown_cells), 1)

    figure = _figure(max(6.5, min(12.0, 3.2 + 0.2 * n_cols)), 3.4 + 0.3 * n_lists)
    grid = figure.add_gridspec(
        2, 2, width_ratios=[1.0, max(2.5, 0.2 * n_cols)], height_ratios=[2.4, 0.28 * n_lists + 0.4]
    )
    bars = figure.add_subplot(grid[0, 1])
    matrix = figure.add_subplot(grid[1, 1], sharex=bars)
    totals_axes = figure.add_subplot(grid[1, 0], sharey=matrix)
    note_axes = figure.add_subplot(grid[0, 0])
    note_axes.axis("off")

    xs = np.arange(len(shown_cells))
    bars.bar(xs, shown_counts, color="#1f3b57", width=0.7)
    for x, value in zip(xs, shown_counts, strict=True):
        bars.text(
            x,
            value,
            words.count(value),
            ha="center",
            va="bottom",
            fontsize=6.5,
            rotation=90 if value >= 1000 else 0,
        )
    bars.set_ylabel(words.upset_bars, fontsize=8)
    bars.tick_params(axis="x", bottom=False, labelbottom=False)
    bars.margins(y=0.18)
    for spine in ("top", "right"):
        bars.spines[spine].set_visible(False)

    ys = [n_lists - 1 - i for i in range(n_lists)]
    for x, mask in zip(xs, shown_cells, strict=True):
        members = [ys[i] for i in range(n_lists) if int(mask) >> i & 1]
        matrix.scatter([x] * n_lists, ys, s=28, color="#dddddd", zorder=1)
        matrix.scatter([x] * len(members), members, s=28, color="#1f3b57", zorder=3)
        if len(members) > 1:
            matrix.vlines(x, min(members), max(members), color="#1f3b57", lw=1.6, zorder=2)
    matrix.set_ylim(-0.6, n_lists - 0.4)
    matrix.set_xlim(-0.7, n_cols - 0.3)
    matrix.tick_params(axis="y", left=False, labelleft=False)
    matrix.tick_params(axis="x", bottom=False, labelbottom=False)
    for spine in matrix.spines.values():
        spine.set_visible(False)

    totals = table.list_totals()
    values = [totals[name] for name in table.lists]
    totals_axes.barh(ys, values, color="#7f8c8d", height=0.6)
    totals_axes.invert_xaxis()
    totals_axes.yaxis.tick_right()
    totals_axes.set_yticks(ys, labels=[_plain(name) for name in table.lists])
    totals_axes.tick_params(axis="y", length=0, labelsize=9)
    totals_axes.tick_params(axis="x", labelsize=7)
    totals_axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: words.count(value)))
    totals_axes.set_xlabel(words.upset_totals, fontsize=8)
    for spine in ("top", "left", "right"):
        totals_axes.spines[spine].set_visible(False)

    hidden = len(cells) - len(shown_cells)
    caption = words.upset_caption.format(
        people=words.count(table.observed), histories=words.count(len(cells))
    )
    if hidden > 0:
        caption += words.upset_hidden.format(
            shown=words.count(len(shown_cells)),
            hidden=words.count(hidden),
            people=words.count(int(counts.sum() - shown_counts.sum())),
        )
    note_axes.text(0.0, 0.5, caption, fontsize=8, va="center", color="0.3")
    heading = title or words.upset_title
    bars.set_title(_plain(heading), loc="left", fontsize=11)
    return _svg(figure, heading)


# ---------------------------------------------------------------------- HTML


_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; line-height: 1.5; color: #1d2733; background: #fff; margin: 0; }
main { max-width: 64rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2.2rem 0 .6rem; border-bottom: 1px solid #e3e7eb;
  padding-bottom: .25rem; }
.meta { color: #5b6875; margin: 0 0 1.2rem; }
.headline { font-size: 1.1rem; background: #f3f6f9; border-left: 4px solid #1f3b57;
  padding: .8rem 1rem; margin: 1rem 0; }
.headline.disagree { border-left-color: #c0392b; background: #fbf1ef; }
ul.findings li { margin: .3rem 0; }
.warn { background: #fff8e6; border-left: 4px solid #e0a800; padding: .5rem 1rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .92rem; }
th, td { text-align: left; padding: .3rem .7rem; border-bottom: 1px solid #e3e7eb;
  vertical-align: top; }
th { background: #f3f6f9; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.error { color: #8a3324; font-style: italic; }
tr.total td { font-weight: 600; border-top: 2px solid #1d2733; }
figure { margin: 1rem 0; }
figcaption { color: #5b6875; font-size: .88rem; }
pre { background: #f7f8fa; padding: .8rem; overflow-x: auto; font-size: .8rem;
  line-height: 1.35; }
small, .muted { color: #5b6875; }
details { margin: .6rem 0; }
footer { margin-top: 3rem; color: #5b6875; font-size: .85rem; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


FOOTER = "Produced by tiphub's estimation module. Only aggregate counts are shown."


def _page(
    title: str, body: Sequence[str], *, lang: str = "en", footer: str = FOOTER, css: str = ""
) -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_e(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}{css}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + f"\n<footer>{_e(footer)}</footer>\n</main>\n</body>\n</html>\n"
    )


def _table(header: Sequence[tuple[str, bool]], rows: Sequence[Sequence[tuple[str, str]]]) -> str:
    """An HTML table. ``header`` is (text, numeric); each cell is (already-escaped html, class)."""
    head = "".join(f'<th class="num">{_e(t)}</th>' if n else f"<th>{_e(t)}</th>" for t, n in header)
    body = []
    for row in rows:
        cells = "".join(f'<td class="{c}">{h}</td>' if c else f"<td>{h}</td>" for h, c in row)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure_html(svg: str, caption: str = "") -> str:
    text = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f"<figure>{svg}{text}</figure>"


def _table_meta(source: str | None, lists: Sequence[str], observed: int) -> str:
    name = _source_name(source)
    parts = [f"File <strong>{_e(name)}</strong>"] if name else []
    parts.append(f"{len(lists)} lists ({_e(', '.join(lists))})")
    parts.append(f"{observed:,} people observed")
    return f'<p class="meta">{" · ".join(parts)}</p>'


def _list_html(items: Sequence[str], css: str = "findings") -> str:
    return f'<ul class="{css}">' + "".join(f"<li>{_e(item)}</li>" for item in items) + "</ul>"


def _row_entry(
    row: RobustnessRow, label: str, *, emphasis: bool = False, flagged: bool = False
) -> ForestEntry:
    return ForestEntry(
        label=label,
        estimate=row.population,
        interval_95=row.interval_95,
        interval_80=row.interval_80,
        note=f"no estimate: {_shorten(row.error or '', 70)}",
        emphasis=emphasis,
        flagged=flagged,
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _recommendation_html(recommendation: Recommendation) -> list[str]:
    """The section "Which figure to report": the choice and its reason, a chart of every
    method's bias and coverage, the evidence per method and per possible truth."""
    def percent(value: float, signed: bool = False) -> str:
        if not math.isfinite(value):
            return "n/a"
        return (f"{100 * value:+.1f}%" if signed else f"{100 * value:.0f}%").replace("-", "−")

    body = [
        "<h2>Which figure to report</h2>",
        f'<p class="headline">{_e(recommendation.sentence())}</p>',
        "<p>How this was decided: each method's model fitted to these data was taken as a "
        "possible truth, and "
        f"{recommendation.replicates} populations of known size were simulated from each "
        "(every capture history, the unobserved one too, drawn as Poisson with its fitted "
        "count). Every method then estimated every simulated table as it estimated the real "
        "one. Models the data reject (BIC more than "
        f"{SUPPORT_BIC_GAP:g} above the best) are shown but not counted. The recommended "
        "method is the one with the smallest error among those whose 95% interval contained "
        f"the true size in at least {100 * MIN_COVERAGE:.0f}% of the simulations under every "
        "supported model.</p>",
        _figure_html(
            simulation_chart_svg(recommendation),
            "Left: average error of the estimate relative to the true size. Right: how often "
            "the 95% interval contained the true size. One marker per possible truth; hollow "
            "grey markers are models the data reject.",
        ),
    ]
    summary_rows = []
    for summary in recommendation.summaries:
        chosen = summary.method == recommendation.method
        name = f"<strong>{_e(summary.method)}</strong>" if chosen else _e(summary.method)
        verdict = "recommended" if chosen else ("qualifies" if summary.eligible else "")
        if not summary.model_supported:
            verdict = "its model is rejected by the data"
        elif summary.lowest_coverage < MIN_COVERAGE:
            verdict = verdict or "interval misses too often"
        summary_rows.append(
            [
                (name, ""),
                (_e(format_count(summary.population)), "num"),
                (_e(format_interval(summary.interval_95)), "num"),
                (_e(percent(summary.worst_bias, signed=True)), "num"),
                (_e(percent(summary.worst_rmse)), "num"),
                (_e(percent(summary.lowest_coverage)), "num"),
                (_e(percent(summary.worst_failure_share)), "num"),
                (_e(verdict), ""),
            ]
        )
    body.append(
        _table(
            [
                ("method", False),
                ("estimate", True),
                ("95% interval", True),
                ("worst bias", True),
                ("worst error (RMSE)", True),
                ("lowest 95% coverage", True),
                ("no estimate", True),
                ("verdict", False),
            ],
            summary_rows,
        )
    )
    body.append(
        '<p class="muted">Worst and lowest: over the possible truths the data support. '
        "Bias and error are relative to the true size of each simulated population.</p>"
    )
    truth_rows = [
        [
            (_e(truth.label), ""),
            (_e(", ".join(truth.terms) or "none (lists independent)"), ""),
            (_e(", ".join(truth.chosen_by)), ""),
            (_e(format_count(truth.population)), "num"),
            (f"+{truth.bic_gap:.1f}", "num"),
            ("yes" if truth.supported else "no: rejected by the data", ""),
        ]
        for truth in recommendation.truths
    ]
    body.append("<details><summary>Evidence per possible truth</summary>")
    body.append(
        _table(
            [
                ("model (truth)", False),
                ("dependences between lists", False),
                ("chosen by", False),
                ("population", True),
                ("BIC above best", True),
                ("counted", False),
            ],
            truth_rows,
        )
    )
    evidence_rows = [
        [
            (_e(row.truth), ""),
            (_e(row.method), ""),
            (_e(percent(row.relative_bias, signed=True)), "num"),
            (_e(percent(row.relative_rmse)), "num"),
            (f"{_e(percent(row.coverage))} ± {_e(percent(row.coverage_se))}", "num"),
            (f"{row.failures} of {row.replicates}", "num"),
        ]
        for row in recommendation.evidence
    ]
    body.append(
        _table(
            [
                ("truth", False),
                ("method", False),
                ("bias", True),
                ("error (RMSE)", True),
                ("95% coverage ± s.e.", True),
                ("no estimate", True),
            ],
            evidence_rows,
        )
    )
    body.append("</details>")
    average = recommendation.model_average
    if average is not None:
        body.append(
            "<p><strong>BIC-weighted model average.</strong> Each admissible hierarchical "
            "model weighs exp(−BIC/2), normalised; the average is the mixture of the models' "
            f"log-normal distributions: {_e(format_count(average.population))} (95% "
            f"{_e(format_interval(average.interval_95))}) over {average.models_averaged:,} of "
            f"{average.models_admissible:,} admissible models (the rest weigh "
            f"{average.neglected_weight:.2g} together).</p>"
        )
        body.append(
            _table(
                [("model", False), ("BIC", True), ("weight", True), ("population", True)],
                [
                    [
                        (_e(model.label), ""),
                        (f"{model.bic:.2f}", "num"),
                        (f"{model.weight:.3f}", "num"),
                        (_e(format_count(model.population)), "num"),
                    ]
                    for model in average.models
                ],
            )
        )
    if recommendation.notes:
        body.append(_list_html(recommendation.notes, "muted"))
    body.append(
        f'<p class="muted">Simulation check: {recommendation.replicates} populations per '
        f"possible truth, seed {recommendation.seed}, {recommendation.seconds:.1f} s. It "
        "shows how the methods behave if the truth is one of these models; dependence or "
        "heterogeneity that none of them captures is not covered.</p>"
    )
    return body


def _robustness_html(report: RobustnessReport) -> str:
    method_disagreements = report.method_disagreements()
    shifts = report.variant_shifts()
    headline_class = "headline disagree" if method_disagreements else "headline"
    body = [
        "<h1>How robust is the population estimate?</h1>",
        _table_meta(report.source, report.lists, report.observed),
        f'<p class="{headline_class}">{_e(report.headline())}</p>',
    ]
    from tiphub.estimate.explain import Words, counted_section

    body += counted_section(report.population_described, Words("en"))
    body.append("<h2>Disagreements</h2>")
    if method_disagreements or shifts:
        if method_disagreements:
            body.append("<p>Between methods, on the full table:</p>")
            body.append(_list_html(method_disagreements))
        if shifts:
            body.append("<p>When one list is left out or two lists are merged:</p>")
            body.append(_list_html(shifts))
    else:
        body.append(
            "<p>None: every method's estimate lies inside every other method's 95% interval"
            + (
                ", and no omission or merge moves the estimate outside its interval"
                if report.variants()
                else ""
            )
            + ".</p>"
        )
    if report.notes:
        body.append(_list_html(report.notes, "muted"))
    if report.recommendation is not None:
        body += _recommendation_html(report.recommendation)

    # -- methods
    full = report.full_rows()
    body.append("<h2>Estimates by method (all lists)</h2>")
    body.append(
        _figure_html(
            forest_chart_svg(
                [_row_entry(row, row.method) for row in full],
                title="Estimates by method, all lists",
                observed=report.observed,
            ),
            "Each method on the full table. Intervals: log-normal for the log-linear methods "
            "(profile likelihood for aic-stepwise), the posterior for LCMCR.",
        )
    )
    method_rows = []
    for row in full:
        if row.ok:
            method_rows.append(
                [
                    (
                        f"<strong>{_e(row.method)}</strong><br><small>"
                        f"{_e(METHOD_TITLES.get(row.method, row.method))}</small>",
                        "",
                    ),
                    (_e(format_count(row.population)), "num"),
                    (_e(format_interval(row.interval_95)), "num"),
                    (_e(format_interval(row.interval_80)), "num"),
                    (_e(INTERVAL_TITLES.get(row.interval_method or "", row.interval_method)), ""),
                    (
                        _e(
                            " + ".join(row.model)
                            or ("main effects" if row.method != "lcmcr" else "latent classes")
                        ),
                        "",
                    ),
                    (_e("; ".join(row.warnings)), ""),
                ]
            )
        else:
            method_rows.append(
                [
                    (f"<strong>{_e(row.method)}</strong>", ""),
                    (f"no estimate: {_e(row.error)}", "error"),
                    ("", ""),
                    ("", ""),
                    ("", ""),
                    ("", ""),
                    ("", ""),
                ]
            )
    body.append(
        _table(
            [
                ("method", False),
                ("estimate", True),
                ("95% interval", True),
                ("80% interval", True),
                ("interval", False),
                ("model", False),
                ("warnings", False),
            ],
            method_rows,
        )
    )

    # -- variants
    reference_method = report.reference_method
    if report.variants() and reference_method is not None:
        reference_row = report.full(reference_method)
        body.append(f"<h2>Leaving out or merging lists ({_e(reference_method)})</h2>")
        entries = []
        if reference_row is not None:
            entries.append(_row_entry(reference_row, FULL_TABLE, emphasis=True))
        reference_entry = (
            _row_entry(reference_row, f"full table: {reference_method} 95% interval")
            if reference_row is not None and reference_row.ok
            else None
        )
        for row in report.variant_rows(reference_method):
            outside = (
                row.population is not None
                and reference_row is not None
                and reference_row.ok
                and not reference_row.contains(row.population)
            )
            entries.append(_row_entry(row, row.variant, emphasis=outside, flagged=outside))
        body.append(
            _figure_html(
                forest_chart_svg(
                    entries,
                    title=f"{reference_method} estimate with one list left out or two merged",
                    observed=None,
                    reference=reference_entry,
                ),
                "Shaded band: the full-table 95% interval. Variants in red fall outside it. "
                "Leaving a list out also removes the people seen only on it.",
            )
        )
        header: list[tuple[str, bool]] = [("variant", False), ("lists", True), ("observed", True)]
        header += [(method, True) for method in report.variant_methods]
        variant_rows: list[list[tuple[str, str]]] = []
        for label in [FULL_TABLE, *report.variants()]:
            rows = {row.method: row for row in report.rows if row.variant == label}
            first = next(iter(rows.values()), None)
            if first is None:
                continue
            cells: list[tuple[str, str]] = [
                (_e(label), ""),
                (str(len(first.lists)), "num"),
                (f"{first.observed:,}", "num"),
            ]
            for method in report.variant_methods:
                row_for = rows.get(method)
                if row_for is None:
                    cells.append(('<span class="muted">—</span>', "num"))
                elif row_for.ok:
                    cells.append(
                        (
                            f"{_e(format_count(row_for.population))}<br><small>"
                            f"{_e(format_interval(row_for.interval_95))}</small>",
                            "num",
                        )
                    )
                else:
                    cells.append((f"failed: {_e(row_for.error)}", "error"))
            variant_rows.append(cells)
        body.append(_table(header, variant_rows))
        body.append(
            '<p class="muted">Each cell: estimate, and its 95% interval beneath. A merged '
            "list counts a person once if they are on either of its parts.</p>"
        )

    # -- overlaps
    if report.table is not None:
        body.append("<h2>Overlap between the lists</h2>")
        body.append(
            _figure_html(
                upset_chart_svg(report.table),
                "Bars: people per capture history. Dots beneath: the lists in that history. "
                "Left: everyone on each list.",
            )
        )
    settings = ", ".join(f"{key} {value}" for key, value in report.settings.items())
    body.append(f'<p class="muted">Settings: {_e(settings)}.</p>')
    return _page("MSE robustness report", body)


def write_text_atomically(path: Path, text: str) -> Path:
    """The file appears whole or not at all, readable by its owner only (0600, new folders
    0700): reports describe survivors. A run killed midway leaves its staging file in the
    run's private folder, which the next run removes, never beside the report."""
    with (
        staged_file(path) as staged,
        open_private(staged, "w", encoding="utf-8", newline="\n") as stream,
    ):
        stream.write(text)
    return path


# ---------------------------------------------------------------------- single estimate


def estimate_report_html(result: MSEResult, table: CaptureTable, lang: str = "en") -> str:
    """The HTML of :func:`write_estimate_report` (built by :mod:`tiphub.estimate.explain`)."""
    # Imported here: explain imports this module's chart helpers.
    from tiphub.estimate.explain import estimate_report_html as explained

    return explained(result, table, lang)


def write_estimate_report(
    result: MSEResult, table: CaptureTable, path: str | os.PathLike[str], lang: str = "en"
) -> Path:
    """Write the plain-language single-estimate report (see :mod:`tiphub.estimate.explain`):
    warnings first, the figure and what its interval means, the dark figure, whom the lists
    count, the assumptions and how each was checked, the overlap and method charts, and the
    coefficients in an appendix. ``lang`` is ``"en"`` or ``"fr"``.

    ``table`` is the table the estimate was made from (after any merges and omissions).
    """
    from tiphub.estimate.explain import write_estimate_report as write_explained

    return write_explained(result, table, path, lang)


# ---------------------------------------------------------------------- strata


def strata_report_html(result: StratifiedResult, tables: Mapping[str, CaptureTable]) -> str:
    """The HTML of :func:`write_strata_report`."""
    first = next(iter(result.strata.values()), None)
    method = first.method if first else "?"
    headline = (
        f"Estimated total {format_count(result.population)} (95% interval "
        f"{format_interval(result.interval_95)}, percentile bootstrap of the summed strata, "
        f"{result.replicates} replicates) from {result.observed:,} people observed in "
        f"{len(result.strata)} strata"
        + (
            f"; {len(result.failed_strata)} more could not be estimated and are not in the total."
            if result.failed_strata
            else "."
        )
    )
    source = next((t.source for t in tables.values() if t.source), None)
    name = _source_name(source)
    body = [
        "<h1>Population estimate by stratum</h1>",
        f'<p class="meta">{"File <strong>" + _e(name) + "</strong> · " if name else ""}'
        f"{len(tables)} strata · method {_e(METHOD_TITLES.get(method, method))}</p>",
        f'<p class="headline">{_e(headline)}</p>',
    ]
    if result.failed_strata:
        body.append('<div class="warn"><strong>Strata without an estimate</strong>')
        body.append(_list_html([f"{k}: {v}" for k, v in result.failed_strata.items()], "plain"))
        body.append("</div>")

    entries = []
    rows: list[list[tuple[str, str]]] = []
    for stratum, stratum_result in result.strata.items():
        entries.append(
            ForestEntry(
                stratum,
                stratum_result.population,
                stratum_result.interval_95,
                stratum_result.interval_80,
            )
        )
        rows.append(
            [
                (_e(stratum), ""),
                (_e(", ".join(stratum_result.lists)), ""),
                (f"{stratum_result.observed:,}", "num"),
                (_e(format_count(stratum_result.population)), "num"),
                (_e(format_interval(stratum_result.interval_95)), "num"),
                (_e(" + ".join(stratum_result.model) or "main effects"), ""),
                (_e("; ".join(stratum_result.warnings)), ""),
            ]
        )
    for stratum, reason in result.failed_strata.items():
        observed = tables[stratum].observed if stratum in tables else 0
        entries.append(ForestEntry(stratum, None, note=f"no estimate: {_shorten(reason, 70)}"))
        rows.append(
            [
                (_e(stratum), ""),
                ("", ""),
                (f"{observed:,}", "num"),
                (f"no estimate: {_e(reason)}", "error"),
                ("", ""),
                ("", ""),
                ("", ""),
            ]
        )
    total_pair: IntervalPair = (result.interval_95[0], result.interval_95[1])
    entries.append(
        ForestEntry(
            "total",
            result.population,
            total_pair,
            (result.interval_80[0], result.interval_80[1]),
            emphasis=True,
        )
    )
    total_row = (
        f'<tr class="total"><td>total</td><td></td><td class="num">{result.observed:,}</td>'
        f'<td class="num">{_e(format_count(result.population))}</td>'
        f'<td class="num">{_e(format_interval(total_pair))}</td>'
        f'<td colspan="2">bootstrap, {result.replicates} replicates, seed {result.seed}</td></tr>'
    )
    table_html = _table(
        [
            ("stratum", False),
            ("lists", False),
            ("observed", True),
            ("estimate", True),
            ("95% interval", True),
            ("model", False),
            ("warnings", False),
        ],
        rows,
    ).replace("</tbody>", total_row + "</tbody>")
    body.append("<h2>Strata</h2>")
    body.append(table_html)
    body.append(
        _figure_html(
            forest_chart_svg(
                entries,
                title="Estimate per stratum and in total",
                log_scale=True,
            ),
            "Logarithmic scale, so that small strata stay visible next to the total. "
            "Stratum intervals are model-conditional; the total's is bootstrapped.",
        )
    )
    body.append("<h2>Overlap between the lists, by stratum</h2>")
    charted = [(name, table) for name, table in tables.items() if table.observed > 0]
    if len(charted) > MAX_STRATUM_CHARTS:
        # Each chart is some 30 kB of SVG; beyond this the file grows without helping anyone.
        body.append(
            f'<p class="muted">The {MAX_STRATUM_CHARTS} largest of {len(charted)} strata.</p>'
        )
        charted = sorted(charted, key=lambda item: -item[1].observed)[:MAX_STRATUM_CHARTS]
    for stratum, table in charted:
        body.append(
            f"<details><summary>{_e(stratum)} — {table.observed:,} people</summary>"
            + _figure_html(upset_chart_svg(table, title=f"Stratum {stratum}"))
            + "</details>"
        )
    return _page("MSE estimate by stratum", body)


def write_strata_report(
    result: StratifiedResult,
    tables: Mapping[str, CaptureTable],
    path: str | os.PathLike[str],
) -> Path:
    """Write a stratified-estimate HTML report: a table per stratum with the total, a chart
    of stratum estimates and the total, and each stratum's overlap chart."""
    return write_text_atomically(Path(path), strata_report_html(result, tables))

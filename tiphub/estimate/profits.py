"""Illicit profits of trafficking, with uncertainty, from estimates of the number of victims.

A programme works if both the number of victims and the criminals' profits go down. The
number of victims comes from Multiple Systems Estimation as draws of the hidden population
``N`` (bootstrap or posterior); this module turns those draws into draws of annual illicit
profit with the ILO's published profit per victim (``data/ilo-profits.csv``, see
``data/NOTICE.md``)::

    profit = N × Σ_form share(form) × profit_per_victim(form) × error(form)

and propagates three sources of uncertainty by Monte Carlo, one set per population draw:

1. ``N`` — the population draws themselves.
2. ``share`` — the mix of exploitation forms among victims is only known from the recorded
   cases: ``share ~ Dirichlet(1 + counts)``, the posterior of a multinomial mix under a
   uniform prior.
3. ``error`` — the ILO publishes point values without standard errors. Each figure gets a
   multiplicative lognormal error with mean 1 and coefficient of variation ``cv``
   (default 0.25; ``cv_unverified``, default ``2 × cv``, for ``recalled_unverified``
   figures). 0.25 is a judgement, not an ILO number: the reports give no intervals for
   these ratios of survey-based estimates, so choose the CV to suit and report it. Mean 1
   rather than median 1 because the ILO figures are averages (total
   profit over total victims), so the figure is kept as the expected value. One error
   draw per *figure*, shared by every form and every year that uses the figure: the error
   is in the figure, not in the year, so it must not make a year-on-year fall look less
   certain than it is.

Profits are in US dollars at the prices of the edition's reference year (2012 for the
2014 edition, 2021 for the 2024 edition) and are not adjusted for inflation.

Results come back as objects in the manner of statsmodels: :class:`ProfitEstimate` for one
population, :class:`PrevalenceProfitsTable` for a series of years, each with ``summary()``
and ``to_dict()``; every output carries the report, edition, status and source of each ILO
figure it used, and flags figures whose status is ``recalled_unverified``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import math
import operator
import os
import textwrap
import unicodedata
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, Engine, select

from tiphub.cases.schema import VICTIM_ROLES
from tiphub.files import staged_file
from tiphub.store import models as m

FloatArray = npt.NDArray[np.float64]

#: Forms of exploitation the profit model distinguishes, in order of precedence (see
#: :func:`classify_exploitation`).
FORMS: tuple[str, ...] = ("sexual", "domestic", "labour", "criminality", "other")

#: Checked against the ILO publication itself; ``ilo_location`` names the table or page.
PRIMARY = "primary"
CONFIRMED = "confirmed_secondary"
UNVERIFIED = "recalled_unverified"
DERIVED = "derived_check"
STATUSES: tuple[str, ...] = (PRIMARY, CONFIRMED, UNVERIFIED, DERIVED)

PER_VICTIM = "annual_profit_per_victim"
DEFAULT_CV = 0.25
DEFAULT_EDITION = 2024
#: Monte-Carlo draws per year in :func:`prevalence_and_profits` when ``draws`` is not given.
TABLE_DRAWS = 10_000

_DATA_PACKAGE = "tiphub.estimate"
_DATA_FILE = "ilo-profits.csv"

# (breakdown, category) of the per-victim rows that stand for each kind of figure. Exact
# names, so that a renamed category in the CSV fails loudly instead of silently falling
# back to another figure.
_SEXUAL = frozenset({("type", "forced commercial sexual exploitation")})
_LABOUR = frozenset(
    {
        ("type", "forced labour exploitation outside domestic work"),  # 2014 edition
        ("type", "forced labour exploitation (non-state, non-sexual)"),  # 2024 edition
    }
)
_DOMESTIC = frozenset({("sector", "domestic work")})
# Not "2014 estimate restated in 2021 prices", which the 2024 edition also lists as "all".
_ALL_FORMS = frozenset({("all", "all privately imposed forced labour")})

_KIND_NAMES = {
    _SEXUAL: "forced commercial sexual exploitation",
    _LABOUR: "forced labour exploitation (non-sexual)",
    _DOMESTIC: "domestic work",
    _ALL_FORMS: "all-forms",
}

# The figures to try for each form, best first. Domestic work falls back to the
# forced-labour figure rather than the all-forms one: domestic work is a sector of
# forced-labour exploitation and earns less per victim than its average, while the
# all-forms figure is dominated by sexual exploitation and would be several times too high.
# Editions without an all-forms figure (2014) fall back to the forced-labour figure too.
_CHAINS: dict[str, tuple[frozenset[tuple[str, str]], ...]] = {
    "sexual": (_SEXUAL,),
    "labour": (_LABOUR,),
    "domestic": (_DOMESTIC, _LABOUR),
    "criminality": (_ALL_FORMS, _LABOUR),
    "other": (_ALL_FORMS, _LABOUR),
}


class ProfitFigureError(ValueError):
    """An unknown form, region or edition; the message lists the valid ones."""


class UnverifiedFigureWarning(UserWarning):
    """A ``recalled_unverified`` ILO figure was used: check it against the report."""


# --- the figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfitFigure:
    """One row of ``ilo-profits.csv``: a published figure with its source and status."""

    report: str
    edition_year: int
    reference_year: int
    metric: str
    breakdown: str
    category: str
    value: float | None
    unit: str
    status: str
    source_url: str | None
    note: str
    ilo_location: str | None = None

    @property
    def unverified(self) -> bool:
        """True when the figure was recalled but not checked against the report."""
        return self.status == UNVERIFIED

    @property
    def second_hand(self) -> bool:
        """True unless the figure was read in the ILO publication itself."""
        return self.status != PRIMARY

    def citation(self) -> str:
        """The ILO publication, where in it, edition, status and source on one line.

        A figure not read in the ILO report itself says so, so that nobody quotes a
        news site's rendering of it as the ILO's own words.
        """
        flag = " — UNVERIFIED, check before publishing" if self.unverified else ""
        where = self.ilo_location or "table/page not recorded"
        hand = (
            " — SECOND-HAND: not checked against the ILO publication"
            if self.second_hand
            else ""
        )
        return (
            f"{self.report}, {where}; edition {self.edition_year}; status {self.status}"
            f"{flag}{hand}; source: {self.source_url or 'none recorded'}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "report": self.report,
            "edition_year": self.edition_year,
            "reference_year": self.reference_year,
            "metric": self.metric,
            "breakdown": self.breakdown,
            "category": self.category,
            "value": self.value,
            "unit": self.unit,
            "status": self.status,
            "source_url": self.source_url,
            "note": self.note,
            "ilo_location": self.ilo_location,
            "unverified": self.unverified,
            "second_hand": self.second_hand,
        }


@cache
def _figures() -> tuple[ProfitFigure, ...]:
    text = resources.files(_DATA_PACKAGE).joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    return parse_profit_figures(text)


def parse_profit_figures(text: str) -> tuple[ProfitFigure, ...]:
    """The rows of an ``ilo-profits.csv`` text, checked (unknown status, primary without place)."""
    figures = []
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        status = row["status"].strip()
        if status not in STATUSES:
            raise ValueError(
                f"{_DATA_FILE} line {line}: unknown status {status!r}; "
                f"valid statuses: {', '.join(STATUSES)}"
            )
        value = row["value"].strip()
        if status == PRIMARY and not (row.get("ilo_location") or "").strip():
            raise ValueError(
                f"{_DATA_FILE} line {line}: a figure checked against the ILO publication "
                "must name the table or page in ilo_location"
            )
        figures.append(
            ProfitFigure(
                report=row["report"].strip(),
                edition_year=int(row["edition_year"]),
                reference_year=int(row["reference_year"]),
                metric=row["metric"].strip(),
                breakdown=row["breakdown"].strip(),
                category=row["category"].strip(),
                value=float(value) if value else None,
                unit=row["unit"].strip(),
                status=status,
                source_url=row["source_url"].strip() or None,
                note=row["note"].strip(),
                ilo_location=(row.get("ilo_location") or "").strip() or None,
            )
        )
    return tuple(figures)


def load_profit_figures() -> list[ProfitFigure]:
    """Every figure of the packaged ``ilo-profits.csv``, in file order."""
    return list(_figures())


def _per_victim(edition: int) -> list[ProfitFigure]:
    return [
        f
        for f in _figures()
        if f.edition_year == edition and f.metric == PER_VICTIM and f.value is not None
    ]


def per_victim_editions() -> list[int]:
    """Editions that publish a numeric profit per victim (so can be used for estimates)."""
    return sorted(
        {f.edition_year for f in _figures() if f.metric == PER_VICTIM and f.value is not None}
    )


def regions(edition: int) -> list[str]:
    """Regions with a numeric per-victim figure in ``edition`` (empty if it has none)."""
    return [f.category for f in _per_victim(edition) if f.breakdown == "region"]


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


@dataclass(frozen=True)
class FigureChoice:
    """The figure chosen for a form, and the rule that chose it."""

    form: str
    figure: ProfitFigure
    rule: str
    fallback: bool


def choose_profit_figure(
    form: str, *, region: str | None = None, edition: int = DEFAULT_EDITION
) -> FigureChoice:
    """Choose the ILO profit per victim for ``form`` and say why (see :func:`profit_per_victim`)."""
    if form not in FORMS:
        raise ProfitFigureError(
            f"unknown form of exploitation {form!r}; valid forms: {', '.join(FORMS)}"
        )
    editions = per_victim_editions()
    if edition not in editions:
        known = sorted({f.edition_year for f in _figures()})
        what = (
            "has no per-victim profit figures"
            if edition in known
            else "is not an edition of the ILO profit reports held here"
        )
        raise ProfitFigureError(
            f"edition {edition} {what}; valid editions: {', '.join(map(str, editions))}"
        )
    candidates = _per_victim(edition)
    if region is not None:
        return _regional_choice(form, region, edition, candidates)
    for step, kind in enumerate(_CHAINS[form]):
        found = [f for f in candidates if (f.breakdown, f.category) in kind]
        if len(found) > 1:
            raise ValueError(
                f"{_DATA_FILE}: {len(found)} {_KIND_NAMES[kind]} per-victim figures for "
                f"edition {edition}; expected one"
            )
        if found:
            first = _KIND_NAMES[_CHAINS[form][0]]
            if step == 0:
                rule = f"{form}: the edition's {first} figure"
            else:
                rule = (
                    f"{form}: edition {edition} has no {first} figure per victim; "
                    f"using its {_KIND_NAMES[kind]} figure instead"
                )
                if kind is _LABOUR and found[0].category.endswith("outside domestic work"):
                    rule += " (which excludes domestic work)"
            return FigureChoice(form, found[0], rule, fallback=step > 0)
    raise ProfitFigureError(
        f"edition {edition} has no per-victim figure usable for {form!r}; "
        f"tried: {', '.join(_KIND_NAMES[kind] for kind in _CHAINS[form])}"
    )


def _regional_choice(
    form: str, region: str, edition: int, candidates: list[ProfitFigure]
) -> FigureChoice:
    regional = {_key(f.category): f for f in candidates if f.breakdown == "region"}
    if not regional:
        with_regions = [e for e in per_victim_editions() if regions(e)]
        raise ProfitFigureError(
            f"edition {edition} has no numeric regional per-victim figures; "
            f"editions with regional figures: {', '.join(map(str, with_regions)) or 'none'}"
        )
    figure = regional.get(_key(region))
    if figure is None:
        raise ProfitFigureError(
            f"unknown region {region!r} for edition {edition}; "
            f"valid regions: {', '.join(regions(edition))}"
        )
    rule = f"{form}: the edition's regional figure for {figure.category} (all forms together)"
    return FigureChoice(form, figure, rule, fallback=False)


def profit_per_victim(
    form: str, *, region: str | None = None, edition: int = DEFAULT_EDITION
) -> ProfitFigure:
    """The ILO annual profit per victim to use for one form of exploitation.

    Rules, for ``edition`` (2014 or 2024; 2005 has no per-victim figures):

    * ``"sexual"`` — the forced commercial sexual exploitation figure.
    * ``"labour"`` — the forced-labour exploitation figure (2014: outside domestic work;
      2024: all non-state, non-sexual forced labour, domestic work included).
    * ``"domestic"`` — the domestic-work sector figure where the edition has one (2024);
      otherwise the forced-labour figure (2014, which excludes domestic work and so
      probably overstates it).
    * ``"criminality"`` and ``"other"`` — the ILO has no figure for these: the all-forms
      figure (2024), or the forced-labour figure where the edition has no all-forms one
      (2014).
    * With ``region``, the edition's regional per-victim figure for every form, since the
      regional figures are not broken down by form. Only 2014 has numeric regional figures.

    Raises :class:`ProfitFigureError`, listing the valid values, for an unknown form,
    region or edition.
    """
    return choose_profit_figure(form, region=region, edition=edition).figure


# --- the Monte Carlo -------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A central interval of the Monte-Carlo draws."""

    level: float
    lower: float
    upper: float

    @classmethod
    def of(cls, draws: FloatArray, level: float) -> Interval:
        tail = (1.0 - level) / 2.0
        lower, upper = np.quantile(draws, [tail, 1.0 - tail])
        return cls(level, float(lower), float(upper))

    @property
    def width(self) -> float:
        return self.upper - self.lower

    def to_dict(self) -> dict[str, float]:
        return {"level": self.level, "lower": self.lower, "upper": self.upper}


@dataclass(frozen=True)
class FormProfit:
    """Profit from one form of exploitation."""

    form: str
    recorded_victims: int
    share_median: float
    victims_median: float
    profit_median: float
    profit_95: Interval
    figure: ProfitFigure
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "form": self.form,
            "recorded_victims": self.recorded_victims,
            "share_median": self.share_median,
            "victims_median": self.victims_median,
            "profit_median": self.profit_median,
            "profit_95": self.profit_95.to_dict(),
            "profit_per_victim": self.figure.value,
            "rule": self.rule,
            "figure": self.figure.to_dict(),
        }


@dataclass(frozen=True, eq=False)
class ProfitEstimate:
    """Annual illicit profit implied by a population estimate, with its uncertainty.

    ``profit_draws`` holds the Monte-Carlo draws of the total (one per population draw),
    ``population_draws`` the population draws they were computed from.
    """

    edition: int
    region: str | None
    price_basis: str
    cv: float
    cv_unverified: float
    n_draws: int
    population_median: float
    population_95: Interval
    median: float
    mean: float
    interval_95: Interval
    interval_80: Interval
    by_form: dict[str, FormProfit]
    figures: list[ProfitFigure]
    warnings: list[str]
    profit_draws: FloatArray = field(repr=False)
    population_draws: FloatArray = field(repr=False)
    # Where the mix of exploitation came from (e.g. the roles counted in the case store).
    mix_source: str = ""

    def conf_int(self, level: float = 0.95) -> tuple[float, float]:
        """The central ``level`` interval of the total, as statsmodels' ``conf_int``."""
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be between 0 and 1, not {level}")
        interval = Interval.of(self.profit_draws, level)
        return interval.lower, interval.upper

    def summary(self) -> str:
        """A readable table: total, intervals, breakdown by form, figures and warnings."""
        width = 98
        lines = [
            "Annual illicit profits (Monte Carlo over population, mix and ILO figures)".center(
                width
            ),
            "=" * width,
            f"{'ILO edition:':<22}{self.edition:<26}{'Monte-Carlo draws:':<22}{self.n_draws:,}",
            f"{'Currency:':<22}{self.price_basis:<26}{'Region:':<22}{self.region or 'global'}",
            f"{'Figure CV:':<22}{self.cv:<26g}{'CV if unverified:':<22}{self.cv_unverified:g}",
            f"{'Victims (median):':<22}{_count(self.population_median):<26}"
            f"{'95% interval:':<22}{_count(self.population_95.lower)} – "
            f"{_count(self.population_95.upper)}",
            *([f"{'Mix of forms from:':<22}{self.mix_source}"] if self.mix_source else []),
            "-" * width,
            f"{'':<22}{'median':>12}{'mean':>12}{'2.5%':>12}{'97.5%':>12}{'10%':>12}{'90%':>12}",
            f"{'Total profit (USD)':<22}{_money(self.median):>12}{_money(self.mean):>12}"
            f"{_money(self.interval_95.lower):>12}{_money(self.interval_95.upper):>12}"
            f"{_money(self.interval_80.lower):>12}{_money(self.interval_80.upper):>12}",
            "-" * width,
            f"{'form':<13}{'recorded':>11}{'share':>8}{'victims':>12}{'USD/victim':>12}"
            f"{'profit':>12}{'2.5%':>12}{'97.5%':>12}  status",
        ]
        for part in self.by_form.values():
            value = part.figure.value or 0.0
            lines.append(
                f"{part.form:<13}{part.recorded_victims:>11,}{part.share_median:>8.1%}"
                f"{_count(part.victims_median):>12}{value:>12,.0f}"
                f"{_money(part.profit_median):>12}{_money(part.profit_95.lower):>12}"
                f"{_money(part.profit_95.upper):>12}  {part.figure.status}"
            )
        lines += ["-" * width, "Figures used:"]
        for figure in self.figures:
            forms = ", ".join(p.form for p in self.by_form.values() if p.figure == figure)
            lines.append(f"  {forms}: {figure.value:,.0f} {figure.unit} — {figure.category}")
            lines.append(f"      {figure.citation()}")
        if self.warnings:
            lines.append("Warnings:")
            lines += [f"  [{i}] {text}" for i, text in enumerate(self.warnings, start=1)]
        lines.append("=" * width)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the draws, JSON-serialisable."""
        return {
            "edition": self.edition,
            "region": self.region,
            "mix_source": self.mix_source,
            "currency": self.price_basis,
            "cv": self.cv,
            "cv_unverified": self.cv_unverified,
            "n_draws": self.n_draws,
            "population": {
                "median": self.population_median,
                "interval_95": self.population_95.to_dict(),
            },
            "profit": {
                "median": self.median,
                "mean": self.mean,
                "interval_95": self.interval_95.to_dict(),
                "interval_80": self.interval_80.to_dict(),
            },
            "by_form": {form: part.to_dict() for form, part in self.by_form.items()},
            "figures": [figure.to_dict() for figure in self.figures],
            "warnings": list(self.warnings),
        }


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _money(value: float) -> str:
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:,.2f}bn"
    if size >= 1e6:
        return f"{value / 1e6:,.2f}m"
    return f"{value:,.0f}"


def _population(draws: npt.ArrayLike, label: str = "population_draws") -> FloatArray:
    array = np.asarray(draws, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{label} must be a non-empty one-dimensional array of population sizes")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{label} contains NaN or infinite values")
    if np.any(array < 0):
        raise ValueError(f"{label} contains negative population sizes")
    return array


def _counts(counts: Mapping[str, int]) -> dict[str, int]:
    if not counts:
        raise ValueError(
            f"exploitation_counts is empty; give counts for some of: {', '.join(FORMS)}"
        )
    checked: dict[str, int] = {}
    for form, count in counts.items():
        if form not in FORMS:
            raise ProfitFigureError(
                f"unknown form of exploitation {form!r} in exploitation_counts; "
                f"valid forms: {', '.join(FORMS)}"
            )
        if isinstance(count, bool):
            raise ValueError(f"count for {form!r} must be an integer, not {count!r}")
        try:
            number = operator.index(count)
        except TypeError:
            raise ValueError(f"count for {form!r} must be an integer, not {count!r}") from None
        if number < 0:
            raise ValueError(f"count for {form!r} is negative ({number})")
        checked[form] = number
    # Canonical order, so that the same counts give the same draws whatever the dict order.
    return {form: checked[form] for form in FORMS if form in checked}


def _cvs(cv: float, cv_unverified: float | None) -> tuple[float, float]:
    unverified = 2.0 * cv if cv_unverified is None else cv_unverified
    for name, value in (("cv", cv), ("cv_unverified", unverified)):
        if not (math.isfinite(value) and value >= 0.0):
            raise ValueError(f"{name} must be a finite number >= 0, not {value}")
    return cv, unverified


def _draw_count(draws: int | None) -> int | None:
    if draws is None:
        return None
    number = operator.index(draws)
    if number < 1:
        raise ValueError(f"draws must be a positive integer, not {draws}")
    return number


def _lognormal_errors(rng: np.random.Generator, cv: float, size: int) -> FloatArray:
    """Multiplicative errors with mean 1 and coefficient of variation ``cv``."""
    if cv == 0.0:
        return np.ones(size)
    sigma2 = math.log1p(cv * cv)
    sigma = math.sqrt(sigma2)
    errors: FloatArray = np.exp(sigma * rng.standard_normal(size) - sigma2 / 2.0)
    return errors


class _Errors:
    """One error draw per figure, reused by every form and year that uses the figure."""

    def __init__(
        self, rng: np.random.Generator, size: int, cv: float, cv_unverified: float
    ) -> None:
        self.rng, self.size, self.cv, self.cv_unverified = rng, size, cv, cv_unverified
        self._draws: dict[ProfitFigure, FloatArray] = {}

    def of(self, figure: ProfitFigure) -> FloatArray:
        if figure not in self._draws:
            cv = self.cv_unverified if figure.unverified else self.cv
            self._draws[figure] = _lognormal_errors(self.rng, cv, self.size)
        return self._draws[figure]


def _unique(figures: Iterable[ProfitFigure]) -> list[ProfitFigure]:
    return list(dict.fromkeys(figures))


def _unverified_messages(choices: Iterable[FigureChoice], cv_unverified: float) -> list[str]:
    by_figure: dict[ProfitFigure, list[str]] = {}
    for choice in choices:
        if choice.figure.unverified:
            by_figure.setdefault(choice.figure, []).append(choice.form)
    return [
        f"{', '.join(forms)}: {figure.value:,.0f} {figure.unit} ({figure.category}, "
        f"{figure.report}, edition {figure.edition_year}) is {UNVERIFIED}: verify it against "
        f"the report before publishing; its CV was set to {cv_unverified:g}"
        for figure, forms in by_figure.items()
    ]


def _estimate(
    population: FloatArray,
    counts: dict[str, int],
    choices: dict[str, FigureChoice],
    errors: _Errors,
    rng: np.random.Generator,
    *,
    edition: int,
    region: str | None,
) -> ProfitEstimate:
    size = population.size
    forms = list(counts)
    if region is not None:
        # The canonical spelling from the data, whatever case the caller used.
        region = choices[forms[0]].figure.category
    alpha = np.array([1.0 + counts[form] for form in forms])
    shares: FloatArray = rng.dirichlet(alpha, size=size)
    by_form_draws = {
        form: population
        * shares[:, i]
        * (choices[form].figure.value or 0.0)
        * errors.of(choices[form].figure)
        for i, form in enumerate(forms)
    }
    total: FloatArray = np.sum(np.stack(list(by_form_draws.values())), axis=0)

    by_form = {
        form: FormProfit(
            form=form,
            recorded_victims=counts[form],
            share_median=float(np.median(shares[:, i])),
            victims_median=float(np.median(population * shares[:, i])),
            profit_median=float(np.median(by_form_draws[form])),
            profit_95=Interval.of(by_form_draws[form], 0.95),
            figure=choices[form].figure,
            rule=choices[form].rule,
        )
        for i, form in enumerate(forms)
    }

    notes: list[str] = _unverified_messages(choices.values(), errors.cv_unverified)
    notes += [choice.rule for choice in choices.values() if choice.fallback]
    recorded = sum(counts.values())
    if recorded == 0:
        notes.append(
            "no victim has a recorded form of exploitation: the mix is the uniform prior "
            f"over {', '.join(forms)}"
        )
    elif recorded < 30:
        notes.append(
            f"the exploitation mix rests on {recorded} recorded victims; "
            "the intervals include that uncertainty but the mix may not be representative"
        )
    if region is not None:
        notes.append(
            f"the regional profit per victim for {region} covers all forms together: the "
            "exploitation mix changes the breakdown by form, not the total"
        )
    for form, what in (
        ("criminality", "forced criminality"),
        ("other", "forced marriage, organ removal and other forms"),
    ):
        if form in counts and region is None:
            notes.append(
                f"the ILO publishes no profit per victim for {what}: '{form}' uses the "
                f"{choices[form].figure.category} figure as a stand-in"
            )
    if size < 200:
        notes.append(f"only {size} population draws: the tails of the intervals are rough")
    reference_years = sorted({choice.figure.reference_year for choice in choices.values()})
    price_basis = f"USD at {'/'.join(map(str, reference_years))} prices"

    return ProfitEstimate(
        edition=edition,
        region=region,
        price_basis=price_basis,
        cv=errors.cv,
        cv_unverified=errors.cv_unverified,
        n_draws=size,
        population_median=float(np.median(population)),
        population_95=Interval.of(population, 0.95),
        median=float(np.median(total)),
        mean=float(np.mean(total)),
        interval_95=Interval.of(total, 0.95),
        interval_80=Interval.of(total, 0.80),
        by_form=by_form,
        figures=_unique(choice.figure for choice in choices.values()),
        warnings=notes,
        profit_draws=total,
        population_draws=population,
    )


def _choices(
    counts: Mapping[str, int], region: str | None, edition: int
) -> dict[str, FigureChoice]:
    return {form: choose_profit_figure(form, region=region, edition=edition) for form in counts}


def _warn_unverified(figures: Iterable[ProfitFigure]) -> None:
    for figure in figures:
        if figure.unverified:
            warnings.warn(
                f"ILO figure {figure.category!r} ({figure.value:,.0f} {figure.unit}, edition "
                f"{figure.edition_year}) is {UNVERIFIED}: verify it before publishing",
                UnverifiedFigureWarning,
                stacklevel=3,
            )


def estimate_profits(
    population_draws: npt.ArrayLike,
    exploitation_counts: Mapping[str, int],
    *,
    region: str | None = None,
    edition: int = DEFAULT_EDITION,
    seed: int = 0,
    draws: int | None = None,
    cv: float = DEFAULT_CV,
    cv_unverified: float | None = None,
) -> ProfitEstimate:
    """Annual illicit profit implied by draws of the hidden population of victims.

    ``population_draws`` are bootstrap or posterior draws of the number of victims;
    ``exploitation_counts`` the recorded victims by form (keys from :data:`FORMS`, for
    instance from :func:`exploitation_counts_from_store`). For each population draw the
    exploitation mix is drawn from ``Dirichlet(1 + counts)`` (one component per key given)
    and each form's ILO profit per victim (chosen by :func:`profit_per_victim`) is
    multiplied by a lognormal error with mean 1 and coefficient of variation ``cv``, or
    ``cv_unverified`` (default ``2 × cv``) for ``recalled_unverified`` figures.

    ``draws`` resamples the population draws (with replacement) to that many Monte-Carlo
    draws; by default each population draw is used once. ``seed`` makes the result
    reproducible. Emits :class:`UnverifiedFigureWarning` for each unverified figure used.
    """
    population = _population(population_draws)
    counts = _counts(exploitation_counts)
    cv, cv_unverified = _cvs(cv, cv_unverified)
    size = _draw_count(draws)
    choices = _choices(counts, region, edition)
    rng = np.random.default_rng(seed)
    if size is not None:
        population = rng.choice(population, size=size, replace=True)
    errors = _Errors(rng, population.size, cv, cv_unverified)
    estimate = _estimate(population, counts, choices, errors, rng, edition=edition, region=region)
    _warn_unverified(estimate.figures)
    return estimate


# --- prevalence and profits by year ------------------------------------------------------


@dataclass(frozen=True)
class YearInput:
    """One year's population draws and recorded exploitation mix."""

    year: int
    population_draws: npt.ArrayLike
    exploitation_counts: Mapping[str, int]
    region: str | None = None
    edition: int = DEFAULT_EDITION


@dataclass(frozen=True)
class Change:
    """Change from the previous year in the table, from paired independent draws."""

    from_year: int
    median: float
    interval_95: Interval
    probability_fell: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_year": self.from_year,
            "median": self.median,
            "interval_95": self.interval_95.to_dict(),
            "probability_fell": self.probability_fell,
        }


@dataclass(frozen=True, eq=False)
class YearRow:
    """One year of the table: victims and profits, and their change from the year before."""

    year: int
    estimate: ProfitEstimate
    population_change: Change | None
    profit_change: Change | None
    probability_both_fell: float | None

    @property
    def population_median(self) -> float:
        return self.estimate.population_median

    @property
    def population_95(self) -> Interval:
        return self.estimate.population_95

    @property
    def profit_median(self) -> float:
        return self.estimate.median

    @property
    def profit_95(self) -> Interval:
        return self.estimate.interval_95

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "edition": self.estimate.edition,
            "region": self.estimate.region,
            "population": {
                "median": self.population_median,
                "interval_95": self.population_95.to_dict(),
                "change": None
                if self.population_change is None
                else self.population_change.to_dict(),
            },
            "profit": {
                "median": self.profit_median,
                "interval_95": self.profit_95.to_dict(),
                "currency": self.estimate.price_basis,
                "change": None if self.profit_change is None else self.profit_change.to_dict(),
            },
            "probability_both_fell": self.probability_both_fell,
            "estimate": self.estimate.to_dict(),
        }


_CSV_COLUMNS = (
    "year",
    "edition",
    "region",
    "population_median",
    "population_lower_95",
    "population_upper_95",
    "population_change_median",
    "probability_population_fell",
    "profit_median_usd",
    "profit_lower_95_usd",
    "profit_upper_95_usd",
    "profit_change_median_usd",
    "probability_profit_fell",
    "probability_both_fell",
    "currency",
    "unverified_figures",
    "figures",
    "warnings",
)


def _figure_cell(estimate: ProfitEstimate) -> str:
    return " | ".join(
        f"{part.form}={part.figure.value:,.0f} {part.figure.unit} ({part.figure.citation()})"
        for part in estimate.by_form.values()
    )


def _write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """The file appears whole or not at all, created 0600 (new folders 0700); a killed run
    leaves its staging file in the run's private folder, which the next run removes."""
    with staged_file(path) as staged:
        write(staged)
    return path


@dataclass(frozen=True, eq=False)
class PrevalenceProfitsTable:
    """Victims and illicit profits per year, and whether each fell from the year before.

    Changes compare each year with the previous *listed* year. They are computed from
    pairs of draws: each year's population draws are resampled independently to
    ``n_draws`` and draw ``i`` of one year is paired with draw ``i`` of the previous one,
    so ``P(fell)`` is the share of pairs in which the later value is lower. The ILO figure
    errors are shared between years that use the same figure (see the module docstring).
    """

    rows: list[YearRow]
    n_draws: int
    cv: float
    cv_unverified: float
    warnings: list[str]

    @property
    def figures(self) -> list[ProfitFigure]:
        """Every ILO figure used, once."""
        return _unique(f for row in self.rows for f in row.estimate.figures)

    def summary(self) -> str:
        """A readable text table, with the figures used and the warnings."""
        width = 118
        lines = [
            "Prevalence and illicit profits by year".center(width),
            (
                f"(medians and 95% intervals; {self.n_draws:,} paired Monte-Carlo draws; "
                f"figure CV {self.cv:g}, unverified {self.cv_unverified:g})"
            ).center(width),
            "=" * width,
            f"{'year':<6}{'victims':>11}{'95% interval':>24}{'change':>11}{'P(fell)':>9}"
            f"{'profit USD':>12}{'95% interval':>22}{'change':>10}{'P(fell)':>9}"
            f"{'P(both)':>9}",
            "-" * width,
        ]
        for row in self.rows:
            population, profit = row.population_change, row.profit_change
            lines.append(
                f"{row.year:<6}{_count(row.population_median):>11}"
                f"{_count(row.population_95.lower) + ' – ' + _count(row.population_95.upper):>24}"
                f"{'—' if population is None else _signed(population.median, _count):>11}"
                f"{'—' if population is None else f'{population.probability_fell:.3f}':>9}"
                f"{_money(row.profit_median):>12}"
                f"{_money(row.profit_95.lower) + ' – ' + _money(row.profit_95.upper):>22}"
                f"{'—' if profit is None else _signed(profit.median, _money):>10}"
                f"{'—' if profit is None else f'{profit.probability_fell:.3f}':>9}"
                f"{'—' if row.probability_both_fell is None else f'{row.probability_both_fell:.3f}':>9}"
            )
        lines += ["-" * width, "Currency: " + ", ".join(self._currencies())]
        lines.append("Figures used (profit per victim per year):")
        for figure in self.figures:
            lines.append(f"  {figure.value:,.0f} {figure.unit} — {figure.category}")
            lines.append(f"      {figure.citation()}")
        if self.warnings:
            lines.append("Warnings:")
            lines += [f"  [{i}] {text}" for i, text in enumerate(self.warnings, start=1)]
        lines.append("=" * width)
        return "\n".join(lines)

    def _currencies(self) -> list[str]:
        return list(dict.fromkeys(row.estimate.price_basis for row in self.rows))

    def to_dict(self) -> dict[str, Any]:
        """Rows, figures and warnings, JSON-serialisable."""
        return {
            "n_draws": self.n_draws,
            "cv": self.cv,
            "cv_unverified": self.cv_unverified,
            "rows": [row.to_dict() for row in self.rows],
            "figures": [figure.to_dict() for figure in self.figures],
            "warnings": list(self.warnings),
        }

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """One line per year; each line names the ILO figures it used and their status."""

        def write(target: Path) -> None:
            with target.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(_CSV_COLUMNS)
                for row in self.rows:
                    estimate = row.estimate
                    population, profit = row.population_change, row.profit_change
                    writer.writerow(
                        [
                            row.year,
                            estimate.edition,
                            estimate.region or "",
                            _number(row.population_median),
                            _number(row.population_95.lower),
                            _number(row.population_95.upper),
                            "" if population is None else _number(population.median),
                            "" if population is None else _number(population.probability_fell),
                            _number(row.profit_median),
                            _number(row.profit_95.lower),
                            _number(row.profit_95.upper),
                            "" if profit is None else _number(profit.median),
                            "" if profit is None else _number(profit.probability_fell),
                            ""
                            if row.probability_both_fell is None
                            else _number(row.probability_both_fell),
                            estimate.price_basis,
                            str(any(f.unverified for f in estimate.figures)).lower(),
                            _figure_cell(estimate),
                            " | ".join(estimate.warnings),
                        ]
                    )

        return _write_atomically(Path(path), write)

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Two panels, victims and profits per year (medians, 95% error bars); PNG or SVG.

        The footer names each ILO figure with its report, edition, status and source.
        """
        target = Path(path)
        fmt = target.suffix.lower().lstrip(".")
        if fmt not in ("png", "svg"):
            raise ValueError(f"plot writes .png or .svg files, not {target.name!r}")
        # Imported here: matplotlib is slow to import and only the chart needs it. The Agg
        # canvas needs no display and leaves pyplot's global state alone.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import StrMethodFormatter

        footer = self._footer()
        figure = Figure(figsize=(9.0, 7.0 + 0.16 * len(footer)))
        FigureCanvasAgg(figure)
        bottom = (0.45 + 0.16 * len(footer)) / (7.0 + 0.16 * len(footer))
        figure.subplots_adjust(left=0.13, right=0.97, top=0.93, bottom=bottom, hspace=0.25)
        victims_axes, profits_axes = figure.subplots(2, 1, sharex=True)
        years = [row.year for row in self.rows]

        def panel(
            axes: Any,
            medians: list[float],
            lows: list[float],
            highs: list[float],
            fell: list[float | None],
            colour: str,
        ) -> None:
            errors = [
                [m - low for m, low in zip(medians, lows, strict=True)],
                [high - m for m, high in zip(medians, highs, strict=True)],
            ]
            axes.errorbar(years, medians, yerr=errors, fmt="o-", capsize=5, color=colour)
            for year, median, probability in zip(years, medians, fell, strict=True):
                if probability is not None:
                    axes.annotate(
                        f"P(fell) {_probability(probability)}",
                        (year, median),
                        textcoords="offset points",
                        xytext=(8, 8),
                        fontsize=8,
                    )
            axes.grid(True, alpha=0.3)
            axes.set_ylim(bottom=0)
            # Room on the right for the last year's label.
            axes.margins(x=0.12)
            axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))

        panel(
            victims_axes,
            [row.population_median for row in self.rows],
            [row.population_95.lower for row in self.rows],
            [row.population_95.upper for row in self.rows],
            [
                None if r.population_change is None else r.population_change.probability_fell
                for r in self.rows
            ],
            "tab:blue",
        )
        victims_axes.set_ylabel("victims (estimated)")
        victims_axes.set_title("Victims", loc="left")

        scale, unit = _scale(max(row.profit_95.upper for row in self.rows))
        panel(
            profits_axes,
            [row.profit_median / scale for row in self.rows],
            [row.profit_95.lower / scale for row in self.rows],
            [row.profit_95.upper / scale for row in self.rows],
            [
                None if r.profit_change is None else r.profit_change.probability_fell
                for r in self.rows
            ],
            "tab:red",
        )
        profits_axes.set_ylabel(f"annual illicit profit ({unit})")
        profits_axes.set_title(f"Illicit profits ({', '.join(self._currencies())})", loc="left")
        profits_axes.set_xlabel("year")
        profits_axes.set_xticks(years)
        figure.suptitle("Victims and illicit profits per year (medians, 95% intervals)")
        figure.text(0.01, 0.01, "\n".join(footer), fontsize=6, va="bottom", ha="left")

        return _write_atomically(target, lambda temporary: figure.savefig(temporary, format=fmt))

    def _footer(self) -> list[str]:
        lines = [
            "Profits = victims × exploitation mix (Dirichlet from recorded cases) × ILO profit "
            f"per victim × lognormal error (CV {self.cv:g}; {self.cv_unverified:g} if "
            "unverified)."
        ]
        lines += [f"Note: {text}" for text in _series_warnings(self.rows)]
        if any(figure.unverified for figure in self.figures):
            lines.append("Includes recalled_unverified ILO figures: verify them before publishing.")
        lines.append("Sources:")
        for figure in self.figures:
            lines += textwrap.wrap(
                f"{figure.value:,.0f} {figure.unit}, {figure.category}: {figure.citation()}",
                width=190,
                subsequent_indent="    ",
            )
        return lines


def _probability(value: float) -> str:
    # Two decimals would print 0.999 as "1.00", a certainty that the draws do not show.
    if value > 0.99:
        return "> 0.99"
    if value < 0.01:
        return "< 0.01"
    return f"{value:.2f}"


def _number(value: float) -> str:
    return repr(round(value, 6))


def _signed(value: float, fmt: Callable[[float], str]) -> str:
    return ("+" if value > 0 else "") + fmt(value)


def _scale(largest: float) -> tuple[float, str]:
    if largest >= 1e9:
        return 1e9, "USD billion"
    if largest >= 1e6:
        return 1e6, "USD million"
    if largest >= 1e3:
        return 1e3, "USD thousand"
    return 1.0, "USD"


def _change(later: FloatArray, earlier: FloatArray, from_year: int) -> Change:
    difference: FloatArray = later - earlier
    return Change(
        from_year=from_year,
        median=float(np.median(difference)),
        interval_95=Interval.of(difference, 0.95),
        probability_fell=float(np.mean(difference < 0)),
    )


def prevalence_and_profits(
    years: Sequence[YearInput],
    *,
    seed: int = 0,
    draws: int | None = None,
    cv: float = DEFAULT_CV,
    cv_unverified: float | None = None,
) -> PrevalenceProfitsTable:
    """A table of victims and illicit profits per year, with the probability each fell.

    Each year is estimated as :func:`estimate_profits` does, with ``draws`` Monte-Carlo
    draws (default :data:`TABLE_DRAWS`) resampled independently from that year's
    population draws, so that draws of consecutive years can be paired:
    ``P(N_y < N_{y-1})`` is the share of pairs in which year ``y`` is lower (the same for
    profits, and for both falling together). Years may be given in any order; each year
    is compared with the previous year listed.
    """
    if not years:
        raise ValueError("years is empty; give at least one YearInput")
    ordered = sorted(years, key=lambda item: item.year)
    seen = [item.year for item in ordered]
    duplicates = sorted({year for year in seen if seen.count(year) > 1})
    if duplicates:
        raise ValueError(f"each year may appear once; repeated: {', '.join(map(str, duplicates))}")
    cv, cv_unverified = _cvs(cv, cv_unverified)
    size = _draw_count(draws) or TABLE_DRAWS
    prepared = []
    for item in ordered:
        population = _population(item.population_draws, f"population_draws of {item.year}")
        counts = _counts(item.exploitation_counts)
        prepared.append((item, population, counts, _choices(counts, item.region, item.edition)))

    rng = np.random.default_rng(seed)
    errors = _Errors(rng, size, cv, cv_unverified)
    rows: list[YearRow] = []
    previous: ProfitEstimate | None = None
    for item, population, counts, choices in prepared:
        resampled = rng.choice(population, size=size, replace=True)
        estimate = _estimate(
            resampled, counts, choices, errors, rng, edition=item.edition, region=item.region
        )
        if previous is None:
            rows.append(YearRow(item.year, estimate, None, None, None))
        else:
            from_year = rows[-1].year
            population_fell = estimate.population_draws < previous.population_draws
            profit_fell = estimate.profit_draws < previous.profit_draws
            rows.append(
                YearRow(
                    item.year,
                    estimate,
                    _change(estimate.population_draws, previous.population_draws, from_year),
                    _change(estimate.profit_draws, previous.profit_draws, from_year),
                    float(np.mean(population_fell & profit_fell)),
                )
            )
        previous = estimate

    table = PrevalenceProfitsTable(rows, size, cv, cv_unverified, _table_warnings(rows))
    _warn_unverified(table.figures)
    return table


def _table_warnings(rows: list[YearRow]) -> list[str]:
    notes = _series_warnings(rows)
    # A warning that every year shares is printed once, with the years it concerns.
    years_of: dict[str, list[int]] = {}
    for row in rows:
        for text in row.estimate.warnings:
            years_of.setdefault(text, []).append(row.year)
    for text, which in years_of.items():
        label = "all years" if len(which) == len(rows) else ", ".join(map(str, which))
        notes.append(f"{label}: {text}")
    return notes


def _series_warnings(rows: list[YearRow]) -> list[str]:
    """Warnings about comparing the years with one another."""
    notes: list[str] = []
    editions = sorted({row.estimate.edition for row in rows})
    if len(editions) > 1:
        notes.append(
            f"the years use different ILO editions ({', '.join(map(str, editions))}), with "
            "different figures and price years: part of a change in profits comes from that"
        )
    places = list(dict.fromkeys(row.estimate.region or "global" for row in rows))
    if len(places) > 1:
        notes.append(
            f"the years use different regional figures ({', '.join(places)}): part of a "
            "change in profits comes from that"
        )
    gaps = [
        f"{earlier.year}→{later.year}"
        for earlier, later in itertools.pairwise(rows)
        if later.year - earlier.year != 1
    ]
    if gaps:
        notes.append(f"changes span more than one year where years are missing: {', '.join(gaps)}")
    return notes


# --- counts from the case store ----------------------------------------------------------

#: HTCDS 2.0 (and tiphub extension) exploitation-type codes -> profit-model form. Domestic
#: work is not an HTCDS exploitation type: it is labour exploitation in ISIC section T.
EXPLOITATION_FORMS: dict[str, str] = {
    "SexualExploitation": "sexual",
    "ForcedLabour": "labour",
    "ChildLabour": "labour",
    "ForcedBegging": "labour",
    "Servitude": "labour",
    "ForcedCriminality": "criminality",
    "ForcedMarriage": "other",
    "ForcedMilitaryByNonStateActors": "other",
    "OrganRemoval": "other",
    "ForcedAdoption": "other",
    "Surrogacy": "other",
    "Other": "other",
}
DOMESTIC_INDUSTRY = "T_ActivitiesOfHouseholdsAsEmployers"
NOT_A_VICTIM = "NotAVictimOfTrafficking"


def classify_exploitation(types: Iterable[str], industry: str | None = None) -> str | None:
    """The one profit-model form of a victim, or None when no type is recorded.

    A victim counts once, so the mix adds up to the population. With several types the
    first form of :data:`FORMS` wins (sexual, domestic, labour, criminality, other): the
    ILO counts forced commercial sexual exploitation as its own category whatever other
    work is forced, and domestic work is labour exploitation in households
    (``industry`` ISIC section T). Unknown codes count as ``"other"``.
    """
    found = {EXPLOITATION_FORMS.get(code, "other") for code in types}
    if "labour" in found and industry == DOMESTIC_INDUSTRY:
        found.add("domestic")
    return next((form for form in FORMS if form in found), None)


def exploitation_counts_from_store(
    engine: Engine, *, year: int | None = None, roles: Iterable[str] = VICTIM_ROLES
) -> dict[str, int]:
    """Victims in the case store by form of exploitation (keys: every form of :data:`FORMS`).

    Counts people, not participations: a person in several cases of one organisation
    counts once, under the highest-precedence form of any of their cases (see
    :func:`classify_exploitation`). People recorded by several organisations are separate
    records until linked, and count once per organisation. Victims and presumed victims
    count unless their latest trafficking-status assertion (by date, then position) is
    "not a victim"; victims with no recorded exploitation type are left out, which assumes
    their mix is that of the others. With ``year``, only cases opened in that year count.
    ``roles`` (HTCDS participant roles) narrows who counts, e.g. to ``("Victim",)``; only
    victims and presumed victims have a recorded form of exploitation.
    """
    participant, victim, case = m.CaseParticipant, m.VictimContext, m.Case
    assertion = m.TraffickingStatusAssertion

    scope: list[ColumnElement[bool]] = [participant.role.in_(sorted(set(roles)))]
    if year is not None:
        scope += [
            case.opened_on >= dt.date(year, 1, 1),
            case.opened_on <= dt.date(year, 12, 31),
        ]
    victims = (
        select(participant.id, participant.person_id, victim.exploitation_types, victim.industry)
        .select_from(participant)
        .join(victim, victim.participant_id == participant.id)
        .join(case, case.id == participant.case_id)
        .where(*scope)
    )
    statuses = (
        select(
            assertion.participant_id, assertion.status, assertion.asserted_on, assertion.position
        )
        .select_from(assertion)
        .join(participant, participant.id == assertion.participant_id)
        .join(case, case.id == participant.case_id)
        .where(*scope)
    )
    latest: dict[uuid.UUID, tuple[tuple[dt.date, int], str]] = {}
    best: dict[uuid.UUID, int] = {}
    with engine.connect() as connection:
        for participant_id, status, asserted_on, position in connection.execute(statuses):
            order = (asserted_on or dt.date.min, position)
            if participant_id not in latest or order >= latest[participant_id][0]:
                latest[participant_id] = (order, status)
        rows = connection.execution_options(yield_per=10_000).execute(victims)
        for participant_id, person_id, types, industry in rows:
            if participant_id in latest and latest[participant_id][1] == NOT_A_VICTIM:
                continue
            form = classify_exploitation(types or (), industry)
            if form is None:
                continue
            rank = FORMS.index(form)
            best[person_id] = min(rank, best.get(person_id, rank))
    counts = dict.fromkeys(FORMS, 0)
    for rank in best.values():
        counts[FORMS[rank]] += 1
    return counts

"""The single-estimate report, written for readers who are not statisticians.

A national rapporteur who quotes the figure needs, in this order: anything that undermines
it; the number with its interval and what the interval means; what the "dark figure" is;
whom the lists count; the four assumptions the figure rests on, each with whether and how
this run could check it; the overlaps between lists; the other methods on the same table.
Coefficients, deviance and diagnostics follow in an appendix for statisticians.

English and French (``lang``); the words are in :mod:`tiphub.estimate.explain_texts` and the
numbers are formatted by babel for the language (``12 214`` in French, with a narrow no-break
space). The page is one self-contained HTML file: charts are inline SVG drawn by the helpers
of :mod:`tiphub.estimate.report`, and every value that can come from a user's file (list
names, stratum names, descriptions, warnings) is HTML-escaped.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal, format_percent

from tiphub.estimate.explain_texts import (
    EXISTENCE_NAMES,
    INTERVAL_NAMES,
    LANGUAGES,
    METHOD_NAMES,
    ROLE_NAMES,
    SOURCE_NAMES,
    TEXTS,
)
from tiphub.estimate.report import (
    ChartWords,
    ForestEntry,
    _e,
    _figure_html,
    _page,
    _source_name,
    _table,
    forest_chart_svg,
    upset_chart_svg,
    write_text_atomically,
)
from tiphub.estimate.results import METHOD_TITLES, IntervalPair, MSEResult
from tiphub.estimate.table import CaptureTable

# Intervals that are probabilities about the number itself (Bayesian); the others are
# frequentist confidence intervals.
CREDIBLE_INTERVALS = ("posterior",)
# Model-selecting methods whose log-normal/profile interval treats the chosen model as known.
SELECTING_METHODS = ("stepwise", "aic-stepwise", "bic", "closedpms")
# Rcapture's heterogeneity models (Mh, Mth): catchability varies between people by design.
HETEROGENEITY_METHODS = ("mh-", "mth-")
# Below this expected count a cell makes the deviance's chi-squared reference unreliable;
# beyond this share of such cells the goodness-of-fit sentence says so.
SPARSE_EXPECTED = 5.0
SPARSE_SHARE = 0.2
POOR_FIT_P = 0.05
DESCRIBED_ORDER = ("roles", "organisations", "period", "strata")

_CSS = """
.checks { background: #fdf0ed; border-left: 4px solid #c0392b; padding: .6rem 1rem;
  margin: 1rem 0; }
.checks h2 { border: 0; margin: .2rem 0 .4rem; font-size: 1.15rem; color: #8a3324; }
.checks li { margin: .45rem 0; }
.checks code { font-size: .78rem; color: #5b6875; }
.assumption { border-left: 3px solid #e3e7eb; padding: .1rem 0 .1rem 1rem; margin: 1rem 0; }
.assumption h3 { font-size: 1.02rem; margin: .2rem 0 .4rem; }
.status { font-weight: 600; }
.status.ok { color: #1e6b3a; }
.status.partly { color: #8a6100; }
.status.no { color: #8a3324; }
dl.described { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.described dt { font-weight: 600; }
dl.described dd { margin: 0; }
.appendix { margin-top: 3rem; border-top: 3px double #e3e7eb; }
"""


class Words:
    """Texts and number formats of one language."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(
                f"the report language must be one of {', '.join(LANGUAGES)}, got {lang!r}"
            )
        self.lang = lang

    def __call__(self, key: str, **values: object) -> str:
        """The text ``key``; ``values`` fill its placeholders as they are (escape first)."""
        text = TEXTS[key][self.lang]
        return text.format(**values) if values else text

    def number(self, value: float, digits: int = 0) -> str:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return str(format_decimal(value, format=pattern, locale=self.lang))

    def count(self, value: float | None) -> str:
        """Whole people; ``None`` (an open upper limit) reads "unbounded"."""
        if value is None:
            return self("unbounded")
        if not math.isfinite(value):
            return "∞" if value > 0 else self("not_available")
        return self.number(round(value))

    def share(self, fraction: float) -> str:
        # The locale's own pattern: "97%" in English, "97 %" (no-break space) in French.
        return str(format_percent(fraction, locale=self.lang))

    def interval(self, pair: IntervalPair | None) -> str:
        """``10 989 to 13 621`` in words; an open upper limit reads "at least …"."""
        if pair is None:
            return self("not_available")
        shown = self.count
        low, high = pair
        low_text = shown(low) if low is not None else "?"
        if high is None:
            return self("interval_open", low=low_text)
        return self("interval_range", low=low_text, high=shown(high))

    def rounding_step(self, value: float) -> float:
        """The step that keeps three significant figures of ``value`` (12,214 → 100)."""
        if not math.isfinite(value) or value <= 0:
            return 1.0
        return float(10 ** max(0, math.floor(math.log10(value)) - 2))

    def rounded(self, value: float | None, step: float) -> str:
        """``value`` to a multiple of ``step``, for quoting: 12,214 by 100 → 12,200."""
        if value is None or not math.isfinite(value):
            return self.count(value)
        return self.count(round(value / step) * step)

    def level(self, percent: int) -> str:
        """``95%``; French puts a no-break space before the sign."""
        return f"{percent}\u00a0%" if self.lang == "fr" else f"{percent}%"

    def names(self, names: Sequence[str]) -> str:
        """``A, B and C`` with each name escaped and in bold."""
        shown = [f"<strong>{_e(name)}</strong>" for name in names]
        if len(shown) < 2:
            return "".join(shown)
        conjunction = {"en": " and ", "fr": " et "}[self.lang]
        return ", ".join(shown[:-1]) + conjunction + shown[-1]

    def method(self, method: str) -> str:
        names = METHOD_NAMES.get(method)
        if names is not None:
            return names[self.lang]
        return METHOD_TITLES.get(method, method)

    def chart_words(self) -> ChartWords:
        return ChartWords(
            count=self.count,
            observed=self("chart_observed"),
            no_estimate=self("chart_no_estimate"),
            legend=self("chart_legend"),
            upset_title=self("overlap_title"),
            upset_bars=self("chart_upset_bars"),
            upset_totals=self("chart_upset_totals"),
            upset_caption=self("chart_upset_caption"),
            upset_hidden=self("chart_upset_hidden"),
        )


# ---------------------------------------------------------------------- sections


def _meta(result: MSEResult, table: CaptureTable, words: Words) -> str:
    name = _source_name(table.source)
    parts = [words("meta_file", name=f"<strong>{_e(name)}</strong>")] if name else []
    parts.append(
        words(
            "meta_lists",
            count=words.count(len(result.lists)),
            names=_e(", ".join(result.lists)),
        )
    )
    parts.append(words("meta_observed", count=words.count(result.observed)))
    parts.append(words("meta_method", method=_e(words.method(result.method))))
    if result.stratum:
        parts.append(words("meta_stratum", name=f"<strong>{_e(result.stratum)}</strong>"))
    return f'<p class="meta">{" · ".join(parts)}</p>'


def _checks_html(result: MSEResult, words: Words) -> str:
    """Every finding about the estimate, with its next step, in a box at the top."""
    # (html, in the page's language?) per finding: a coded warning built from its values is
    # rendered in the page's language (tiphub.estimate.advice_texts); the rest stays English.
    items: list[tuple[str, bool]] = []
    already = set()
    for check in result.checks:
        already.update({str(check), check.message})
        translated = check.translates_to(words.lang)
        advice_text = check.advice_in(words.lang)
        advice = (
            f" <strong>{_e(words('what_to_do'))}</strong> {_e(advice_text)}" if advice_text else ""
        )
        message = _e(check.message_in(words.lang))
        items.append((f"<span>{message}</span>{advice} <code>{_e(check.code)}</code>", translated))
    items += [
        (_e(warning), words.lang == "en") for warning in result.warnings if warning not in already
    ]
    if not items:
        return ""
    english = [html for html, translated in items if not translated]
    if len(english) == len(items) and words.lang != "en":
        # Nothing could be translated: the list is English, marked as such.
        note = words("warnings_in_english")
        listed = '<ul lang="en">' + "".join(f"<li>{html}</li>" for html, _ in items) + "</ul>"
    else:
        # Some findings have no words in this language: each English one is marked.
        note = words("warnings_some_in_english") if english else ""
        listed = (
            "<ul>"
            + "".join(
                f"<li>{html}</li>" if translated else f'<li lang="en">{html}</li>'
                for html, translated in items
            )
            + "</ul>"
        )
    return (
        '<section class="checks" id="warnings">'
        f"<h2>{_e(words('warnings_title'))}</h2>"
        f"<p>{_e(words('warnings_intro'))}"
        + (f" {_e(note)}" if note else "")
        + "</p>"
        + listed
        + "</section>"
    )


def _headline(result: MSEResult, words: Words) -> str:
    text = words(
        "headline",
        population=words.count(result.population),
        interval=words.interval(result.interval_95),
        observed=words.count(result.observed),
        lists=words.count(len(result.lists)),
        dark=words.count(result.dark_figure),
    )
    return f'<p class="headline">{_e(text)}</p>'


def _figure_section(result: MSEResult, words: Words) -> list[str]:
    credible = result.interval_method in CREDIBLE_INTERVALS
    key = "figure_credible" if credible else "figure_confidence"
    paragraph = words(
        key,
        population=words.count(result.population),
        interval=words.interval(result.interval_95),
    )
    how = INTERVAL_NAMES.get(result.interval_method)
    method_sentence = words(
        "figure_interval_method",
        name=how[words.lang] if how is not None else result.interval_method,
    )
    if result.method in SELECTING_METHODS and result.interval_method in ("lognormal", "profile"):
        method_sentence += " " + words("figure_model_conditional")
    low, high = result.interval_95
    # One step for all three, set by the estimate, so the quoted range reads evenly.
    step = words.rounding_step(result.population)
    quote = (
        words(
            "figure_quote",
            population=words.rounded(result.population, step),
            low=words.rounded(low, step),
            high=words.rounded(high, step),
        )
        if low is not None and high is not None
        else ""
    )
    return [
        f"<h2>{_e(words('figure_title'))}</h2>",
        f"<p>{_e(paragraph)}</p>",
        f"<p>{_e(method_sentence)}" + (f" {_e(quote)}" if quote else "") + "</p>",
    ]


def _dark_section(result: MSEResult, words: Words) -> list[str]:
    finite = math.isfinite(result.population) and result.population > 0
    share = result.dark_figure / result.population if finite else 0.0
    text = words(
        "dark_text",
        dark=words.count(result.dark_figure),
        share=words.share(max(share, 0.0)),
    )
    return [f"<h2>{_e(words('dark_title'))}</h2>", f"<p>{_e(text)}</p>"]


def _described_value(value: object) -> str:
    """A sidecar value as plain text: lists joined, periods and mappings as ``key value``."""
    if isinstance(value, Mapping):
        return "; ".join(f"{key} {_described_value(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(_described_value(item) for item in value)
    return str(value)


PERIOD_STARTS = ("earliest", "from", "start")
PERIOD_ENDS = ("latest", "to", "end")


def _period_text(value: object) -> str:
    """``{"earliest": "2013-01-04", "latest": "2013-12-30"}`` → ``2013-01-04 – 2013-12-30``."""
    if isinstance(value, Mapping):
        start = next((value[key] for key in PERIOD_STARTS if value.get(key)), None)
        end = next((value[key] for key in PERIOD_ENDS if value.get(key)), None)
        if start is not None or end is not None:
            return f"{start or '…'} – {end or '…'}"
    return _described_value(value)


def _described_text(key: str, value: object, words: Words) -> str:
    """One entry of ``population_described`` in the report's language: HTCDS role codes by
    name, periods as a range, counts as numbers, merges and omissions labelled."""
    if key == "roles" and isinstance(value, (list, tuple)):
        return ", ".join(
            ROLE_NAMES[str(role)][words.lang] if str(role) in ROLE_NAMES else str(role)
            for role in value
        )
    if key == "period":
        return _period_text(value)
    if key == "source" and str(value) in SOURCE_NAMES:
        return SOURCE_NAMES[str(value)][words.lang]
    if isinstance(value, Mapping) and all(f"counted_{part}" in TEXTS for part in value):
        separator = "\u202f; " if words.lang == "fr" else "; "
        return separator.join(
            f"{words(f'counted_{part}')} {_described_text(part, item, words)}"
            for part, item in value.items()
            if item not in (None, "", [], {}, ())
        )
    return _value_text(value, words)


def _counted_section(result: MSEResult, words: Words) -> list[str]:
    return counted_section(result.population_described, words)


def counted_section(population_described: Mapping[str, Any], words: Words) -> list[str]:
    """"Who is counted": the table sidecar's population, each missing item marked."""
    described = {
        key: value
        for key, value in population_described.items()
        if value not in (None, "", [], {}, ())
    }
    keys = list(DESCRIBED_ORDER) + [key for key in described if key not in DESCRIBED_ORDER]
    rows = []
    for key in keys:
        label = words(f"counted_{key}") if f"counted_{key}" in TEXTS else key
        if key in described:
            value_html = _e(_described_text(key, described[key], words))
        else:
            value_html = f'<span class="muted">{_e(words("counted_not_stated"))}</span>'
        rows.append(f"<dt>{_e(label)}</dt><dd>{value_html}</dd>")
    body = [f"<h2>{_e(words('counted_title'))}</h2>"]
    if not described:
        body.append(f'<p class="warn">{_e(words("counted_missing"))}</p>')
    body.append(f'<dl class="described">{"".join(rows)}</dl>')
    body.append(f"<p>{_e(words('counted_why'))}</p>")
    return body


def _assumption(
    title: str, text: str, status: str, css: str, checks: Iterable[str], extra: str = ""
) -> str:
    """One assumption: its heading, what it means, and whether and how it was checked.

    ``checks`` are already-escaped HTML sentences; ``extra`` is HTML placed after them."""
    details = " ".join(checks)
    return (
        f'<section class="assumption"><h3>{_e(title)}</h3><p>{_e(text)}</p>'
        f'<p><span class="status {css}">{_e(status)}</span> {details}</p>{extra}</section>'
    )


def _closed_assumption(result: MSEResult, words: Words) -> str:
    period = result.population_described.get("period")
    check = (
        words("closed_check_period", period=_e(_period_text(period)))
        if period not in (None, "", [], {})
        else _e(words("closed_check_missing"))
    )
    return _assumption(
        words("closed_title"), words("closed_text"), words("status_cannot"), "no", [check]
    )


def _linkage_figure(linkage: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = linkage.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    return None


def _linkage_assumption(result: MSEResult, words: Words) -> str:
    linkage = result.linkage
    if not linkage:
        return _assumption(
            words("linkage_title"),
            words("linkage_text"),
            words("status_not_checked"),
            "no",
            [_e(words("linkage_missing"))],
        )
    # Keys as tiphub.estimate.sidecar and tiphub.estimate.linkage_error write them.
    checks = []
    precision = _linkage_figure(linkage, "estimated_precision", "precision")
    recall = _linkage_figure(linkage, "estimated_recall", "recall")
    if precision is not None and recall is not None:
        checks.append(
            _e(
                words(
                    "linkage_quality",
                    precision=words.share(precision),
                    recall=words.share(recall),
                )
            )
        )
    uncertain = linkage.get("uncertain_links")
    if linkage.get("propagated"):
        share = _linkage_figure(linkage, "share_of_width_from_linkage")
        if share is not None:
            checks.append(_e(words("linkage_share", share=words.share(share))))
        without = _pair(linkage.get("interval_95_without_linkage_error"))
        if without is not None:
            checks.append(_e(words("linkage_without", interval=words.interval(without))))
        status, css = words("status_checked"), "ok"
    elif uncertain == 0:
        checks.append(_e(words("linkage_all_certain")))
        status, css = words("status_checked"), "ok"
    else:
        if isinstance(uncertain, int) and not isinstance(uncertain, bool):
            checks.append(_e(words("linkage_not_carried", count=words.count(uncertain))))
        else:
            checks.append(_e(words("linkage_not_carried_plain")))
        status, css = words("status_partly"), "partly"
    return _assumption(words("linkage_title"), words("linkage_text"), status, css, checks)


def _members(table: CaptureTable, mask: int) -> list[str]:
    return [name for i, name in enumerate(table.lists) if mask >> i & 1]


def _dependence_sentences(result: MSEResult, words: Words) -> list[str]:
    """Each interaction of the fitted model in words, already escaped."""
    fit = result.fit
    if fit is None:
        return []
    sentences = []
    for mask, coefficient in zip(fit.parameters[1:], fit.coefficients[1:], strict=True):
        members = _members(fit.table, int(mask))
        if len(members) < 2:
            continue
        if len(members) == 2:
            key = "dependence_more" if coefficient > 0 else "dependence_less"
            sentences.append(
                words(
                    key,
                    first=words.names(members[:1]),
                    second=words.names(members[1:]),
                    ratio=_e(words.number(math.exp(float(coefficient)), 1)),
                )
            )
        else:
            key = "dependence_joint_more" if coefficient > 0 else "dependence_joint_less"
            sentences.append(words(key, names=words.names(members)))
    for mask in fit.infinite_terms:
        members = _members(fit.table, int(mask))
        sentences.append(
            words(
                "dependence_never",
                first=words.names(members[:1]),
                second=words.names(members[1:]),
            )
        )
    return sentences


def goodness_of_fit(result: MSEResult) -> tuple[float, int, float, bool] | None:
    """Deviance, residual degrees of freedom, the chi-squared p-value, and whether the table
    is too sparse for that p-value to be trusted; ``None`` without a log-linear fit or
    without degrees of freedom left."""
    from scipy.stats import chi2

    fit = result.fit
    if fit is None:
        return None
    df = len(fit.cells) - len(fit.parameters)
    if df <= 0 or not math.isfinite(fit.deviance):
        return None
    sparse = float((fit.fitted < SPARSE_EXPECTED).mean()) > SPARSE_SHARE
    return fit.deviance, df, float(chi2.sf(fit.deviance, df)), sparse


def _dependence_assumption(result: MSEResult, words: Words) -> str:
    checks: list[str] = []
    extra = ""
    if result.method == "lcmcr":
        checks.append(_e(words("dependence_latent")))
        status, css = words("status_partly"), "partly"
    elif result.method.startswith(HETEROGENEITY_METHODS):
        checks.append(_e(words("dependence_rcapture")))
        status, css = words("status_not_checked"), "no"
    elif result.method == "m0":
        checks.append(_e(words("dependence_none")))
        status, css = words("status_not_checked"), "no"
    elif result.fit is None:
        # Methods without one log-linear fit (dga, bayesthresh, closedpms): their terms,
        # without a direction, and their own description of the model when it says more.
        pairs = [term.split(":") for term in result.model if ":" in term]
        if pairs:
            separator = {"en": "; ", "fr": "\u202f; "}[words.lang]
            named = separator.join(words.names(pair) for pair in pairs)
            checks.append(words("dependence_terms", pairs=named))
        if result.model_label and result.model_label != " + ".join(result.model):
            checks.append(_e(words("dependence_other", model=result.model_label)))
        elif not pairs:
            checks.append(_e(words("dependence_none")))
        status, css = words("status_partly"), "partly"
    else:
        sentences = _dependence_sentences(result, words)
        if sentences:
            checks.append(_e(words("dependence_model")))
            extra = '<ul class="findings">' + "".join(f"<li>{s}</li>" for s in sentences) + "</ul>"
        else:
            checks.append(_e(words("dependence_none")))
        threshold = result.settings.get("pthresh")
        threshold_text = words.number(float(threshold), 2) if threshold is not None else "?"
        chosen = {
            "stepwise": words("dependence_chosen_stepwise", threshold=threshold_text),
            "aic-stepwise": words("dependence_chosen_aic", threshold=threshold_text),
            "bic": words("dependence_chosen_bic"),
            "fixed": words("dependence_chosen_user"),
        }.get(result.method)
        fit_text = ""
        fit = goodness_of_fit(result)
        poor = False
        if fit is not None:
            deviance, df, p, sparse = fit
            poor = p < POOR_FIT_P
            fit_text = words(
                "dependence_fit_poor" if poor else "dependence_fit_good",
                deviance=words.number(deviance, 1),
                df=words.count(df),
                p=words.number(p, 3) if p >= 0.001 else "< " + words.number(0.001, 3),
            )
            if sparse:
                fit_text += " " + words("dependence_fit_sparse")
        # Partly checked when the data chose the model or judged its fit; a fit the data
        # reject, or a model nobody tested, leaves the assumption unchecked.
        if poor or (chosen is None and fit is None):
            status, css = words("status_not_checked"), "no"
        else:
            status, css = words("status_partly"), "partly"
        tail = " ".join(_e(part) for part in (chosen or "", fit_text) if part)
        extra += f"<p>{tail}</p>" if tail else ""
    extra += f"<p>{_e(words('dependence_unseen'))}</p>"
    return _assumption(
        words("dependence_title"), words("dependence_text"), status, css, checks, extra
    )


def _heterogeneity_assumption(result: MSEResult, words: Words) -> str:
    if result.method == "lcmcr":
        return _assumption(
            words("heterogeneity_title"),
            words("heterogeneity_text"),
            words("status_modelled"),
            "ok",
            [_e(words("heterogeneity_latent"))],
        )
    if result.method.startswith(HETEROGENEITY_METHODS):
        return _assumption(
            words("heterogeneity_title"),
            words("heterogeneity_text"),
            words("status_modelled"),
            "ok",
            [_e(words("heterogeneity_rcapture"))],
        )
    interactions = any(":" in term for term in result.model)
    if interactions:
        checks = [_e(words("heterogeneity_partly"))]
        status, css = words("status_partly"), "partly"
    else:
        checks = [_e(words("heterogeneity_none"))]
        status, css = words("status_not_checked"), "no"
    lcmcr = _alternative(result.alternatives.get("lcmcr"), words)
    if lcmcr is not None and lcmcr[0] is not None:
        checks.append(
            _e(
                words(
                    "heterogeneity_lcmcr_result",
                    population=words.count(lcmcr[0]),
                    interval=words.interval(lcmcr[1]),
                )
            )
        )
    return _assumption(
        words("heterogeneity_title"), words("heterogeneity_text"), status, css, checks
    )


def _pair(value: object) -> IntervalPair | None:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    low, high = value
    return (
        float(low) if isinstance(low, (int, float)) else None,
        float(high) if isinstance(high, (int, float)) else None,
    )


def _alternative(
    value: object, words: Words
) -> tuple[float | None, IntervalPair | None, str] | None:
    """(population, 95% interval, why there is none) of one entry of ``result.alternatives``:
    an entry carries ``error`` when its method failed, ``skipped`` when it was not run."""
    if not isinstance(value, Mapping):
        return None
    population = value.get("population")
    figure = float(population) if isinstance(population, (int, float)) else None
    if value.get("error"):
        note = words("appendix_error", error=value["error"])
    elif value.get("skipped"):
        note = words("appendix_skipped", reason=value["skipped"])
    else:
        note = ""
    return figure, _pair(value.get("interval_95")), note


def _methods_section(result: MSEResult, words: Words) -> list[str]:
    body = [f"<h2>{_e(words('methods_title'))}</h2>"]
    others = {name: value for name, value in result.alternatives.items() if name != result.method}
    if not others:
        body.append(f"<p>{_e(words('methods_missing'))}</p>")
        return body
    entries = [
        ForestEntry(
            words("methods_this_run", method=result.method),
            result.population,
            result.interval_95,
            result.interval_80,
            emphasis=True,
        )
    ]
    for name, value in others.items():
        parsed = _alternative(value, words)
        if parsed is None:
            continue
        population, interval, note = parsed
        eighty = _pair(value.get("interval_80")) if isinstance(value, Mapping) else None
        entries.append(ForestEntry(name, population, interval, eighty, note=note))
    body.append(f"<p>{_e(words('methods_text'))}</p>")
    body.append(
        _figure_html(
            forest_chart_svg(
                entries,
                title=words("methods_chart_title"),
                observed=result.observed,
                xlabel=words("chart_axis"),
                words=words.chart_words(),
            ),
            words("methods_caption"),
        )
    )
    return body


def _key_values(items: Mapping[str, Any], words: Words) -> str:
    rows = []
    for key, value in items.items():
        # Numbers align right and never wrap; text (a selection path) must wrap.
        css = "num" if _is_number(value) else ""
        rows.append([(_e(key), ""), (_e(_value_text(value, words, raw="seed" in key)), css)])
    return _table([(words("appendix_key"), False), (words("appendix_value"), False)], rows)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value_text(value: object, words: Words, *, raw: bool = False) -> str:
    """A setting or diagnostic in the report's language: ``1 850,7738`` in French, whole
    numbers without decimals, lists of numbers each formatted; seeds (``raw``) as typed."""
    if raw and _is_number(value):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        if abs(value) >= 1e6:
            return words.count(value)
        # Up to four decimals, trailing zeros dropped: 800, 1,0713, 1 856,5.
        return str(format_decimal(value, format="#,##0.####", locale=words.lang))
    if isinstance(value, int) and not isinstance(value, bool):
        return words.count(value)
    if isinstance(value, (list, tuple)):
        # A French decimal comma would make ", " ambiguous between numbers.
        separator = "\u202f; " if words.lang == "fr" else ", "
        return separator.join(_value_text(item, words, raw=raw) for item in value)
    return _described_value(value)


def _appendix(result: MSEResult, words: Words) -> list[str]:
    body = [
        f'<section class="appendix" id="appendix"><h2>{_e(words("appendix_title"))}</h2>',
        f'<p class="muted">{_e(words("appendix_intro"))}</p>',
    ]
    if result.method == "lcmcr":
        model = words("appendix_latent")
    else:
        model = " + ".join(result.model) or words("appendix_main_effects")
    facts = [
        (words("appendix_method"), f"{words.method(result.method)} ({result.method})"),
        (words("appendix_model"), model),
    ]
    if result.infinite_terms:
        facts.append((words("appendix_infinite"), ", ".join(result.infinite_terms)))
    if result.fit is not None or result.existence_code:
        existence = EXISTENCE_NAMES.get(result.existence_code)
        facts.append(
            (
                words("appendix_existence"),
                f"{result.existence_code} — "
                + (existence[words.lang] if existence else str(result.existence_code)),
            )
        )
    facts.append((words("appendix_seconds"), f"{words.number(result.seconds, 3)} s"))
    body.append(
        '<dl class="described">'
        + "".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in facts)
        + "</dl>"
    )

    body.append(f"<h3>{_e(words('appendix_intervals'))}</h3>")
    rows = []
    for name, levels in result.intervals.items():
        mark = " " + words("appendix_headline") if name == result.interval_method else ""
        rows.append(
            [
                (_e(name + mark), ""),
                (_e(words.interval(levels.get("95"))), "num"),
                (_e(words.interval(levels.get("80"))), "num"),
            ]
        )
    body.append(
        _table(
            [
                (words("appendix_interval"), False),
                (words.level(95), True),
                (words.level(80), True),
            ],
            rows,
        )
    )

    fit = result.fit
    if fit is not None:
        body.append(f"<h3>{_e(words('appendix_coefficients'))}</h3>")
        coefficient_rows = []
        for name, coefficient, se in fit.coefficient_table():
            if math.isinf(coefficient):
                cells = [(_e(name), ""), ("−∞", "num"), ("", "num"), ("", "num"), ("0", "num")]
            else:
                z = coefficient / se if se > 0 else math.nan
                cells = [
                    (_e(name), ""),
                    (_e(words.number(coefficient, 4)), "num"),
                    (_e(words.number(se, 4)), "num"),
                    (_e(words.number(z, 2)) if math.isfinite(z) else "", "num"),
                    (
                        # An odds ratio only means something for an interaction.
                        _e(words.number(math.exp(coefficient), 3)) if ":" in name else "",
                        "num",
                    ),
                ]
            coefficient_rows.append(cells)
        body.append(
            _table(
                [
                    (words("appendix_term"), False),
                    (words("appendix_coef"), True),
                    (words("appendix_se"), True),
                    ("z", True),
                    (words("appendix_odds"), True),
                ],
                coefficient_rows,
            )
        )
        body.append(f"<h3>{_e(words('appendix_fit'))}</h3>")
        fit_facts: dict[str, Any] = {
            words("appendix_deviance"): fit.deviance,
            words("appendix_df"): len(fit.cells) - len(fit.parameters),
            "AIC": fit.aic,
            "BIC": fit.bic,
        }
        body.append(_key_values(fit_facts, words))
    diagnostics = {
        key: value
        for key, value in result.diagnostics.items()
        if key not in ("deviance", "aic", "bic") or fit is None
    }
    if diagnostics:
        body.append(f"<h3>{_e(words('appendix_diagnostics'))}</h3>")
        body.append(_key_values(diagnostics, words))
    if result.alternatives:
        body.append(f"<h3>{_e(words('appendix_alternatives'))}</h3>")
        alternative_rows = []
        for name, value in result.alternatives.items():
            parsed = _alternative(value, words)
            if parsed is None:
                continue
            population, interval, note = parsed
            terms = value.get("model") if isinstance(value, Mapping) else None
            if note:
                described = note
            elif isinstance(terms, (list, tuple)):
                described = " + ".join(map(str, terms)) or words("appendix_main_effects")
            else:
                described = str(terms or "")
            alternative_rows.append(
                [
                    (_e(name), ""),
                    (_e(words.count(population)) if population is not None else "", "num"),
                    (_e(words.interval(interval)) if interval is not None else "", "num"),
                    (_e(described), ""),
                ]
            )
        body.append(
            _table(
                [
                    (words("appendix_method"), False),
                    (words("appendix_estimate"), True),
                    (words.level(95), True),
                    (words("appendix_model"), False),
                ],
                alternative_rows,
            )
        )
    if result.linkage:
        body.append(f"<h3>{_e(words('appendix_linkage'))}</h3>")
        body.append(_key_values(result.linkage, words))
    if result.settings:
        body.append(f"<h3>{_e(words('appendix_settings'))}</h3>")
        body.append(_key_values(result.settings, words))
    body.append("</section>")
    return body


# ---------------------------------------------------------------------- the report


def estimate_report_html(result: MSEResult, table: CaptureTable, lang: str = "en") -> str:
    """The HTML of :func:`write_estimate_report`."""
    words = Words(lang)
    body = [f"<h1>{_e(words('page_title'))}</h1>", _meta(result, table, words)]
    checks = _checks_html(result, words)
    if checks:
        body.append(checks)
    body.append(_headline(result, words))
    body += _figure_section(result, words)
    body += _dark_section(result, words)
    body += _counted_section(result, words)
    body.append(f"<h2>{_e(words('assumptions_title'))}</h2>")
    body.append(f"<p>{_e(words('assumptions_intro'))}</p>")
    body.append(_closed_assumption(result, words))
    body.append(_linkage_assumption(result, words))
    body.append(_dependence_assumption(result, words))
    body.append(_heterogeneity_assumption(result, words))
    body.append(f"<h2>{_e(words('overlap_title'))}</h2>")
    body.append(
        _figure_html(upset_chart_svg(table, words=words.chart_words()), words("overlap_caption"))
    )
    body += _methods_section(result, words)
    body += _appendix(result, words)
    return _page(words("page_title"), body, lang=lang, footer=words("footer"), css=_CSS)


def write_estimate_report(
    result: MSEResult,
    table: CaptureTable,
    path: str | os.PathLike[str],
    lang: str = "en",
) -> Path:
    """Write the single-estimate report as one self-contained HTML file (mode 0600).

    ``table`` is the table the estimate was made from (after any merges and omissions);
    ``lang`` is ``"en"`` or ``"fr"``.
    """
    return write_text_atomically(Path(path), estimate_report_html(result, table, lang))

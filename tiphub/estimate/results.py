"""The results object of an MSE estimate: numbers, model, diagnostics and a summary."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tiphub.estimate.advice import EstimateWarning
from tiphub.estimate.loglinear import EXISTENCE_MESSAGES, LoglinearFit
from tiphub.estimate.selection import Selection

IntervalPair = tuple[float | None, float | None]

METHOD_TITLES = {
    "main": "Main effects (independence between lists)",
    "stepwise": "Stepwise, Poisson p-values (SparseMSE)",
    "aic-stepwise": "AIC-stepwise with Wald threshold (Bales, Hesketh & Silverman)",
    "bic": "Smallest BIC over hierarchical models (Silverman, Chan & Vincent 2024)",
    "fixed": "Fixed model",
    "lcmcr": "Latent-class model LCMCR (Manrique-Vallier 2016)",
    "dga": "Bayesian average over decomposable graphical models, dga (Madigan & York 1997)",
    "bayesthresh": "Bayesian thresholding of list pairs (Silverman 2020)",
    "m0": "Rcapture M0: equal capture probabilities (closedp.t)",
    "mt": "Rcapture Mt: one capture probability per list (main effects)",
    "mh-chao": "Rcapture Mh Chao (LB): heterogeneity, Chao's lower bound (closedp.t)",
    "mh-poisson": "Rcapture Mh Poisson2: heterogeneity, Poisson2 (closedp.t)",
    "mh-darroch": "Rcapture Mh Darroch: heterogeneity, Darroch (closedp.t)",
    "mh-gamma": "Rcapture Mh Gamma3.5: heterogeneity, Gamma3.5 (closedp.t)",
    "mth-chao": "Rcapture Mth Chao (LB): lists and heterogeneity, Chao's lower bound",
    "mth-poisson": "Rcapture Mth Poisson2: lists and heterogeneity, Poisson2 (closedp.t)",
    "mth-darroch": "Rcapture Mth Darroch: lists and heterogeneity, Darroch (closedp.t)",
    "mth-gamma": "Rcapture Mth Gamma3.5: lists and heterogeneity, Gamma3.5 (closedp.t)",
    "closedpms": "Rcapture closedpMS.t: best hierarchical model by BIC or AIC",
}


def _rounded(value: float | None, digits: int = 1) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


@dataclass
class MSEResult:
    """Estimate, intervals, model and diagnostics of one Multiple Systems Estimation.

    ``intervals`` maps an interval method (``lognormal``, ``profile``, ``bca``, ``posterior``)
    to ``{"95": (low, high), "80": (low, high)}``; ``interval_95``/``interval_80`` are the
    headline ones, named by ``interval_method``. A high limit of ``None`` means unbounded
    within the search range (Rcapture prints it as "> 3N").
    """

    method: str
    lists: tuple[str, ...]
    observed: int
    population: float
    interval_method: str
    intervals: dict[str, dict[str, IntervalPair]]
    model: list[str] = field(default_factory=list)
    infinite_terms: list[str] = field(default_factory=list)
    existence_code: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    model_label: str = ""
    fit: LoglinearFit | None = field(default=None, repr=False)
    selection: Selection | None = field(default=None, repr=False)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    population_draws: Any = field(default=None, repr=False)
    stratum: str | None = None
    # Structured findings (code + plain words + next step); see tiphub.estimate.advice.
    checks: list[EstimateWarning] = field(default_factory=list)
    # The quick alternative methods fitted beside this one: name -> their to_dict() essentials.
    alternatives: dict[str, Any] = field(default_factory=dict)
    # Who the table counts: roles, organisations, period, strata (from the table's sidecar).
    population_described: dict[str, Any] = field(default_factory=dict)
    # How much of the interval comes from linkage error, when the table carries link data.
    linkage: dict[str, Any] = field(default_factory=dict)

    def warn(
        self,
        code: str,
        message: str = "",
        advice: str = "",
        *,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Add a coded warning; its text also joins ``warnings`` for callers reading strings.

        With ``values`` the words come from the code's templates in
        :mod:`tiphub.estimate.advice_texts` (so the report can show them in French too);
        without, ``message`` and ``advice`` are the warning's English words as given.
        """
        if values is not None:
            warning = EstimateWarning.from_values(code, values)
        else:
            warning = EstimateWarning(code, message, advice)
        self.checks.append(warning)
        self.warnings.append(str(warning))

    def coded_warnings(self) -> list[EstimateWarning]:
        """Every warning with a code: the coded ones, then plain strings as code ``note``."""
        coded = {str(warning) for warning in self.checks}
        notes = [EstimateWarning("note", text) for text in self.warnings if text not in coded]
        return [*self.checks, *notes]

    @property
    def dark_figure(self) -> float:
        return self.population - self.observed

    @property
    def interval_95(self) -> IntervalPair:
        return self.intervals[self.interval_method]["95"]

    @property
    def interval_80(self) -> IntervalPair:
        return self.intervals[self.interval_method]["80"]

    def interval(self, level: float = 0.95, method: str | None = None) -> IntervalPair:
        return self.intervals[method or self.interval_method][f"{round(level * 100)}"]

    # ------------------------------------------------------------------ output

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the contract keys first, then everything else."""
        data: dict[str, Any] = {
            "method": self.method,
            "observed": self.observed,
            "population": _rounded(self.population),
            "dark_figure": _rounded(self.dark_figure),
            "interval_95": [_rounded(v) for v in self.interval_95],
            "interval_80": [_rounded(v) for v in self.interval_80],
            "model": list(self.model),
            "infinite_terms": list(self.infinite_terms),
            "existence_code": self.existence_code,
            "seconds": round(self.seconds, 4),
            "interval_method": self.interval_method,
            "intervals": {
                name: {level: [_rounded(v) for v in pair] for level, pair in levels.items()}
                for name, levels in self.intervals.items()
            },
            "lists": list(self.lists),
            "model_hierarchy": self.model_label,
            # {code, message, advice} objects; plain-string warnings appear as code "note".
            "warnings": [warning.to_dict() for warning in self.coded_warnings()],
            "alternatives": {name: dict(entry) for name, entry in self.alternatives.items()},
            # From the table's sidecar (tiphub link): whom it counts; linkage error in the interval.
            "population_described": dict(self.population_described),
            "linkage": dict(self.linkage),
            "settings": dict(self.settings),
            "diagnostics": {
                key: (_rounded(value, 6) if isinstance(value, float) else value)
                for key, value in self.diagnostics.items()
            },
        }
        if self.stratum is not None:
            data["stratum"] = self.stratum
        return data

    def _population_lines(self, width: int) -> list[str]:
        """Whom the table counts and the linkage error, when its sidecar says."""
        from tiphub.estimate.sidecar import describe_linkage, describe_population

        lines: list[str] = []
        for label, text in (
            ("Counts:", describe_population(self.population_described)),
            ("Linkage:", describe_linkage(self.linkage)),
        ):
            if text:
                lines.extend(
                    textwrap.wrap(
                        text, width, initial_indent=f"{label:<22}", subsequent_indent=" " * 22
                    )
                )
        return lines

    def summary(self) -> str:
        """A plain-text summary in the spirit of statsmodels' ``summary()``."""

        def number(value: float | None) -> str:
            if value is None:
                return "unbounded"
            return f"{value:,.1f}"

        width = 78
        title = METHOD_TITLES.get(self.method, self.method)
        lines = [
            "=" * width,
            "Multiple Systems Estimation".center(width),
            "=" * width,
            f"{'Method:':<22}{title}",
            f"{'Lists:':<22}{', '.join(self.lists)} ({len(self.lists)})",
            f"{'Observed:':<22}{self.observed:,}",
            f"{'Population:':<22}{number(self.population)}",
            f"{'Dark figure:':<22}{number(self.dark_figure)}",
            f"{'95% interval:':<22}{number(self.interval_95[0])} – {number(self.interval_95[1])}"
            f"  ({self.interval_method})",
            f"{'80% interval:':<22}{number(self.interval_80[0])} – {number(self.interval_80[1])}",
            f"{'Model:':<22}{' + '.join(self.model) if self.model else 'main effects only'}",
        ]
        lines.extend(self._population_lines(width))
        # Warnings before the details: a reader who stops at the headline must see them.
        for warning in self.coded_warnings():
            lines.append("-" * width)
            lines.extend(textwrap.wrap(f"WARNING [{warning.code}]: {warning.message}", width))
            if warning.advice:
                lines.extend(
                    textwrap.wrap(
                        f"What to do: {warning.advice}",
                        width,
                        initial_indent="  ",
                        subsequent_indent="  ",
                    )
                )
        if self.alternatives:
            lines.append("-" * width)
            lines.append("Other methods on the same table (no bootstrap):")
            for name, entry in self.alternatives.items():
                if entry.get("population") is None:
                    reason = entry.get("skipped") or entry.get("error") or "no estimate"
                    lines.append(f"  {name + ':':<16}{reason}")
                    continue
                low, high = entry["interval_95"]
                lines.append(
                    f"  {name + ':':<16}{number(entry['population'])}"
                    f"  (95% {number(low)} – {number(high)})"
                )
        if self.infinite_terms:
            lines.append(f"{'Terms at −∞:':<22}{', '.join(self.infinite_terms)}")
        # The Bayesian methods fit no maximum-likelihood model, so the check says nothing.
        if self.existence_code or self.method not in ("lcmcr", "dga", "bayesthresh"):
            lines.append(
                f"{'Existence check:':<22}{self.existence_code} — {EXISTENCE_MESSAGES[self.existence_code]}"
            )
        lines.append(f"{'Time:':<22}{self.seconds:.3f} s")
        other = [name for name in self.intervals if name != self.interval_method]
        if other:
            lines.append("-" * width)
            for name in other:
                low95, high95 = self.intervals[name]["95"]
                lines.append(f"{name + ' 95%:':<22}{number(low95)} – {number(high95)}")
        if self.fit is not None:
            lines.append("-" * width)
            lines.append(f"{'term':<30}{'coef':>12}{'std err':>12}{'z':>10}")
            for name, coef, se in self.fit.coefficient_table():
                if math.isinf(coef):
                    lines.append(f"{name:<30}{'-inf':>12}{'':>12}{'':>10}")
                else:
                    z = coef / se if se > 0 else math.nan
                    lines.append(f"{name:<30}{coef:>12.4f}{se:>12.4f}{z:>10.2f}")
            lines.append(
                f"deviance {self.fit.deviance:.3f}   AIC {self.fit.aic:.2f}   BIC {self.fit.bic:.2f}"
            )
        if self.diagnostics:
            lines.append("-" * width)
            for key, value in self.diagnostics.items():
                shown = f"{value:.4g}" if isinstance(value, float) else str(value)
                lines.append(f"{key + ':':<30}{shown}")
        lines.append("=" * width)
        return "\n".join(lines)

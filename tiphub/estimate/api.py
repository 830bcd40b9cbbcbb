"""One entry point for every estimation method, returning :class:`MSEResult`."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tiphub.estimate.intervals import (
    BootstrapResult,
    KeepsEmptyLists,
    bootstrap,
    lognormal_interval,
    profile_interval,
)
from tiphub.estimate.limits import (
    MAX_BOOTSTRAP,
    MAX_CHAINS,
    MAX_SEED,
    TimeGuard,
    TooLongError,
    check_lcmcr_settings,
    check_work,
)
from tiphub.estimate.loglinear import EXISTENCE_MESSAGES, EstimationError, existence_code
from tiphub.estimate.results import MSEResult
from tiphub.estimate.selection import (
    Selection,
    aic_stepwise,
    bic_among,
    bic_search,
    default_top_models,
    fixed,
    main_effects,
    model_label,
    project_model,
    stepwise,
)
from tiphub.estimate.table import CaptureTable, ProgressCallback

if TYPE_CHECKING:
    from tiphub.estimate.linkage_error import LinkageError

# Rcapture's closedp.t models, each by its own name. ``mt`` is main effects fitted and
# profiled as Rcapture does it (``main`` is the same model, SparseMSE's way).
RCAPTURE_METHODS = (
    "m0",
    "mt",
    "mh-chao",
    "mh-poisson",
    "mh-darroch",
    "mh-gamma",
    "mth-chao",
    "mth-poisson",
    "mth-darroch",
    "mth-gamma",
)
METHODS = (
    "main",
    "stepwise",
    "aic-stepwise",
    "bic",
    "fixed",
    "lcmcr",
    *RCAPTURE_METHODS,
    "closedpms",
    "dga",
    "bayesthresh",
)
CRITERIA = ("bic", "aic")
DEFAULT_PTHRESH = {"stepwise": 0.02, "aic-stepwise": 0.05}


@dataclass(frozen=True)
class EstimateOptions:
    """Settings of a method; the same settings are reused inside the bootstrap."""

    method: str = "stepwise"
    pthresh: float | None = None
    max_order: int | None = None
    model: tuple[str, ...] = ()
    bootstrap: int = 0
    seed: int = 1234
    profile: bool = True
    lcmcr_classes: int = 5
    lcmcr_burnin: int = 100_000
    lcmcr_samples: int = 1_000
    lcmcr_thinning: int = 100
    criterion: str = "bic"
    lcmcr_chains: int = 4
    # dga: top of the population grid (None: 11 × observed) and the prior weight δ of each
    # cell (None: 2^−lists), as R dga's Nmissing and delta.
    grid_max: float | None = None
    delta: float | None = None

    def threshold(self) -> float:
        if self.pthresh is not None:
            return self.pthresh
        return DEFAULT_PTHRESH.get(self.method, 0.02)


def select_model(table: CaptureTable, options: EstimateOptions) -> Selection:
    method = options.method
    if method == "main":
        return main_effects(table)
    if method == "stepwise":
        return stepwise(table, options.threshold())
    if method == "aic-stepwise":
        return aic_stepwise(table, options.threshold())
    if method == "bic":
        return bic_search(table, options.max_order)
    if method == "fixed":
        return fixed(table, [table.term_mask(term) for term in options.model])
    raise EstimationError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def point_estimate(table: CaptureTable, options: EstimateOptions) -> float:
    """The population estimate alone, as the bootstrap needs it."""
    if options.method in RCAPTURE_METHODS or options.method == "closedpms":
        from tiphub.estimate.rcapture import rcapture_point_estimate

        return rcapture_point_estimate(table, options)
    selection = select_model(table, options)
    if options.method == "aic-stepwise":
        maximum, _ = profile_interval(selection.fit, levels=())
        return maximum
    return selection.fit.population


def estimate(
    table: CaptureTable,
    method: str = "stepwise",
    *,
    pthresh: float | None = None,
    max_order: int | None = None,
    model: Sequence[str] = (),
    bootstrap_replicates: int = 0,
    seed: int = 1234,
    profile: bool = True,
    lcmcr_classes: int = 5,
    lcmcr_burnin: int = 100_000,
    lcmcr_samples: int = 1_000,
    lcmcr_thinning: int = 100,
    criterion: str = "bic",
    lcmcr_chains: int = 4,
    grid_max: float | None = None,
    delta: float | None = None,
    progress: ProgressCallback | None = None,
    time_limit: float | None = None,
    alternatives: bool = True,
    linkage: LinkageError | None = None,
) -> MSEResult:
    """Estimate the population behind a capture-history table.

    ``method`` is one of :data:`METHODS`. ``bootstrap_replicates`` > 0 adds the BCa
    interval (model selection repeated in every replicate) and makes it the headline one.
    With ``time_limit`` (seconds), runs that would take longer are refused with
    :class:`~tiphub.estimate.limits.TooLongError`, beforehand where the number of lists
    or LCMCR's settings show it, else as soon as the bootstrap's pace does.

    Every result carries coded warnings (:mod:`tiphub.estimate.checks`). With
    ``alternatives`` (the default) the quick methods (main, stepwise, aic-stepwise, bic) are
    also fitted without bootstrap into ``result.alternatives``, and a ``methods-disagree``
    warning says when their intervals do not overlap. Callers that estimate in a loop
    (robustness, strata, simulations) pass ``alternatives=False``.

    With ``linkage`` (the uncertain links of the table's sidecar) the bootstrap is run a
    second time with the links redrawn in every replicate; see
    :func:`tiphub.estimate.linkage_error.add_linkage_error`.
    """
    if method not in METHODS:
        raise EstimationError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    check_settings(
        table,
        method,
        pthresh=pthresh,
        max_order=max_order,
        bootstrap=bootstrap_replicates,
        seed=seed,
        lcmcr_classes=lcmcr_classes,
        lcmcr_burnin=lcmcr_burnin,
        lcmcr_samples=lcmcr_samples,
        lcmcr_thinning=lcmcr_thinning,
        criterion=criterion,
        lcmcr_chains=lcmcr_chains,
    )
    options = EstimateOptions(
        method=method,
        pthresh=pthresh,
        max_order=max_order,
        model=tuple(model),
        bootstrap=bootstrap_replicates,
        seed=seed,
        profile=profile,
        lcmcr_classes=lcmcr_classes,
        lcmcr_burnin=lcmcr_burnin,
        lcmcr_samples=lcmcr_samples,
        lcmcr_thinning=lcmcr_thinning,
        criterion=criterion,
        lcmcr_chains=lcmcr_chains,
        grid_max=grid_max,
        delta=delta,
    )
    table.validate()
    if time_limit is not None:
        check_work(
            table,
            method,
            # Linkage error runs the bootstrap twice: without and with the links redrawn.
            bootstrap=bootstrap_replicates * (2 if linkage is not None else 1),
            time_limit=time_limit,
            lcmcr_classes=lcmcr_classes,
            # The chains run side by side, one per CPU (see lcmcr_chains).
            lcmcr_sweeps=(lcmcr_burnin + lcmcr_samples * lcmcr_thinning)
            * -(-lcmcr_chains // (os.cpu_count() or 1)),
            model_terms=len(set(model)),
        )
        if bootstrap_replicates:
            progress = TimeGuard(time_limit, f"the {method} bootstrap", progress)
    started = time.perf_counter()
    if method == "lcmcr":
        result = _estimate_lcmcr(table, options)
    elif method in RCAPTURE_METHODS:
        from tiphub.estimate.rcapture import estimate_closedp

        result = estimate_closedp(table, options)
    elif method == "closedpms":
        from tiphub.estimate.rcapture import estimate_closedpms

        result = estimate_closedpms(table, options)
    elif method == "dga":
        from tiphub.estimate.dga import estimate_dga

        result = estimate_dga(table, options)
    elif method == "bayesthresh":
        from tiphub.estimate.bayesthresh import estimate_bayesthresh

        result = estimate_bayesthresh(table, options)
    else:
        result = _estimate_loglinear(table, options, _first_of_two(progress, linkage))
    if linkage is not None:
        _add_linkage_error(result, table, options, linkage, progress)
    result.seconds = time.perf_counter() - started
    from tiphub.estimate.checks import run_checks

    run_checks(result, table, options, alternatives=alternatives)
    return result


def check_settings(
    table: CaptureTable,
    method: str,
    *,
    pthresh: float | None = None,
    max_order: int | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    lcmcr_classes: int = 5,
    lcmcr_burnin: int = 0,
    lcmcr_samples: int = 1,
    lcmcr_thinning: int = 1,
    criterion: str = "bic",
    lcmcr_chains: int = 1,
) -> None:
    """Refuse settings outside their range with :class:`EstimationError` naming the option."""
    if criterion not in CRITERIA:
        raise EstimationError(f"--criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    if pthresh is not None and not 0 <= pthresh <= 1:  # NaN fails too
        raise EstimationError(f"--pthresh must be between 0 and 1, got {pthresh}")
    if method in ("bic", "closedpms") and max_order is not None and not 1 <= max_order < table.n_lists:
        raise EstimationError(
            f"--max-order must be between 1 and {table.n_lists - 1} for {table.n_lists} lists "
            f"(the term of all lists cannot be estimated), got {max_order}"
        )
    if not 0 <= bootstrap <= MAX_BOOTSTRAP:
        raise EstimationError(
            f"--bootstrap must be between 0 and {MAX_BOOTSTRAP:,}, got {bootstrap}"
        )
    if not 0 <= seed <= MAX_SEED:
        raise EstimationError(f"--seed must be between 0 and {MAX_SEED:,}, got {seed}")
    if method == "lcmcr":
        check_lcmcr_settings(lcmcr_classes, lcmcr_burnin, lcmcr_samples, lcmcr_thinning)
        if not 1 <= lcmcr_chains <= MAX_CHAINS:
            raise EstimationError(
                f"--chains must be between 1 and {MAX_CHAINS}, got {lcmcr_chains}"
            )


def _settings(options: EstimateOptions) -> dict[str, Any]:
    settings: dict[str, Any] = {"seed": options.seed}
    if options.method in DEFAULT_PTHRESH:
        settings["pthresh"] = options.threshold()
    if options.method == "bic":
        settings["max_order"] = options.max_order
    if options.method == "fixed":
        settings["model"] = list(options.model)
    if options.bootstrap:
        settings["bootstrap"] = options.bootstrap
    return settings


def _estimate_loglinear(
    table: CaptureTable, options: EstimateOptions, progress: ProgressCallback | None
) -> MSEResult:
    selection = select_model(table, options)
    fit = selection.fit
    final_code = existence_code(table.counts, table.n_lists, [*fit.terms, *fit.infinite_terms])
    if final_code:
        from tiphub.estimate.checks import boundary_refusal

        raise EstimationError(
            boundary_refusal(table, [*fit.terms, *fit.infinite_terms], final_code)
        )
    if not math.isfinite(fit.intercept) or fit.intercept > 50:
        # e.g. two lists that share no one: the data put no upper bound on the population.
        from tiphub.estimate.checks import unbounded_refusal

        raise EstimationError(unbounded_refusal(table))
    warnings: list[str] = []
    intervals: dict[str, dict[str, tuple[float | None, float | None]]] = {}
    lognormal = {f"{round(level * 100)}": lognormal_interval(fit, level) for level in (0.95, 0.8)}
    intervals["lognormal"] = {key: (low, high) for key, (low, high) in lognormal.items()}
    population = fit.population
    headline = "lognormal"
    if options.profile or options.method == "aic-stepwise":
        maximum, profile = profile_interval(fit)
        # An unbounded upper limit is warned of by tiphub.estimate.checks (profile-unbounded).
        intervals["profile"] = {f"{round(level * 100)}": pair for level, pair in profile.items()}
        if options.method == "aic-stepwise":
            # modslavmse reports Rcapture's profile-likelihood maximiser, not exp(intercept).
            population = maximum
            headline = "profile"
    diagnostics: dict[str, Any] = {
        "deviance": fit.deviance,
        "aic": fit.aic,
        "bic": fit.bic,
        "converged": fit.converged,
    }
    if selection.models_considered:
        diagnostics["models_considered"] = selection.models_considered
        diagnostics["models_admissible"] = selection.models_admissible
        if len(selection.ranking) > 1:
            diagnostics["bic_runner_up"] = selection.ranking[1][0]
            diagnostics["bic_gap_to_runner_up"] = selection.ranking[1][1] - selection.ranking[0][1]
    if selection.steps:
        diagnostics["selection_path"] = " → ".join(
            f"{step.added} (p={step.criterion:.3g}{', ' + step.note if step.note else ''})"
            for step in selection.steps
        )
    draws = None
    if options.bootstrap:
        estimator = _bootstrap_estimator(table, options, selection)
        if options.method == "bic":
            diagnostics["bootstrap_models"] = len(selection.ranked_models[: _top_models(table)])
        boot = bootstrap(
            table,
            estimator,
            replicates=options.bootstrap,
            seed=options.seed,
            estimate=population,
            progress=progress,
        )
        intervals["bca"] = {f"{round(level * 100)}": boot.interval(level) for level in (0.95, 0.8)}
        headline = "bca"
        diagnostics.update(_bootstrap_diagnostics(boot))
        if boot.failed:
            warnings.append(
                f"{boot.failed} of {options.bootstrap} bootstrap replicates gave no estimate "
                "and were left out"
            )
        draws = boot.replicates[np.isfinite(boot.replicates)]
    # −∞ terms, non-convergence and very large estimates are warned of, with advice, by
    # tiphub.estimate.checks, which runs after every method.
    return MSEResult(
        method=options.method,
        lists=table.lists,
        observed=table.observed,
        population=population,
        interval_method=headline,
        intervals=intervals,
        model=fit.term_names(),
        infinite_terms=fit.infinite_term_names(),
        existence_code=final_code,
        warnings=warnings,
        settings=_settings(options),
        model_label=model_label(table, [*fit.terms, *fit.infinite_terms]),
        fit=fit,
        selection=selection,
        diagnostics=diagnostics,
        population_draws=draws,
    )


def _first_of_two(
    progress: ProgressCallback | None, linkage: LinkageError | None
) -> ProgressCallback | None:
    """With linkage error the bootstrap runs twice; the first run is the first half."""
    if progress is None or linkage is None:
        return progress
    inner = progress
    return lambda done, total: inner(done, 2 * total)


def _add_linkage_error(
    result: MSEResult,
    table: CaptureTable,
    options: EstimateOptions,
    linkage: LinkageError,
    progress: ProgressCallback | None,
) -> None:
    from tiphub.estimate.linkage_error import add_linkage_error

    bootstrapped = result.selection is not None and "bca" in result.intervals
    add_linkage_error(
        result,
        table,
        linkage,
        _bootstrap_estimator(table, options, result.selection)
        if result.selection is not None
        else None,
        replicates=options.bootstrap if bootstrapped else 0,
        seed=options.seed,
        progress=progress,
    )


def _top_models(table: CaptureTable) -> int | None:
    return default_top_models(table.n_lists)


def _bootstrap_estimator(
    table: CaptureTable, options: EstimateOptions, selection: Selection
) -> Callable[[CaptureTable], float]:
    """The estimator each replicate reruns, model selection included.

    For BIC, as in MultipleSystemsEstimation, replicates choose among the original data's
    best-ranked models only; an exhaustive search per replicate would be needlessly slow.
    """
    if options.method == "stepwise":
        # As SparseMSE: a replicate with an emptied list stays at main effects.
        return KeepsEmptyLists(lambda resampled: point_estimate(resampled, options))
    if options.method != "bic":
        return lambda resampled: point_estimate(resampled, options)
    candidates = selection.ranked_models[: _top_models(table)]

    def estimator(resampled: CaptureTable) -> float:
        dropped = [i for i, name in enumerate(table.lists) if name not in resampled.lists]
        if not dropped:
            return bic_among(resampled, candidates)
        # MultipleSystemsEstimation keeps a list the replicate emptied: its main effect and
        # every term on it sit at −∞ (the fit is the projected model's) yet still count in
        # the BIC penalty, which can change which candidate wins.
        boundary = [
            len(dropped) + sum(any(term >> i & 1 for i in dropped) for term in model)
            for model in candidates
        ]
        return bic_among(resampled, [project_model(m, dropped) for m in candidates], boundary)

    return estimator


def _bootstrap_diagnostics(boot: BootstrapResult) -> dict[str, Any]:
    finite = boot.replicates[np.isfinite(boot.replicates)]
    return {
        "bootstrap_replicates": int(finite.size),
        "bootstrap_median": float(np.median(finite)) if finite.size else math.nan,
        "bca_acceleration": boot.acceleration,
        "bca_bias_z0": boot.bias_z0,
    }


def _estimate_lcmcr(table: CaptureTable, options: EstimateOptions) -> MSEResult:
    from tiphub.estimate.lcmcr import RHAT_LIMIT, RHAT_ROUGH, chain_seeds, lcmcr_chains

    run = lcmcr_chains(
        table.histories(),
        table.counts[table.observed_cells()],
        chains=options.lcmcr_chains,
        K=options.lcmcr_classes,
        burnin=options.lcmcr_burnin,
        samples=options.lcmcr_samples,
        thinning=options.lcmcr_thinning,
        seed=options.seed,
    )
    intervals = {"posterior": {"95": run.interval(0.95), "80": run.interval(0.8)}}
    diagnostics: dict[str, Any] = run.diagnostics()
    diagnostics["posterior_mean"] = float(np.mean(run.population_draws))
    result = MSEResult(
        method="lcmcr",
        lists=table.lists,
        observed=table.observed,
        population=run.median(),
        interval_method="posterior",
        intervals={
            k: {lv: (float(a), float(b)) for lv, (a, b) in v.items()} for k, v in intervals.items()
        },
        existence_code=0,
        settings={
            "seed": options.seed,
            "classes": options.lcmcr_classes,
            "burnin": options.lcmcr_burnin,
            "samples": options.lcmcr_samples,
            "thinning": options.lcmcr_thinning,
            "chains": options.lcmcr_chains,
            "chain_seeds": chain_seeds(options.seed, options.lcmcr_chains),
        },
        diagnostics=diagnostics,
        population_draws=run.population_draws.astype(float),
    )
    several = len(run.chains) > 1
    medians = [float(median) for median in run.chain_medians()]
    if several and not run.agree():
        result.warn(
            "lcmcr-chains-disagree",
            values={
                "chains": len(run.chains),
                "medians": medians,
                "rhat": float(run.split_rhat()),
                "limit": RHAT_LIMIT,
                "population": float(result.population),
            },
        )
    elif several and run.split_rhat() > RHAT_ROUGH:
        result.warn(
            "lcmcr-chains-rough",
            values={
                "chains": len(run.chains),
                "medians": medians,
                "rhat": float(run.split_rhat()),
                "mcse": float(run.mcse_median()),
            },
        )
    geweke = float(diagnostics["geweke_z"])
    drifting = math.isfinite(geweke) and abs(geweke) > float(diagnostics["geweke_limit"])
    if not several and not run.agree():
        # One chain's split-R̂ compares its two halves: a chain that moved between regions.
        drifting = True
    if drifting and (run.agree() or not several):
        result.warn(
            "lcmcr-not-settled",
            values={
                "which": "several" if several else "one",
                "geweke": geweke,
                "rhat": float(run.split_rhat()),
            },
        )
    return result


def check_model(table: CaptureTable, terms: Sequence[str]) -> tuple[int, str]:
    """SparseMSE's ``checkident`` for a model named by its interaction terms."""
    code = existence_code(table.counts, table.n_lists, [table.term_mask(t) for t in terms])
    return code, EXISTENCE_MESSAGES[code]


def apply_list_changes(
    table: CaptureTable, merges: Sequence[str] = (), omits: Sequence[str] = ()
) -> CaptureTable:
    """Apply ``--merge A+B`` and ``--omit C`` in the order given (merges first)."""
    for merge in merges:
        parts = [part.strip() for part in merge.split("+") if part.strip()]
        table = table.merge(parts)
    for name in omits:
        table = table.omit(name)
    table.validate()
    return table


# ---------------------------------------------------------------------- strata


@dataclass
class StratifiedResult:
    """Separate estimates per stratum and their sum with a bootstrap interval."""

    strata: dict[str, MSEResult]
    population: float
    interval_95: tuple[float, float]
    interval_80: tuple[float, float]
    replicates: int
    seed: int
    seconds: float
    failed_strata: dict[str, str] = field(default_factory=dict)
    # Whom the table counts, from its sidecar (tiphub link); {} when it has none.
    population_described: dict[str, Any] = field(default_factory=dict)
    linkage: dict[str, Any] = field(default_factory=dict)

    @property
    def observed(self) -> int:
        return sum(result.observed for result in self.strata.values())

    def to_dict(self) -> dict[str, Any]:
        first = next(iter(self.strata.values()), None)
        return {
            "method": first.method if first else None,
            "observed": self.observed,
            "population": round(self.population, 1),
            "dark_figure": round(self.population - self.observed, 1),
            "interval_95": [round(v, 1) for v in self.interval_95],
            "interval_80": [round(v, 1) for v in self.interval_80],
            "interval_method": "percentile bootstrap of the summed strata",
            "model": None,
            "infinite_terms": sorted({t for r in self.strata.values() for t in r.infinite_terms}),
            "existence_code": max((r.existence_code for r in self.strata.values()), default=0),
            "seconds": round(self.seconds, 4),
            "bootstrap": self.replicates,
            "seed": self.seed,
            "strata": {name: result.to_dict() for name, result in self.strata.items()},
            "failed_strata": dict(self.failed_strata),
            "population_described": dict(self.population_described),
            "linkage": dict(self.linkage),
        }

    def summary(self) -> str:
        lines = [f"{'stratum':<24}{'observed':>10}{'estimate':>12}{'95% interval':>28}  model"]
        for name, result in self.strata.items():
            low, high = result.interval_95
            shown_high = f"{high:,.0f}" if high is not None else "unbounded"
            shown_low = f"{low:,.0f}" if low is not None else "?"
            lines.append(
                f"{name:<24}{result.observed:>10,}{result.population:>12,.0f}"
                f"{shown_low + ' – ' + shown_high:>28}  {' + '.join(result.model) or 'main'}"
            )
        for name, reason in self.failed_strata.items():
            lines.append(f"{name:<24}  no estimate: {reason}")
        lines.append(
            f"{'total':<24}{self.observed:>10,}{self.population:>12,.0f}"
            f"{f'{self.interval_95[0]:,.0f} – {self.interval_95[1]:,.0f}':>28}"
            f"  (bootstrap, {self.replicates} replicates)"
        )
        for name, stratum_result in self.strata.items():
            for warning in stratum_result.coded_warnings():
                lines.append(f"WARNING [{warning.code}] in {name}: {warning}")
        from tiphub.estimate.sidecar import describe_linkage, describe_population

        for label, text in (
            ("Counts", describe_population(self.population_described)),
            ("Linkage", describe_linkage(self.linkage)),
        ):
            if text:
                lines.append(f"{label}: {text}")
        return "\n".join(lines)


def estimate_strata(
    tables: Mapping[str, CaptureTable],
    method: str = "stepwise",
    *,
    replicates: int = 200,
    seed: int = 1234,
    progress: ProgressCallback | None = None,
    time_limit: float | None = None,
    **kwargs: Any,
) -> StratifiedResult:
    """Fit each stratum separately and sum, with a percentile bootstrap of the sum.

    Each replicate resamples every stratum (multinomially, keeping its size) and repeats the
    model selection there, so the interval carries the selection uncertainty of each part.
    Lists nobody is on within a stratum are dropped for that stratum. ``progress`` counts
    the strata fitted, then the replicates; ``time_limit`` as for :func:`estimate`.
    """
    if method == "lcmcr":
        raise EstimationError(
            "stratified estimation supports the log-linear methods only; use --method "
            "stepwise (or main, aic-stepwise, bic), or run --method lcmcr on each stratum's file"
        )
    if not 1 <= replicates <= MAX_BOOTSTRAP:
        raise EstimationError(
            f"the strata need between 1 and {MAX_BOOTSTRAP:,} bootstrap replicates, got {replicates}"
        )
    if time_limit is not None:
        for table in tables.values():
            # Every replicate refits every stratum: the bootstrap limits apply.
            check_work(
                table,
                method,
                bootstrap=replicates,
                time_limit=time_limit,
                model_terms=len(set(kwargs.get("model", ()))),
            )
        progress = TimeGuard(time_limit, "estimating and bootstrapping the strata", progress)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    results: dict[str, MSEResult] = {}
    failed: dict[str, str] = {}
    usable: dict[str, CaptureTable] = {}
    steps = len(tables) + replicates
    for done, (name, table) in enumerate(tables.items(), start=1):
        reduced, dropped = table.without_empty_lists()
        try:
            result = estimate(
                reduced, method, seed=seed, time_limit=time_limit, alternatives=False, **kwargs
            )
        except TooLongError:
            raise
        except (EstimationError, ValueError, ArithmeticError) as error:
            failed[name] = str(error)
            continue
        finally:
            if progress is not None:
                progress(done, steps)
        if dropped:
            result.warn("lists-left-out", values={"dropped": list(dropped)})
        result.stratum = name
        results[name] = result
        usable[name] = reduced
    if not results:
        raise EstimationError(
            "no stratum could be estimated: " + "; ".join(f"{k}: {v}" for k, v in failed.items())
        )
    options = EstimateOptions(
        method=method,
        pthresh=kwargs.get("pthresh"),
        max_order=kwargs.get("max_order"),
        model=tuple(kwargs.get("model", ())),
        profile=False,
    )
    totals = np.zeros(replicates)
    for index in range(replicates):
        total = 0.0
        for table in usable.values():
            cells = table.observed_cells()
            weights = table.counts[cells]
            draw = rng.multinomial(int(weights.sum()), weights / weights.sum())
            counts = np.zeros_like(table.counts)
            counts[cells] = draw
            reduced, _ = table.with_counts(counts).without_empty_lists()
            try:
                total += point_estimate(reduced, options) if reduced.n_lists >= 2 else math.nan
            except (ValueError, ArithmeticError, np.linalg.LinAlgError):
                total = math.nan
        totals[index] = total
        if progress is not None:
            progress(len(tables) + index + 1, steps)
    finite = totals[np.isfinite(totals)]
    if finite.size == 0:
        raise EstimationError(
            "every bootstrap replicate of the strata failed: the strata are too small or their "
            "lists overlap too little; merge strata (a coarser --strata column) or merge or "
            "omit lists that share almost no one (--merge A+B, --omit C)"
        )
    q = np.quantile(finite, [0.025, 0.975, 0.1, 0.9], method="median_unbiased")
    return StratifiedResult(
        strata=results,
        population=sum(result.population for result in results.values()),
        interval_95=(float(q[0]), float(q[1])),
        interval_80=(float(q[2]), float(q[3])),
        replicates=int(finite.size),
        seed=seed,
        seconds=time.perf_counter() - started,
        failed_strata=failed,
    )

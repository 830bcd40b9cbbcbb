"""Model selection for log-linear MSE, as the reference R packages do it.

* :func:`stepwise` — SparseMSE's ``stepwisefit`` (Chan, Silverman & Vincent 2021): from main
  effects, add the pair with the smallest Poisson-tail p-value while it is below ``pthresh``
  and the enlarged model passes the existence/identifiability check.
* :func:`aic_stepwise` — modslavmse's ``MSEfit`` (Bales, Hesketh & Silverman 2015): add the
  pair that lowers AIC most, keep it only if its Wald p-value is below ``pthresh``.
* :func:`bic_search` — MultipleSystemsEstimation's BIC method (Silverman, Chan & Vincent 2024):
  every admissible hierarchical model up to a maximum order, ranked by BIC.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import poisson

from tiphub.estimate.loglinear import (
    EstimationError,
    LoglinearFit,
    ModelLayout,
    existence_code,
    fit_loglinear,
    main_terms,
    pair_order_key,
    sufficient_statistics,
)
from tiphub.estimate.table import CaptureTable, ProgressCallback


def all_pairs(n_lists: int) -> list[int]:
    """Pairs in SparseMSE's order: (1,2), (1,3), …, (1,t), (2,3), …"""
    return [(1 << i) | (1 << j) for i in range(n_lists) for j in range(i + 1, n_lists)]


def full_pairwise(n_lists: int) -> list[int]:
    """All pairs in R's ``expand.grid`` order, as SparseMSE lists the full model."""
    return sorted(all_pairs(n_lists), key=pair_order_key)


@dataclass
class SelectionStep:
    added: str
    criterion: float
    note: str = ""


@dataclass
class Selection:
    """The chosen model with how it was reached."""

    fit: LoglinearFit
    steps: list[SelectionStep] = field(default_factory=list)
    ranking: list[tuple[str, float, float | None]] = field(default_factory=list)
    ranked_models: list[tuple[int, ...]] = field(default_factory=list)
    models_considered: int = 0
    models_admissible: int = 0
    # BIC of each of ``ranked_models``, in the same order (the BIC search only): the model
    # average of tiphub.estimate.recommend weights every admissible model by it.
    ranked_bics: list[float] = field(default_factory=list)


# ---------------------------------------------------------------------- SparseMSE stepwise


def stepwise(table: CaptureTable, pthresh: float = 0.02) -> Selection:
    n_lists = table.n_lists
    if pthresh == 1:
        full = full_pairwise(n_lists)
        if existence_code(table.counts, n_lists, full) == 0:
            return Selection(
                fit_loglinear(table, full, check=False), [SelectionStep("all pairs", 1.0)]
            )
    if pthresh == 0:
        return Selection(fit_loglinear(table, (), check=False))
    pairs = all_pairs(n_lists)
    observed = {pair: table.overlap_mask(pair) for pair in pairs}
    included: list[int] = []
    fit = fit_loglinear(table, (), check=False)
    steps: list[SelectionStep] = []
    for _ in pairs:
        open_pairs = [(order, pair) for order, pair in enumerate(pairs) if pair not in included]
        if not open_pairs:
            break
        counts = np.array([observed[pair] for _, pair in open_pairs])
        expected = np.array([fit.expected(pair) for _, pair in open_pairs])
        # One vectorised call: scipy's per-call overhead would dominate a stepwise fit.
        pvalues = np.minimum(poisson.cdf(counts, expected), poisson.sf(counts - 1, expected))
        candidates = [
            (float(p), order, pair) for p, (order, pair) in zip(pvalues, open_pairs, strict=True)
        ]
        # The smallest p-value among models that pass the check wins, first pair on ties;
        # checking in that order finds it without checking every candidate.
        candidates.sort()
        chosen = None
        for pvalue, _, pair in candidates:
            if pvalue >= pthresh:
                break
            if existence_code(table.counts, n_lists, [*included, pair]) == 0:
                chosen = (pvalue, pair)
                break
        if chosen is None:
            break
        included.append(chosen[1])
        fit = fit_loglinear(table, included, check=False)
        steps.append(SelectionStep(table.term_name(chosen[1]), chosen[0]))
    return Selection(fit, steps)


# ---------------------------------------------------------------------- modslavmse AIC


def aic_stepwise(table: CaptureTable, pthresh: float = 0.05) -> Selection:
    """Bales–Hesketh–Silverman: AIC picks the pair, a Wald test decides whether it stays.

    As in modslavmse, every candidate is fitted by R's ``glm`` iteration on all observable
    cells (Rcapture's ``closedpCI.t``); a pair nobody shares gets the limit of that fit.
    """
    n_lists = table.n_lists
    pairs = all_pairs(n_lists)
    included: list[int] = []
    fit = fit_loglinear(table, (), check=False, r_like=True)
    aic_current = fit.aic
    steps: list[SelectionStep] = []
    for _ in pairs:
        best: tuple[float, int, int, LoglinearFit] | None = None
        for order, pair in enumerate(pairs):
            if pair in included:
                continue
            candidate = fit_loglinear(table, [*included, pair], check=False, r_like=True)
            key = (candidate.aic, order)
            if best is None or key < (best[0], best[1]):
                best = (candidate.aic, order, pair, candidate)
        if best is None or best[0] >= aic_current:
            break
        aic_value, _, pair, candidate = best
        pvalue = candidate.wald_pvalue(pair)
        if pvalue > pthresh:
            steps.append(SelectionStep(table.term_name(pair), pvalue, "rejected by the Wald test"))
            break
        included.append(pair)
        fit = candidate
        aic_current = aic_value
        steps.append(SelectionStep(table.term_name(pair), pvalue))
    return Selection(fit, steps)


# ---------------------------------------------------------------------- BIC over all models


def default_max_order(n_lists: int) -> int:
    """MultipleSystemsEstimation's defaults: 1, 2, 3, 3, 2 for 2–6 lists."""
    return {2: 1, 3: 2, 4: 3, 5: 3, 6: 2}.get(n_lists, 2)


def hierarchical_models(n_lists: int, max_order: int) -> Iterator[tuple[int, ...]]:
    """Every hierarchical model with all main effects and interactions of order ≤ max_order.

    Built order by order: a term of order k may join only if all its (k−1)-subsets are in.
    The saturated term is never included (it cannot be identified).
    """
    max_order = min(max_order, n_lists - 1)

    def extend(chosen: tuple[int, ...], order: int) -> Iterator[tuple[int, ...]]:
        if order > max_order:
            yield chosen
            return
        lower = set(chosen) | set(main_terms(n_lists))
        eligible = [
            mask
            for mask in _masks_of_order(n_lists, order)
            if all((mask & ~(1 << i)) in lower for i in range(n_lists) if mask >> i & 1)
        ]
        if not eligible:
            yield chosen
            return
        for size in range(len(eligible) + 1):
            for subset in itertools.combinations(eligible, size):
                yield from extend(chosen + subset, order + 1)

    yield from extend((), 2)


def _masks_of_order(n_lists: int, order: int) -> list[int]:
    return [sum(1 << i for i in combo) for combo in itertools.combinations(range(n_lists), order)]


def bic_search(
    table: CaptureTable,
    max_order: int | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Selection:
    """Fit every admissible hierarchical model and keep the one with the smallest BIC."""
    n_lists = table.n_lists
    order = default_max_order(n_lists) if max_order is None else max_order
    if order < 1:
        raise EstimationError("--max-order must be at least 1")
    pairs = n_lists * (n_lists - 1) // 2
    if (order >= 2 and pairs > 15) or (order >= 3 and n_lists > 5):
        # 7 lists at order 2 already give 2^21 models; 6 lists at order 3 about 3.7 million.
        raise EstimationError(
            f"BIC over every hierarchical model is limited to 6 lists at order 2 and 5 lists at "
            f"order 3 ({n_lists} lists at order {order} is too many models); merge or omit lists, "
            "or use --method stepwise"
        )
    models = list(hierarchical_models(n_lists, order))
    results = batch_fit(table, models, progress=progress)
    admissible = [(bic, population, model) for model, bic, population in results if bic is not None]
    if not admissible:
        from tiphub.estimate.checks import overlap_cause

        cause, step = overlap_cause(table)
        raise EstimationError(
            "no hierarchical model can be estimated from this table (none passes the "
            f"existence and identifiability checks): {cause}. Next step: {step}"
        )
    admissible.sort(key=lambda row: row[0])
    best_model = admissible[0][2]
    fit = fit_loglinear(table, best_model, check=False)
    # Labels for the leading models only: naming tens of thousands would cost seconds.
    ranking = [
        (model_label(table, model), bic, population)
        for bic, population, model in admissible[:RANKING_LABELS]
    ]
    ranked = [model for _, _, model in admissible]
    ranked_bics = [bic for bic, _, _ in admissible]
    return Selection(fit, [], ranking, ranked, len(models), len(admissible), ranked_bics=ranked_bics)


RANKING_LABELS = 200


def default_top_models(n_lists: int) -> int | None:
    """How many best-BIC models the bootstrap keeps (MultipleSystemsEstimation's defaults)."""
    return {2: None, 3: None, 4: 20}.get(n_lists, 100)


def bic_among(
    table: CaptureTable,
    models: Sequence[Sequence[int]],
    boundary_parameters: Sequence[int] | None = None,
) -> float:
    """Population estimate of the smallest-BIC admissible model among ``models``.

    ``boundary_parameters[i]``, when given, adds that many parameters to model ``i``'s BIC
    penalty: terms fixed at −∞ outside ``table`` (on lists a bootstrap replicate emptied),
    which MultipleSystemsEstimation still counts. Ties go to the earlier model, as in R.
    """
    unique = list(dict.fromkeys(tuple(model) for model in models))
    fitted = {row[0]: row for row in batch_fit(table, unique) if row[1] is not None}
    extra = boundary_parameters if boundary_parameters is not None else [0] * len(models)
    log_n = math.log(table.observed) if table.observed > 0 else 0.0
    results = [
        (model, fitted[model][1] + added * log_n, fitted[model][2])  # type: ignore[operator]
        for model, added in zip((tuple(m) for m in models), extra, strict=True)
        if model in fitted
    ]
    if not results:
        from tiphub.estimate.checks import overlap_cause

        cause, step = overlap_cause(table)
        raise EstimationError(
            "none of the candidate models can be estimated from this table (none passes the "
            f"existence and identifiability checks): {cause}. Next step: {step}"
        )
    best = min(results, key=lambda row: row[1] if row[1] is not None else math.inf)
    return float(best[2]) if best[2] is not None else math.nan


def project_model(model: Sequence[int], dropped: Sequence[int]) -> tuple[int, ...]:
    """A model on a table with some lists removed: terms on removed lists disappear (their
    cells are empty) and the remaining bits close up."""
    projected = []
    for term in model:
        if any(term >> index & 1 for index in dropped):
            continue
        new = 0
        position = 0
        for bit in range(term.bit_length()):
            if bit in dropped:
                continue
            if term >> bit & 1:
                new |= 1 << position
            position += 1
        projected.append(new)
    return tuple(sorted(set(projected)))


def model_label(table: CaptureTable, model: Sequence[int]) -> str:
    """Hierarchy notation of MultipleSystemsEstimation, e.g. ``[123,25,34]``."""
    from tiphub.estimate.loglinear import generators

    parts = []
    for term in generators(model, table.n_lists):
        parts.append("".join(str(i + 1) for i in range(table.n_lists) if term >> i & 1))
    # Sorted as strings, as the package's catalogue writes them ("[15,2,3,4]").
    return "[" + ",".join(sorted(parts)) + "]"


def batch_fit(
    table: CaptureTable,
    models: Sequence[Sequence[int]],
    *,
    progress: ProgressCallback | None = None,
) -> list[tuple[tuple[int, ...], float | None, float | None]]:
    """BIC and population of many models; ``None`` where a model fails the checks.

    Models sharing the same −∞ terms share their fitted cells, so they are fitted together:
    a padded stack of designs runs Newton's method in one batch of small linear solves.
    """
    counts = table.counts
    n_lists = table.n_lists
    n_observed = table.observed
    groups: dict[tuple[int, ...], list[tuple[int, ModelLayout]]] = {}
    codes_cache: dict[tuple[int, ...], int] = {}
    output: list[tuple[tuple[int, ...], float | None, float | None]] = [
        (tuple(model), None, None) for model in models
    ]
    # Models with the same −∞ terms share their cells. If the largest model of such a group
    # passes the checks, so does every model in it: a sub-model keeps a full-rank design and
    # inherits a strictly positive fit with the same margins.
    candidate_terms = sorted({term for model in models for term in model})
    stats = (
        dict(zip(candidate_terms, sufficient_statistics(counts, candidate_terms), strict=True))
        if candidate_terms
        else {}
    )
    finite_terms = tuple(t for t in candidate_terms if stats[t] != 0)
    group_ok: dict[tuple[int, ...], bool] = {}
    for index, model in enumerate(models):
        if progress is not None and index % 256 == 0:
            progress(index, len(models))
        infinite = tuple(sorted(t for t in model if stats[t] == 0))
        if infinite not in group_ok:
            group_ok[infinite] = (
                existence_code_cached(counts, n_lists, finite_terms + infinite, codes_cache) == 0
            )
        if not group_ok[infinite] and existence_code_cached(
            counts, n_lists, tuple(model), codes_cache
        ):
            continue
        layout = ModelLayout.build(counts, n_lists, model)
        groups.setdefault(layout.infinite_terms, []).append((index, layout))
    for members in groups.values():
        cells = members[0][1].cells
        y = counts[cells].astype(np.float64)
        width = max(len(layout.parameters) for _, layout in members)
        for start in range(0, len(members), 2048):
            chunk = members[start : start + 2048]
            designs = np.zeros((len(chunk), cells.size, width))
            active = np.zeros((len(chunk), width), dtype=bool)
            for row, (_, layout) in enumerate(chunk):
                designs[row, :, : len(layout.parameters)] = layout.design()
                active[row, : len(layout.parameters)] = True
            coefficients, mu = _batched_newton(designs, active, y)
            loglik = (np.where(y > 0, y * np.log(np.maximum(mu, 1e-300)), 0.0) - mu).sum(axis=1)
            loglik -= float(np.sum(_log_factorial(y)))
            for row, (index, layout) in enumerate(chunk):
                n_params = len(layout.parameters) + len(layout.infinite_terms)
                bic = n_params * math.log(n_observed) - 2.0 * float(loglik[row])
                population = n_observed + math.exp(float(coefficients[row, 0]))
                output[index] = (tuple(models[index]), bic, population)
    if progress is not None:
        progress(len(models), len(models))
    return output


def _log_factorial(y: np.ndarray) -> np.ndarray:
    from scipy.special import gammaln

    return np.asarray(gammaln(y + 1.0))


_EXISTENCE_CACHE: dict[tuple[int, bytes, tuple[int, ...]], int] = {}


def existence_code_cached(
    counts: np.ndarray, n_lists: int, model: tuple[int, ...], cache: dict[tuple[int, ...], int]
) -> int:
    """Existence depends only on which cells are zero, so bootstrap replicates sharing a
    zero pattern share the answer."""
    key = tuple(sorted(model))
    if key not in cache:
        support = np.packbits(counts > 0).tobytes()
        global_key = (n_lists, support, key)
        if global_key not in _EXISTENCE_CACHE:
            if len(_EXISTENCE_CACHE) > 500_000:
                _EXISTENCE_CACHE.clear()
            _EXISTENCE_CACHE[global_key] = existence_code(counts, n_lists, key)
        cache[key] = _EXISTENCE_CACHE[global_key]
    return cache[key]


def _batched_newton(
    designs: np.ndarray, active: np.ndarray, y: np.ndarray, maxit: int = 100, epsilon: float = 1e-11
) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method for a stack of Poisson models that share the response.

    Unused (padding) parameters get an identity block so they stay at zero.
    """
    n_models, _, width = designs.shape
    eta = np.broadcast_to(np.log(y + 0.1), (n_models, y.size)).copy()
    mu = np.exp(eta)
    padding = (~active).astype(np.float64)
    beta = np.zeros((n_models, width))
    deviance_old = _batched_deviance(y, mu)
    for _ in range(maxit):
        z = eta + (y[None, :] - mu) / mu
        weighted = designs * mu[:, :, None]
        transposed = weighted.transpose(0, 2, 1)
        xtwx = np.matmul(transposed, designs)
        xtwx[:, np.arange(width), np.arange(width)] += padding
        xtwz = np.matmul(transposed, z[:, :, None])
        beta = np.linalg.solve(xtwx, xtwz)[:, :, 0]
        eta = np.matmul(designs, beta[:, :, None])[:, :, 0]
        mu = np.exp(eta)
        deviance = _batched_deviance(y, mu)
        done = np.abs(deviance - deviance_old) / (np.abs(deviance) + 0.1) < epsilon
        deviance_old = deviance
        if done.all():
            break
    return beta, mu


def _batched_deviance(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return np.asarray(2.0 * np.sum(term - (y - mu), axis=1))


def fixed(table: CaptureTable, terms: Sequence[int]) -> Selection:
    return Selection(fit_loglinear(table, terms, check=True))


def main_effects(table: CaptureTable) -> Selection:
    return Selection(fit_loglinear(table, (), check=True))


__all__ = [
    "Selection",
    "SelectionStep",
    "aic_stepwise",
    "all_pairs",
    "bic_search",
    "fixed",
    "hierarchical_models",
    "main_effects",
    "stepwise",
]
